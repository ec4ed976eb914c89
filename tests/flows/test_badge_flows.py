"""The badge-sweep flow under Prefect: the sweep lists the reminders due, the flow sends each once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cli.launch import run_in_process
from credflow.db.models import IssuedBadge, utcnow
from credflow.issuance.stage import issue_for_decision
from flows.badges import badge_sweep
from tests.utils.review_cycle import decided_submission

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def test_the_badge_sweep_reminds_each_expiring_badge_once_and_a_rerun_sends_nothing_new(services, tmp_path):
    sid = decided_submission(services, tmp_path)
    micro = issue_for_decision(services, sid).micro
    assert micro is not None
    with services.db.session() as session:  # the sweep reads the wall clock: due its 60-day reminder
        session.get_one(IssuedBadge, micro).valid_until = utcnow() + timedelta(days=30)
    outbox = services.settings.resolved_outbox_dir
    assert run_in_process(services, badge_sweep) == {"reminded": 1, "expired": 0}
    assert len(list(outbox.glob("badge_expiring-*.eml"))) == 1
    assert run_in_process(services, badge_sweep) == {"reminded": 0, "expired": 0}  # reminded once
    assert len(list(outbox.glob("badge_expiring-*.eml"))) == 1
    with services.db.session() as session:
        assert session.get_one(IssuedBadge, micro).expiry_reminded_at is not None
