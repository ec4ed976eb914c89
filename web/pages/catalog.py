"""The public catalog and the formal test: the landing page, every micro-credential, and taking a test.

``/`` says what credflow is and lists the catalog by issuer and program; ``/credentials`` is the
catalog and ``/credentials/{id}`` one micro-credential: what to submit, the rubric, attempts,
hours, the badge and its pathway, prerequisites, and the start button (signed in) or a sign-in
link. ``/credentials/{id}/test`` (signed in) shows the test's rules and the person's tries, and
starts one; ``/credentials/{id}/test/{try}`` is the questions page while the try is open and its
result page once scored. A try belongs to its applicant: anyone else's id is a 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from credflow.accounts.rules import Identity
from credflow.assessment.rules import Standing, TestScore, feedback_shown
from credflow.assessment.stage import (
    AnswersIncomplete,
    TestOverview,
    TestRefused,
    TryView,
    badge_of,
    complete_pass,
    earned_credentials,
    formal_test_overview,
    open_try,
    start_try,
    submit_try,
)
from credflow.catalog.models import Credential, EvidenceKind, EvidenceRequirement, FormalTest
from credflow.errors import NotFoundError
from credflow.formatting import human_size
from credflow.issuance.rules import Pathway
from credflow.services import Services
from web.deps import WebDeps, sign_in_redirect
from web.forms import read_urlencoded

MAX_FORM_BYTES = 64 * 1024
MAX_FIELDS = 200

KIND_LABELS = {
    EvidenceKind.TEXT: "Written answer",
    EvidenceKind.DOCUMENT: "Documents",
    EvidenceKind.IMAGE: "Images",
    EvidenceKind.VIDEO: "Video",
}

FORM_FAILED = (
    "This form could not be verified: its security token is missing or out of date. "
    "Reload the page and send the form again."
)


def when(moment: datetime) -> str:
    """A moment in words for the pages (``Monday 7 December 2026 at 09:00 UTC``)."""
    return f"{moment:%A} {moment.day} {moment:%B %Y at %H:%M} UTC"


def _seconds(value: float) -> str:
    minutes, seconds = divmod(round(value), 60)
    if minutes and seconds:
        return f"{minutes} min {seconds} s"
    if minutes:
        return f"{minutes} minute{'' if minutes == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def _between(low: str | None, high: str | None, unit: str) -> str | None:
    if low and high:
        return f"{low} to {high} {unit}"
    if low:
        return f"at least {low} {unit}"
    return f"at most {high} {unit}" if high else None


def requirement_limits(req: EvidenceRequirement) -> list[str]:
    """What one requirement accepts, in words: words, or count, file kinds, size and video length."""
    if req.kind is EvidenceKind.TEXT:
        words = _between(
            f"{req.min_words:,}" if req.min_words else None, f"{req.max_words:,}" if req.max_words else None, "words"
        )
        return [words or "Any length", "Required" if req.required else "Optional"]
    noun = "file" if req.max_count == 1 else "files"
    if req.min_count == req.max_count:
        count = f"{req.min_count} {noun}"
    elif req.min_count == 0:
        count = f"Up to {req.max_count} {noun} (optional)"
    else:
        count = f"{req.min_count} to {req.max_count} {noun}"
    limits = [count, "Kinds: " + ", ".join(fmt.upper() for fmt in req.formats)]
    if req.max_size_bytes is not None:
        limits.append(f"Each at most {human_size(req.max_size_bytes)}")
    length = _between(
        _seconds(req.min_duration_s) if req.min_duration_s else None,
        _seconds(req.max_duration_s) if req.max_duration_s else None,
        "long",
    )
    if length:
        limits.append(length[0].upper() + length[1:])
    return limits


def _validity(validity: str) -> str:
    if validity == "never":
        return "never expires"
    amounts = {"Y": "year", "M": "month", "D": "day"}
    number, unit = validity[1:-1], validity[-1]
    if number.isdigit() and unit in amounts:
        return f"valid {number} {amounts[unit]}{'' if number == '1' else 's'}"
    return f"valid for {validity}"


def pathway_rows(credential: Credential, pathways: Iterable[Pathway]) -> list[dict[str, Any]]:
    """The pathways a credential counts towards, each with its badges in order and what earning each means."""
    rows = []
    for pathway in pathways:
        if credential.id not in pathway.steps:
            continue
        rows.append(
            {
                "title": pathway.title,
                "steps": len(pathway.steps),
                "badges": [
                    {
                        "id": badge.id,
                        "name": badge.name,
                        "description": badge.description,
                        "validity": _validity(badge.validity),
                        "image": f"/achievements/{badge.id}/image.png",
                    }
                    for badge in pathway.badges
                ],
            }
        )
    return rows


def formal_test_summary(test: FormalTest) -> dict[str, Any]:
    """A formal test's rules in words."""
    return {
        "questions": len(test.items),
        "needed": test.correct_needed,
        "attempts": test.attempts,
        "wait": test.retake_wait_days,
        "time_limit": test.time_limit_minutes,
    }


