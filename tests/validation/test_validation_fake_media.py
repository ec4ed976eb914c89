"""Validation's video checks on what the media interface reports, with the media fake (no ffmpeg)."""

from __future__ import annotations

import hashlib

import pytest

from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.media.base import MediaProbe, VideoStream
from credflow.media.fake import FakeMedia, fake_mp4
from credflow.services import Services, build_services
from credflow.validation.stage import run_validation
from tests.conftest import NO_FFMPEG
from tests.utils.builders import discussion_request

H264 = VideoStream("h264", 1280, 720, 0, 30.0, "yuv420p", None)


@pytest.fixture
def media(fake_media: FakeMedia) -> FakeMedia:
    return fake_media


@pytest.fixture
def services(fake_media_services: Services) -> Services:
    return fake_media_services


@pytest.mark.parametrize(
    ("probe", "code"),
    [
        (MediaProbe("mov,mp4", 95.0, 1000, H264, False, "aac"), "video_too_short"),  # 10 to 45 minutes
        (MediaProbe("mov,mp4", 3 * 3600.0, 1000, H264, False, "aac"), "video_too_long"),
        (MediaProbe("mov,mp4", 0.0, 1000, H264, False, "aac"), "unknown_duration"),
        (MediaProbe("mov,mp4", 1200.0, 1000, None, False, "aac"), "no_video_stream"),
        (MediaProbe("mov,mp4", 1200.0, 1000, None, True, "aac"), "cover_art_only"),
    ],
)
def test_a_video_is_returned_for_what_its_probe_says(services, media, tmp_path, probe, code) -> None:
    video = fake_mp4(code)
    media.register(video, probe)
    sid = submit(services, discussion_request(tmp_path, video)).submission_id
    outcome = run_validation(services, sid)
    assert outcome.state is State.RETURNED
    assert [(p.code, p.requirement) for p in outcome.problems] == [(code, "discussion_video")]
    assert media.calls == [("probe", hashlib.sha256(video).hexdigest())]


def test_a_file_the_media_tool_cannot_read_is_an_unreadable_video(make_settings, tmp_path) -> None:
    media = FakeMedia(default=None)
    services = build_services(make_settings(**NO_FFMPEG), media=media)
    try:
        sid = submit(services, discussion_request(tmp_path, fake_mp4())).submission_id
        [problem] = run_validation(services, sid).problems
        assert problem.code == "unreadable_video" and "not media" in problem.message
    finally:
        services.close()


def test_a_video_within_its_limits_goes_to_transcoding(services, media, tmp_path) -> None:
    sid = submit(services, discussion_request(tmp_path, fake_mp4())).submission_id
    outcome = run_validation(services, sid)
    assert outcome.state is State.TRANSCODING and outcome.videos == 1
    assert [call for call, _ in media.calls] == ["probe"]
