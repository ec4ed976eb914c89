"""The page templates: one jinja2 environment (autoescape, StrictUndefined) and the stylesheet's hash for the policy."""

from __future__ import annotations

import base64
import hashlib
from importlib import resources
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from credflow.formatting import long_date


class Pages:
    """The web templates: autoescaped HTML, StrictUndefined, one inline stylesheet (all ``*.css``) allowed by hash."""

    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("web", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["long_date"] = long_date
        folder = resources.files("web") / "templates"
        # Every stylesheet of the folder, in name order, as one inline sheet (one hash in the policy).
        sheets = sorted((f for f in folder.iterdir() if f.name.endswith(".css")), key=lambda f: f.name)
        self.css = "\n".join(sheet.read_text(encoding="utf-8") for sheet in sheets)
        digest = base64.b64encode(hashlib.sha256(self.css.encode()).digest()).decode()
        self.content_security_policy = "; ".join(
            (
                "default-src 'none'",
                f"style-src 'sha256-{digest}'",
                "img-src 'self'",
                "media-src 'self'",
                "form-action 'self'",
                "frame-ancestors 'none'",
                "base-uri 'none'",
            )
        )

    def render(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(css=self.css, **context)
        return HTMLResponse(html, status_code=status)
