"""Video files: probe, the writer, convert_video and ``fastnst video`` on synthetic clips made here."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from fastnst.config import VideoOptions
from fastnst.errors import UserError
from fastnst.video import VideoReader, VideoWriter, convert_video, ffmpeg_exe, probe

from helpers import clip_frames, make_clip, one_line_error


def decode(path) -> tuple[list[np.ndarray], float]:
    with VideoReader(path) as r:
        return list(r), r.fps


def ffmpeg_info(path) -> str:
    """What the ffmpeg binary (an independent decoder) says about a file."""
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", os.fspath(path)],
                          capture_output=True, text=True).stderr


def audio_samples(path, rate=8000) -> np.ndarray:
    """The file's audio decoded by ffmpeg to mono int16 at ``rate`` Hz."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", os.fspath(path),
                          "-map", "0:a:0", "-f", "s16le", "-ac", "1", "-ar", str(rate), "pipe:1"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, np.int16)


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def closest(frame: np.ndarray, frames: list[np.ndarray]) -> int:
    """Index of the frame in ``frames`` most like ``frame`` (neighbours differ by ~40, the codec by ~4)."""
    return int(np.argmin([mad(frame, f) for f in frames]))


@pytest.fixture(scope="module")
def stylizer(lite_onnx):
    from fastnst.runtime import Stylizer

    return Stylizer(lite_onnx, device="cpu")


def run_cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "fastnst.cli", *map(str, args)], capture_output=True,
                          text=True, **kw)


def leftovers(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if ".tmp" in n)


# ----------------------------------------------------------------------------- probe / writer


def test_probe_reports_the_clip(tmp_path):
    make_clip(tmp_path / "a.mp4", count=24, size=(97, 61), fps=24, audio=True)
    make_clip(tmp_path / "b.mp4", count=10, size=(64, 48), fps=10)
    a, b = probe(tmp_path / "a.mp4"), probe(tmp_path / "b.mp4")
    assert (a["frames"], a["fps"], a["width"], a["height"], a["has_audio"]) == (24, 24.0, 97, 61, True)
    assert (b["frames"], b["fps"], b["width"], b["height"], b["has_audio"]) == (10, 10.0, 64, 48, False)
    assert a["duration"] == pytest.approx(1.0) and a["rotation"] == 0


@pytest.mark.parametrize("size", [(97, 61), (96, 60)])
def test_writer_keeps_exact_size_count_and_colours(tmp_path, size):
    w, h = size
    colours = [(200, 100, 50), (20, 220, 90), (128, 128, 128), (250, 30, 40)]
    path = tmp_path / "w.mp4"
    with VideoWriter(path, size, 12.5) as writer:
        for c in colours:
            writer.write(np.full((h, w, 3), c, np.uint8))
    assert f"{w}x{h}" in ffmpeg_info(path)  # the exact size, as ffmpeg itself reads it
    frames, fps = decode(path)
    assert len(frames) == 4 and fps == 12.5 and frames[0].shape == (h, w, 3)
    for c, f in zip(colours, frames):  # BT.601 both ways: colours survive within a few levels
        np.testing.assert_allclose(f.reshape(-1, 3).mean(0), c, atol=4)


def test_writer_rejects_bad_frames(tmp_path):
    with pytest.raises(ValueError):
        with VideoWriter(tmp_path / "w.mp4", (16, 16), 10) as writer:
            writer.write(np.zeros((16, 16), np.float32))


def test_rotation_metadata_is_applied(tmp_path):
    make_clip(tmp_path / "flat.mp4", count=6, size=(64, 48), fps=12)
    # ffmpeg's display rotation is counterclockwise: the picture is shown turned 90 degrees to the left.
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-display_rotation", "90",
                    "-i", tmp_path / "flat.mp4", "-c", "copy", tmp_path / "rot.mp4"], check=True)
    info = probe(tmp_path / "rot.mp4")
    assert (info["width"], info["height"]) == (48, 64) and info["rotation"] != 0
    upright, _ = decode(tmp_path / "rot.mp4")
    flat, _ = decode(tmp_path / "flat.mp4")
    assert upright[0].shape == (64, 48, 3)
    assert mad(upright[0], np.rot90(flat[0], 1)) < 1 < mad(upright[0], np.rot90(flat[0], -1))


