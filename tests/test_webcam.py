"""The webcam loop: the keys and their hint, and headless runs on a file source."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fastnst.config import STROKE_SIDES, WebcamOptions, stroke_side
from fastnst.errors import UserError
from fastnst.video import VideoReader
from fastnst.webcam import _HINT, KEYS, _Controls, run_webcam

from helpers import make_clip, one_line_error


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "fastnst.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)


# ----------------------------------------------------------------------------- pieces


def test_keys():
    c = _Controls(["a", "b", "c"], WebcamOptions(strength=0.95))
    assert not c.stabilize and not c.preserve_color
    for key, index in (("n", 1), ("n", 2), ("n", 0), ("p", 2)):
        c.key(ord(key))
        assert c.index == index
    c.key(ord("+"))
    assert c.strength == 1.0  # clamped
    for _ in range(12):
        c.key(ord("-"))
    assert c.strength == 0.0
    c.key(ord("s"))
    c.key(ord("c"))
    assert c.stabilize and c.stabilize_strength == 0.5 and c.preserve_color
    assert c.key(ord(" ")) == "snapshot" and c.key(-1) is None and not c.quit.is_set()
    c.key(27)  # Esc
    assert c.quit.is_set()
    assert {k for k, _ in KEYS} >= {"n / p", "s", "c", "+ / -", "space", "q / Esc"}


def test_the_stroke_keys_step_the_working_side_through_the_stroke_sizes():
    c = _Controls(["a"], WebcamOptions(max_side=500))
    assert c.style_settings["max_side"] == 500  # the flag's own side until a key is pressed
    c.key(ord("["))  # stroke 5 (512 px) -> 4: a larger working side, finer strokes
    assert c.max_side == stroke_side(4) and c.stroke == 4
    for _ in range(len(STROKE_SIDES)):
        c.key(ord("["))
    assert c.max_side is None and c.stroke == 1  # full size, clamped
    for _ in range(len(STROKE_SIDES) + 1):
        c.key(ord("]"))
    assert c.max_side == STROKE_SIDES[-1] and c.style_settings["max_side"] == STROKE_SIDES[-1]


def test_the_windows_hint_names_every_key():
    assert _HINT == "n/p style  s stab  c colour  +/- strength  ]/[ stroke  space snap  q/Esc quit"
    for keys, _ in KEYS:
        assert keys.replace(" / ", "/") + " " in _HINT


# ----------------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("webcam") / "cam.mp4"
    make_clip(path, count=30, size=(97, 61), fps=30)
    return path


def test_headless_run_stops_after_n_frames(clip, lite_onnx):
    stats = run_webcam([lite_onnx], WebcamOptions(source=str(clip), headless=True, frames=5, stabilize=0.5))
    assert stats.frames == 5 and stats.fps > 0 and stats.recorded == 0 and stats.record is None
    assert 0 < stats.latency_ms <= stats.max_latency_ms < 10_000


def test_headless_record_is_the_stylized_stream_in_real_time(clip, lite_onnx, tmp_path):
    out = tmp_path / "rec.mp4"
    stats = run_webcam([lite_onnx], WebcamOptions(source=str(clip), headless=True, record=str(out)))
    frames = list(VideoReader(out))
    with VideoReader(clip) as r:
        source = list(r)
    # To the end of the file; every processed frame is written once, and once more for each stale frame
    # dropped after it, so the recording lasts as long as the source (less what came before the first frame).
    assert 1 <= stats.frames <= 30 and stats.frames + stats.dropped >= 30 - 1
    assert len(frames) == stats.recorded and max(stats.frames, 20) <= stats.recorded <= 30
    assert frames[0].shape == (61, 97, 3)
    # The last source frame is never stale (nothing replaces it): it ends the recording, stylized.
    from fastnst.runtime import Stylizer

    stylizer = Stylizer(lite_onnx, device="cpu")
    error = mad(frames[-1], stylizer.stylize(source[-1]))  # H.264 of a noisy stylized frame: ~8
    assert error < 15 and 2 * error < mad(frames[-1], stylizer.stylize(source[-2]))
    assert 2 * error < mad(frames[-1], source[-1])
    assert [n for n in os.listdir(tmp_path) if ".tmp" in n] == []


def test_cli_headless_frames_and_record(clip, lite_onnx, tmp_path):
    out = tmp_path / "live.mkv"
    r = run_cli("webcam", "--source", clip, "--headless", "--frames", "8", "-s", lite_onnx, "-s", lite_onnx,
                "--record", out, "--max-side", "48")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("8 frames in ") and " fps; latency " in r.stdout
    assert f"wrote {out}" in r.stdout
    assert len(list(VideoReader(out))) >= 8


def test_cli_errors(clip, lite_onnx, tmp_path):
    assert "no such file" in one_line_error(run_cli("webcam", "--source", tmp_path / "none.mp4", "--headless",
                                                    "-s", lite_onnx))
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    if sys.platform.startswith("linux"):
        assert "--headless" in one_line_error(run_cli("webcam", "--source", clip, "-s", lite_onnx, env=env))
    assert "unsupported extension" in one_line_error(run_cli("webcam", "--source", clip, "--headless",
                                                             "--record", tmp_path / "x.gif", "-s", lite_onnx))
    with pytest.raises(UserError, match="strength"):
        run_webcam([lite_onnx], WebcamOptions(source=str(clip), headless=True, strength=2.0))


@pytest.mark.skipif(not (os.environ.get("DISPLAY") or shutil.which("xvfb-run")),
                    reason="needs a display (DISPLAY) or xvfb-run for the OpenCV window")
def test_window_run(clip, lite_onnx, tmp_path):
    args = [sys.executable, "-m", "fastnst.cli", "webcam", "--source", str(clip), "--frames", "6",
            "-s", str(lite_onnx), "--stabilize"]
    if not os.environ.get("DISPLAY"):
        args = ["xvfb-run", "-a", *args]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("6 frames in ")