def credential_card(credential: Credential, *, earned: frozenset[str], titles: Mapping[str, str]) -> dict[str, Any]:
    """One credential as the catalog lists it."""
    return {
        "id": credential.id,
        "title": credential.title,
        "competency": credential.competency,
        "hours": f"{credential.in_service_hours:g}",
        "earned": credential.id in earned,
        "needs": [titles.get(p, p) for p in credential.prerequisites if p not in earned],
        "test": credential.offers_test,
        "portfolio": credential.offers_portfolio,
        "image": f"/achievements/{credential.id}/image.png",
    }


def catalog_groups(services: Services, earned: frozenset[str]) -> list[dict[str, Any]]:
    """The catalog grouped by issuer, then program, each credential a card."""
    titles = {c.id: c.title for c in services.catalog}
    groups: dict[str, dict[str, Any]] = {}
    for credential in sorted(services.catalog, key=lambda c: (c.issuer.name, c.program, c.title)):
        issuer = groups.setdefault(
            credential.issuer.id, {"name": credential.issuer.name, "url": str(credential.issuer.url), "programs": {}}
        )
        program = issuer["programs"].setdefault(credential.program, [])
        program.append(credential_card(credential, earned=earned, titles=titles))
    return [
        {**group, "programs": [{"slug": slug, "credentials": cards} for slug, cards in group["programs"].items()]}
        for group in groups.values()
    ]


def credential_page(
    services: Services, credential: Credential, *, who: Identity | None, earned: frozenset[str]
) -> dict[str, Any]:
    """The view model of catalog_credential.html."""
    titles = {c.id: c.title for c in services.catalog}
    missing = [p for p in credential.prerequisites if p not in earned]
    return {
        "credential": credential,
        "requirements": [
            {
                "key": req.key,
                "title": req.title,
                "kind": KIND_LABELS[req.kind],
                "prompt": req.prompt,
                "limits": requirement_limits(req),
            }
            for req in credential.evidence
        ],
        "sections": [(section.title, section.criteria) for section in credential.rubric],
        "pathways": pathway_rows(credential, services.pathways.values()),
        "prerequisites": [
            {"id": p, "title": titles.get(p, p), "earned": p in earned} for p in credential.prerequisites
        ],
        "missing": [titles.get(p, p) for p in missing],
        "earned": credential.id in earned,
        "signed_in": who is not None,
        "test": formal_test_summary(credential.test) if credential.test and credential.offers_test else None,
        "hours": f"{credential.in_service_hours:g}",
        "image": f"/achievements/{credential.id}/image.png",
        "sign_in_url": "/sign-in?" + urlencode({"next": f"/credentials/{credential.id}"}),
    }


def question_rows(
    test: FormalTest,
    *,
    answers: Mapping[str, str],
    problems: Mapping[str, str] | None = None,
    result: TestScore | None = None,
    reveal: bool = False,
) -> list[dict[str, Any]]:
    """Each question with its options, the chosen one, a problem and (on a result) whether it was right."""
    problems = problems or {}
    scored = {item.key: item for item in result.items} if result else {}
    rows = []
    for number, item in enumerate(test.items, start=1):
        outcome = scored.get(item.key)
        correct_text = next(o.text for o in item.options if o.key == item.answer)
        rows.append(
            {
                "number": number,
                "key": item.key,
                "question": item.question,
                "options": [
                    {"key": o.key, "text": o.text, "chosen": answers.get(item.key) == o.key} for o in item.options
                ],
                "problem": problems.get(item.key),
                "correct": outcome.correct if outcome else None,
                "chosen_text": next((o.text for o in item.options if o.key == answers.get(item.key)), None),
                "answer_text": correct_text if reveal else None,
                "explanation": item.explanation if reveal else None,
            }
        )
    return rows


async def read_answers(request: Request) -> dict[str, str] | None:
    """A urlencoded form of up to :data:`MAX_FIELDS` fields, or None when it is not one."""
    return await read_urlencoded(request, max_bytes=MAX_FORM_BYTES, max_fields=MAX_FIELDS)


@dataclass(frozen=True)
class TestPage:
    """The view model of catalog_test.html: a test's rules and the person's standing with it."""

    credential: Credential
    rules: dict[str, Any]
    standing: str
    used: int
    left: int
    open_try: str | None
    passed_try: str | None
    next_try: str | None
    refusal: str | None
    missing: list[dict[str, str]]
    ask_name: bool
    name: str
    organisation: str
    problem: str | None

    def context(self) -> dict[str, Any]:
        """The template's variables."""
        return dict(vars(self))


