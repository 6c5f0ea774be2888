"""The web app (fastnst.webapp): handlers, the plain API through gradio_client, and a real browser.

The browser tests drive headless Chromium (Debian package ``chromium``, launched by the
``playwright`` package, never ``playwright install``) whose camera is a .y4m clip written
here with a frame counter in the picture (tests/fakecam.py). They skip with a reason where
Chromium or playwright is missing; .ci/run installs both. FASTNST_SCREENSHOTS=1 also saves
screenshots of the app into docs/ (FASTNST_SCREENSHOT_STYLES=a.onnx:b.onnx picks the styles
shown; default: the random-weight test model).
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from fastnst.errors import UserError
from fastnst.image import load_image, sample_content, save_image

import fakecam
from helpers import free_port, served_demo

ROOT = Path(__file__).resolve().parents[1]
CLIP_FRAMES, CLIP_FPS = 90, 30  # the browser tests' camera: a 3 s loop


def synthetic(h=96, w=128, seed=0) -> np.ndarray:
    """A smooth colourful uint8 RGB test picture with some texture."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    rng = np.random.default_rng(seed)
    img = np.stack([np.sin(6 * x + 1), np.cos(5 * y), np.sin(4 * (x + y))], -1) * 0.4 + 0.5
    img += rng.normal(0, 0.03, img.shape)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def demo(lite_onnx):
    """The app with the test style on the CPU, served on a free loopback port for this module."""
    with served_demo([lite_onnx], max_video_seconds=3.0) as d:
        yield d


@pytest.fixture(scope="module")
def stylizer(lite_onnx):
    from fastnst.runtime import Stylizer

    return Stylizer(lite_onnx, device="cpu")


# ----------------------------------------------------------------------------- without a browser


def test_styles_are_checked(tmp_path):
    from fastnst.webapp import Demo

    with pytest.raises(UserError, match="not found"):
        Demo([tmp_path / "missing.onnx"])
    with pytest.raises(UserError, match="at least one"):
        Demo([])


def test_presets_of_one_style_grouped_and_picked_by_device(lite_onnx, tmp_path):
    from fastnst.webapp import Demo

    for preset in ("lite", "johnson"):
        shutil.copy(lite_onnx, tmp_path / f"wave_{preset}.onnx")
    shutil.copy(lite_onnx, tmp_path / "plain.onnx")
    d = Demo([tmp_path / "wave_lite.onnx", tmp_path / "wave_johnson.onnx", tmp_path / "plain.onnx"], device="cpu")
    assert list(d.models) == ["wave", "plain"]
    assert d.device == "cpu"
    assert d.model("wave", "stream").path.name == "wave_lite.onnx"  # the webcam's preset on a CPU
    assert d.model("wave", "video").path.name == "wave_lite.onnx"
    assert d.model("wave", "image").path.name == "wave_johnson.onnx"  # the image tab's and the gallery's
    assert d.model("plain", "image").preset is None
    assert d.stylizer(d.choice("wave", "stream")) is d.stylizer(d.choice("wave", "stream"))  # loaded once
    d.blocks.close()


def test_an_openvino_demo_gets_the_cpu_settings_and_lite(lite_onnx, tmp_path, monkeypatch):
    """OpenVINO runs on the CPU: the demo's CPU stream settings, and lite for live frames and video."""
    import fastnst.runtime_devices
    from fastnst.config import DemoConfig
    from fastnst.ortsession import open_session
    from fastnst.webapp import Demo

    class OpenVINOOnOnnxruntime:  # the choice is under test, not OpenVINO (which need not be installed)
        def __init__(self, path, threads):
            self._session = open_session(path)

        def __getattr__(self, name):
            return getattr(self._session, name)

        def get_providers(self):
            return ["OpenVINO"]

    monkeypatch.setattr(fastnst.runtime_devices, "_OpenVINOSession", OpenVINOOnOnnxruntime, raising=False)
    for preset in ("lite", "johnson"):
        shutil.copy(lite_onnx, tmp_path / f"wave_{preset}.onnx")
    d = Demo([tmp_path / "wave_lite.onnx", tmp_path / "wave_johnson.onnx"], device="openvino")
    cpu = DemoConfig().resolve(gpu=False)
    assert d.device == "openvino" and not d.gpu
    assert (d.stream_max_side, d.stream_every, d.video_max_side) == \
        (cpu.stream_max_side, cpu.stream_every, cpu.video_max_side)
    assert d.model("wave", "stream").path.name == "wave_lite.onnx"
    assert d.model("wave", "video").path.name == "wave_lite.onnx"
    _, status, session = d.stream_frame(synthetic(), "wave", 1.0, False, False, None)
    assert status.endswith("wave (lite) on openvino") and session.stylizer.provider == "OpenVINO", status
    d.blocks.close()


