"""Stroke size of the bundled styles (README "Stroke size"): the working side (``max_side``) a picture is
stylized at, then scaled back up. The spectral measure (fastnst.quality.stroke_period) on known patterns,
larger strokes from a shipped network at a smaller working side, the output's size, the stroke-size levels,
and the defaults: each front end (stylize, video, webcam, the web app's tabs and live stream) takes its
working side from the config dataclasses and the web app's "stroke size" slider maps onto the same table.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastnst import image as im
from fastnst.config import (
    LIVE_MAX_SIDE,
    STILL_MAX_SIDE,
    STROKE_SIDES,
    DemoConfig,
    StylizeOptions,
    VideoOptions,
    WebcamOptions,
    stroke_side,
    stroke_size,
)
from fastnst.errors import UserError
from fastnst.quality import stroke_period


def _stripes(period: float, h: int = 192, w: int = 256, diagonal: bool = False) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    phase = (x + y) / np.sqrt(2) if diagonal else x
    return np.clip(127.5 + 100 * np.sin(2 * np.pi * phase / period), 0, 255).astype(np.uint8)


def _photo(side: int = 768) -> np.ndarray:
    from skimage import data

    return im.resize_long_side(data.coffee(), side)  # public domain, 600x400 -> 768x512


# ----------------------------------------------------------------------------- the measure


@pytest.mark.parametrize("period", [4, 8, 16, 32])
def test_stroke_period_of_stripes(period):
    assert stroke_period(_stripes(period)) == pytest.approx(period, rel=0.02)
    assert stroke_period(_stripes(period, diagonal=True)) == pytest.approx(period, rel=0.05)
    rgb = np.repeat(_stripes(period)[..., None], 3, axis=2)
    assert stroke_period(rgb) == pytest.approx(period, rel=0.02)  # RGB through its luma


def test_stroke_period_edge_cases():
    assert stroke_period(np.full((32, 32, 3), 90, np.uint8)) == float("inf")
    with pytest.raises(ValueError):
        stroke_period(np.zeros((4, 64), np.uint8))


def test_stroke_period_doubles_when_a_photo_is_scaled_up():
    photo = _photo(512)
    soft = im.resize(im.resize_long_side(photo, 256), (photo.shape[1], photo.shape[0]))
    assert stroke_period(soft) / stroke_period(photo) == pytest.approx(2.0, rel=0.2)


# ----------------------------------------------------------------------------- the networks


@pytest.fixture(scope="module")
def wave():
    from fastnst.runtime import Stylizer
    from fastnst.styles import PRETRAINED

    path = PRETRAINED / "wave_lite.onnx"
    if not path.is_file():
        pytest.skip("the bundled wave_lite.onnx is not installed")
    return Stylizer(path, device="cpu")


def test_larger_stroke_size_gives_larger_strokes(wave):
    """A shipped network's texture: its period grows with the stroke size, about as the working side shrinks."""
    photo = _photo(768)
    levels = [1, STROKE_SIDES.index(512) + 1, len(STROKE_SIDES)]  # full size, 512 px, 384 px
    periods = [stroke_period(wave.stylize(photo, max_side=stroke_side(k))) for k in levels]
    assert periods[0] < periods[1] < periods[2], periods
    assert periods[2] / periods[0] > 0.75 * 768 / STROKE_SIDES[-1], periods  # 2x smaller side: ~2x the period


def test_working_side_output_has_the_frame_size(wave):
    """At a working side the output has the frame's size and is the network's output there, scaled back up."""
    frame = im.resize(_photo(640), (1280, 720))
    out = wave.stylize(frame, max_side=512)
    assert out.shape == (720, 1280, 3) and out.dtype == np.uint8
    small = im.resize_long_side(frame, 512)
    assert small.shape[:2] == (288, 512)
    np.testing.assert_array_equal(out, im.resize(wave.stylize(small), (1280, 720)))
    assert not np.array_equal(out, wave.stylize(frame))  # the full size differs


# ----------------------------------------------------------------------------- the levels and the defaults


