"""The intake's API docs at ``/api/docs``: Swagger UI from the installed ``swagger-ui-bundle-v2`` package, no CDN.

FastAPI's own docs page loads Swagger UI from a CDN and starts it with an inline script, which
the pages' CSP blocks (and which is blank offline). Here every script and stylesheet is a file
credflow serves itself, so the docs' policy, :data:`DOCS_POLICY`, allows only this origin.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

DOCS_PATH = "/docs"
ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"}  # of the package's Swagger UI
INIT = Path(str(resources.files("web.api") / "docs_assets" / "docs-init.js"))
DOCS_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # Swagger UI's stylesheet draws its icons as data: SVGs
        "connect-src 'self'",  # the schema
        "form-action 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} – API docs</title>
<link rel="stylesheet" href="{base}/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="{base}/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{base}/assets/swagger-ui-bundle.js"></script>
<script src="{base}/init.js"></script>
</body>
</html>
"""


def register_docs_routes(api: FastAPI) -> None:
    """Serve Swagger UI for ``api``'s schema at ``DOCS_PATH`` (``api`` is made with ``docs_url=None``)."""

    @api.get(DOCS_PATH, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        base, openapi = f"{root}{DOCS_PATH}", f"{root}{api.openapi_url}"
        return HTMLResponse(PAGE.format(title=api.title, base=base, openapi=openapi))

    @api.get(f"{DOCS_PATH}/init.js", include_in_schema=False)
    def init() -> FileResponse:
        return FileResponse(INIT, media_type="text/javascript")

    @api.get(f"{DOCS_PATH}/assets/{{name}}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise HTTPException(404, "no such file")
        from swagger_ui_bundle import swagger_ui_path  # here, so the app starts without it (docs unstyled)

        return FileResponse(Path(str(swagger_ui_path)) / name)
