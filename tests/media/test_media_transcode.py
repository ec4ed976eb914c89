"""Tests for credflow.media.transcode: the ffmpeg command, real transcodes checked with ffprobe, and failures."""

from __future__ import annotations

import itertools
import json
import stat
import struct
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from credflow.media import samples
from credflow.media import transcode as transcode_module
from credflow.media.base import MediaProbe, TranscodeError, TranscodeInterrupted, TranscodeResult, VideoStream
from credflow.media.probe import probe
from credflow.media.transcode import build_command, make_poster, transcode

SDR = VideoStream(codec="h264", width=1920, height=1080, rotation=0, fps=60.0, pix_fmt="yuv420p", color_transfer=None)
CLIP = MediaProbe(
    format_name="mov,mp4,m4a,3gp,3g2,mj2", duration=2.0, size=1000, video=SDR, has_cover_art=False, audio_codec="aac"
)


def ffprobe_json(path: Path, *extra: str) -> dict[str, Any]:
    """Ask ffprobe directly, independent of the code under test."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", *extra, str(path)],
        capture_output=True,
        check=True,
    )
    info: dict[str, Any] = json.loads(out.stdout)
    return info


def streams_of(info: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s for s in info["streams"] if s["codec_type"] == kind]


def top_level_boxes(path: Path) -> list[str]:
    data = path.read_bytes()
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
        elif size == 0:
            size = len(data) - pos
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        pos += size
    return boxes


def fake_ffmpeg(folder: Path, body: str) -> str:
    """An executable standing in for ffmpeg; ``$out`` is the temporary output it was given."""
    script = folder / "fake-ffmpeg"
    script.write_text(
        '#!/bin/sh\nfor a in "$@"; do case "$a" in file:*.part) out="${a#file:}";; esac; done\n' + body + "\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


# --- the command -------------------------------------------------------------------


def option(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


def test_command_encodes_web_safe_h264_and_aac():
    cmd = build_command(Path("in.mov"), Path("out.mp4"), probe=CLIP, ffmpeg="/usr/bin/ffmpeg")
    assert cmd[0] == "/usr/bin/ffmpeg"
    assert option(cmd, "-c:v") == "libx264"
    assert (option(cmd, "-preset"), option(cmd, "-crf")) == ("veryfast", "23")
    assert (option(cmd, "-maxrate"), option(cmd, "-bufsize")) == ("3M", "6M")
    assert option(cmd, "-pix_fmt") == "yuv420p"
    assert (option(cmd, "-c:a"), option(cmd, "-b:a")) == ("aac", "128k")
    assert option(cmd, "-movflags") == "+faststart"
    assert option(cmd, "-f") == "mp4"
    assert option(cmd, "-fps_mode:v") == "cfr"
    assert option(cmd, "-progress") == "pipe:1"
    assert "-nostats" in cmd and "-y" in cmd and "-an" not in cmd and "-threads" not in cmd
    assert "file:" + str(Path("out.mp4").absolute()) in cmd


def test_command_maps_only_first_real_video_and_first_audio():
    cmd = build_command(Path("in.mov"), Path("out.mp4"), probe=CLIP)
    graph = option(cmd, "-filter_complex")
    assert graph.startswith("[0:V:0]")  # capital V: attached pictures excluded
    maps = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-map"]
    assert maps[1:] == ["0:a:0"] and maps[0].startswith("[")
    assert option(cmd, "-map_metadata") == "-1"


def test_command_refuses_playlists_and_urls_on_input():
    cmd = build_command(Path("in.mov"), Path("out.mp4"), probe=CLIP)
    assert option(cmd, "-protocol_whitelist") == "file"
    assert "hls" not in option(cmd, "-format_whitelist").split(",")
    assert option(cmd, "-i") == "file:" + str(Path("in.mov").absolute())


def test_command_without_audio_drops_it():
    cmd = build_command(Path("in.mov"), Path("out.mp4"), probe=replace(CLIP, audio_codec=None))
    assert "-an" in cmd and "-c:a" not in cmd and "0:a:0" not in cmd


@pytest.mark.parametrize(
    ("fps", "expected"), [(60.0, "fps=30/1"), (24.0, "fps=24/1"), (30000 / 1001, "fps=30000/1001")]
)
def test_command_caps_frame_rate_without_raising_it(fps, expected):
    cmd = build_command(Path("in.mov"), Path("out.mp4"), probe=replace(CLIP, video=replace(SDR, fps=fps)))
    assert expected in option(cmd, "-filter_complex")


def test_command_tone_maps_hdr_only():
    sdr_graph = option(build_command(Path("a"), Path("b"), probe=CLIP), "-filter_complex")
    assert "tonemap" not in sdr_graph and "zscale" not in sdr_graph
    hlg = replace(CLIP, video=replace(SDR, pix_fmt="yuv420p10le", color_transfer="arib-std-b67"))
    cmd = build_command(Path("a"), Path("b"), probe=hlg)
    graph = option(cmd, "-filter_complex")
    assert "tonemap=desat=0:tonemap=hable" in graph and "tin=arib-std-b67" in graph
    assert graph.endswith("format=yuv420p[s6]")
    assert (option(cmd, "-color_trc"), option(cmd, "-color_primaries"), option(cmd, "-colorspace")) == ("bt709",) * 3


def test_command_without_progress():
    cmd = build_command(Path("a"), Path("b"), probe=CLIP, progress=False)
    assert "-progress" not in cmd


def test_no_video_is_a_permanent_error(tmp_path):
    with pytest.raises(TranscodeError, match="no video"):
        transcode(tmp_path / "song.mp3", tmp_path / "out.mp4", probe=replace(CLIP, video=None, has_cover_art=True))


# --- failures, with a stand-in ffmpeg ---------------------------------------------


def test_disk_full_is_transient_and_leaves_nothing(tmp_path):
    body = "echo partial > \"$out\"\necho '[out#0 @ 0x1] Error writing trailer: No space left on device' >&2\nexit 1"
    with pytest.raises(TranscodeInterrupted, match="No space left"):
        transcode(tmp_path / "in.mp4", tmp_path / "out.mp4", probe=CLIP, ffmpeg=fake_ffmpeg(tmp_path, body))
    assert not (tmp_path / "out.mp4").exists()
    assert leftovers(tmp_path) == []


def test_killed_ffmpeg_is_transient(tmp_path):
    body = 'echo partial > "$out"\nkill -9 $$'
    with pytest.raises(TranscodeInterrupted, match="SIGKILL"):
        transcode(tmp_path / "in.mp4", tmp_path / "out.mp4", probe=CLIP, ffmpeg=fake_ffmpeg(tmp_path, body))
    assert leftovers(tmp_path) == []


def test_bad_data_is_permanent_with_the_last_meaningful_line(tmp_path):
    body = (
        "echo '[h264 @ 0x5581] Invalid NAL unit size (3169 > 2946).' >&2\n"
        "echo 'Error while decoding stream #0:0: Invalid data found when processing input' >&2\n"
        "echo 'Conversion failed!' >&2\nexit 1"
    )
    with pytest.raises(TranscodeError, match=r"exit 1\): Error while decoding stream #0:0: Invalid data") as caught:
        transcode(tmp_path / "in.mp4", tmp_path / "out.mp4", probe=CLIP, ffmpeg=fake_ffmpeg(tmp_path, body))
    assert not isinstance(caught.value, TranscodeInterrupted)


def test_huge_stderr_neither_deadlocks_nor_is_kept_whole(tmp_path):
    # Far more than a pipe buffer on stderr while stdout stays open.
    body = "seq 1 300000 >&2\necho 'final complaint' >&2\nexit 1"
    with pytest.raises(TranscodeError, match="final complaint"):
        transcode(tmp_path / "in.mp4", tmp_path / "out.mp4", probe=CLIP, ffmpeg=fake_ffmpeg(tmp_path, body))


def test_missing_ffmpeg_names_it(tmp_path):
    with pytest.raises(TranscodeError, match="nope-ffmpeg"):
        transcode(tmp_path / "in.mp4", tmp_path / "out.mp4", probe=CLIP, ffmpeg=str(tmp_path / "nope-ffmpeg"))


def test_failing_progress_callback_stops_ffmpeg_and_cleans_up(tmp_path):
    body = "printf 'out_time_us=500000\\nprogress=continue\\n'\necho partial > \"$out\"\nexec sleep 30"

    def explode(fraction: float) -> None:
        raise RuntimeError("viewer went away")

    with pytest.raises(RuntimeError, match="viewer went away"):
        transcode(
            tmp_path / "in.mp4",
            tmp_path / "out.mp4",
            probe=CLIP,
            ffmpeg=fake_ffmpeg(tmp_path, body),
            on_progress=explode,
        )
    assert leftovers(tmp_path) == []


# --- real transcodes ---------------------------------------------------------------

CASES: dict[str, dict[str, Any]] = {
    # name: make_video arguments
    "hd60": {"seconds": 1, "width": 1920, "height": 1080, "fps": 60},
    "portrait": {"seconds": 1, "width": 1080, "height": 1920},
    "rotated": {"seconds": 2, "width": 320, "height": 240, "rotation": 90},
    "hdr": {"seconds": 2, "width": 320, "height": 240, "codec": "libx265", "hdr": True},
    "silent": {"seconds": 2, "width": 320, "height": 240, "audio": False},
}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, MediaProbe, Path, TranscodeResult]]:
    folder = tmp_path_factory.mktemp("transcodes")
    results = {}
    for name, options in CASES.items():
        src = samples.make_video(folder / f"{name}.mp4", **options)
        src_probe = probe(src)
        dst = folder / f"{name}.review.mp4"
        results[name] = (src, src_probe, dst, transcode(src, dst, probe=src_probe))
    return results


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_output_is_faststart_h264_yuv420p(made, name):
    _, src_probe, dst, _ = made[name]
    info = ffprobe_json(dst)
    (video,) = streams_of(info, "video")
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert video["width"] % 2 == 0 and video["height"] % 2 == 0
    boxes = top_level_boxes(dst)
    assert boxes.index("moov") < boxes.index("mdat")
    assert float(info["format"]["duration"]) == pytest.approx(src_probe.duration, rel=0.02)


@pytest.mark.slow
def test_audio_is_aac_and_silence_stays_silent(made):
    (audio,) = streams_of(ffprobe_json(made["hd60"][2]), "audio")
    assert audio["codec_name"] == "aac"
    assert streams_of(ffprobe_json(made["silent"][2]), "audio") == []


@pytest.mark.slow
@pytest.mark.parametrize(("name", "size"), [("hd60", (1280, 720)), ("portrait", (720, 1280))])
def test_short_side_is_scaled_to_720(made, name, size):
    (video,) = streams_of(ffprobe_json(made[name][2]), "video")
    assert (video["width"], video["height"]) == size


@pytest.mark.slow
def test_small_input_is_not_upscaled(made):
    (video,) = streams_of(ffprobe_json(made["silent"][2]), "video")
    assert (video["width"], video["height"]) == (320, 240)


@pytest.mark.slow
def test_rotation_is_applied_and_not_carried(made):
    src, src_probe, dst, _ = made["rotated"]
    assert src_probe.video is not None and src_probe.video.rotation == 90
    (coded,) = streams_of(ffprobe_json(src), "video")
    assert coded["width"] > coded["height"]  # the input is landscape-coded
    (video,) = streams_of(ffprobe_json(dst), "video")
    assert (video["width"], video["height"]) == (240, 320)
    assert "rotate" not in video.get("tags", {})
    assert all(side.get("rotation", 0) == 0 for side in video.get("side_data_list", []))


@pytest.mark.slow
def test_frame_rate_is_capped_and_constant(made):
    dst = made["hd60"][2]
    (video,) = streams_of(ffprobe_json(dst), "video")
    assert video["avg_frame_rate"] == video["r_frame_rate"] == "30/1"
    packets = ffprobe_json(dst, "-select_streams", "v:0", "-show_entries", "packet=pts_time")["packets"]
    times = sorted(float(p["pts_time"]) for p in packets)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 30
    assert max(gaps) - min(gaps) < 1e-3


@pytest.mark.slow
def test_hdr_is_tone_mapped_to_bt709(made):
    _, src_probe, dst, _ = made["hdr"]
    assert src_probe.video is not None and src_probe.video.is_hdr
    (video,) = streams_of(ffprobe_json(dst), "video")
    assert video.get("color_transfer") == "bt709"
    assert video.get("color_primaries") == "bt709"


@pytest.mark.slow
def test_result_describes_the_output(made):
    _, _, dst, result = made["portrait"]
    assert (result.width, result.height, result.fps) == (720, 1280, 30.0)
    assert (result.video_codec, result.audio_codec) == ("h264", "aac")
    assert result.duration == pytest.approx(1.0, rel=0.02)
    assert leftovers(dst.parent) == []


@pytest.mark.slow
def test_cover_art_is_not_mapped(tmp_path):
    clip = samples.make_video(tmp_path / "clip.mp4", seconds=1, width=320, height=240)
    cover = tmp_path / "cover.jpg"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x160:duration=1",
            "-frames:v",
            "1",
            str(cover),
        ],
        check=True,
    )
    with_cover = tmp_path / "with-cover.mp4"
    subprocess.run(
        [
            *("ffmpeg", "-nostdin", "-v", "error", "-i", str(cover), "-i", str(clip)),
            *("-map", "0", "-map", "1", "-c", "copy", "-disposition:v:0", "attached_pic", str(with_cover)),
        ],
        check=True,
    )
    src_probe = probe(with_cover)
    assert src_probe.has_cover_art and src_probe.video is not None and src_probe.video.width == 320
    transcode(with_cover, tmp_path / "out.mp4", probe=src_probe)
    info = ffprobe_json(tmp_path / "out.mp4")
    assert [(s["codec_name"], s["width"]) for s in streams_of(info, "video")] == [("h264", 320)]


@pytest.mark.slow
def test_personal_metadata_is_dropped(tmp_path):
    clip = samples.make_video(tmp_path / "clip.mp4", seconds=1, width=160, height=120)
    tagged = tmp_path / "tagged.mp4"
    subprocess.run(
        [
            *("ffmpeg", "-nostdin", "-v", "error", "-i", str(clip), "-c", "copy"),
            *("-metadata", "location=+48.8584+002.2945/", "-metadata", "title=Ms Smith, room 12", str(tagged)),
        ],
        check=True,
    )
    assert ffprobe_json(tagged)["format"]["tags"]["location"]
    transcode(tagged, tmp_path / "out.mp4", probe=probe(tagged))
    tags = ffprobe_json(tmp_path / "out.mp4")["format"].get("tags", {})
    assert not {"location", "title"} & set(tags)


@pytest.mark.slow
def test_truncated_faststart_upload_is_refused(tmp_path):
    whole = samples.make_video(tmp_path / "whole.mp4", seconds=3, width=320, height=240)
    cut = samples.truncate(whole, tmp_path / "cut.mp4", keep_fraction=0.5)
    cut_probe = probe(cut)  # the moov still declares the full length
    assert cut_probe.duration == pytest.approx(3.0, rel=0.02)
    with pytest.raises(TranscodeError, match=r"input declares 3\.0 s: the file is truncated") as caught:
        transcode(cut, tmp_path / "out.mp4", probe=cut_probe)
    assert not isinstance(caught.value, TranscodeInterrupted)
    assert not (tmp_path / "out.mp4").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.slow
def test_progress_reports_growing_fractions_then_one(tmp_path, monkeypatch):
    monkeypatch.setattr(transcode_module, "PROGRESS_INTERVAL", 0.0)
    src = samples.make_video(tmp_path / "in.mp4", seconds=4, width=640, height=480)
    seen: list[float] = []
    transcode(src, tmp_path / "out.mp4", probe=probe(src), on_progress=seen.append)
    assert seen[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in seen)
    assert seen == sorted(set(seen))


@pytest.mark.slow
def test_progress_parsing_and_throttling(tmp_path, monkeypatch):
    real = samples.make_video(tmp_path / "real.mp4", seconds=2, width=160, height=120)
    real_probe = probe(real)
    body = (
        "printf 'frame=0\\nout_time_us=N/A\\nprogress=continue\\n'\n"
        "printf 'out_time_us=500000\\nprogress=continue\\n'\n"
        "printf 'out_time_us=400000\\nprogress=continue\\n'\n"  # a step back is not reported
        "printf 'out_time_us=1000000\\nprogress=continue\\n'\n"
        f"cp '{real}' \"$out\"\n"
        "printf 'out_time_us=2100000\\nprogress=end\\n'"
    )
    fake = fake_ffmpeg(tmp_path, body)

    monkeypatch.setattr(transcode_module, "PROGRESS_INTERVAL", 0.0)
    seen: list[float] = []
    transcode(real, tmp_path / "out.mp4", probe=real_probe, ffmpeg=fake, on_progress=seen.append)
    assert seen == [0.25, 0.5, 0.99, 1.0]

    monkeypatch.setattr(transcode_module, "PROGRESS_INTERVAL", 3600.0)
    seen.clear()
    transcode(real, tmp_path / "out.mp4", probe=real_probe, ffmpeg=fake, on_progress=seen.append)
    assert seen == [0.25, 1.0]


@pytest.mark.slow
def test_poster_is_a_jpeg_of_the_output(made, tmp_path):
    dst = made["rotated"][2]
    poster = tmp_path / "poster.jpg"
    make_poster(dst, poster, duration=2.0)
    assert poster.read_bytes()[:3] == b"\xff\xd8\xff"
    (image,) = streams_of(ffprobe_json(poster), "video")
    assert (image["codec_name"], image["width"], image["height"]) == ("mjpeg", 240, 320)
    assert leftovers(tmp_path) == []


@pytest.mark.slow
def test_poster_of_a_very_short_clip(tmp_path):
    clip = samples.make_video(tmp_path / "blink.mp4", seconds=0.2, width=160, height=120, audio=False)
    poster = tmp_path / "poster.jpg"
    make_poster(clip, poster, duration=0.2)
    assert poster.read_bytes()[:2] == b"\xff\xd8"


@pytest.mark.slow
def test_poster_of_garbage_is_an_error(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 4096)
    with pytest.raises(TranscodeError):
        make_poster(junk, tmp_path / "poster.jpg", duration=2.0)
    assert not (tmp_path / "poster.jpg").exists()
    assert leftovers(tmp_path) == []