def test_stroke_levels():
    assert STROKE_SIDES[0] is None and all(a is None or a > b for a, b in zip(STROKE_SIDES, STROKE_SIDES[1:]))
    for k in range(1, len(STROKE_SIDES) + 1):
        assert stroke_size(stroke_side(k)) == k
    assert stroke_size(700) == STROKE_SIDES.index(720) + 1 and stroke_size(100) == len(STROKE_SIDES)
    for bad in (0, len(STROKE_SIDES) + 1):
        with pytest.raises(UserError, match="stroke size"):
            stroke_side(bad)


def _options(argv: list[str]):
    from fastnst.cli import build_parser, image_options

    args = build_parser().parse_args(argv)
    cls = {"stylize": StylizeOptions, "video": VideoOptions, "webcam": WebcamOptions}[argv[0]]
    return image_options(cls, args)


def test_cli_defaults_come_from_the_config():
    assert StylizeOptions().max_side == VideoOptions().max_side == STILL_MAX_SIDE
    assert WebcamOptions().max_side == LIVE_MAX_SIDE
    assert _options(["stylize", "a.jpg", "-s", "wave"]).max_side == StylizeOptions().max_side
    assert _options(["video", "a.mp4", "-s", "wave"]).max_side == VideoOptions().max_side
    assert _options(["webcam", "-s", "wave"]).max_side == WebcamOptions().max_side
    assert _options(["video", "a.mp4", "-s", "wave", "--max-side", "300"]).max_side == 300
    for cmd in (["stylize", "a.jpg"], ["video", "a.mp4"], ["webcam"]):
        assert _options([*cmd, "-s", "wave", "--full-size"]).max_side is None
    with pytest.raises(SystemExit):  # one or the other
        _options(["stylize", "a.jpg", "-s", "wave", "--full-size", "--max-side", "300"])


@pytest.mark.slow
def test_cli_full_size_and_default_run(lite_onnx, tmp_path):
    """``fastnst stylize``: a 900-px photo at the default working side, and whole with --full-size."""
    from fastnst.cli import main
    from fastnst.runtime import Stylizer

    photo = _photo(900)
    im.save_image(tmp_path / "p.png", photo)
    s = Stylizer(lite_onnx, device="cpu")
    for flags, side in (([], STILL_MAX_SIDE), (["--full-size"], None), (["--max-side", "256"], 256)):
        out = tmp_path / f"out{len(flags)}{side}.png"
        assert main(["stylize", str(tmp_path / "p.png"), "-s", str(lite_onnx), "-o", str(out), "-q", *flags]) == 0
        got, want = im.load_image(out).astype(int), s.stylize(photo, max_side=side).astype(int)
        # the same pipeline; onnxruntime's thread count may reorder float sums: a rare 1-level rounding
        assert got.shape == want.shape and np.abs(got - want).max() <= 2 and np.mean(got != want) < 0.01


@pytest.mark.slow
def test_demo_stroke_size(lite_onnx):
    """The web app: no stroke size given -> the configured side of the tab; a stroke size -> its level's side;
    the sliders start at the configured sides; the live stream's settings carry it too."""
    from fastnst.webapp import Demo

    options = DemoConfig(image_max_side=512, video_max_side=384)
    d = Demo([lite_onnx], device="cpu", options=options)
    s = d.stylizer(d.choice("test", "image"))
    photo = _photo(800)
    np.testing.assert_array_equal(d.stylize_image(photo, "test"), s.stylize(photo, max_side=512))
    np.testing.assert_array_equal(d.stylize_image(photo, "test", stroke=1), s.stylize(photo))
    np.testing.assert_array_equal(d.stylize_image(photo, "test", stroke=3), s.stylize(photo, max_side=stroke_side(3)))
    with pytest.raises(Exception, match="stroke size"):
        d.stylize_image(photo, "test", stroke=len(STROKE_SIDES) + 1)
    sliders = {c.elem_id: c.value for c in d.blocks.blocks.values() if (c.elem_id or "").endswith("-stroke")}
    assert sliders == {"image-stroke": stroke_size(512), "video-stroke": stroke_size(384),
                       "webcam-stroke": stroke_size(d.stream_max_side)}
    assert d.video_max_side == 384 and d.stream_max_side == DemoConfig().resolve(gpu=False).stream_max_side
    settings, _ = d.live_settings({"style": "test"})
    assert settings["max_side"] == d.stream_max_side
    settings, _ = d.live_settings({"style": "test", "stroke": len(STROKE_SIDES)})
    assert settings["max_side"] == STROKE_SIDES[-1]