def test_the_demo_runs_the_copy_the_cli_picks_and_names_it(monkeypatch):
    """The web app's stream, WebRTC, image and video run the file (and copy) the CLI runs for the style."""
    from fastnst.runtime import load_style
    from fastnst.styles import VARIANT_PREFERENCE
    from fastnst.webapp import Demo

    # As if lite's int8 copy had measured faster on this CPU: the table picks it for the CLI
    monkeypatch.setitem(VARIANT_PREFERENCE, ("lite", "cpu"), (("int8", False), ("fp32", False)))
    cli = {use: load_style("wave", use, device="cpu").path for use in ("stream", "image", "video")}
    assert cli["stream"].endswith("wave_lite.int8.onnx")
    d = Demo(["wave"], device="cpu")
    _, status, session = d.stream_frame(synthetic(), "wave", 1.0, False, False, None)
    assert session.stylizer.path == cli["stream"]
    assert status.endswith("wave (lite, int8) on cpu"), status
    update, text = d.live_settings({"style": "wave"})  # WebRTC
    assert update["stylizer"].path == cli["stream"] and text == "wave (lite, int8) on cpu"
    for use in ("image", "video"):
        assert str(d.model("wave", use).path) == cli[use]
    d.blocks.close()


def test_stream_handler_state_is_per_session(demo, stylizer):
    """Frames through the webcam handler equal Stylizer.stylize (+ a Stabilizer when on), per session."""
    from fastnst.flow import Stabilizer

    frames = [np.roll(synthetic(120, 160), 3 * i, axis=1) for i in range(4)]
    side = demo.stream_max_side
    plain = [stylizer.stylize(f, max_side=side) for f in frames]
    ref = Stabilizer(demo.options.stabilize_strength)
    stabilized = [ref(f, p) for f, p in zip(frames, plain)]

    a = b = None
    for i, f in enumerate(frames):
        out_a, status, a = demo.stream_frame(f, "test", 1.0, False, True, a)  # stabilized session
        out_b, _, b = demo.stream_frame(f, "test", 1.0, False, False, b)  # plain session
        np.testing.assert_array_equal(out_a, stabilized[i])
        np.testing.assert_array_equal(out_b, plain[i])
    assert a is not b and a.frames == b.frames == 4
    assert re.match(r"[\d.]+ fps · \d+ ms server latency · 160x120 · test \(lite\) on cpu", status), status
    # Controls apply to the next frame: strength 0 is the camera frame itself.
    out, _, a = demo.stream_frame(frames[0], "test", 0.0, False, False, a)
    np.testing.assert_array_equal(out, frames[0])


def test_a_mix_runs_the_blend_of_the_multi_style_file(mix_onnx, lite_onnx):
    """A second style and its weight run the multi-style network's blend, as Stylizer.set_style does; each
    page's mix on a copy of its own, the shared Stylizer never changed (pages at once, on threads)."""
    from concurrent.futures import ThreadPoolExecutor

    from fastnst.runtime import Stylizer
    from fastnst.webapp import Demo

    d = Demo([f"a@{mix_onnx}", f"b@{mix_onnx}", lite_onnx], device="cpu")
    assert d.mix_styles("a") == ["b"] and d.mix_styles("b") == ["a"] and d.mix_styles("test") == []
    img = synthetic(90, 130, seed=2)
    side = d.options.image_max_side

    def reference(weights):
        s = Stylizer(mix_onnx, device="cpu")
        s.set_style(weights)
        return s.stylize(img, max_side=side)

    np.testing.assert_array_equal(d.stylize_image(img, "a", 1.0, False, "b", 0.3), reference({"a": 0.7, "b": 0.3}))
    np.testing.assert_array_equal(d.stylize_image(img, "a"), reference("a"))  # no second style: a alone
    np.testing.assert_array_equal(d.stylize_image(img, "a", 1.0, False, "b", 1.0), reference("b"))
    shared = d.stylizer(d.choice("a", "image"))
    mixes = [0.1, 0.9] * 4
    with ThreadPoolExecutor(4) as pool:  # two pages' mixes at once
        outs = list(pool.map(lambda m: d.stylize_image(img, "a", 1.0, False, "b", m), mixes))
    for m, out in zip(mixes, outs):
        np.testing.assert_array_equal(out, reference({"a": 1 - m, "b": m}))
    assert d.stylizer(d.choice("b", "image")).session is shared.session  # the file is loaded once
    assert shared.style == "a" and shared.style_weights.tolist() == [1.0, 0.0]
    # the stream: a mix change keeps the page's session, whose frames follow the new blend
    _, status, session = d.stream_frame(img, "a", 1.0, False, False, None, "b", 0.2)
    assert status.endswith("a:0.8,b:0.2 (lite) on cpu"), status
    out, _, again = d.stream_frame(img, "a", 1.0, False, False, session, "b", 0.6)
    assert again is session and session.blend == {"a": 0.4, "b": 0.6}
    np.testing.assert_array_equal(out, Stylizer(mix_onnx, device="cpu", blend={"a": 0.4, "b": 0.6}).stylize(
        img, max_side=d.stream_max_side))
    update, text = d.live_settings({"style": "a", "mix_style": "b", "mix": 0.5})  # WebRTC's settings
    assert update["blend"] == {"a": 0.5, "b": 0.5} and text == "a+b (lite) on cpu"
    assert d.live_settings({"style": "a"})[0]["blend"] is None
    # the controls: "mix with" offers the styles of the same network; none for a one-style file
    choices, slider = d.mix_controls("a", "")
    assert choices["choices"] == [("none", ""), ("b", "b")] and choices["interactive"] and not slider["interactive"]
    choices, slider = d.mix_controls("test", "b")
    assert choices["value"] == "" and not choices["interactive"] and not slider["interactive"]
    with pytest.raises(Exception, match="test cannot be mixed with b"):
        d.stylize_image(img, "test", 1.0, False, "b", 0.5)
    d.blocks.close()