def x264_settings(path) -> str:
    """The settings string x264 writes into the stream it encodes ("cabac=1 ref=3 ... threads=2 ...")."""
    data = open(path, "rb").read()
    start = data.index(b"options: ")
    return data[start:data.index(b"\0", start)].decode(errors="replace")


def test_writer_passes_the_preset_and_thread_count_to_x264(tmp_path):
    for x264_preset, threads, subme in [("ultrafast", 1, "subme=0"), ("veryfast", 2, "subme=2")]:
        path = tmp_path / f"{x264_preset}.mp4"
        with VideoWriter(path, (64, 48), 10, x264_preset=x264_preset, threads=threads) as writer:
            for i in range(3):
                writer.write(np.full((48, 64, 3), 60 * i, np.uint8))
        settings = x264_settings(path)
        assert subme in settings.split() and f"threads={threads}" in settings.split(), settings


# ----------------------------------------------------------------------------- convert_video


def test_convert_keeps_frames_fps_and_odd_size(tmp_path, stylizer):
    src = tmp_path / "odd.mp4"
    make_clip(src, count=20, size=(97, 61), fps=20)
    report = convert_video(src, tmp_path / "out.mp4", stylizer, quiet=True)
    frames, fps = decode(tmp_path / "out.mp4")
    inputs, _ = decode(src)
    assert (report.frames, report.fps, report.size, report.audio) == (20, 20.0, (97, 61), False)
    assert len(frames) == 20 and fps == 20.0 and frames[0].shape == (61, 97, 3)
    assert "97x61" in ffmpeg_info(tmp_path / "out.mp4")
    assert np.mean([mad(a, b) for a, b in zip(frames, inputs)]) > 10  # it was stylized
    assert report.convert_fps > 0 and report.stylize_fps > 0 and report.warping_error is None
    assert leftovers(tmp_path) == []


def test_strength_zero_round_trips_every_frame_in_order(tmp_path, stylizer):
    src = tmp_path / "c.mp4"
    make_clip(src, count=16, size=(64, 48), fps=16)
    convert_video(src, tmp_path / "out.mkv", stylizer, VideoOptions(strength=0.0), quiet=True)
    inputs, _ = decode(src)
    out, _ = decode(tmp_path / "out.mkv")
    assert len(out) == len(inputs) == 16
    assert [closest(f, inputs) for f in out] == list(range(16))  # every frame, in order, none repeated
    assert max(mad(a, b) for a, b in zip(inputs, out)) < 6


def test_audio_is_kept(tmp_path, stylizer):
    src = tmp_path / "sound.mp4"
    make_clip(src, count=24, size=(64, 48), fps=24, audio=True)
    report = convert_video(src, tmp_path / "out.mp4", stylizer, quiet=True)
    assert report.audio and probe(tmp_path / "out.mp4")["has_audio"]
    assert re.search(r"Stream #0:1.*Audio: aac", ffmpeg_info(tmp_path / "out.mp4"))
    a, b = audio_samples(src), audio_samples(tmp_path / "out.mp4")
    assert abs(len(b) - 8000) < 400  # one second of audio, as the video
    assert np.abs(b.astype(np.float32)).mean() > 1000 and abs(len(a) - len(b)) < 400  # the sine, not silence


def test_start_and_duration_pick_the_right_frames(tmp_path, stylizer):
    src = tmp_path / "c.mp4"
    make_clip(src, count=30, size=(64, 48), fps=10, audio=True)
    inputs, _ = decode(src)
    r = convert_video(src, tmp_path / "part.mp4", stylizer, VideoOptions(strength=0.0, start=1.0, duration=1.2),
                      quiet=True)
    out, _ = decode(tmp_path / "part.mp4")
    assert r.frames == len(out) == 12
    assert [closest(f, inputs) for f in out] == list(range(10, 22))
    assert abs(len(audio_samples(tmp_path / "part.mp4")) - 1.2 * 8000) < 400
    r = convert_video(src, tmp_path / "tail.mp4", stylizer, VideoOptions(start=2.5), quiet=True)
    assert r.frames == len(decode(tmp_path / "tail.mp4")[0]) == 5
    with pytest.raises(UserError, match="past the end"):
        convert_video(src, tmp_path / "none.mp4", stylizer, VideoOptions(start=5.0), quiet=True)
    assert not (tmp_path / "none.mp4").exists()