def formal_test_page(
    overview: TestOverview, *, titles: Mapping[str, str], name: str = "", organisation: str = "", problem: str | None
) -> TestPage:
    """The test page of a signed-in person, from their overview (and the start form's values after a refusal)."""
    found = overview.standing
    return TestPage(
        credential=overview.credential,
        rules=formal_test_summary(overview.test),
        standing=found.standing.value,
        used=found.used,
        left=found.left,
        open_try=found.open_try,
        passed_try=found.passed_try,
        next_try=when(found.next_try_at) if found.next_try_at else None,
        refusal=overview.refusal,
        missing=[{"id": m, "title": titles.get(m, m)} for m in overview.missing],
        ask_name=overview.name is None,
        name=name,
        organisation=organisation,
        problem=problem,
    )


def routes(deps: WebDeps) -> APIRouter:
    """The landing page, the catalog pages and the formal test's pages."""
    services, clock, accounts = deps.services, deps.clock, deps.accounts
    router = APIRouter()
    titles = {c.id: c.title for c in services.catalog}

    def earned_of(who: Identity | None) -> frozenset[str]:
        return frozenset() if who is None else earned_credentials(services, who.email)

    def not_found(request: Request, heading: str, message: str) -> HTMLResponse:
        return accounts.render(request, "catalog_missing.html", status=404, heading=heading, message=message)

    def refused_form(request: Request) -> HTMLResponse:
        return accounts.render(
            request, "catalog_missing.html", status=403, heading="This form could not be sent", message=FORM_FAILED
        )

    def credential_or_none(credential_id: str) -> Credential | None:
        return services.catalog.credentials.get(credential_id)

    @router.get("/", response_class=HTMLResponse, name="landing")
    def landing(request: Request) -> Response:
        who = accounts.current(request)
        return accounts.render(
            request, "catalog_landing.html", groups=catalog_groups(services, earned_of(who)), who=who
        )

    @router.get("/credentials", response_class=HTMLResponse, name="catalog")
    def catalog(request: Request) -> Response:
        who = accounts.current(request)
        return accounts.render(request, "catalog.html", groups=catalog_groups(services, earned_of(who)), who=who)

    @router.get("/credentials/{credential_id}", response_class=HTMLResponse, name="credential")
    def credential(request: Request, credential_id: str) -> Response:
        found = credential_or_none(credential_id)
        if found is None:
            return not_found(
                request, "No such micro-credential", "The catalog has no micro-credential at this address."
            )
        who = accounts.current(request)
        view = credential_page(services, found, who=who, earned=earned_of(who))
        # The start form posts to /me/credentials/{id}/start, which checks this binding.
        binding = f"start:{found.id}" if who is not None else None
        return accounts.render(request, "catalog_credential.html", binding=binding, **view)

    # --- the formal test ------------------------------------------------------------------

    def the_test_page(
        request: Request,
        who: Identity,
        credential_id: str,
        *,
        problem: str | None = None,
        name: str = "",
        organisation: str = "",
        status: int = 200,
    ) -> Response:
        try:
            overview = formal_test_overview(services, email=who.email, credential_id=credential_id, now=clock())
        except NotFoundError:
            return not_found(request, "No such test", "This micro-credential has no formal test.")
        page = formal_test_page(overview, titles=titles, name=name, organisation=organisation, problem=problem)
        return accounts.render(
            request, "catalog_test.html", binding=f"test:{credential_id}", status=status, **page.context()
        )

    @router.get("/credentials/{credential_id}/test", response_class=HTMLResponse, name="credential_test")
    def get_test(request: Request, credential_id: str) -> Response:
        who = accounts.current(request)
        if who is None:
            return sign_in_redirect(request)
        return the_test_page(request, who, credential_id)

    @router.post("/credentials/{credential_id}/test")
    async def post_test(request: Request, credential_id: str) -> Response:
        who = await run_in_threadpool(accounts.current, request)
        if who is None:
            return sign_in_redirect(request)
        form = await read_answers(request)
        if form is None or not accounts.form_ok(request, form, f"test:{credential_id}"):
            return refused_form(request)
        name, organisation = form.get("name", "")[:200], form.get("organisation", "")[:200]
        try:
            attempt_id = await run_in_threadpool(
                lambda: start_try(
                    services,
                    email=who.email,
                    credential_id=credential_id,
                    now=clock(),
                    name=name,
                    organisation=organisation,
                )
            )
        except NotFoundError:
            return not_found(request, "No such test", "This micro-credential has no formal test.")
        except TestRefused as exc:
            reason = str(exc)
            return await run_in_threadpool(
                lambda: the_test_page(
                    request,
                    who,
                    credential_id,
                    problem=reason,
                    name=name,
                    organisation=organisation,
                    status=422,
                )
            )
        return RedirectResponse(f"/credentials/{credential_id}/test/{attempt_id}", status_code=303)

    def try_page(
        request: Request,
        who: Identity,
        credential_id: str,
        view: TryView,
        *,
        answers: Mapping[str, str] | None = None,
        problems: Mapping[str, str] | None = None,
    ) -> Response:
        found = services.catalog.get(credential_id)
        test = found.test
        assert test is not None
        if view.result is None:
            return accounts.render(
                request,
                "catalog_questions.html",
                binding=f"try:{view.id}",
                status=422 if problems else 200,
                credential=found,
                attempt=view,
                due=when(view.due_at) if view.due_at else None,
                questions=question_rows(test, answers=answers or view.answers, problems=problems),
                problems=[{"key": key, "text": text} for key, text in (problems or {}).items()],
                action=f"/credentials/{credential_id}/test/{view.id}",
            )
        badge_id = None
        if view.submission_id is not None:
            badge_id = badge_of(services, view.submission_id)
            if badge_id is None:  # an earlier run stopped before issuing: issue now (idempotent)
                complete_pass(services, view.submission_id, now=clock())
                badge_id = badge_of(services, view.submission_id)
        overview = formal_test_overview(services, email=who.email, credential_id=credential_id, now=clock())
        reveal = feedback_shown(overview.standing)
        unlocked = [
            {"id": c.id, "title": c.title}
            for c in services.catalog
            if found.id in c.prerequisites and not overview_missing_other(c, found.id, earned_of(who))
        ]
        return accounts.render(
            request,
            "catalog_result.html",
            credential=found,
            attempt=view,
            result=view.result,
            passed=view.result.passed,
            reveal=reveal,
            questions=question_rows(test, answers=view.answers, result=view.result, reveal=reveal),
            left=overview.standing.left,
            next_try=when(overview.standing.next_try_at) if overview.standing.next_try_at else None,
            may_retry=overview.standing.standing in (Standing.MAY_START, Standing.WAITING),
            badge_url=f"/badges/{badge_id}" if badge_id else None,
            hours=f"{found.in_service_hours:g}",
            unlocked=unlocked if view.result.passed else [],
        )

    def load_try(request: Request, who: Identity, credential_id: str, attempt_id: str) -> TryView | Response:
        try:
            return open_try(services, email=who.email, credential_id=credential_id, attempt_id=attempt_id, now=clock())
        except NotFoundError:
            return not_found(request, "No such test try", "You have no test try at this address.")

    @router.get("/credentials/{credential_id}/test/{attempt_id}", response_class=HTMLResponse, name="test_try")
    def get_try(request: Request, credential_id: str, attempt_id: str) -> Response:
        who = accounts.current(request)
        if who is None:
            return sign_in_redirect(request)
        view = load_try(request, who, credential_id, attempt_id)
        if isinstance(view, Response):
            return view
        return try_page(request, who, credential_id, view)

    @router.post("/credentials/{credential_id}/test/{attempt_id}")
    async def post_try(request: Request, credential_id: str, attempt_id: str) -> Response:
        who = await run_in_threadpool(accounts.current, request)
        if who is None:
            return sign_in_redirect(request)
        form = await read_answers(request)
        if form is None or not accounts.form_ok(request, form, f"try:{attempt_id[:64]}"):
            return refused_form(request)
        answers = {key: value for key, value in form.items() if key != "csrf"}

        def send() -> Response:
            try:
                submit_try(
                    services,
                    email=who.email,
                    credential_id=credential_id,
                    attempt_id=attempt_id,
                    answers=answers,
                    now=clock(),
                )
            except NotFoundError:
                return not_found(request, "No such test try", "You have no test try at this address.")
            except AnswersIncomplete as exc:
                view = load_try(request, who, credential_id, attempt_id)
                if isinstance(view, Response):
                    return view
                return try_page(request, who, credential_id, view, answers=answers, problems=exc.problems)
            return RedirectResponse(f"/credentials/{credential_id}/test/{attempt_id}", status_code=303)

        return await run_in_threadpool(send)

    return router


def overview_missing_other(credential: Credential, just_earned: str, earned: frozenset[str]) -> bool:
    """Whether ``credential`` still lacks a prerequisite once ``just_earned`` counts as earned."""
    return any(p not in earned and p != just_earned for p in credential.prerequisites)
