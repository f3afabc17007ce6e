"""/docs (Swagger UI) and /redoc served from an installed package, so both work offline.

FastAPI's default pages load their JavaScript and CSS from a CDN. Here the same files come
from the `fastapi-offline` wheel's static folder, mounted at DOCS_STATIC_URL, and the pages are
FastAPI's own `get_swagger_ui_html`/`get_redoc_html` pointed at them. No font or favicon comes
from outside either. Imports nothing from the services.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Final

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_STATIC_URL: Final = "/static/docs"
# files of the wheel's static/ folder (swagger-ui-dist 5 and redoc 2 bundles)
SWAGGER_JS: Final = "swagger-ui-bundle.js"
SWAGGER_CSS: Final = "swagger-ui.css"
REDOC_JS: Final = "redoc.standalone.js"
FAVICON: Final = "favicon.png"


def docs_assets_dir() -> Path:
    """The installed folder holding the Swagger UI and ReDoc bundles."""
    return Path(str(files("fastapi_offline") / "static"))


def add_offline_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc from local assets; `app` must be built with
    `docs_url=None, redoc_url=None` so FastAPI's CDN pages are not registered."""
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError("build the FastAPI app with docs_url=None and redoc_url=None")
    app.mount(DOCS_STATIC_URL, StaticFiles(directory=docs_assets_dir()), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_STATIC_URL}/{SWAGGER_JS}",
            swagger_css_url=f"{root}{DOCS_STATIC_URL}/{SWAGGER_CSS}",
            swagger_favicon_url=f"{root}{DOCS_STATIC_URL}/{FAVICON}",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_STATIC_URL}/{REDOC_JS}",
            redoc_favicon_url=f"{root}{DOCS_STATIC_URL}/{FAVICON}",
            with_google_fonts=False,
        )


def _root(request: Request) -> str:
    """The path prefix the app is served under behind a proxy ('' when none)."""
    return str(request.scope.get("root_path", "")).rstrip("/")