def test_report_measures_warping_error_and_stabilize_lowers_it(tmp_path, stylizer):
    src = tmp_path / "noisy.mp4"
    rng = np.random.default_rng(1)
    frames = clip_frames(16, 96, 64)
    # Per-frame noise makes per-frame stylization flicker, which is what --stabilize damps.
    noisy = [np.clip(f.astype(np.int16) + rng.integers(-12, 13, f.shape), 0, 255).astype(np.uint8) for f in frames]
    with VideoWriter(src, (96, 64), 16, crf=0) as w:
        for f in noisy:
            w.write(f)
    plain = convert_video(src, tmp_path / "plain.mp4", stylizer, VideoOptions(report=True), quiet=True)
    steady = convert_video(src, tmp_path / "steady.mp4", stylizer, VideoOptions(report=True, stabilize=0.8),
                           quiet=True)
    assert 0 < steady.warping_error < plain.warping_error


def test_progress_callback_counts_frames(tmp_path, stylizer):
    src = tmp_path / "c.mp4"
    make_clip(src, count=8, size=(32, 24), fps=8)
    seen = []
    convert_video(src, tmp_path / "o.mp4", stylizer, progress=lambda done, total: seen.append((done, total)),
                  quiet=True)
    assert seen == [(i, 8) for i in range(1, 9)]


def test_bad_destinations(tmp_path, stylizer):
    src = tmp_path / "c.mp4"
    make_clip(src, count=4, size=(32, 24), fps=8)
    with pytest.raises(UserError, match="unsupported extension"):
        convert_video(src, tmp_path / "o.gif", stylizer, quiet=True)
    with pytest.raises(UserError, match="input"):
        convert_video(src, src, stylizer, quiet=True)


