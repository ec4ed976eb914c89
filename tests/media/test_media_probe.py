"""Tests for credflow.media.probe on generated clips and on canned ffprobe output."""

from __future__ import annotations

import json
import random
import stat
from pathlib import Path
from typing import Any

import pytest

from credflow.errors import TransientError
from credflow.media import samples
from credflow.media.base import MediaProbe, ProbeError
from credflow.media.probe import probe

# --- canned ffprobe output: the parsing rules without running ffmpeg -------------


def fake_ffprobe(tmp_path: Path, body: str) -> str:
    """Write an executable standing in for ffprobe and return its path."""
    script = tmp_path / "fake-ffprobe"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def canned(tmp_path: Path, payload: dict[str, Any]) -> MediaProbe:
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(payload))
    media = tmp_path / "clip.mp4"
    media.write_bytes(b"\0" * 10)
    return probe(media, ffprobe=fake_ffprobe(tmp_path, f"cat '{answer}'"))


def video_stream(**extra) -> dict[str, Any]:
    return {
        "index": 0,
        "codec_type": "video",
        "codec_name": "h264",
        "width": 1920,
        "height": 1080,
        "avg_frame_rate": "30000/1001",
        "r_frame_rate": "30000/1001",
        "pix_fmt": "yuv420p",
        "disposition": {"attached_pic": 0},
        **extra,
    }


@pytest.mark.parametrize(
    ("matrix_rotation", "expected"),
    [(-90, 90), (90, 270), (180, 180), (-180, 180), (0, 0), (-89.6, 90), (45, 0)],
)
def test_display_matrix_rotation_becomes_clockwise(tmp_path, matrix_rotation, expected):
    side_data = [{"side_data_type": "Display Matrix", "rotation": matrix_rotation}]
    result = canned(tmp_path, {"format": {"duration": "2.0"}, "streams": [video_stream(side_data_list=side_data)]})
    assert result.video is not None
    assert result.video.rotation == expected


@pytest.mark.parametrize(("tag", "expected"), [("90", 90), ("270", 270), ("-90", 270), ("0", 0)])
def test_legacy_rotate_tag_is_already_clockwise(tmp_path, tag, expected):
    result = canned(tmp_path, {"format": {"duration": "2.0"}, "streams": [video_stream(tags={"rotate": tag})]})
    assert result.video is not None
    assert result.video.rotation == expected
    assert result.video.display_size == ((1080, 1920) if expected in (90, 270) else (1920, 1080))


def test_cover_art_stream_is_skipped_even_when_first(tmp_path):
    cover = video_stream(codec_name="mjpeg", width=600, height=600, disposition={"attached_pic": 1})
    real = video_stream(index=1, codec_name="hevc", width=1280, height=720)
    result = canned(tmp_path, {"format": {"duration": "5"}, "streams": [cover, real]})
    assert result.has_cover_art
    assert result.video is not None
    assert (result.video.codec, result.video.width) == ("hevc", 1280)


def test_rates_and_durations_fall_back(tmp_path):
    stream = video_stream(avg_frame_rate="0/0", r_frame_rate="25/1", duration="7.5", color_transfer="arib-std-b67")
    result = canned(tmp_path, {"format": {"format_name": "matroska,webm"}, "streams": [stream]})
    assert result.video is not None
    assert result.video.fps == 25.0
    assert result.video.is_hdr
    assert result.duration == 7.5
    assert result.size == 10  # from the file, as the format section had none
    assert result.audio_codec is None


def test_ntsc_rate_is_kept_fractional(tmp_path):
    result = canned(tmp_path, {"format": {"duration": "1"}, "streams": [video_stream()]})
    assert result.video is not None
    assert result.video.fps == pytest.approx(29.97, abs=0.001)


def test_no_audio_or_video_is_refused(tmp_path):
    data_only = {"index": 0, "codec_type": "data", "codec_name": "bin_data"}
    with pytest.raises(ProbeError, match="neither video nor audio"):
        canned(tmp_path, {"format": {"duration": "1"}, "streams": [data_only]})


def test_probe_round_trips_through_json(tmp_path):
    result = canned(tmp_path, {"format": {"duration": "3", "size": "99"}, "streams": [video_stream()]})
    assert MediaProbe.from_json(json.loads(json.dumps(result.to_json()))) == result


def test_missing_ffprobe_names_the_executable(tmp_path):
    media = tmp_path / "clip.mp4"
    media.write_bytes(b"x")
    with pytest.raises(ProbeError, match="no-such-ffprobe"):
        probe(media, ffprobe=str(tmp_path / "no-such-ffprobe"))


def test_timeout_is_transient(tmp_path):
    media = tmp_path / "clip.mp4"
    media.write_bytes(b"x")
    with pytest.raises(TransientError, match="timed out"):
        probe(media, ffprobe=fake_ffprobe(tmp_path, "exec sleep 10"), timeout=0.3)


def test_killed_by_signal_is_transient(tmp_path):
    media = tmp_path / "clip.mp4"
    media.write_bytes(b"x")
    with pytest.raises(TransientError, match="SIGKILL"):
        probe(media, ffprobe=fake_ffprobe(tmp_path, "kill -9 $$"))


