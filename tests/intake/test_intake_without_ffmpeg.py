"""Intake to review without ffmpeg: the media fake stands in, and the pipeline goes through it."""

from __future__ import annotations

import hashlib

import pytest

from credflow.errors import ConfigurationError
from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.media.fake import FakeMedia, fake_mp4
from credflow.services import Services, build_services
from credflow.transcoding.stage import finish_transcoding, transcode_of, transcode_video, video_jobs
from credflow.validation.stage import run_validation
from tests.conftest import NO_FFMPEG
from tests.utils.builders import discussion_request


@pytest.fixture
def media(fake_media: FakeMedia) -> FakeMedia:
    return fake_media


@pytest.fixture
def services(fake_media_services: Services) -> Services:
    return fake_media_services


def test_without_the_fake_the_missing_ffmpeg_stops_the_services(make_settings) -> None:
    with pytest.raises(ConfigurationError, match="CREDFLOW_FFMPEG_PATH"):
        build_services(make_settings(**NO_FFMPEG))


def test_a_video_submission_reaches_review_through_the_media_interface(services, media, tmp_path) -> None:
    video = fake_mp4("discussion")
    sha = hashlib.sha256(video).hexdigest()
    result = submit(services, discussion_request(tmp_path, video))
    assert result.state == State.RECEIVED.value and media.calls == []  # intake stores; it never probes

    outcome = run_validation(services, result.submission_id)
    assert outcome.state is State.TRANSCODING and outcome.problems == () and outcome.videos == 1
    assert media.calls == [("probe", sha)]  # only the video is probed, the PDF is not

    [job] = video_jobs(services, result.submission_id)
    done = transcode_video(services, job, owner="test")
    assert done.done and not done.reused
    assert finish_transcoding(services, result.submission_id) is State.AWAITING_REVIEW
    assert [call for call, _ in media.calls] == ["probe", "transcode", "make_poster"]
    row = transcode_of(services, sha)
    assert row is not None and row.state == "done" and row.duration == 1200.0
    assert done.output_key is not None
    with services.store.local_path(done.output_key) as path:
        assert path.read_bytes().startswith(b"credflow fake review MP4")
