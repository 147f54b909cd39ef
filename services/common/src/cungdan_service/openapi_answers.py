"""What each route declares it answers, for the OpenAPI documents.

Every API route declares its answers with :func:`answers`: the pydantic model of its 2xx
answer (for documentation only: the endpoints return their ``Response`` as they built it,
unvalidated), and each refusal status it can give, documented as
``application/problem+json`` with the :class:`Problem` schema::

    @router.get("/v1/things/{code}", summary="...", dependencies=[Depends(requires(Role.READ))],
                **answers(Thing, *TOKEN_REFUSALS, (404, "No such thing"), 422))

A refusal is a status code (described by :data:`REFUSED`) or ``(code, description)``.
``tests/unit/test_openapi_documents.py`` walks both services' documents and fails on a 2xx
without a schema, a refusal without problem+json, or a route refusing without a token
(401) that does not show the bearer security; ``tests/integration/test_openapi_answers.py``
validates the real answers of each route against its documented schemas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from .problems import PROBLEM_JSON


class ProblemField(BaseModel):
    """One problem of a request: the field (dotted path, or ``(body)``) and why."""

    model_config = ConfigDict(extra="forbid")

    field: str
    reason: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every refusal is answered. Some refusals add members
    of their own (the report's ``id``, the ``seq`` it conflicts with, a batch's ``counts``
    and ``results``, the ``position`` reached...)."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="`urn:cungdan:problem:<kind>`, a stable code per kind.",
                      examples=["urn:cungdan:problem:invalid-report"])
    title: str
    status: int
    detail: str | None = None
    errors: list[ProblemField] | None = Field(
        default=None, description="Each problem: the field and the reason.")
    reason: str | None = Field(
        default=None, description="A refusal's short stable code (`missing-token`, "
                                  "`rate-limited`, ...), as counted in the refusal metric.")


REFUSED: dict[int, str] = {
    400: "Bad request",
    401: "No token, or an unknown or revoked one (when authentication is on); see "
         "WWW-Authenticate",
    403: "The token lacks the role this route needs",
    404: "Not found",
    409: "Conflicts with what is stored",
    413: "The request body is too large",
    421: "This instance stands by and does not apply the stream: send the request to the "
         "instance named in `applying_instance`",
    422: "The request is invalid: each problem names its field and the reason",
    429: "The token's rate limit is exceeded; see Retry-After",
    503: "Unavailable for now; see Retry-After",
}
"""The default description of each refusal status."""

TOKEN_REFUSALS = (401, 403)
"""What every route needing a token (``requires(role)``) can answer."""

Refusal = int | tuple[int, str]
"""A status code, or a status code and its description on this route."""


PROBLEM_REF = "#/components/schemas/Problem"


def problem_response(description: str) -> dict[str, Any]:
    """A ``responses`` entry: problem+json with the :class:`Problem` schema (added to the
    document's components by :func:`document_problems`)."""
    return {"description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}}


def refusals(*refused: Refusal) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route's refusals, by status: each status once (the last
    description given for it wins)."""
    declared: dict[int, str] = {}
    for refusal in refused:
        code, description = refusal if isinstance(refusal, tuple) else (refusal, REFUSED[refusal])
        declared[code] = description
    return {code: problem_response(declared[code]) for code in sorted(declared)}


def answers(model: type[BaseModel], *refused: Refusal, status: int = 200,
            description: str = "Done",
            also: Mapping[int, tuple[type[BaseModel], str]] | None = None) -> dict[str, Any]:
    """Keyword arguments of a route (``@router.get(path, **answers(...))``): ``model`` is
    the JSON answer of ``status``; ``also`` other 2xx answers (status: model, description);
    ``refused`` the refusals it can give (:func:`refusals`)."""
    others = {code: {"model": other, "description": text}
              for code, (other, text) in (also or {}).items()}
    return {"response_model": model, "status_code": status,
            "response_description": description,
            "responses": {**others, **refusals(*refused)}}


def _problem_schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), "Problem": schema}


_FASTAPIS_422 = "#/components/schemas/HTTPValidationError"


def document_problems(app: FastAPI) -> None:
    """Complete ``app``'s OpenAPI document: the :class:`Problem` schemas in its components,
    and FastAPI's own 422 (``HTTPValidationError``, which cungdan never sends: its 422 is
    problem+json, :mod:`.web`) replaced by a problem on a route that did not declare it."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(_problem_schemas())
        fastapis = False
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                answer = operation.get("responses", {}).get("422", {})
                json_schema = answer.get("content", {}).get("application/json", {})
                if json_schema.get("schema", {}).get("$ref") == _FASTAPIS_422:
                    operation["responses"]["422"] = problem_response(REFUSED[422])
                    fastapis = True
        if fastapis and _FASTAPIS_422 not in str(document["paths"]):
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