def test_api_stylize_matches_stylizer(demo, stylizer, tmp_path):
    """The plain /stylize endpoint, called with gradio_client, returns exactly Stylizer.stylize's PNG."""
    from gradio_client import Client, handle_file

    img = synthetic(90, 130, seed=1)
    save_image(tmp_path / "in.png", img)
    client = Client(demo.blocks.local_url, download_files=str(tmp_path / "dl"), verbose=False)
    for strength, preserve in ((1.0, False), (0.6, True)):
        out = client.predict(handle_file(str(tmp_path / "in.png")), "test", strength, preserve, api_name="/stylize")
        assert out.endswith(".png")
        expected = stylizer.stylize(img, strength=strength, preserve_color=preserve,
                                    max_side=demo.options.image_max_side)
        np.testing.assert_array_equal(load_image(out), expected)
    # The streaming endpoint is not offered to API clients.
    assert "/webcam" not in client.view_api(print_info=False, return_format="dict")["named_endpoints"]


def _clip(path, seconds: float, fps: int = 10, size=(64, 48)) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(int(seconds * fps)):
        writer.write(np.roll(synthetic(size[1], size[0]), i, axis=1)[..., ::-1])
    writer.release()


@pytest.mark.slow
def test_api_video_converts_and_rejects_long_clips(demo, tmp_path):
    from gradio_client import Client, handle_file

    from fastnst.video import probe

    client = Client(demo.blocks.local_url, download_files=str(tmp_path / "dl"), verbose=False)
    short, long = tmp_path / "short.mp4", tmp_path / "long.mp4"
    _clip(short, 1.0)
    _clip(long, 5.0)  # the fixture's limit is 3 s
    video, report = client.predict(handle_file(str(short)), "test", 1.0, False, True, api_name="/stylize_video")
    info = probe(video)
    assert (info["width"], info["height"], info["frames"]) == (64, 48, 10)
    assert report.startswith("10 frames, 64x48")
    with pytest.raises(Exception, match=r"5\.0 s long.*up to 3 s"):
        client.predict(handle_file(str(long)), "test", 1.0, False, False, api_name="/stylize_video")


# ----------------------------------------------------------------------------- any painting


