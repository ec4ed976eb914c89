"""Finding 9's smaller doors: badge verification fetches, the operator artifact's markdown, file modes, access logs."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from credflow.badges import (
    IssuerKey,
    IssuerProfile,
    KeyStore,
    StatusEntry,
    StatusList,
    add_proof,
    build_credential,
    build_status_list_credential,
    sign_credential,
)
from credflow.badges.fetch import FetchRefused, SafeFetcher
from credflow.badges.keys import did_web_document_url
from credflow.badges.verify import FetchedDocumentError, verify_fetching
from tests.utils.builders import ACHIEVEMENT

AWARDED = dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC)
LISTED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
LATER = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
MIB = 1024 * 1024


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    declare_length: bool = True


@dataclass
class LocalSite:
    """An HTTP server on 127.0.0.1 serving fixed routes and recording every request it gets."""

    port: int
    routes: dict[str, Route]
    requests: list[tuple[str, str]]  # (path, Host header)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


@pytest.fixture
def site() -> Iterator[LocalSite]:
    routes: dict[str, Route] = {}
    requests: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append((self.path, self.headers.get("Host", "")))
            route = routes.get(self.path, Route(404, b"not found"))
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            if route.declare_length:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            try:
                for start in range(0, len(route.body), 65536):
                    self.wfile.write(route.body[start : start + 65536])
            except OSError:  # the client hung up on an oversize body, as it should
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalSite(port=server.server_address[1], routes=routes, requests=requests)
    finally:
        server.shutdown()
        server.server_close()


def _badge(key: IssuerKey, list_url: str) -> dict[str, Any]:
    issuer = IssuerProfile(id=key.controller, name="OpenSciEd", url="https://www.openscied.org", email="c@example.org")
    unsigned = build_credential(
        issuer=issuer,
        achievement=ACHIEVEMENT,
        valid_from=AWARDED,
        recipient_email="ana@example.org",
        status=StatusEntry(list_url=list_url, index=7),
    )
    return sign_credential(unsigned, key)


def _status_list(key: IssuerKey, list_url: str, *revoked: int) -> dict[str, Any]:
    bits = StatusList()
    for index in revoked:
        bits.set(index)
    unsigned = build_status_list_credential(
        list_url=list_url, issuer=key.controller, status_list=bits, valid_from=LISTED
    )
    return add_proof(unsigned, key, created=LISTED)


# --- badge verify: what is fetched, and how -------------------------------------------------------------


def test_private_loopback_and_reserved_addresses_are_refused_unless_allowed(site: LocalSite) -> None:
    site.routes["/ok"] = Route(body=b"{}")
    with pytest.raises(FetchRefused, match="loopback"):
        SafeFetcher()(f"{site.url}/ok")
    for address in ("10.1.2.3", "169.254.169.254", "::1", "::ffff:127.0.0.1", "100.64.0.1", "0.0.0.0"):

        def resolve(host: str, port: int, found: str = address) -> list[str]:
            return [found]

        with pytest.raises(FetchRefused, match="private, loopback"):
            SafeFetcher(resolve=resolve)("http://intranet.example/x")
    # Every address a name resolves to is checked, not only the first.
    with pytest.raises(FetchRefused, match=r"10\.0\.0\.7"):
        SafeFetcher(resolve=lambda host, port: ["93.184.216.34", "10.0.0.7"])("http://mixed.example/x")
    for url in ("file:///etc/passwd", "ftp://example.org/x", "http://user:pw@example.org/x", "gopher://x"):
        with pytest.raises(FetchRefused):
            SafeFetcher()(url)
    assert site.requests == []
    assert SafeFetcher(allow_private=True)(f"{site.url}/ok") == b"{}"


def test_the_deployments_own_origin_may_be_on_loopback_and_no_other(site: LocalSite) -> None:
    site.routes["/ok"] = Route(body=b"{}")
    own = SafeFetcher(trusted_origins=frozenset({f"http://127.0.0.1:{site.port}"}))
    assert own(f"http://127.0.0.1:{site.port}/ok") == b"{}"
    with pytest.raises(FetchRefused, match="loopback"):
        own(f"http://127.0.0.1:{site.port + 1}/ok")  # another port on the same host is not the deployment
    with pytest.raises(FetchRefused, match="private, loopback"):
        own("http://10.0.0.5:80/x")


def test_the_connection_goes_to_the_checked_address_so_dns_rebinding_cannot_swap_it(site: LocalSite) -> None:
    site.routes["/did.json"] = Route(body=b'{"ok": true}')
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])  # a rebinding resolver: a second lookup would differ
    lookups: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return next(answers)

    fetch = SafeFetcher(allow_private=True, resolve=rebinding)
    assert fetch(f"http://badges.example.test:{site.port}/did.json") == b'{"ok": true}'
    assert lookups == ["badges.example.test"]  # resolved once, and that address was the one connected to
    assert site.requests == [("/did.json", f"badges.example.test:{site.port}")]  # the name kept for Host


def test_redirects_are_refused_not_followed(site: LocalSite) -> None:
    site.routes["/moved"] = Route(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with pytest.raises(FetchRefused, match="redirects are not followed"):
        SafeFetcher(allow_private=True)(f"{site.url}/moved")
    assert site.paths() == ["/moved"]


def test_an_oversize_body_is_refused_whether_declared_or_streamed(site: LocalSite) -> None:
    site.routes["/declared"] = Route(body=b"{" + b" " * (6 * MIB))
    site.routes["/streamed"] = Route(body=b"{" + b" " * (6 * MIB), declare_length=False)
    site.routes["/small"] = Route(body=b"{" + b" " * 1000 + b"}")
    fetch = SafeFetcher(allow_private=True, max_bytes=5 * MIB)
    with pytest.raises(FetchRefused, match=r"is 6 MiB, more than the 5 MiB accepted"):
        fetch(f"{site.url}/declared")
    with pytest.raises(FetchRefused, match="more than the 5 MiB accepted"):
        fetch(f"{site.url}/streamed")
    assert len(fetch(f"{site.url}/small")) == 1002
    site.routes["/gzip"] = Route(body=b"\x1f\x8b", headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchRefused, match="compressed"):
        fetch(f"{site.url}/gzip")


def test_a_body_that_never_ends_is_cut_off_by_the_timeout() -> None:
    import socket
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
        while not stop.is_set():  # a byte now and then, never done: each read succeeds, the whole never ends
            try:
                conn.sendall(b" ")
            except OSError:
                break
            time.sleep(0.05)
        conn.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        # The whole-answer deadline cuts it (or, on a machine too loaded to send a byte a second, the read timeout).
        with pytest.raises(FetchRefused, match=r"took more than|timed out"):
            SafeFetcher(allow_private=True, timeout=1)(f"http://127.0.0.1:{listener.getsockname()[1]}/slow")
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_the_cli_fetches_nothing_a_forged_credential_names(site: LocalSite, tmp_path: Path) -> None:
    key = KeyStore(tmp_path / "keys").current("openscied")
    list_url = f"{site.url}/status/1"
    badge = _badge(key, list_url)
    site.routes["/status/1"] = Route(body=json.dumps(_status_list(key, list_url)).encode())
    site.routes["/badge.json"] = Route(body=json.dumps(badge).encode())
    forged = {**badge, "credentialSubject": {**badge["credentialSubject"], "id": "mailto:mallory@example.org"}}
    site.routes["/forged.json"] = Route(body=json.dumps(forged).encode())
    runner = CliRunner()

    bad = runner.invoke(app, ["badge", "verify", "--allow-private", f"{site.url}/forged.json"])
    assert bad.exit_code == 1 and "signature" in bad.output
    assert "not fetched for an unverified credential" in bad.output
    assert site.paths() == ["/forged.json"]  # the credential itself, never the status list it names

    (tmp_path / "forged.json").write_text(json.dumps(forged))
    assert runner.invoke(app, ["badge", "verify", "--allow-private", str(tmp_path / "forged.json")]).exit_code == 1
    assert site.paths() == ["/forged.json"]

    good = runner.invoke(app, ["badge", "verify", "--allow-private", f"{site.url}/badge.json"])
    assert good.exit_code == 0 and "VALID" in good.output, good.output
    assert site.paths() == ["/forged.json", "/badge.json", "/status/1"]


def test_the_cli_refuses_redirects_oversize_and_loopback_with_exit_2(site: LocalSite, tmp_path: Path) -> None:
    site.routes["/moved"] = Route(302, headers={"Location": "/badge.json"})
    site.routes["/huge.json"] = Route(body=b"{" + b" " * (6 * MIB), declare_length=False)
    runner = CliRunner()
    moved = runner.invoke(app, ["badge", "verify", "--allow-private", f"{site.url}/moved"])
    assert moved.exit_code == 2 and "redirects are not followed" in moved.output
    huge = runner.invoke(app, ["badge", "verify", "--allow-private", f"{site.url}/huge.json"])
    assert huge.exit_code == 2 and "MiB accepted" in huge.output
    private = runner.invoke(app, ["badge", "verify", f"{site.url}/moved"])
    assert private.exit_code == 2 and "--allow-private" in private.output
    assert site.paths() == ["/moved", "/huge.json"]
    big_file = tmp_path / "big.json"
    big_file.write_bytes(b"{" + b" " * (6 * MIB))
    assert runner.invoke(app, ["badge", "verify", str(big_file)]).exit_code == 2


class RecordingFetch:
    """A fetch function serving fixed documents and recording each URL asked for."""

    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        self.documents = documents
        self.asked: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.asked.append(url)
        if url not in self.documents:
            raise FetchRefused(f"{url} answered 404")
        return json.dumps(self.documents[url]).encode()


def test_did_web_the_issuers_document_only_after_the_structure_passed_and_nothing_else_before_the_proof(
    tmp_path: Path,
) -> None:
    keys = KeyStore(tmp_path / "keys", did_web_base="https://badges.example.org/issuers")
    key = keys.current("openscied")
    list_url = "https://badges.example.org/status/openscied/1"
    did_url = did_web_document_url(key.controller)
    badge = _badge(key, list_url)
    documents = {did_url: keys.did_document("openscied"), list_url: _status_list(key, list_url)}

    fetch = RecordingFetch(documents)
    assert verify_fetching(badge, now=LATER, fetch=fetch).verified
    assert fetch.asked == [did_url, list_url]

    forged = {**badge, "validFrom": "2020-01-01T00:00:00Z"}
    fetch = RecordingFetch(documents)
    result = verify_fetching(forged, now=LATER, fetch=fetch)
    assert not result.verified and result.check("signature").outcome == "failed"
    assert fetch.asked == [did_url]  # the proof needs the issuer's keys; the status list is never asked for

    no_structure = {k: v for k, v in badge.items() if k != "credentialSubject"}
    fetch = RecordingFetch(documents)
    assert not verify_fetching(no_structure, now=LATER, fetch=fetch).verified
    assert fetch.asked == []

    other_signer = {**badge, "proof": [{**badge["proof"][0], "verificationMethod": "did:web:evil.example#k"}]}
    fetch = RecordingFetch(documents)
    assert not verify_fetching(other_signer, now=LATER, fetch=fetch).verified
    assert fetch.asked == []

    impostor = RecordingFetch({did_url: {**keys.did_document("openscied"), "id": "did:web:evil.example"}})
    with pytest.raises(FetchedDocumentError, match=r"is for 'did:web:evil\.example'"):
        verify_fetching(badge, now=LATER, fetch=impostor)
    assert impostor.asked == [did_url]


# --- the operator artifact's markdown -------------------------------------------------------------------

HOSTILE_NAMES = [
    "\\[x\\](javascript:alert(1))",  # the finding: a backslash undid the escape of the bracket
    "[x](javascript:alert(1))",
    "\\\\[x](javascript:alert(1))",
    "![t](https://evil.example/t.png)",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<https://evil.example/phish>",
    "&lt;b&gt; &#106;avascript:",
    "`code` **bold** __under__ *it* ~~gone~~",
    "a | b | c",
    "Ana\n\n# Approved\n\n[click](https://evil.example)",
    "www.evil.example https://evil.example",
    "\u202eevil\u202c \x00\x1b[31m",
]


def _operator_markdown(text: str) -> str:
    from credflow.db.models import Event
    from credflow.lifecycle import State
    from credflow.reports.rules import submission_markdown
    from credflow.submissions import EvidenceView, SubmissionView

    evidence = EvidenceView(
        id="e1",
        requirement_key="plan",
        display_name=text,
        size=10,
        sha256="0" * 64,
        sniffed_format="pdf",
        duration=None,
        problems=(text,),
    )
    view = SubmissionView(
        id="0123456789abcdef",
        credential_id="openscied-facilitating-discussions",
        applicant_name=text,
        applicant_email="ana@example.org",
        organisation=text,
        attempt=1,
        previous_id=None,
        state=State.RECEIVED,
        created_at=LATER,
        state_since=LATER,
        problems=({"requirement": text, "message": text},),
        evidence=(evidence,),
    )
    event = Event(at=LATER, actor=text, kind="note", from_state=None, to_state=None, detail={"why": text})
    return submission_markdown(view, [event])


def _tags(markdown: str) -> list[str]:
    import re

    from markdown_it import MarkdownIt

    renderer = MarkdownIt("commonmark").enable("table").enable("strikethrough")
    renderer.validateLink = lambda url: True  # type: ignore[method-assign] # as a renderer keeping javascript: links
    html = renderer.render(markdown)
    return sorted(re.findall(r"<([a-z0-9]+)[\s>]", html))


@pytest.mark.parametrize("text", HOSTILE_NAMES)
def test_hostile_names_render_as_text_in_the_operator_artifact(text: str) -> None:
    markdown = _operator_markdown(text)
    # The same tags as with a plain name: no link, image, HTML, emphasis, code or extra table cell appeared.
    assert _tags(markdown) == _tags(_operator_markdown("Ana Alvarez"))
    assert "\u202e" not in markdown and "\x00" not in markdown and "\x1b" not in markdown
    assert "www.evil" not in markdown and "https:" not in markdown.replace("https\\:", "")


# --- file modes -----------------------------------------------------------------------------------------


def test_the_database_and_its_folder_are_created_private(make_settings: Any) -> None:
    import os
    import stat

    from credflow.services import build_services

    previous = os.umask(0o022)  # a usual umask: files would be 0644 and folders 0755 without care
    try:
        settings = make_settings()
        services = build_services(settings)
        with services.db.session() as session:  # a write keeps the write-ahead log open
            from sqlalchemy import text

            session.execute(text("CREATE TABLE door_check (x INTEGER)"))
            database = Path(services.db.engine.url.database or "")
            made = {p.name: stat.S_IMODE(p.stat().st_mode) for p in database.parent.glob(database.name + "*")}
        services.close()
    finally:
        os.umask(previous)
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700
    assert database.name in made and f"{database.name}-wal" in made, made
    assert set(made.values()) == {0o600}, made


# --- the access log -------------------------------------------------------------------------------------

REVIEW_TOKEN = "rvw" + "A1b2C3d4" * 8
SIGN_IN_TOKEN = "sgn" + "Z9y8X7w6" * 8
SIGNATURE = "5f" * 32


def test_the_access_log_of_credflow_serve_holds_no_token(services: Any) -> None:
    import logging

    import httpx
    import uvicorn
    from uvicorn.logging import AccessFormatter

    from cli.demo_reviewers import free_port
    from web.accesslog import access_log_config
    from web.app import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_config=access_log_config())
    )
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record))

    capture = Capture()
    access = logging.getLogger("uvicorn.access")
    access.addHandler(capture)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    paths = [
        f"/review/{REVIEW_TOKEN}",
        f"/review/{REVIEW_TOKEN}/files/abc",
        f"/Review/{REVIEW_TOKEN}",
        f"/sign-in/{SIGN_IN_TOKEN}",
        f"/files/evidence/x.pdf?expires=1&signature={SIGNATURE}",
        f"/api/store/evidence/x.pdf?expires=1&max_bytes=10&signature={SIGNATURE}",
    ]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(600):  # the server starts in its thread
                if server.started:
                    break
                threading.Event().wait(0.05)
            for path in paths:
                client.get(path)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        access.removeHandler(capture)
    assert len(lines) == len(paths), lines
    log = "\n".join(lines)
    for secret in (REVIEW_TOKEN, SIGN_IN_TOKEN, SIGNATURE, REVIEW_TOKEN[6:12], SIGNATURE[6:]):
        assert secret not in log, log
    assert f"/review/{REVIEW_TOKEN[:6]}…/files/abc" in log and f"/sign-in/{SIGN_IN_TOKEN[:6]}…" in log
    assert "expires=1&max_bytes=10&signature=5f5f5f…" in log


def test_credflow_serve_runs_uvicorn_with_the_redacting_log_config(
    make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    settings = make_settings()
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(settings.catalog_dir))
    monkeypatch.delenv("CREDFLOW_DEPLOYMENTS", raising=False)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    result = CliRunner().invoke(app, ["serve", "--in-process", "--port", "8999"])
    assert result.exit_code == 0, result.output
    (kwargs,) = calls
    assert kwargs["log_config"]["loggers"]["uvicorn.access"]["filters"] == ["redact_tokens"]


def test_a_signed_badge_naming_many_status_lists_gets_none_of_them_fetched(tmp_path: Path) -> None:
    key = KeyStore(tmp_path / "keys").current("openscied")
    issuer = IssuerProfile(id=key.controller, name="OpenSciEd", url="https://www.openscied.org", email="c@example.org")
    unsigned = build_credential(
        issuer=issuer,
        achievement=ACHIEVEMENT,
        valid_from=AWARDED,
        recipient_email="ana@example.org",
        status=StatusEntry(list_url="https://badges.example.org/status/0", index=7),
    )
    entry = unsigned["credentialStatus"]
    unsigned["credentialStatus"] = [
        {**entry, "id": f"https://badges.example.org/status/{n}#7", "statusListCredential": f"https://x{n}.example/s"}
        for n in range(50)
    ]
    fetch = RecordingFetch({})
    with pytest.raises(FetchedDocumentError, match="50 status lists named"):
        verify_fetching(sign_credential(unsigned, key), now=LATER, fetch=fetch)
    assert fetch.asked == []
