"""The demo reviewers' rerouting: links naming the public URL reach the demo's temporary server, cookies intact."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cli.demo_reviewers import Via, free_port, running_server


def _echo_app() -> FastAPI:
    app = FastAPI()

    @app.get("/review/{token}")
    def page(token: str, request: Request) -> JSONResponse:
        answer = JSONResponse({"host": request.headers["host"], "cookie": request.cookies.get("csrf")})
        answer.set_cookie("csrf", f"for-{token}", httponly=True)
        return answer

    return app


def test_links_naming_the_public_url_reach_the_local_server_and_keep_their_cookies():
    public = "http://credflow.example.org:8000"
    with running_server(_echo_app(), free_port()) as local:
        via = Via(public=public, local=local)
        with httpx.Client(transport=via.transport()) as client:
            first = client.get(f"{public}/review/abc").json()
            second = client.get(f"{public}/review/abc").json()
    assert first == {"host": "credflow.example.org:8000", "cookie": None}
    assert second["cookie"] == "for-abc"  # the cookie was kept for the public host, as a browser keeps it


def test_other_hosts_are_left_alone():
    with running_server(_echo_app(), free_port()) as local:
        port = local.rsplit(":", 1)[1]
        via = Via(public="http://127.0.0.1:1", local="http://127.0.0.1:9")  # routes nothing this test asks for
        with httpx.Client(transport=via.transport()) as client:
            assert client.get(f"{local}/review/x").json()["host"] == f"127.0.0.1:{port}"


def test_the_demo_pool_is_calibrated_recently_whatever_the_date():
    from datetime import date

    from cli.demo import DEMO_POOL, recent_pool

    text = DEMO_POOL.read_text()
    for today in (date(2026, 12, 3), date(2028, 1, 7), date(2031, 6, 30)):
        moved = [date.fromisoformat(d) for d in re.findall(r"calibrated_on: (\S+)", recent_pool(text, today))]
        assert max(moved) == date.fromordinal(today.toordinal() - 30)
        assert all(0 < (today - d).days < 365 for d in moved)  # none lapsed: the demo has its reviewers
