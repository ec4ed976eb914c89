"""The web app's assembly: middleware, the /api mount and each audience's pages.

The pages live in :mod:`web.pages` (reviewer, admin, public, sign-in), the HTTP intake in
:mod:`web.api`, what they share (services, templates, clock, who is signed in) in
:mod:`web.deps`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles

from credflow.db.models import utcnow
from credflow.services import Services
from web import ops
from web.api import resumable
from web.api.docs import DOCS_PATH, DOCS_POLICY
from web.api.intake import create_intake_app
from web.deps import WebDeps
from web.headers import SecurityHeaders
from web.limits import RequestLimits
from web.pages import (
    admin,
    catalog,
    cohorts,
    drafts,
    lead,
    mine,
    programs_admin,
    public,
    reviewer,
    reviewing,
    signin,
    uploads,
    wallet,
)
from web.ratelimit import RateLimiter
from web.request_errors import short_validation_error

#: Our scripts (upload.js, drafts.js, share.js) and vendor/ (npm packages copied by `make assets`), at /static.
STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(
    services: Services,
    *,
    on_review_submitted: Callable[[str], None] | None = None,
    on_submitted: Callable[[str], None] | None = None,
    now: Callable[[], datetime] | None = None,
) -> FastAPI:
    """Build the web app: the pages, the operators' endpoints and the HTTP intake at ``/api``.

    Args:
        services: The composition root's services (database, object store, catalog, settings).
        on_review_submitted: Called with the submission id after the final submit that leaves no
            verdict open, or after a decline (wired to aggregation or reassignment); an error in it
            is logged, never shown to the reviewer, whose review is already recorded.
        on_submitted: Called with the id of each new submission of the HTTP intake or of a draft applied.
        now: The clock (aware UTC datetimes), for tests that simulate time.

    Returns:
        The FastAPI application.
    """
    clock = now or utcnow
    deps = WebDeps.build(services, clock=clock)
    limiter = RateLimiter()  # one per app: the request limits' and the sign-in links' counters

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        limiter.close()  # its expiry timer is a non-daemon thread

    app = FastAPI(title="credflow review", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.add_middleware(RequestLimits, settings=services.settings, limiter=limiter)  # inside SecurityHeaders
    # Pages that upload evidence run this origin's scripts (upload.js, tus-js-client) and connect to the store.
    uploading = resumable.upload_page_policy(deps.pages.content_security_policy, services)
    app.add_middleware(
        SecurityHeaders,
        content_security_policy=deps.pages.content_security_policy,
        policies={
            f"/api{DOCS_PATH}": DOCS_POLICY,  # Swagger UI: this origin's scripts and styles
            # The badge pages and the wallet run /static/share.js ("Copy share link").
            **dict.fromkeys(("/badges", "/me/badges"), f"{deps.pages.content_security_policy}; script-src 'self'"),
            # The review page and the reviewer workspace run /static/review.js (rubric keyboard shortcuts).
            **dict.fromkeys(("/review", "/reviewer"), f"{deps.pages.content_security_policy}; script-src 'self'"),
            uploads.TRY_PATH: uploading,
            drafts.PREFIX: uploading,  # the drafts' word counts and evidence forms
        },
    )
    app.add_exception_handler(RequestValidationError, short_validation_error)  # no input echoed back
    app.include_router(catalog.routes(deps))  # before signin's: "/" is the landing page
    app.include_router(public.routes(deps))
    app.mount("/api", create_intake_app(services, on_submitted=on_submitted, now=clock))
    app.include_router(signin.routes(deps))
    app.include_router(mine.routes(deps))
    app.include_router(admin.routes(deps))
    app.include_router(lead.routes(deps))
    app.include_router(programs_admin.routes(deps))
    app.include_router(cohorts.routes(deps))
    app.include_router(ops.routes(deps))
    app.include_router(reviewer.routes(deps, on_review_submitted=on_review_submitted))
    app.include_router(reviewing.routes(deps))
    app.include_router(wallet.routes(deps))
    app.include_router(drafts.routes(deps, on_submitted=on_submitted))
    app.include_router(resumable.routes(deps))
    app.include_router(uploads.routes(deps))
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    return app
