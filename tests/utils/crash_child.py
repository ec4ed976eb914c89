"""Child process for tests/kernel/test_crash_safety.py: run one flow and SIGKILL itself at a chosen point.

Usage: ``python -m tests.utils.crash_child <point> <flow> <submission_id>`` with ``CREDFLOW_DATA_DIR``,
``CREDFLOW_CATALOG_DIR`` and ``PREFECT_API_URL`` set by the parent. Production code is not
changed: the kill is injected by wrapping the function at the point where it is looked up.

Points:
    transcode  ffmpeg is running (progress past 30 %); ffmpeg is slowed with ``-preset veryslow``.
    mail       right after OutboxMailer.send wrote the message of kind ``$CRASH_MAIL_KIND``,
               before deliver() records it as sent (the message went out, the record did not).
    aggregate  right after aggregate() committed the Decision, before the flow continues.
    issue      after the micro badge row committed, when issue_for_decision calls ensure_images.

Exit status 3 means the flow finished without reaching the point (the parent reports that).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from cli.offline import apply_offline_defaults

apply_offline_defaults()


def _die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _get(owner: Any, name: str) -> Any:
    return getattr(owner, name)


def _set(owner: Any, name: str, value: Any) -> None:
    setattr(owner, name, value)  # where the production code looks the name up


def _patch(point: str) -> None:
    if point == "transcode":
        import credflow.media.transcode as media_transcode

        real_build = media_transcode.build_command

        def slow_build(*args: Any, **kwargs: Any) -> list[str]:
            # Several seconds of encoding for a tiny clip, so a progress report lands mid-way.
            return ["veryslow" if arg == "veryfast" else arg for arg in real_build(*args, **kwargs)]

        _set(media_transcode, "build_command", slow_build)  # looked up as a global by transcode()
        real_transcode = _get(media_transcode, "transcode")

        def transcode(src: Any, dst: Any, *, on_progress: Any = None, **kwargs: Any) -> Any:
            def progress(fraction: float) -> None:
                if 0.3 <= fraction < 1.0:
                    _die()
                if on_progress is not None:
                    on_progress(fraction)

            return real_transcode(src, dst, on_progress=progress, **kwargs)

        _set(media_transcode, "transcode", transcode)  # FfmpegMedia.transcode looks it up in credflow.media.transcode
    elif point == "mail":
        from credflow.mail.outbox import OutboxMailer

        real_send = OutboxMailer.send
        kind = os.environ["CRASH_MAIL_KIND"]

        def send(self: Any, message: Any) -> Any:
            receipt = real_send(self, message)
            if message.kind == kind:
                _die()
            return receipt

        _set(OutboxMailer, "send", send)
    elif point == "aggregate":
        import tasks.decision as decision_tasks

        real_aggregate = _get(decision_tasks, "aggregate")

        def aggregate(*args: Any, **kwargs: Any) -> Any:
            real_aggregate(*args, **kwargs)  # its session has committed when it returns
            _die()

        _set(decision_tasks, "aggregate", aggregate)  # the task calls tasks.decision.aggregate
    elif point == "issue":
        import credflow.issuance.stage as issuance

        def ensure_images(*args: Any, **kwargs: Any) -> None:
            _die()  # issue_micro has committed the badge row; images, hours and letter not yet

        _set(issuance, "ensure_images", ensure_images)  # issue_for_decision looks it up in credflow.issuance.stage
    else:
        raise SystemExit(f"unknown point {point!r}")


def main(point: str, flow: str, submission_id: str) -> int:
    _patch(point)
    from credflow.services import build_services
    from credflow.settings import load_settings
    from tasks.runtime import use_services

    services = build_services(load_settings())
    with use_services(services):
        if flow == "submission":
            from flows.submission import run_submission

            run_submission(submission_id)
        elif flow == "decide":
            from flows.review import decide_submission

            decide_submission(submission_id)
        else:
            raise SystemExit(f"unknown flow {flow!r}")
    return 3  # the point was never reached


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
