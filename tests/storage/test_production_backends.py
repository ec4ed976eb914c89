"""The pipeline's stages on the production backends: PostgreSQL, S3 (moto) and SendGrid (local fake)."""

from __future__ import annotations

import io

import boto3  # type: ignore[import-untyped]
import pytest
from moto import mock_aws

from cli import demo_evidence as ev
from credflow.intake.rules import IntakeRequest, Upload
from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.notifications.rules import Delivery, Notice
from credflow.notifications.stage import send_notice
from credflow.services import build_services
from credflow.transcoding.stage import finish_transcoding, transcode_video, video_jobs
from credflow.validation.stage import run_validation
from tests.utils.builders import applicant
from tests.utils.fakes.sendgrid_server import DEFAULT_API_KEY, FakeSendGrid

pytestmark = pytest.mark.postgres


@pytest.fixture
def production(make_settings, pg_database, tmp_path, monkeypatch):
    import psycopg

    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws(), FakeSendGrid(verified_senders={"ops@credflow.example"}) as fake:
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="evidence")
        settings = make_settings(
            database_url=pg_database,
            storage_backend="s3",
            s3_bucket="evidence",
            s3_prefix="credflow",
            mail_backend="sendgrid",
            sendgrid_api_key=DEFAULT_API_KEY,
            sendgrid_host=fake.url,
            mail_sender="credflow <ops@credflow.example>",
        )
        services = build_services(settings)
        yield services, fake
        services.close()


@pytest.mark.slow  # transcodes with ffmpeg
def test_a_video_submission_goes_through_on_postgres_s3_and_sendgrid(production, tmp_path):
    from credflow.media import samples

    services, fake = production
    clip = samples.make_video(tmp_path / "clip.mp4", seconds=61, width=320, height=180, fps=15)
    plan = ev.docx(tmp_path / "plan.docx", ["UDL plan"]).read_bytes()

    def request() -> IntakeRequest:
        return IntakeRequest(
            applicant=applicant("Pat Prod"),
            credential_id="udl-level-1",
            answers={"learner_variability": ev.words(200), "reflection": ev.words(250)},
            uploads=[
                Upload("udl_lesson_plan", "plan.docx", io.BytesIO(plan)),
                Upload("classroom_video", "clip.mp4", io.BytesIO(clip.read_bytes())),
            ],
        )

    sid = submit(services, request()).submission_id
    assert submit(services, request()).submission_id == sid  # idempotent on PostgreSQL too

    assert send_notice(services, sid, Notice.RECEIVED).delivery is Delivery.SENT
    assert run_validation(services, sid).state is State.TRANSCODING
    [job] = video_jobs(services, sid)
    outcome = transcode_video(services, job, owner="test")
    assert outcome.done and outcome.output_key == f"transcodes/{job.sha256}.mp4"
    assert finish_transcoding(services, sid) is State.AWAITING_REVIEW

    keys = {
        obj["Key"] for obj in boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket="evidence")["Contents"]
    }
    assert f"credflow/transcodes/{job.sha256}.mp4" in keys and f"credflow/posters/{job.sha256}.jpg" in keys
    assert sum(key.startswith("credflow/evidence/") for key in keys) == 2
    [accepted] = fake.messages
    assert accepted.payload["personalizations"][0]["to"][0]["email"] == "pat.prod@example.org"
    assert send_notice(services, sid, Notice.RECEIVED).delivery is Delivery.ALREADY_SENT
    assert len(fake.messages) == 1
