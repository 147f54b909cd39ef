"""The documentation pages' scripts and styles, served by the service itself.

Swagger UI (``/docs``) and the AsyncAPI page (``/asyncapi``) load their JavaScript and CSS
from ``/docs-assets/``: files vendored into this package (``static/``, with their licences)
from the npm registry packages ``swagger-ui-dist`` 5.35.0 and ``@asyncapi/react-component``
3.1.5 (the version FastStream's page names), so both pages work on a machine without
internet. FastAPI's own ``/docs`` and ``/redoc`` load from a CDN: the apps are built with
``docs_url=None, redoc_url=None`` and :func:`install_docs` serves ``/docs`` instead (FastAPI's
"self-hosting JavaScript and CSS for docs").

To update them: ``npm pack swagger-ui-dist@<version>`` (or ``@asyncapi/react-component``),
and copy the same files from the tarball's ``package/`` over those in ``static/``.

The pages name their assets by relative URLs (``docs-assets/...`` from ``/docs``), which
resolve under any ``root_path`` a proxy mounts the service at.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
ASSETS = "/docs-assets"
"""Where :data:`STATIC` is served."""
SWAGGER_JS = "docs-assets/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = "docs-assets/swagger-ui/swagger-ui.css"
SWAGGER_ICON = "docs-assets/swagger-ui/favicon-32x32.png"
ASYNCAPI_JS = "docs-assets/asyncapi/index.js"
ASYNCAPI_CSS = "docs-assets/asyncapi/default.min.css"
"""Relative to a page at the root (``/docs``, ``/asyncapi``)."""


def install_docs(app: FastAPI) -> None:
    """Serve :data:`STATIC` at :data:`ASSETS` and Swagger UI at ``/docs``."""
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError("build the app with docs_url=None, redoc_url=None: FastAPI's own "
                         "pages load their scripts from a CDN")
    app.mount(ASSETS, StaticFiles(directory=STATIC), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root_path = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root_path + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} - Swagger UI", swagger_js_url=SWAGGER_JS,
            swagger_css_url=SWAGGER_CSS, swagger_favicon_url=SWAGGER_ICON)