def test_ffprobe_reason_is_short_and_without_log_prefix(tmp_path):
    body = (
        "echo '[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d0c0ffee00] moov atom not found' >&2\n"
        'echo "file:$(pwd)/x.mp4: Invalid data found when processing input" >&2\n'
        "exit 1"
    )
    media = tmp_path / "clip.mp4"
    media.write_bytes(b"x")
    with pytest.raises(ProbeError) as caught:
        probe(media, ffprobe=fake_ffprobe(tmp_path, body))
    assert "moov atom not found" in str(caught.value)
    assert "0x55d0c0ffee00" not in str(caught.value)


# --- real clips --------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("probe-clips")
    made: dict[str, Path] = {}
    made["landscape"] = samples.make_video(folder / "landscape.mp4", seconds=2, width=320, height=240, fps=25)
    for angle in (90, 180, 270):
        made[f"rot{angle}"] = samples.make_video(
            folder / f"rot{angle}.mp4", seconds=1, width=320, height=240, rotation=angle, audio=False
        )
    made["hdr"] = samples.make_video(
        folder / "hdr.mp4", seconds=1, width=320, height=240, codec="libx265", hdr=True, audio=False
    )
    made["mkv"] = samples.make_video(folder / "clip.mkv", seconds=1, width=320, height=240, container="mkv")
    made["audio"] = samples.make_audio_only(folder / "audio.mp4", seconds=2)
    made["mp3"] = samples.make_mp3_with_cover(folder / "cover.mp3", seconds=2)
    slow_start = samples.make_video(folder / "moov-last.mp4", seconds=2, width=320, height=240, faststart=False)
    made["moov_missing"] = samples.truncate(slow_start, folder / "moov-missing.mp4", keep_fraction=0.6)
    return made


@pytest.mark.slow
def test_plain_clip(clips):
    result = probe(clips["landscape"])
    assert result.format_name.startswith("mov,mp4")
    assert result.duration == pytest.approx(2.0, rel=0.02)
    assert result.size == clips["landscape"].stat().st_size
    assert result.audio_codec == "aac"
    assert not result.has_cover_art
    assert result.video is not None
    assert (result.video.codec, result.video.width, result.video.height) == ("h264", 320, 240)
    assert (result.video.rotation, result.video.fps, result.video.pix_fmt) == (0, 25.0, "yuv420p")
    assert not result.video.is_hdr


@pytest.mark.slow
@pytest.mark.parametrize("angle", [90, 180, 270])
def test_rotation_metadata_is_read_clockwise(clips, angle):
    result = probe(clips[f"rot{angle}"])
    assert result.video is not None
    assert result.video.rotation == angle
    assert result.audio_codec is None
    expected = (240, 320) if angle in (90, 270) else (320, 240)
    assert result.video.display_size == expected


@pytest.mark.slow
def test_hdr_clip(clips):
    result = probe(clips["hdr"])
    assert result.video is not None
    assert (result.video.codec, result.video.pix_fmt, result.video.color_transfer) == (
        "hevc",
        "yuv420p10le",
        "smpte2084",
    )
    assert result.video.is_hdr


@pytest.mark.slow
def test_matroska_is_accepted(clips):
    result = probe(clips["mkv"])
    assert result.format_name == "matroska,webm"
    assert result.video is not None
    assert result.audio_codec == "aac"


@pytest.mark.slow
def test_audio_only_has_no_video(clips):
    result = probe(clips["audio"])
    assert result.video is None
    assert not result.has_cover_art
    assert result.audio_codec == "aac"
    assert result.duration == pytest.approx(2.0, rel=0.05)


@pytest.mark.slow
def test_mp3_cover_art_is_not_video(clips):
    result = probe(clips["mp3"])
    assert result.video is None
    assert result.has_cover_art
    assert result.audio_codec == "mp3"


@pytest.mark.slow
def test_non_faststart_file_cut_before_its_moov_is_refused(clips):
    with pytest.raises(ProbeError, match="moov atom not found"):
        probe(clips["moov_missing"])


def test_random_bytes_are_refused(tmp_path):
    junk = tmp_path / "upload.mp4"
    junk.write_bytes(random.Random(1234).randbytes(64 * 1024))
    with pytest.raises(ProbeError, match="Invalid data found when processing input"):
        probe(junk)


def test_random_bytes_without_extension_are_refused(tmp_path):
    junk = tmp_path / "upload"
    junk.write_bytes(random.Random(99).randbytes(64 * 1024))
    with pytest.raises(ProbeError, match="upload"):
        probe(junk)


def test_empty_file_is_refused(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(ProbeError):
        probe(empty)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(ProbeError, match="No such file"):
        probe(tmp_path / "absent.mp4")


@pytest.mark.slow
def test_hls_playlist_disguised_as_mp4_is_refused(tmp_path, clips):
    # The playlist points at a real, readable clip: only the format whitelist stops it.
    segment = tmp_path / "segment.mp4"
    segment.write_bytes(clips["landscape"].read_bytes())
    playlist = tmp_path / "upload.mp4"
    playlist.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nsegment.mp4\n#EXT-X-ENDLIST\n"
    )
    with pytest.raises(ProbeError, match="hls format is not accepted"):
        probe(playlist)


def test_odd_file_names_are_not_options_or_protocols(tmp_path):
    for name in ("-i.mp4", "http:evil.mp4"):
        odd = tmp_path / name
        odd.write_bytes(b"not media at all")
        with pytest.raises(ProbeError, match="Invalid data"):
            probe(odd)
