"""Tests for fastnst.stream (the live-frame pipeline) and the settings checks of its front ends (fastnst.config)."""

import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from fastnst.config import STABILIZE_STRENGTH, DemoConfig, VideoOptions, WebcamOptions
from fastnst.errors import UserError
from fastnst.stream import FrameStylizer, FrameTiming, LatestFrame

from helpers import clip_frames

FRAMES = clip_frames(5, 96, 64)  # a panned texture: the stabilizer finds the motion and blends


@pytest.fixture(scope="module")
def models(lite_onnx, tmp_path_factory):
    """Two Stylizers: the test style, and a second model (a copy under another name)."""
    from fastnst.runtime import Stylizer

    other = tmp_path_factory.mktemp("stream") / "other_lite.onnx"
    shutil.copy(lite_onnx, other)
    return Stylizer(lite_onnx, device="cpu"), Stylizer(other, device="cpu")


def run(live: FrameStylizer, frames) -> list[np.ndarray]:
    return [live(f) for f in frames]


def differs(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape != b.shape or bool(np.any(a != b))


# ----------------------------------------------------------------------------- the reset rule

RESETS = {  # each change that must forget the stabilizer's history
    "model": lambda models: {"stylizer": models[1]},
    "colour mode": lambda models: {"preserve_color": True},
    "max side": lambda models: {"max_side": 48},
    "stabilize strength": lambda models: {"stabilize": 0.6},
}


@pytest.mark.parametrize("change", RESETS)
def test_a_change_that_resets_makes_the_next_frame_the_plain_stylized_one(models, change):
    live = FrameStylizer(models[0], stabilize=0.8)
    run(live, FRAMES[:3])
    assert live.update(**RESETS[change](models)) is True
    out = live(FRAMES[3])
    np.testing.assert_array_equal(out, live.stylize(FRAMES[3]))  # no history: passes through
    assert differs(live(FRAMES[4]), live.stylize(FRAMES[4]))  # and history builds up again


@pytest.mark.parametrize("changes", [{}, {"strength": 0.7}, {"stylizer": "same"}, {"preserve_color": False},
                                     {"stabilize": 0.8}, {"max_side": None}],
                         ids=["nothing", "strength", "same model", "same colours", "same stabilize", "same side"])
def test_other_updates_keep_the_history(models, changes):
    live = FrameStylizer(models[0], stabilize=0.8)
    run(live, FRAMES[:3])
    changes = {k: models[0] if v == "same" else v for k, v in changes.items()}
    assert live.update(**changes) is False
    out = live(FRAMES[3])
    assert differs(out, live.stylize(FRAMES[3]))  # blended with the history
    # ... and exactly as a FrameStylizer that had those settings all along, stabilizing the same frames.
    steady = FrameStylizer(models[0], stabilize=0.8)
    expected = [steady.stabilize(f, steady.stylize(f)) for f in FRAMES[:3]]
    steady.update(**changes)
    expected.append(steady.stabilize(FRAMES[3], steady.stylize(FRAMES[3])))
    np.testing.assert_array_equal(out, expected[-1])


def test_a_blend_change_keeps_the_history_and_leaves_the_shared_stylizer_alone(mix_onnx):
    """A multi-style network's mix is like strength: no reset; the stream runs it on a copy of its own."""
    from fastnst.runtime import Stylizer

    shared = Stylizer(mix_onnx, device="cpu")  # style "a", as a web app shares it between pages
    live = FrameStylizer(shared, blend={"a": 0.8, "b": 0.2}, stabilize=0.8)
    run(live, FRAMES[:3])
    assert live.update(blend={"a": 0.3, "b": 0.7}) is False
    out = live(FRAMES[3])
    assert differs(out, live.stylize(FRAMES[3]))  # blended with the history
    steady = FrameStylizer(shared, blend={"a": 0.8, "b": 0.2}, stabilize=0.8)
    run(steady, FRAMES[:3])
    steady.update(blend={"a": 0.3, "b": 0.7})
    np.testing.assert_array_equal(out, steady(FRAMES[3]))
    mixed = Stylizer(mix_onnx, device="cpu", blend="a:0.3,b:0.7").stylize(FRAMES[0])
    np.testing.assert_array_equal(live.stylize(FRAMES[0]), mixed)  # the new blend runs
    assert differs(mixed, shared.stylize(FRAMES[0]))
    assert shared.style == "a" and shared.style_weights.tolist() == [1.0, 0.0]  # never changed
    assert live.update(blend=None) is False  # back to the stylizer's own style
    np.testing.assert_array_equal(live.stylize(FRAMES[0]), shared.stylize(FRAMES[0]))
    with pytest.raises(UserError, match="no style 'c'"):
        live.update(blend="c")


def test_stabilize_off_and_on_again_starts_a_new_history(models):
    live = FrameStylizer(models[0], stabilize=0.8)
    run(live, FRAMES[:3])
    assert live.update(stabilize=None) is True and not live.stabilizing and live.stabilize_strength is None
    np.testing.assert_array_equal(live(FRAMES[3]), live.stylize(FRAMES[3]))  # off: the plain frame
    assert live.update(stabilize=0) is False  # 0 is off too
    assert live.update(stabilize=0.8) is True and live.stabilizing
    np.testing.assert_array_equal(live(FRAMES[4]), live.stylize(FRAMES[4]))  # the first frame of new history


def test_strength_applies_to_the_next_frame(models):
    live = FrameStylizer(models[0])
    live.update(strength=0.0)
    np.testing.assert_array_equal(live(FRAMES[0]), FRAMES[0])  # strength 0: the frame itself
    live.update(strength=1.0, preserve_color=True)
    np.testing.assert_array_equal(live(FRAMES[0]), models[0].stylize(FRAMES[0], preserve_color=True))


def test_halves_make_the_whole(models):
    """stylize + stabilize (the video converter's two threads) equal live(frame), frame for frame."""
    whole, halves = FrameStylizer(models[0], stabilize=0.5), FrameStylizer(models[0], stabilize=0.5)
    for frame in FRAMES:
        styled = halves.stylize(frame)
        assert styled.shape == frame.shape and styled.dtype == np.uint8
        np.testing.assert_array_equal(whole(frame), halves.stabilize(frame, styled))
    assert whole.frames == len(FRAMES) and halves.frames == 0  # only live(frame) is timed


def test_bad_stabilize_strength_is_a_user_error(models):
    with pytest.raises(UserError, match=r"stabiliz.*\[0, 1\]"):
        FrameStylizer(models[0], stabilize=1.5)


# ----------------------------------------------------------------------------- timing


def test_timing_over_the_window_and_overall():
    timing = FrameTiming(window=5.0)
    assert timing.fps == 0.0 and timing.latency_ms == 0.0 and np.isnan(timing.mean_latency_ms)
    for latency in (0.010, 0.030, 0.020):
        timing.tick(time.perf_counter() - latency)
        time.sleep(0.01)
    assert timing.frames == 3 and timing.fps > 0
    assert 19 <= timing.mean_latency_ms < 25 and timing.latency_ms == pytest.approx(timing.mean_latency_ms)
    assert 29 <= timing.max_latency_ms < 35


def test_timing_starts_a_new_window_after_a_gap():
    timing = FrameTiming(window=0.05)
    timing.tick(time.perf_counter() - 1.0)  # 1 s latency
    time.sleep(0.1)
    timing.tick(time.perf_counter())
    assert timing.latency_ms < 50 and timing.fps == 0.0  # the old frame left the window
    assert timing.frames == 2 and timing.max_latency_ms >= 1000  # but counts overall


# ----------------------------------------------------------------------------- settings checks


@pytest.mark.parametrize("options, flag", [
    (VideoOptions(strength=1.5), "--strength"),
    (VideoOptions(strength=-0.1), "--strength"),
    (VideoOptions(max_side=0), "--max-side"),
    (VideoOptions(stabilize=2.0), "--stabilize"),
    (VideoOptions(start=-1.0), "--start"),
    (VideoOptions(duration=0.0), "--duration"),
    (VideoOptions(crf=52), "--crf"),
    (VideoOptions(crf=-1), "--crf"),
    (WebcamOptions(strength=float("nan")), "--strength"),
    (WebcamOptions(stabilize=-0.5), "--stabilize"),
    (WebcamOptions(max_side=-3), "--max-side"),
    (WebcamOptions(frames=0), "--frames"),
])
def test_validate_names_the_flag(options, flag):
    with pytest.raises(UserError, match=f"^{flag} "):
        options.validate()


def test_validate_accepts_the_defaults_and_the_edges():
    for options in (VideoOptions(), WebcamOptions(), VideoOptions(strength=0.0, stabilize=1.0, crf=0, duration=0.1),
                    WebcamOptions(strength=1.0, stabilize=0.0, max_side=1, frames=1)):
        options.validate()
    assert VideoOptions().stabilize is None and WebcamOptions().stabilize is None  # off unless asked for
    assert DemoConfig().stabilize_strength == STABILIZE_STRENGTH


def test_demo_config_resolves_by_device():
    cpu, gpu = DemoConfig().resolve(gpu=False), DemoConfig().resolve(gpu=True)
    assert (cpu.stream_max_side, cpu.stream_every, cpu.video_max_side) == (640, 0.1, 512)  # a 640x480 camera whole
    assert (gpu.stream_max_side, gpu.stream_every, gpu.video_max_side) == (720, 0.05, 720)  # a still's stroke size
    given = DemoConfig(stream_max_side=256, stream_every=0.2, video_max_side=320)
    assert given.resolve(gpu=True) == given and DemoConfig().stream_max_side is None  # a copy; given ones stay


# ----------------------------------------------------------------------------- imports


def test_live_modules_do_not_import_torch():
    code = ("import sys, fastnst.stream, fastnst.files, fastnst.config, fastnst.webcam, fastnst.video, fastnst.flow\n"
            "assert 'torch' not in sys.modules, 'torch imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_latest_frame_keeps_only_the_newest():
    box = LatestFrame()
    for i in range(3):
        box.put(i)
    assert box.get(timeout=0) == 2 and box.dropped == 2
    assert box.get(timeout=0.01) is None  # nothing newer than what was taken
    box.put(3)
    box.close()
    assert box.get() == 3 and box.get() is None  # what is left after close is still delivered


def test_latest_frame_wakes_a_waiting_consumer():
    box, got = LatestFrame(), []
    consumer = threading.Thread(target=lambda: got.append(box.get(timeout=10)))
    consumer.start()
    time.sleep(0.05)
    box.put("frame")
    consumer.join(timeout=10)
    assert got == ["frame"]