def test_stale_temp_files_of_killed_runs_are_removed(tmp_path, stylizer):
    import fcntl

    src = tmp_path / "c.mp4"
    make_clip(src, count=4, size=(32, 24), fps=8)
    old = time.time() - 3600
    stale, fresh, held = (tmp_path / f".o.mp4.{tag}.tmp.mp4" for tag in ("0badc0de", "12345678", "abcdef01"))
    for p in (stale, fresh, held):
        p.write_bytes(b"partial")
    os.utime(stale, (old, old))
    os.utime(held, (old, old))
    fd = os.open(held, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a conversion that is still running holds its temp file's lock
    try:
        convert_video(src, tmp_path / "o.mp4", stylizer, quiet=True)
    finally:
        os.close(fd)
    assert not stale.exists() and fresh.exists() and held.exists()
    assert len(decode(tmp_path / "o.mp4")[0]) == 4


def test_convert_uses_the_x264_options_and_rejects_bad_ones(tmp_path, stylizer):
    src = tmp_path / "c.mp4"
    make_clip(src, count=6, size=(64, 48), fps=12)
    convert_video(src, tmp_path / "default.mp4", stylizer, quiet=True)
    default = x264_settings(tmp_path / "default.mp4").split()
    assert "subme=1" in default  # superfast (ultrafast: 0, veryfast: 2)
    convert_video(src, tmp_path / "slow.mp4", stylizer, VideoOptions(x264_preset="veryfast", encode_threads=2),
                  quiet=True)
    slow = x264_settings(tmp_path / "slow.mp4").split()
    assert "threads=2" in slow and "subme=2" in slow
    assert len(decode(tmp_path / "slow.mp4")[0]) == 6
    for bad in (VideoOptions(x264_preset="warp"), VideoOptions(encode_threads=-1)):
        with pytest.raises(UserError):
            convert_video(src, tmp_path / "bad.mp4", stylizer, bad, quiet=True)
    assert not (tmp_path / "bad.mp4").exists()


# ----------------------------------------------------------------------------- the CLI


def test_cli_video_default_name_report_and_stabilize(tmp_path, lite_onnx):
    src = tmp_path / "clip.mp4"
    make_clip(src, count=12, size=(97, 61), fps=12, audio=True)
    r = run_cli("video", src, "-s", lite_onnx, "--report", "--stabilize", "-q")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "clip_test.mp4"  # IN_STYLE.mp4 beside the input
    assert f"wrote {out}" in r.stdout and "audio kept" in r.stdout
    assert re.search(r"warping error: \d+\.\d+ \(stabilize 0\.5", r.stdout)
    assert re.search(r"speed: [\d.]+ fps end to end .* Stylizer alone [\d.]+ fps", r.stdout)
    frames, fps = decode(out)
    assert len(frames) == 12 and fps == 12 and frames[0].shape == (61, 97, 3)


def test_cli_x264_flags(tmp_path, lite_onnx):
    src = tmp_path / "clip.mp4"
    make_clip(src, count=6, size=(32, 24), fps=12)
    r = run_cli("video", src, "-o", tmp_path / "o.mp4", "-s", lite_onnx, "--x264-preset", "ultrafast",
                "--encode-threads", "2", "-q")
    assert r.returncode == 0, r.stderr
    settings = x264_settings(tmp_path / "o.mp4").split()
    assert "threads=2" in settings and "subme=0" in settings  # ultrafast (the default superfast: 1)
    bad = run_cli("video", src, "-o", tmp_path / "b.mp4", "-s", lite_onnx, "--x264-preset", "warp", "-q")
    assert "--x264-preset" in one_line_error(bad)


def test_cli_start_duration(tmp_path, lite_onnx):
    src = tmp_path / "clip.mp4"
    make_clip(src, count=20, size=(32, 24), fps=10)
    r = run_cli("video", src, "-o", tmp_path / "o.mov", "-s", lite_onnx, "--start", "0:00.5", "--duration", "1",
                "-q")
    assert r.returncode == 0, r.stderr
    assert len(decode(tmp_path / "o.mov")[0]) == 10


@pytest.mark.slow
def test_cli_unreadable_and_frameless_inputs_are_one_line_errors(tmp_path, lite_onnx):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_text("this is not a video")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    no_frames = tmp_path / "zero.y4m"  # a valid header, zero frames
    no_frames.write_bytes(b"YUV4MPEG2 W32 H32 F25:1 Ip A1:1 C420jpeg\n")
    sound = tmp_path / "sound.m4a"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=0.5", "-c:a", "aac", sound], check=True)
    cases = {garbage: "not a video file", empty: "empty", no_frames: "no video frames",
             sound: "no video stream", tmp_path / "missing.mp4": "no such file"}
    for path, reason in cases.items():
        line = one_line_error(run_cli("video", path, "-o", tmp_path / "out.mp4", "-s", lite_onnx))
        assert str(path) in line and reason in line, line
    assert not (tmp_path / "out.mp4").exists() and leftovers(tmp_path) == []


def test_cli_never_overwrites_the_input(tmp_path, lite_onnx):
    src = tmp_path / "clip.mp4"
    make_clip(src, count=4, size=(32, 24), fps=8)
    before = src.read_bytes()
    assert "input" in one_line_error(run_cli("video", src, "-o", src, "-s", lite_onnx))
    assert src.read_bytes() == before


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=["kill", "int", "term"])
def test_interrupted_conversion_leaves_no_output_and_a_rerun_succeeds(tmp_path, lite_onnx, sig):
    src = tmp_path / "long.mp4"
    make_clip(src, count=900, size=(96, 72), fps=24)  # long enough that a fast machine cannot finish first
    out = tmp_path / "out.mp4"
    args = [sys.executable, "-m", "fastnst.cli", "video", str(src), "-o", str(out), "-s", str(lite_onnx), "-q"]
    # SIGINT back to its default in the child: a shell starts background jobs with SIGINT ignored, and
    # Python keeps an inherited SIG_IGN instead of raising KeyboardInterrupt (seen in CI dry runs)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not leftovers(tmp_path) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)  # the temp file appears when encoding starts
    time.sleep(0.1)
    assert proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert not out.exists()
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "interrupted" in err
    if sig != signal.SIGKILL:  # the process cleaned up after itself
        assert leftovers(tmp_path) == [], err
    r = run_cli("video", src, "-o", out, "-s", lite_onnx, "-q")
    assert r.returncode == 0, r.stderr
    assert len(decode(out)[0]) == 900
