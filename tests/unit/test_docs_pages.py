"""Swagger UI (/docs) and the AsyncAPI page (/asyncapi) of both services load every script,
style and icon from the service itself, so they work on a machine without internet."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from cungdan_ingest.app import create_app as create_ingest
from cungdan_ingest.settings import IngestSettings
from cungdan_projector.app import create_app as create_projector
from cungdan_projector.settings import ProjectorSettings
from cungdan_service.docs_pages import STATIC, install_docs

BASE = "http://service"


class _Assets(HTMLParser):
    """The URLs a page loads: script src, link href (styles, icons), img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        url = named.get("src") if tag in ("script", "img") else \
            named.get("href") if tag == "link" else None
        if url:
            self.urls.append(url)


def _assets(page: str) -> list[str]:
    parser = _Assets()
    parser.feed(page)
    return parser.urls


@pytest.fixture(params=["ingest", "projector"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> FastAPI:
    """The service without its lifespan: no broker or database serves its pages."""
    if request.param == "ingest":
        return create_ingest(IngestSettings(), registry=CollectorRegistry())
    return create_projector(
        ProjectorSettings(database_url=f"sqlite:///{tmp_path / 'rm.sqlite3'}"),
        registry=CollectorRegistry())


@pytest.mark.parametrize(("page", "kinds"), [
    ("/docs", {"js": "javascript", "css": "text/css", "png": "image/png"}),
    ("/asyncapi", {"js": "javascript", "css": "text/css"}),
])
async def test_every_asset_of_the_page_is_local_and_served(
        app: FastAPI, page: str, kinds: dict[str, str]) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=BASE) as client:
        response = await client.get(page)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        urls = _assets(response.text)
        assert {url.rsplit(".", 1)[-1] for url in urls} == set(kinds), urls
        for url in urls:
            absolute = urljoin(f"{BASE}{page}", url)
            assert urlsplit(absolute).netloc == urlsplit(BASE).netloc, f"{page} loads {url}"
            asset = await client.get(absolute)
            assert asset.status_code == 200, absolute
            assert len(asset.content) > 500, absolute
            assert kinds[url.rsplit(".", 1)[-1]] in asset.headers["content-type"], absolute
        assert "https://" not in "".join(urls) and "unpkg" not in response.text
        if page == "/docs":  # and the document Swagger UI shows
            assert "url: '/openapi.json'" in response.text
            assert (await client.get("/openapi.json")).status_code == 200
            assert (await client.get("/redoc")).status_code == 404  # it would load a CDN


async def test_behind_a_root_path_the_page_finds_its_assets_and_document() -> None:
    app = create_ingest(IngestSettings(), registry=CollectorRegistry())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, root_path="/api"),
                                 base_url=BASE) as client:
        page = await client.get("/docs")
    assert "url: '/api/openapi.json'" in page.text
    assert all(urljoin(f"{BASE}/api/docs", url).startswith(f"{BASE}/api/docs-assets/")
               for url in _assets(page.text))


def test_the_vendored_files_carry_their_licences() -> None:
    for folder in ("swagger-ui", "asyncapi"):
        assert "Apache License" in (STATIC / folder / "LICENSE").read_text(encoding="utf-8")


def test_an_app_with_fastapis_cdn_pages_is_refused() -> None:
    with pytest.raises(ValueError, match="docs_url=None"):
        install_docs(FastAPI())
