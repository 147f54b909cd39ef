"""Both services' OpenAPI documents are complete: every 2xx answer has a schema, every
refusal is application/problem+json with the Problem schema, and every route that refuses a
request without a token (401, authentication on) shows the bearer security and documents its
401 and 403. Routes declare their answers with ``cungdan_service.openapi_answers.answers``.

The token check asks the routes themselves: each route of the document is called, with
authentication on and no token, on the app without its lifespan (no broker or database is
needed for the refusal)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from cungdan_ingest.app import create_app as create_ingest
from cungdan_ingest.settings import IngestSettings
from cungdan_projector.app import create_app as create_projector
from cungdan_projector.settings import ProjectorSettings
from cungdan_service.auth import BEARER
from cungdan_service.openapi_answers import PROBLEM_REF
from cungdan_service.problems import PROBLEM_JSON

METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(params=["ingest", "projector"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> FastAPI:
    """The service with authentication on (an empty tokens file), without its lifespan."""
    tokens = tmp_path / "tokens.json"
    if request.param == "ingest":
        return create_ingest(IngestSettings(auth_enabled=True, tokens_file=tokens),
                             registry=CollectorRegistry())
    return create_projector(
        ProjectorSettings(database_url=f"sqlite:///{tmp_path / 'rm.sqlite3'}",
                          auth_enabled=True, tokens_file=tokens),
        registry=CollectorRegistry())


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, operation) for path, item in document["paths"].items()
            for method, operation in item.items() if method in METHODS]


def test_every_answer_is_documented(app: FastAPI) -> None:
    document = app.openapi()
    found = operations(document)
    assert found
    missing: list[str] = []
    for path, method, operation in found:
        route = f"{method.upper()} {path}"
        responses = operation["responses"]
        ok = [code for code in responses if code.startswith("2")]
        if not ok:
            missing.append(f"{route}: no 2xx answer")
        for code, response in responses.items():
            content = response.get("content", {})
            if code.startswith("2"):
                schemas = [c.get("schema") for c in content.values()]
                if not schemas or not all(schemas):
                    missing.append(f"{route} {code}: no schema ({content})")
            elif code >= "400" and content != {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}:
                missing.append(f"{route} {code}: not problem+json with the Problem schema "
                               f"({content})")
        if operation.get("security") and not {"401", "403"} <= set(responses):
            missing.append(f"{route}: takes a token but does not document 401 and 403")
    assert not missing, "declare the answers with cungdan_service.openapi_answers.answers:\n" \
        + "\n".join(missing)
    schemas = document["components"]["schemas"]
    assert "Problem" in schemas and "HTTPValidationError" not in schemas


def _example(parameter: dict[str, Any]) -> str:
    schema = parameter.get("schema", {})
    return str(uuid.uuid4()) if schema.get("format") == "uuid" else "15"


async def test_every_route_that_refuses_without_a_token_shows_the_bearer_security(
        app: FastAPI) -> None:
    document = app.openapi()
    scheme = document["components"]["securitySchemes"][BEARER]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    problem = jsonschema_rs.Draft202012Validator(
        {"$ref": PROBLEM_REF, "components": document["components"]})
    guarded, unguarded = [], []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://service") as client:
        for path, method, operation in operations(document):
            url = path
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    url = url.replace(f"{{{parameter['name']}}}", _example(parameter))
            response = await client.request(method, url)
            route = f"{method.upper()} {path}"
            if response.status_code == 401:
                assert response.headers["content-type"] == PROBLEM_JSON
                assert problem.is_valid(response.json()), response.text
                guarded.append(route)
                if operation.get("security") != [{BEARER: []}]:
                    unguarded.append(route)
    assert guarded
    assert not unguarded, f"refuse without a token, but show no bearer security: {unguarded}"


def test_fastapis_validation_error_is_documented_as_a_problem() -> None:
    """A route that declares no 422 still documents its validation refusal as problem+json,
    as it is answered."""
    from fastapi import APIRouter

    from cungdan_service.web import install_common

    router = APIRouter()

    @router.get("/v1/things/{number}")
    async def thing(number: int) -> dict[str, int]:
        return {"number": number}

    app = FastAPI(docs_url=None, redoc_url=None)
    app.include_router(router)

    async def ready(_: Any) -> None:
        return None

    install_common(app, service="test", registry=CollectorRegistry(), readiness=ready)
    document = app.openapi()
    answer = document["paths"]["/v1/things/{number}"]["get"]["responses"]["422"]
    assert answer["content"] == {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
    assert "HTTPValidationError" not in document["components"]["schemas"]
