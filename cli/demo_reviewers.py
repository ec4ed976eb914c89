"""Demo reviewers: open the links from their emails and score through the review page's own HTTP endpoints."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx

from credflow.review.stage import open_assignment
from credflow.services import Services
from credflow.submissions import get_submission

LINK = re.compile(r"(https?://[^\s]+/review/[A-Za-z0-9_.\-]+)")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
CRITERION = re.compile(r'name="verdict__([a-z0-9_]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(app: object, port: int, *, own_logging: bool = True) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread for the ``with`` block.

    With ``own_logging=False`` uvicorn leaves logging alone, so its records go wherever the root logger sends them.
    """
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="warning",
        log_config=LOGGING_CONFIG if own_logging else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="demo-review-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the demo review server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass(frozen=True)
class Via:
    """Send requests for the ``public`` base URL to ``local``, as a hosts-file entry would.

    The demo mails links naming the public URL (``credflow serve``'s) while its reviewers score on a temporary
    server; the client still sees the public URL, so its cookies and Host header are the public URL's.
    """

    public: str
    local: str

    def transport(self) -> httpx.BaseTransport:
        return _Rerouting(public=self.public.rstrip("/"), local=self.local.rstrip("/"))


class _Rerouting(httpx.BaseTransport):
    def __init__(self, *, public: str, local: str) -> None:
        self._public = public
        self._local = local
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url == self._public or url.startswith(self._public + "/"):
            url = self._local + url[len(self._public) :]
        forwarded = httpx.Request(
            request.method, url, headers=request.headers, stream=request.stream, extensions=request.extensions
        )
        return self._inner.handle_request(forwarded)

    def close(self) -> None:
        self._inner.close()


def review_over_http(link: str, verdicts: dict[str, tuple[str, str]], *, via: Via | None = None) -> int:
    """Do what a reviewer's browser does: open the page, fill every criterion, submit the form.

    Args:
        link: The review link from the assignment email.
        verdicts: Criterion key to (verdict, comment); every other criterion is Met.
        via: Where to send the requests instead of the link's own host.
    """
    with httpx.Client(timeout=120, transport=via.transport() if via else None) as client:
        page = client.get(link)
        page.raise_for_status()
        match = CSRF.search(page.text)
        if match is None:
            raise RuntimeError(f"no CSRF field on {link}")
        form = {"csrf": match.group(1)}
        for key in dict.fromkeys(CRITERION.findall(page.text)):
            verdict, comment = verdicts.get(key, ("met", ""))
            form[f"verdict__{key}"] = verdict
            form[f"comment__{key}"] = comment
        return client.post(f"{link}/submit", data=form).status_code


def link_in_email(eml: Path) -> str | None:
    """The review link in an assignment email's plain-text part."""
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    body = message.get_body(preferencelist=("plain",))
    match = LINK.search(body.get_content() if body is not None else "")
    return match.group(1) if match else None


@dataclass
class ReviewerScript:
    """How the demo's reviewers score: per applicant email, per reviewer turn, the Not Yet criteria."""

    plans: dict[str, list[dict[str, str]]]  # applicant email -> [reviewer 1's not-yets, reviewer 2's, ...]
    adjudications: dict[str, dict[str, str]]  # applicant email -> criterion -> lead's verdict
    turns: dict[str, int] = field(default_factory=dict)


def run_reviewers(
    services: Services, script: ReviewerScript, *, log: Callable[[str], None], via: Via | None = None
) -> int:
    """Answer every assignment email in the outbox (new ones appear as adjudications are asked for).

    Args:
        services: The demo's services (its outbox, database and public URL).
        script: How each reviewer scores.
        log: Told one line per review submitted.
        via: Where to send the reviewers' requests instead of the links' own host.
    """
    outbox = services.settings.resolved_outbox_dir
    done: set[str] = set()
    reviewed = 0
    while True:
        pending = sorted(p for p in outbox.glob("assignment-*.eml") if p.name not in done)
        if not pending:
            return reviewed
        for eml in pending:
            done.add(eml.name)
            link = link_in_email(eml)
            if link is None:
                continue
            assignment = open_assignment(services, link.rsplit("/", 1)[1])
            with services.db.session() as session:
                email = get_submission(session, assignment.submission_id).applicant.email
            if assignment.role == "adjudication":
                verdicts = {
                    key: (v, "" if v == "met" else "The evidence does not show it yet.")
                    for key, v in script.adjudications.get(email, {}).items()
                }
            elif assignment.role == "review":
                turn = script.turns.get(email, 0)
                script.turns[email] = turn + 1
                plan = script.plans.get(email, [])
                not_yet = plan[turn] if turn < len(plan) else {}
                verdicts = {key: ("not_yet", comment) for key, comment in not_yet.items()}
            else:
                verdicts = {}
            status = review_over_http(link, verdicts, via=via)
            reviewed += 1
            log(f"  {assignment.reviewer.name} ({assignment.role}) scored {email}'s submission: HTTP {status}")