def warm_painting(h=96, w=128, seed=3) -> np.ndarray:
    """A painting made here (no third-party picture): 8-px strokes of reds and oranges, mean colour about
    (200, 70, 35), far from the test pictures' and the fake camera's greys."""
    palette = np.array([(215, 50, 30), (240, 140, 40), (150, 20, 40)], np.uint8)
    strokes = np.random.default_rng(seed).integers(0, len(palette), (h // 8, w // 8))
    return np.ascontiguousarray(palette[strokes].repeat(8, 0).repeat(8, 1))


@pytest.fixture
def painting_demo(lite_onnx):
    """The app on the CPU with the test style and the shipped arbitrary-style file (skipped without it)."""
    from fastnst.styles import ARBITRARY
    from fastnst.webapp import Demo

    if not ARBITRARY.is_file():
        pytest.skip(f"needs the shipped arbitrary-style file {ARBITRARY}")
    d = Demo([lite_onnx], device="cpu")
    yield d
    d.blocks.close()


def test_any_painting_in_the_image_tab_is_fastnst_stylize_dash_s(painting_demo, tmp_path):
    """The Image tab (and /stylize) with "any painting": the same pixels as ``fastnst stylize PHOTO -s PAINTING``;
    the strength slider is --style-strength, the stroke size --style-size (1: the painting's own size)."""
    from fastnst.cli import main
    from fastnst.webapp import ANY_PAINTING, MIX, NO_MIX

    d = painting_demo
    painting, photo_path = tmp_path / "warm.png", tmp_path / "photo.png"
    save_image(painting, warm_painting())
    photo = synthetic(90, 130, seed=4)
    save_image(photo_path, photo)
    assert (ANY_PAINTING, ANY_PAINTING) in d._style_choices()
    assert [u["visible"] for u in d.mix_controls(ANY_PAINTING, NO_MIX)] == [False, False]  # a painting mixes with none
    row, strength, stroke, is_painting = d.style_controls(ANY_PAINTING)  # the row shows; the sliders say what they do
    assert row["visible"] and "painting" in strength["info"] and "painting" in stroke["info"] and is_painting
    # choosing a painting moves the stroke size to the CLI's default painting size, a trained style back to the
    # tab's working side; between two trained styles it stays where the visitor put it
    from fastnst.config import painting_side, stroke_side
    from fastnst.painting import check_style_size

    assert painting_side(stroke["value"], 1000) == check_style_size(None)  # fastnst stylize -s painting.jpg's
    back = d.style_controls("test", True, 720)
    assert not back[0]["visible"] and not back[3] and stroke_side(back[2]["value"]) == 720
    assert "value" not in d.style_controls("test", False, 720)[2]
    outs = []
    for stroke, flags in ((None, ["--style-strength", "1"]), (6, ["--style-strength", "0.6", "--style-size", "384"]),
                          (1, ["--style-strength", "0.8", "--style-size", "128"])):  # 1: the painting's 128 px
        cli = tmp_path / f"cli_{stroke}.png"
        assert main(["stylize", str(photo_path), "-s", str(painting), "-o", str(cli), "-q", *flags]) == 0
        web = d.stylize_image(photo, ANY_PAINTING, float(flags[1]), False, NO_MIX, MIX, stroke, str(painting))
        np.testing.assert_array_equal(web, load_image(cli))
        outs.append(web.astype(np.int16))
    assert np.abs(outs[0] - photo).mean() > 10 and np.abs(outs[0] - outs[1]).mean() > 2  # it does something
    with pytest.raises(Exception, match="upload a painting first"):
        d.stylize_image(photo, ANY_PAINTING, 1.0, False, NO_MIX, MIX, 3, None)


def test_any_painting_streams_and_a_bad_upload_is_one_line(painting_demo, tmp_path):
    """An upload is read once (its key); the webcam's frames run it (strength: the style strength, stroke size: its
    long side); a file that is not an image, a 1x1 pixel or a 20 000 px strip is one line in the page and the
    stream keeps its painting; a flat colour runs cleanly and the line says what it gives."""
    from fastnst.runtime import Stylizer
    from fastnst.styles import ARBITRARY_FAST, choose
    from fastnst.webapp import ANY_PAINTING, MIX, NO_MIX

    d = painting_demo
    good = tmp_path / "warm.png"
    save_image(good, warm_painting())
    key, shown, status = d.painting_uploaded(str(good), 5, "stream")
    assert status == "warm.png: read at 512x384 px (stroke size 5); its statistics are ready"
    assert shown.shape == (384, 512, 3)
    frame = synthetic(120, 160, seed=6)
    cli = choose(str(good), "stream", "cpu").file.path  # what `fastnst webcam -s warm.png` runs on a CPU:
    assert cli == ARBITRARY_FAST  # relu3_1 alone, the live preset (fastnst.styles.PREFERENCE)
    reference = Stylizer(cli, device="cpu", painting=warm_painting(), style_size=512, style_strength=0.7)
    expected = reference.stylize(frame, max_side=d.stream_max_side)
    out, text, session = d.stream_frame(frame, ANY_PAINTING, 0.7, False, False, None, NO_MIX, MIX, 5, key)
    np.testing.assert_array_equal(out, expected)
    assert text.endswith("warm (any painting) on cpu"), text
    update, described = d.live_settings({"style": ANY_PAINTING, "painting": key, "stroke": 5, "strength": 0.7})
    assert update["stylizer"] is session.stylizer and update["strength"] == 1.0  # the same settings: the same copy
    assert (update["stylizer"].style_size, update["stylizer"].style_strength) == (512, 0.7)

    (tmp_path / "notes.png").write_text("not a picture")
    save_image(tmp_path / "dot.png", np.full((1, 1, 3), 128, np.uint8))
    save_image(tmp_path / "strip.png", np.full((100, 20000, 3), 90, np.uint8))
    for name in ("notes.png", "dot.png", "strip.png"):
        new_key, shown, status = d.painting_uploaded(str(tmp_path / name), 5, "stream")
        assert not isinstance(new_key, str) and shown is None  # the key stays: gr.skip()
        assert name in status and "\n" not in status and "Traceback" not in status, status
        out, _, again = d.stream_frame(frame, ANY_PAINTING, 0.7, False, False, session, NO_MIX, MIX, 5, key)
        assert again is session
        np.testing.assert_array_equal(out, expected)  # the stream goes on with its painting

    out, text, again = d.stream_frame(frame, ANY_PAINTING, 0.7, False, False, session, NO_MIX, MIX, 5, "")
    assert again is session and text == "any painting: upload a painting first (JPEG, PNG or WebP)"
    np.testing.assert_array_equal(out, expected)  # none uploaded in this page: its stream goes on as it was

    save_image(tmp_path / "flat.png", np.full((60, 80, 3), (30, 120, 200), np.uint8))
    flat, _, status = d.painting_uploaded(str(tmp_path / "flat.png"), 5, "stream")
    assert isinstance(flat, str) and "one flat colour" in status, status
    out, _, _ = d.stream_frame(frame, ANY_PAINTING, 1.0, False, False, session, NO_MIX, MIX, 5, flat)
    assert out.shape == frame.shape and np.abs(out.astype(np.int16) - expected).mean() > 5
    for settings, message in (({"painting": "f00"}, "upload the painting again"), ({}, "upload a painting first")):
        with pytest.raises(Exception, match=message) as e:
            d.live_settings({"style": ANY_PAINTING, **settings})
        assert "\n" not in e.value.message


def test_any_painting_in_the_video_tab(painting_demo, tmp_path):
    """The Video tab converts a clip with an uploaded painting file: every frame, its size, the report names it."""
    from fastnst.video import probe
    from fastnst.webapp import ANY_PAINTING, MIX, NO_MIX

    painting, clip = tmp_path / "warm.png", tmp_path / "clip.mp4"
    save_image(painting, warm_painting())
    _clip(clip, 0.6)
    out, report = painting_demo.stylize_video(str(clip), ANY_PAINTING, 0.8, False, True, NO_MIX, MIX, 5,
                                              str(painting), progress=lambda *a, **k: None)
    info = probe(out)
    assert (info["width"], info["height"], info["frames"]) == (64, 48, 6)
    assert report.startswith("6 frames, 64x48") and "warm (any painting) on cpu" in report, report


def test_demo_command(lite_onnx, tmp_path, capsys):
    from fastnst.cli import main

    r = subprocess.run([sys.executable, str(ROOT / "demo" / "app.py"), "--help"], capture_output=True, text=True,
                       timeout=120)  # the script is the `fastnst demo` command
    assert r.returncode == 0 and r.stdout.startswith("usage: fastnst demo") and "--max-streams" in r.stdout
    assert main(["demo", "--style", str(tmp_path / "no.onnx"), "--no-browser"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"fastnst: error: style model not found: {tmp_path / 'no.onnx'}"]
    port = free_port()
    with socket.socket() as taken:  # a port in use is a one-line error too
        taken.bind(("127.0.0.1", port))
        taken.listen()
        assert main(["demo", "--style", str(lite_onnx), "--port", str(port), "--no-browser", "--device", "cpu"]) == 2
    assert capsys.readouterr().err.startswith(f"fastnst: error: cannot serve on 127.0.0.1:{port}")


# ----------------------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    """A playwright page in headless Chromium whose camera plays a 320x240 counter clip."""
    with fakecam.camera_browser(tmp_path_factory.mktemp("browser"), frames=CLIP_FRAMES, fps=CLIP_FPS) as context:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.outside = context.outside  # requests that left the machine (there must be none)
        yield page


def _fetch(url: str) -> np.ndarray:
    from PIL import Image

    with urllib.request.urlopen(url, timeout=30) as r:
        return np.asarray(Image.open(io.BytesIO(r.read())).convert("RGB"))


def _data_url(url: str) -> np.ndarray:
    import base64

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def _frames_after(page, start: int, count: int, timeout: float = 90.0) -> list[dict]:
    """Wait for ``count`` new stylized frames after the first ``start`` ones; return them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frames = page.evaluate("window.__frames")
        if len(frames) >= start + count:
            return frames[start:]
        page.wait_for_timeout(200)
    raise AssertionError(f"only {len(page.evaluate('window.__frames')) - start} of {count} frames arrived "
                         f"in {timeout:.0f} s; status: {page.input_value('#webcam-status textarea')}")


def _set_strength(page, value: float) -> None:
    box = page.locator("#webcam-strength input[type=number]")
    box.fill(str(value))
    box.press("Enter")


@functools.lru_cache(maxsize=1)
def _clip_frames() -> np.ndarray:
    return np.stack([fakecam.frame(i, 320, 240, CLIP_FRAMES) for i in range(CLIP_FRAMES)]).astype(np.int16)


def _nearest_clip_frame(image: np.ndarray) -> tuple[int, float]:
    """(index, mean abs difference) of the clip frame closest to ``image`` (uint8 RGB 240x320)."""
    diffs = np.abs(_clip_frames()[:, ::2, ::2] - image[::2, ::2].astype(np.int16)).mean(axis=(1, 2, 3))
    return int(np.argmin(diffs)), float(diffs.min())


def _screenshot(page, name: str) -> None:
    """With FASTNST_SCREENSHOTS=1: the page's top as docs/NAME, a small PNG (3/4 size, 256 colours)."""
    if not os.environ.get("FASTNST_SCREENSHOTS"):
        return
    from PIL import Image

    page.evaluate("window.scrollTo(0, 0)")
    shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    shot = shot.resize((shot.width * 3 // 4, shot.height * 3 // 4), Image.Resampling.LANCZOS)
    (ROOT / "docs").mkdir(exist_ok=True)
    shot.quantize(256).save(ROOT / "docs" / name, optimize=True)


@pytest.fixture(scope="module")
def browser_demo(lite_onnx):
    """The demo for the browser tests (FASTNST_SCREENSHOT_STYLES may add real styles for the pictures)."""
    from fastnst.webapp import Demo

    extra = [p for p in os.environ.get("FASTNST_SCREENSHOT_STYLES", "").split(os.pathsep) if p]
    d = Demo([*extra, lite_onnx], device="cpu")
    d.launch("127.0.0.1", free_port(), block=False, quiet=True)
    yield d
    d.blocks.close()


@pytest.mark.browser
@pytest.mark.slow
def test_browser_webcam_streams_fresh_stylized_frames(browser_demo, browser_page, record_property):
    page = browser_page
    url = browser_demo.blocks.local_url
    fakecam.start_webcam(page, url)  # the first style is selected: a FASTNST_SCREENSHOT_STYLES one if given

    # 1. Stylized frames arrive, keep changing, and are not the camera picture.
    styled = _frames_after(page, 0, 8)
    t0 = time.monotonic()
    images = [_fetch(f["src"]) for f in styled]
    assert all(im.shape == (240, 320, 3) for im in images)
    changes = [np.abs(a.astype(np.int16) - b).mean() for a, b in zip(images, images[1:])]
    assert sum(c > 1.0 for c in changes) >= len(changes) - 1, changes  # a new picture each time
    nearest = [_nearest_clip_frame(im)[1] for im in images]
    assert min(nearest) > 30, nearest  # far from every camera frame: stylized
    _screenshot(page, "demo_webcam.png")
    status = page.input_value("#webcam-status textarea")
    span = (styled[-1]["t"] - styled[0]["t"]) / 1000.0
    browser_fps = (len(styled) - 1) / span

    # 2. Strength 0 while streaming: the camera frame itself comes back, so its counter says how fresh it is.
    _set_strength(page, 0.0)
    start = len(page.evaluate("window.__frames"))
    deadline = time.monotonic() + 60
    while True:  # frames already in flight were stylized at strength 1
        frames = _frames_after(page, start, 1)
        if _nearest_clip_frame(_fetch(frames[-1]["src"]))[1] < 15 or time.monotonic() > deadline:
            break
        start += len(frames)
    plain = _frames_after(page, start + len(frames), 8)
    counters, lags = [], []
    for f in plain:
        image = _fetch(f["src"])
        index, diff = _nearest_clip_frame(image)
        counter = fakecam.read_counter(image)
        assert diff < 15 and counter == index, (diff, counter, index)  # exactly that camera frame, unmirrored
        counters.append(counter)
        lags.append((fakecam.read_counter(_data_url(f["camera"])) - counter) % CLIP_FRAMES / CLIP_FPS)
    steps = [(b - a) % CLIP_FRAMES for a, b in zip(counters, counters[1:])]
    assert all(0 < s < CLIP_FRAMES // 2 for s in steps), counters  # always a newer camera frame
    latency = float(np.median(lags))
    assert latency < 1.5, lags  # (the clip loops every 3 s, so larger lags could not be told apart)

    # 3. Stabilization on while streaming: frames keep coming.
    _set_strength(page, 1.0)
    page.locator("#webcam-stabilize input").check()
    _frames_after(page, len(page.evaluate("window.__frames")), 5)
    assert page.outside == [], page.outside  # nothing but loopback
    record_property("browser_fps", round(browser_fps, 2))
    record_property("browser_latency_s", round(latency, 3))
    record_property("status", status)
    print(f"\nbrowser: {browser_fps:.1f} stylized frames/s, camera-to-browser latency {latency * 1000:.0f} ms "
          f"(median of {len(lags)}); app says: {status}; checked in {time.monotonic() - t0:.0f} s")


@pytest.mark.browser
@pytest.mark.slow
def test_browser_image_tab_and_gallery(browser_demo, browser_page, stylizer):
    page = browser_page
    page.goto(browser_demo.blocks.local_url, wait_until="load")
    page.get_by_role("tab", name="Image").click()
    page.locator(".gallery-item, button.gallery, [data-testid='examples'] button, table.table button, td").first.click()
    page.locator("#image-input img").wait_for()
    page.locator("#image-run").click()
    out = page.locator("#image-output img")
    out.wait_for()
    result = _fetch(out.get_attribute("src"))
    choice = browser_demo.choice(next(iter(browser_demo.models)), "image")
    expected = browser_demo.stylizer(choice).stylize(sample_content(), max_side=browser_demo.options.image_max_side)
    np.testing.assert_array_equal(result, expected)  # the PNG shown is exactly the Stylizer's result
    _screenshot(page, "demo_image.png")
    page.get_by_role("tab", name="Styles").click()
    page.locator("#styles-gallery img").nth(len(browser_demo.models)).wait_for()
    assert page.locator("#styles-gallery img").count() == 1 + len(browser_demo.models)
    _screenshot(page, "demo_styles.png")
    assert page.outside == [], page.outside


def _wait_status(page, selector: str, pattern: str, timeout: float = 120.0) -> str:
    """Wait until the textbox ``selector``'s value matches ``pattern`` (re.search); its value."""
    deadline = time.monotonic() + timeout
    value = ""
    while time.monotonic() < deadline:
        value = page.input_value(f"{selector} textarea")
        if re.search(pattern, value):
            return value
        page.wait_for_timeout(250)
    raise AssertionError(f"{selector} never matched {pattern!r} in {timeout:.0f} s; it says: {value!r}")


def _pick(page, dropdown: str, label: str) -> None:
    """Choose ``label`` in the Gradio dropdown ``dropdown`` (an elem_id selector)."""
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=label, exact=True).click()


@pytest.mark.browser
@pytest.mark.slow
def test_browser_add_a_painting(lite_onnx, browser_page, tmp_path, monkeypatch):
    """Styles tab, "Add your painting" with a tiny budget: a bad upload is one line; a painting trains, then is
    offered in every tab's dropdown at once and runs in the Image tab and the webcam stream; Cancel keeps nothing."""
    from fastnst.image import load_image

    home = tmp_path / "home"
    monkeypatch.setenv("FASTNST_HOME", str(home))
    page = browser_page
    with served_demo([lite_onnx], add_style_steps=3, add_style_loss_net="random-vgg16:0",
                     add_style_layers=("relu1_2", "relu2_2")) as demo:
        page.goto(demo.blocks.local_url, wait_until="load")
        page.get_by_role("tab", name="Styles").click()
        upload = page.locator("#add-file input[type=file]")

        # A file that is not an image: one line at once, and again on Start; nothing starts.
        (tmp_path / "notes.png").write_text("not a picture")
        upload.set_input_files(str(tmp_path / "notes.png"))
        bad = "'notes.png' is not an image: upload a painting as a JPEG, PNG or WebP file"
        assert _wait_status(page, "#add-status", "not an image") == bad
        page.locator("#add-start").click()
        page.wait_for_timeout(1000)
        assert page.input_value("#add-status textarea") == bad and not demo.trainer.running

        # A painting: trained, exported, installed; the bar moves to 100%.
        painting = tmp_path / "sunset.png"
        save_image(painting, synthetic(150, 200, seed=5))
        page.locator("#add-file button[aria-label='Clear']").click()
        upload.set_input_files(str(painting))
        _wait_status(page, "#add-status", "give it a name and press Start")
        assert page.input_value("#add-name textarea, #add-name input") == "sunset"  # the file's name, by default
        page.locator("#add-name textarea, #add-name input").first.fill("my painting")
        page.locator("#add-start").click()
        page.locator("#add-cancel:not([disabled])").wait_for()  # running
        _wait_status(page, "#add-status", "my_painting is ready", timeout=600)
        assert page.locator("#add-progress .add-bar").get_attribute("data-percent") == "100"
        assert (home / "styles" / "my_painting" / "my_painting_lite.onnx").is_file()
        assert page.locator("#styles-gallery img").count() == 3  # the photo, test, my painting
        _screenshot(page, "demo_add_painting.png")

        # In every tab's dropdown at once, without a reload; the Image tab runs it.
        page.get_by_role("tab", name="Image").click()
        _pick(page, "#image-style", "my painting")
        page.locator(".gallery-item, button.gallery, [data-testid='examples'] button, table.table button, td") \
            .first.click()
        page.locator("#image-input img").wait_for()
        page.locator("#image-run").click()
        out = page.locator("#image-output img")
        out.wait_for()
        choice = demo.choice("my_painting", "image")
        assert choice.file.path == home / "styles" / "my_painting" / "my_painting_lite.onnx"
        expected = demo.stylizer(choice).stylize(load_image(demo.example_path), max_side=demo.options.image_max_side)
        np.testing.assert_array_equal(_fetch(out.get_attribute("src")), expected)

        # Cancel: nothing is kept.
        page.get_by_role("tab", name="Styles").click()
        page.locator("#add-name textarea, #add-name input").first.fill("second")
        page.locator("#add-start").click()
        page.locator("#add-cancel:not([disabled])").click()
        assert _wait_status(page, "#add-status", "cancelled") == "second: cancelled; nothing was kept"
        assert not (home / "styles" / "second").exists() and not list((home / "work").glob("second*"))

        # The webcam stream runs it (a fresh page: its dropdowns come with the style).
        fakecam.start_webcam(page, demo.blocks.local_url)
        _pick(page, "#webcam-style", "my painting")
        _wait_status(page, "#webcam-status", r"my painting \(lite\) on cpu$", timeout=60)
        assert page.outside == [], page.outside


def _set_number(page, selector: str, value: float) -> None:
    """Type ``value`` into the number box of the Gradio slider ``selector`` (an elem_id selector)."""
    box = page.locator(f"{selector} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


@pytest.mark.browser
@pytest.mark.slow
def test_browser_layers_tab(lite_onnx, browser_page, tmp_path, monkeypatch):
    """Layers tab on a random VGG-19 at a tiny size: the layers come with the page, the Gram picture, the Figure 1
    rows and the top patches are computed and shown (the PNG the page shows is the picture cached for those
    inputs), and the same inputs again come from the cache."""
    monkeypatch.setenv("FASTNST_CACHE", str(tmp_path / "cache"))
    page = browser_page
    with served_demo([lite_onnx], layers_loss_net="random-vgg19") as demo:
        page.goto(demo.blocks.local_url, wait_until="load")
        page.get_by_role("tab", name="Layers").click()
        page.locator("#layers-network", has_text="random-vgg19").wait_for()
        page.locator("#layers-weight-4").wait_for()  # VGG-19: five style layers, five weights
        for dropdown in ("#layers-patch-layer", "#layers-gram-layer"):  # the deepest style layer, by default
            assert page.input_value(f"{dropdown} input") == "relu5_1"
        _set_number(page, "#layers-size", 32)
        _set_number(page, "#layers-iterations", 5)
        _set_number(page, "#layers-weight-0", 0)
        page.locator("#layers-gram-run").click()
        assert _wait_status(page, "#layers-gram-status", "computed in", timeout=180)
        shown = _fetch(page.locator("#layers-gram img").get_attribute("src"))
        cached = list((tmp_path / "cache" / "layers").glob("gram-*.png"))
        assert len(cached) == 1
        np.testing.assert_array_equal(shown, load_image(cached[0]))
        info = json.loads(cached[0].with_suffix(".json").read_text())
        assert info["layer"] == "relu5_1" and info["style_layer_weights"] == [0.0, 1.0, 1.0, 1.0, 1.0]
        assert info["size"] == 32

        page.locator("#layers-reconstruct-run").click()  # Figure 1 at the same 32 px and 5 steps
        _wait_status(page, "#layers-reconstruct-status", "computed in", timeout=300)
        rows = list((tmp_path / "cache" / "layers").glob("reconstruct-*.png"))
        assert len(rows) == 1
        np.testing.assert_array_equal(_fetch(page.locator("#layers-reconstruct img").get_attribute("src")),
                                      load_image(rows[0]))
        info = json.loads(rows[0].with_suffix(".json").read_text())
        assert [r["layers"] for r in info["style"]["reconstructions"]][-1] == [f"relu{k}_1" for k in range(1, 6)]

        _pick(page, "#layers-patch-layer", "relu1_1")
        page.locator("#layers-patches-run").click()
        _wait_status(page, "#layers-patches-status", "computed in", timeout=180)
        page.locator("#layers-patches img").wait_for()
        patches = list((tmp_path / "cache" / "layers").glob("patches-*.png"))
        assert len(patches) == 1
        np.testing.assert_array_equal(_fetch(page.locator("#layers-patches img").get_attribute("src")),
                                      load_image(patches[0]))
        _screenshot(page, "demo_layers.png")

        page.goto(demo.blocks.local_url, wait_until="load")  # a second visit: the same inputs, at once
        page.get_by_role("tab", name="Layers").click()
        page.locator("#layers-network", has_text="random-vgg19").wait_for()
        _pick(page, "#layers-patch-layer", "relu1_1")
        page.locator("#layers-patches-run").click()
        assert "from the cache" in _wait_status(page, "#layers-patches-status", "in [0-9.]+ s")
        assert page.outside == [], page.outside


@pytest.mark.browser
@pytest.mark.slow
def test_browser_a_painting_upload_switches_the_live_stream(painting_demo, browser_page, tmp_path):
    """Webcam tab, live video (WebRTC): choosing "any painting" and uploading one changes the frames on the same
    connection (no reconnect): their mean colour moves toward the painting's. A bad upload then is one line on the
    page, and the stream goes on with the painting."""
    from helpers import new_live_frames

    d = painting_demo
    d.launch("127.0.0.1", free_port(), block=False, quiet=True)
    painting = tmp_path / "warm.png"
    save_image(painting, warm_painting())
    target = warm_painting().reshape(-1, 3).mean(axis=0)

    def distance(frames) -> float:  # from the frames' mean colour to the painting's, in levels
        return float(np.linalg.norm(np.mean([f.reshape(-1, 3).mean(axis=0) for f in frames], axis=0) - target))

    page = browser_page
    page.goto(d.blocks.local_url, wait_until="load")
    page.locator("#webrtc button.start").click()
    page.wait_for_function("() => document.querySelector('#webrtc video.live').videoWidth > 0")
    before = new_live_frames(page, 3)  # the test style
    (peer,) = d.live.peers
    live = peer.live
    _pick(page, "#webcam-style", "any painting")
    page.locator("#webcam-painting-row").wait_for()
    page.locator("#webcam-painting input[type=file]").set_input_files(str(painting))
    status = _wait_status(page, "#webcam-painting-status", "statistics are ready", timeout=60)
    from fastnst.config import PAINTING_SIZE, stroke_size

    assert f"(stroke size {stroke_size(PAINTING_SIZE)})" in status  # the slider moved to the CLI's painting size
    deadline, after = time.monotonic() + 90, before
    while time.monotonic() < deadline and distance(after) >= 0.6 * distance(before):
        after = new_live_frames(page, 2)
    assert distance(after) < 0.6 * distance(before), (distance(before), distance(after))
    assert d.live.peers == {peer} and peer.live is live  # the same connection and stream: no reconnect
    assert peer.description == "warm (any painting) on cpu"

    (tmp_path / "notes.png").write_text("not a picture")
    page.locator("#webcam-painting button[aria-label='Clear']").click()
    page.locator("#webcam-painting input[type=file]").set_input_files(str(tmp_path / "notes.png"))
    assert _wait_status(page, "#webcam-painting-status", "not an image") == \
        "'notes.png' is not an image: upload a painting as a JPEG, PNG or WebP file"
    assert distance(new_live_frames(page, 2)) < 0.6 * distance(before)  # still the painting
    assert d.live.peers == {peer} and peer.live is live and peer.description == "warm (any painting) on cpu"
    assert page.outside == [], page.outside
    page.goto("about:blank")  # the page goes: its live connection closes
