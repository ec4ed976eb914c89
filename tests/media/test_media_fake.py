"""The media interface: FfmpegMedia and FakeMedia both satisfy it; FakeMedia's convention, without ffmpeg."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from credflow.media.base import Media, MediaProbe, ProbeError, TranscodeError
from credflow.media.fake import DEFAULT_PROBE, FAKE_POSTER, FakeMedia, fake_mp4
from credflow.media.ffmpeg import FfmpegMedia
from credflow.validation.inspect import inspect_content
from credflow.validation.sniff import sniff

SOUND_ONLY = MediaProbe("mp3", 60.0, 1000, None, False, "mp3")


def test_both_media_tools_satisfy_the_interface() -> None:
    tools: list[Media] = [FakeMedia(), FfmpegMedia(ffmpeg="/nowhere/ffmpeg", ffprobe="/nowhere/ffprobe")]
    assert all(isinstance(tool, Media) for tool in tools)


def test_a_fake_mp4_sniffs_and_inspects_as_a_clean_mp4(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(fake_mp4("one"))
    sniffed = sniff(path)
    assert (sniffed.format, sniffed.kind) == ("mp4", "video")
    assert inspect_content(path, sniffed) == []
    assert fake_mp4("one") != fake_mp4("two")


def test_fake_probes_registered_content_as_registered_and_other_files_as_the_default(tmp_path: Path) -> None:
    media = FakeMedia()
    media.register(fake_mp4("sound"), SOUND_ONLY)
    sound, video = tmp_path / "sound.mp4", tmp_path / "video.mp4"
    sound.write_bytes(fake_mp4("sound"))
    video.write_bytes(fake_mp4("video"))
    assert media.probe(sound) == SOUND_ONLY
    found = media.probe(video)
    assert found.video == DEFAULT_PROBE.video and found.size == video.stat().st_size
    assert media.calls == [
        ("probe", hashlib.sha256(fake_mp4("sound")).hexdigest()),
        ("probe", hashlib.sha256(fake_mp4("video")).hexdigest()),
    ]
    with pytest.raises(ProbeError, match="not media"):
        FakeMedia(default=None).probe(video)


def test_fake_transcode_writes_a_marker_reports_progress_and_fails_for_broken_content(tmp_path: Path) -> None:
    media = FakeMedia()
    src, out, poster = tmp_path / "in.mp4", tmp_path / "out.mp4", tmp_path / "poster.jpg"
    src.write_bytes(fake_mp4())
    progress: list[float] = []
    result = media.transcode(src, out, probe=DEFAULT_PROBE, on_progress=progress.append)
    media.make_poster(out, poster, duration=result.duration)
    assert progress == [0.5, 1.0] and out.read_bytes().startswith(b"credflow fake review MP4")
    assert (result.width, result.height, result.duration, result.audio_codec) == (1280, 720, 1200.0, "aac")
    assert poster.read_bytes() == FAKE_POSTER
    assert [call for call, _ in media.calls] == ["transcode", "make_poster"]

    media.break_transcode(fake_mp4(), "moov atom not found")
    with pytest.raises(TranscodeError, match="moov atom not found"):
        media.transcode(src, tmp_path / "again.mp4", probe=DEFAULT_PROBE)
