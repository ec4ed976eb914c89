"""The API docs at /api/docs work offline: Swagger UI's files come from credflow, under a CSP that allows only them."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from cli.demo_reviewers import free_port, running_server
from tests.utils.browser import CHROMIUM, CHROMIUM_ARGS
from web.app import create_app


def _policy(header: str) -> dict[str, set[str]]:
    return {d.split()[0]: set(d.split()[1:]) for d in header.split(";") if d.strip()}


def test_the_api_docs_load_their_scripts_and_styles_from_credflow_under_their_csp(services):
    client = TestClient(create_app(services))
    page = client.get("/api/docs")
    assert page.status_code == 200
    sources = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/api/docs/") for s in sources), sources  # no CDN
    assert "<script>" not in page.text and "<style" not in page.text  # nothing inline for the CSP to allow
    policy = _policy(page.headers["Content-Security-Policy"])
    assert policy["script-src"] == {"'self'"} and policy["style-src"] == {"'self'"}
    assert policy["connect-src"] == {"'self'"} and policy["default-src"] == {"'none'"}
    for src in sources:
        asset = client.get(src)
        assert asset.status_code == 200 and asset.content, src
    assert "SwaggerUIBundle" in client.get("/api/docs/assets/swagger-ui-bundle.js").text
    schema_url = re.search(r'data-openapi-url="([^"]+)"', page.text)
    assert schema_url is not None and client.get(schema_url.group(1)).json()["info"]["title"] == "credflow intake"
    assert client.get("/api/docs/assets/index.html").status_code == 404  # the package's other files are not served
    assert "'self'" not in _policy(client.get("/").headers["Content-Security-Policy"]).get("script-src", set())


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing (`make test` installs it)")
def test_the_api_docs_render_in_chromium_offline_with_no_csp_violation(services):
    from playwright.sync_api import Route, sync_playwright

    with running_server(create_app(services), free_port()) as web, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            offsite: list[str] = []
            offline = re.compile(r"^(?!http://127\.0\.0\.1:)")

            def refuse(route: Route) -> None:
                offsite.append(route.request.url)
                route.abort()

            page.route(offline, refuse)
            messages: list[str] = []
            page.on("console", lambda m: messages.append(m.text))
            page.goto(f"{web}/api/docs")
            page.get_by_text("/submissions/{submission_id}", exact=True).first.wait_for(timeout=30_000)
            assert offsite == [] and not [m for m in messages if "Content Security Policy" in m], (offsite, messages)
        finally:
            browser.close()
