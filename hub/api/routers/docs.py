"""``GET /docs``: the interactive API page, served entirely by the hub (no CDN, works offline).

The Swagger UI script, style sheet and icon come from the ``swagger-ui-bundle-v2`` package installed with
the hub and are served under ``/docs/``; the page loads nothing from anywhere else (the online spec validator
is switched off). Only these three files are served, not the package's whole folder.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


def router(title: str, openapi_url: str = "/openapi.json", docs_url: str = "/docs") -> APIRouter:
    """The page at ``docs_url`` and its assets at ``docs_url/<name>`` (none of them in the OpenAPI document)."""
    folder = Path(str(swagger_ui_path))

    async def page() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - API",
            swagger_js_url=f"{docs_url}/swagger-ui-bundle.js",
            swagger_css_url=f"{docs_url}/swagger-ui.css",
            swagger_favicon_url=f"{docs_url}/favicon-32x32.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters={"validatorUrl": None},
        )

    def asset(name: str, media_type: str) -> Callable[[], Awaitable[Response]]:
        async def serve() -> Response:
            return FileResponse(folder / name, media_type=media_type)

        return serve

    routes = APIRouter(include_in_schema=False)
    routes.add_api_route(docs_url, page, methods=["GET"])
    for name, media_type in ASSETS.items():
        routes.add_api_route(f"{docs_url}/{name}", asset(name, media_type), methods=["GET"])
    return routes
