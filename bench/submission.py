"""Benchmark 7e/7f: a direct non-video submission with badge keys and art kept per process, against the old path.

The old path is what issuance did before issue 15, rebuilt from today's code: every signature asks
a fresh key store, which reads and validates the RSA-3072 PEM, and the RS256 signer parses that PEM
again (as PyJWT did when it was given the PEM); the Ed25519 key file is read on every call; the
badge art is drawn and PNG-encoded for every badge. Both paths run the same domain calls as
``bench.throughput``'s direct side (intake to result letter, all reviews Met) on one set of services,
one submission at a time, alternating which goes first (ABBA).

Rows: 7e, submissions per minute, new / old (the issue asks >= 4); 7f, the time inside
``issue_for_decision`` as a share of a new-path submission's time (the issue asks <= 25%).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.common import Sizes, alternating, cpu_timed, log, make_services, median, ratio
from bench.report import Result
from bench.throughput import TEXT_CREDENTIAL, Inputs, _direct, _finished, _pool_yaml, _request
from cli import demo_evidence as ev
from credflow.badges.images import render_png, render_svg
from credflow.badges.keys import IssuerKey, KeyStore
from credflow.badges.ob2 import RsaKeyStore, SigningKey
from credflow.issuance.stage import IssueReport, issue_for_decision
from credflow.reviewers.rules import parse_pool
from credflow.reviewers.stage import import_pool
from credflow.services import BadgeKeys, Services
from credflow.settings import Settings

NAME = "submission"
UNIT = "subs/min"
KIND = "non-video"
ISSUER = "openscied"  # the issuer of TEXT_CREDENTIAL and of the pathway badge it leads to
TARGET_SPEED = 4.0
TARGET_SHARE = 0.25


class _OldRsaKeyStore(RsaKeyStore):
    """The RSA key read and validated at every call, then parsed again for the signature (as PyJWT did)."""

    def current(self) -> SigningKey:
        self.forget()
        key = super().current()
        again = serialization.load_pem_private_key(key.private_key_pem, password=None)
        assert isinstance(again, rsa.RSAPrivateKey)
        return dataclasses.replace(key, private_key=again)


class _OldKeyStore(KeyStore):
    """The Ed25519 key file read at every call."""

    def current(self, issuer_id: str) -> IssuerKey:
        self.forget()
        return super().current(issuer_id)


class _OldBadgeKeys(BadgeKeys):
    """Key stores that keep nothing: each call gets a new one on the same folders."""

    def ob3(self, settings: Settings) -> KeyStore:
        kept = super().ob3(settings)
        return _OldKeyStore(kept.keys_dir, did_web_base=kept.did_web_base)

    def ob2(self, settings: Settings, issuer_id: str) -> RsaKeyStore:
        return _OldRsaKeyStore(super().ob2(settings, issuer_id).folder)


def _results() -> tuple[Result, Result]:
    speed = Result(
        name="submission-direct-keys",
        title="7e. direct non-video submission, keys and art kept",
        unit=UNIT,
        baseline_label="keys re-read per signature",
        subject_label="kept per process",
        target=f"ratio >= {TARGET_SPEED:g}",
    )
    share = Result(
        name="submission-issuance-share",
        title="7f. badge issuance share of a direct submission",
        unit="s",
        baseline_label="direct submission",
        subject_label="issue_for_decision",
        target=f"ratio <= {TARGET_SHARE:g}",
    )
    return speed, share


def empty() -> Result:
    """The result record before any measurement (the row shown when the whole benchmark fails)."""
    return _results()[0]


def _inputs(workdir: Path) -> Inputs:
    # Only the PDF is used: a non-video submission needs neither the lesson plan nor the clip (nor ffmpeg).
    pdf = ev.pdf(workdir / "plan.pdf", "Anchoring Phenomenon Routine - facilitation plan").read_bytes()
    return Inputs(pdf=pdf, docx=b"", clip=b"")


def _timed_issue(spent: list[float]) -> Callable[[Services, str], IssueReport]:
    def issue(services: Services, submission_id: str) -> IssueReport:
        start = time.perf_counter()
        try:
            return issue_for_decision(services, submission_id)
        finally:
            spent.append(time.perf_counter() - start)

    return issue


def _old_path(services: Services, inputs: Inputs, tag: str, n: int, issued: list[float]) -> str:
    render_png.cache_clear()  # the old path drew every badge's art
    render_svg.cache_clear()
    return _direct(services, _request(inputs, KIND, tag, n), issue=_timed_issue(issued))[0]


def run(sizes: Sizes, workdir: Path) -> list[Result]:
    """Time direct non-video submissions on the old and the new path, alternating, and report both rows."""
    speed, share = _results()
    count = sizes.throughput_nonvideo
    services = make_services(workdir / "data")
    old_services = dataclasses.replace(services, badge_keys=_OldBadgeKeys())
    try:
        with services.db.session() as session:
            import_pool(session, parse_pool(_pool_yaml(workdir / "pool.yaml").read_text(), catalog=services.catalog))
        inputs = _inputs(workdir)
        # Warm-up, untimed: the keys are generated, imports and the JSON-LD contexts loaded, the art drawn.
        _direct(services, _request(inputs, KIND, "warm-new", 0))
        _old_path(old_services, inputs, "warm-old", 0, [])
        wall: dict[str, list[float]] = {"old": [], "new": []}
        cpu: dict[str, list[float]] = {"old": [], "new": []}
        issued: dict[str, list[float]] = {"old": [], "new": []}
        ids: dict[str, list[str]] = {"old": [], "new": []}

        def one(side: str, index: int) -> str:
            if side == "old":
                return _old_path(old_services, inputs, "old", index, issued["old"])
            return _direct(services, _request(inputs, KIND, "new", index), issue=_timed_issue(issued["new"]))[0]

        for index, old_first in alternating(count):
            for side in ("old", "new") if old_first else ("new", "old"):
                seconds, cpu_s, sid = cpu_timed(lambda: one(side, index))  # noqa: B023 - called at once
                wall[side].append(seconds)
                cpu[side].append(cpu_s)
                ids[side].append(sid)
            log(NAME, f"{index + 1}/{count} each way")
        counts = {side: _finished(services, ids[side]) for side in ids}
        rsa_loads = services.ob2_key_store(ISSUER).loads
    finally:
        services.close()

    speed.baseline = count * 60 / sum(wall["old"])
    speed.subject = count * 60 / sum(wall["new"])
    speed.ratio = ratio(speed.subject, speed.baseline)
    speed.passed = speed.ratio >= TARGET_SPEED
    speed.samples = {"baseline_s": wall["old"], "subject_s": wall["new"]}
    cpu_ratio = ratio(sum(cpu["old"]), sum(cpu["new"]))
    speed.details = {
        "credential": TEXT_CREDENTIAL,
        "submissions_each": count,
        "median_s": {"old": median(wall["old"]), "new": median(wall["new"])},
        "cpu_s": {"old": sum(cpu["old"]), "new": sum(cpu["new"])},
        "cpu_old_over_new": cpu_ratio,
        "issuance_s": {"old": sum(issued["old"]), "new": sum(issued["new"])},
        "rsa_key_parses_new_path": rsa_loads,
        "finished": counts,
    }
    speed.notes.append(
        f"{count} submissions each way; CPU old/new {cpu_ratio:.2f}; RSA key parsed {rsa_loads}x on the new path"
        " (warm-up included)"
    )
    share.baseline = sum(wall["new"]) / count
    share.subject = sum(issued["new"]) / count
    share.ratio = ratio(share.subject, share.baseline)
    share.passed = share.ratio <= TARGET_SHARE
    share.samples = {"baseline_s": wall["new"], "subject_s": issued["new"]}
    share.details = {"old_path_share": ratio(sum(issued["old"]), sum(wall["old"]))}
    share.notes.append(f"on the old path issuance was {share.details['old_path_share']:.0%} of a submission")
    for side, finished in counts.items():
        if any(value != count for value in finished.values()):
            speed.notes.append(f"{side}: not every submission ended earned with badge and letter: {finished}")
            speed.passed = False
    return [speed, share]
