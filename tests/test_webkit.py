"""The browser kit (fastnst.webkit, fastnst/kit_page/, ``fastnst export --web``) against the Python Stylizer.

Without a browser: the folder's layout, the refusals (non-empty folder, non-fastnst model, missing
onnxruntime-web files or npm), nothing half-written on failure, serve.py's headers, the page's settings
from fastnst.config, and the any-painting kit (``--arbitrary``: both graphs, example paintings, its refusals).
In a real browser (Debian Chromium through playwright, loopback only, onnxruntime-web installed from npm
into pytest's cache): the page's output canvas against fastnst.runtime.Stylizer on the CPU, the single-
threaded fallback under ``python -m http.server``, a fake camera, the page's error for foreign models, and
for any painting the page's canvas against the Stylizer with the same painting, stroke size and strength,
its painting rules against fastnst.painting's, and its message for a file that is not a painting.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from fastnst.cli import main
from fastnst.config import (
    LIVE_MAX_SIDE,
    PAINTING_MAX_SIZE,
    PAINTING_MIN_SIDE,
    PAINTING_READ_SIDE,
    PAINTING_SIZE,
    STILL_MAX_SIDE,
    STROKE_SIDES,
    painting_side,
)
from fastnst.errors import UserError
from fastnst.image import from_nchw, load_image, sample_style, save_image
from fastnst.metadata import read_metadata
from fastnst.painting import pad_frame, painting_image
from fastnst.quality import natural_image
from fastnst.runtime import Stylizer
from fastnst.styles import ARBITRARY, ARBITRARY_FAST
from fastnst.webkit import LIVE_MODEL, ORT_FILES, PAGE_FILES, SETTINGS, ort_web_dist, page_settings, write_web_kit

import fakecam

TOLERANCE = 2  # 8-bit levels: the page's canvas against the Python Stylizer
CLIP_FRAMES = 60


def foreign_onnx(path: Path) -> Path:
    """A valid ONNX model without fastnst metadata: Identity from 'image' to 'stylized'."""
    shape = ["batch", 3, "height", "width"]
    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["stylized"])], "identity",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("stylized", TensorProto.FLOAT, shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10  # what onnxruntime 1.18+ loads
    onnx.save(model, str(path))
    return path


def with_io(source: Path, path: Path, change) -> Path:
    """A copy of a fastnst export whose "io" metadata is edited by ``change(io)``."""
    proto = onnx.load(str(source))
    for entry in proto.metadata_props:
        if entry.key == "io":
            io_spec = json.loads(entry.value)
            change(io_spec)
            entry.value = json.dumps(io_spec)
    onnx.save(proto, str(path))
    return path


@pytest.fixture
def fake_dist(tmp_path) -> Path:
    """A stand-in onnxruntime-web dist folder (tiny files with the right names), for tests without npm."""
    dist = tmp_path / "onnxruntime-web" / "dist"
    dist.mkdir(parents=True)
    for name in ORT_FILES:
        (dist / name).write_text(f"// {name}\n")
    (dist.parent / "package.json").write_text(json.dumps({"name": "onnxruntime-web", "version": "9.9.9"}))
    return dist


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --------------------------------------------------------------------------- without a browser


def test_kit_layout_and_overwrite(lite_onnx, fake_dist, tmp_path):
    out = tmp_path / "site" / "kit"
    report = write_web_kit(lite_onnx, out, ort_dist=fake_dist)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([*PAGE_FILES, SETTINGS, "README.md", "model.onnx", "ort"])
    assert json.loads((out / SETTINGS).read_text()) == page_settings()  # a trained style: no example paintings
    assert sorted(p.name for p in (out / "ort").iterdir()) == sorted([*ORT_FILES, "package.json"])
    assert (out / "model.onnx").read_bytes() == lite_onnx.read_bytes()
    readme = (out / "README.md").read_text()
    assert "{{" not in readme and "test (lite)" in readme and "9.9.9" in readme and "serve.py" in readme
    assert report.style == "test" and report.preset == "lite" and report.ort_version == "9.9.9"
    assert oct(out.stat().st_mode & 0o777) != oct(0o700)  # readable by a web server running as another user
    with pytest.raises(UserError, match="not empty.*--overwrite"):
        write_web_kit(lite_onnx, out, ort_dist=fake_dist)
    (out / "extra.txt").write_text("from the old kit")
    report_wave = write_web_kit("wave", out, ort_dist=fake_dist, overwrite=True)  # a shipped style's name
    assert not (out / "extra.txt").exists()
    assert (out / "model.onnx").read_bytes() == Path(report_wave.model).read_bytes()
    assert Path(report_wave.model).name == "wave_lite.onnx"
    assert leftovers(out.parent) == []
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("mine")
    with pytest.raises(UserError, match="no web kit"):  # --overwrite replaces only an earlier kit
        write_web_kit(lite_onnx, other, ort_dist=fake_dist, overwrite=True)
    assert (other / "todo.txt").read_text() == "mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    write_web_kit(lite_onnx, empty, ort_dist=fake_dist)  # an empty folder is fine
    assert (empty / "index.html").is_file()


def test_kit_of_a_multi_style_file(mix_onnx, fake_dist, tmp_path):
    """A multi-style export makes a kit too: the whole file, whose styles the page offers (and blends)."""
    report = write_web_kit(mix_onnx, tmp_path / "kit", ort_dist=fake_dist)
    assert (tmp_path / "kit" / "model.onnx").read_bytes() == mix_onnx.read_bytes() and report.preset == "lite"
    assert "style blend" in (tmp_path / "kit" / "README.md").read_text()


def test_refusals_leave_nothing(lite_onnx, fake_dist, tmp_path, monkeypatch):
    out = tmp_path / "kit"
    with pytest.raises(UserError, match="no fastnst metadata"):
        write_web_kit(foreign_onnx(tmp_path / "foreign.onnx"), out, ort_dist=fake_dist)
    with pytest.raises(UserError, match="export it first"):
        write_web_kit(tmp_path / "model.pth", out, ort_dist=fake_dist)
    with pytest.raises(UserError, match="no style file or shipped style"):
        write_web_kit("no_such_style", out, ort_dist=fake_dist)
    (fake_dist / ORT_FILES[2]).unlink()
    with pytest.raises(UserError, match="not an onnxruntime-web dist folder"):
        write_web_kit(lite_onnx, out, ort_dist=fake_dist)
    (fake_dist / ORT_FILES[2]).write_text("restored")

    real_copy = shutil.copyfile

    def failing_copy(src, dst, *args, **kwargs):
        if str(dst).endswith(".wasm"):
            raise OSError(28, "No space left on device")
        return real_copy(src, dst, *args, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", failing_copy)
    with pytest.raises(OSError, match="No space"):
        write_web_kit(lite_onnx, out, ort_dist=fake_dist)
    assert not out.exists() and leftovers(tmp_path) == []  # nothing half-written


def test_ort_files_from_env_or_npm(fake_dist, tmp_path, monkeypatch):
    monkeypatch.setenv("FASTNST_ORT_WEB", str(fake_dist.parent))  # node_modules/onnxruntime-web also works
    assert ort_web_dist() == fake_dist
    monkeypatch.delenv("FASTNST_ORT_WEB")
    monkeypatch.setenv("FASTNST_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # no npm
    with pytest.raises(UserError, match="npm is not on PATH.*FASTNST_ORT_WEB"):
        ort_web_dist()
    assert not (tmp_path / "cache" / "onnxruntime-web").exists() or \
        leftovers(tmp_path / "cache" / "onnxruntime-web") == []


def test_cli_export_web(lite_onnx, fake_dist, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FASTNST_ORT_WEB", str(fake_dist))
    out = tmp_path / "kit"
    assert main(["export", str(lite_onnx), "--web", str(out)]) == 0
    assert f"wrote web kit {out}" in capsys.readouterr().out
    assert main(["export", str(lite_onnx), "--web", str(out)]) == 2
    assert "not empty; choose another --web DIR or add --overwrite" in capsys.readouterr().err
    assert main(["export", "wave", "--web", str(out), "--overwrite"]) == 0
    assert main(["export", str(lite_onnx), "-o", str(tmp_path / "x.onnx"), "--overwrite"]) == 2
    assert "--overwrite needs --web" in capsys.readouterr().err
    k2, onnx_out = str(tmp_path / "k2"), str(tmp_path / "x.onnx")
    assert main(["export", "wave", "--web", k2, "--int8", "--fp16", "-o", onnx_out]) == 2
    assert not (tmp_path / "k2").exists() and not (tmp_path / "x.onnx").exists()


@pytest.mark.slow
def test_cli_export_web_from_pth(fake_dist, tmp_path, monkeypatch):
    """A .pth model is exported (and checked) first; the kit's model.onnx is that export."""
    from fastnst.models import random_model, save_model_file

    monkeypatch.setenv("FASTNST_ORT_WEB", str(fake_dist))
    save_model_file(tmp_path / "mine_lite.pth", random_model("lite"), {"style": "mine"})
    out = tmp_path / "kit"
    assert main(["export", str(tmp_path / "mine_lite.pth"), "--web", str(out)]) == 0
    meta = {p.key: p.value for p in onnx.load(str(out / "model.onnx")).metadata_props}
    assert meta["style"] == "mine" and "io" in meta
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kit", "mine_lite.pth", "onnxruntime-web"]  # + fake_dist


def test_page_settings_come_from_the_config():
    """settings.json is the one config's: max-side choices and defaults, the painting rules; the default stroke
    size of a painting is --style-size's default."""
    settings = page_settings(["paintings/a.png"])
    assert settings["max_sides"] == list(STROKE_SIDES)
    assert (settings["image_max_side"], settings["camera_max_side"]) == (STILL_MAX_SIDE, LIVE_MAX_SIDE)
    rules = settings["painting"]
    assert rules["stroke_sides"] == list(STROKE_SIDES) and rules["min_side"] == PAINTING_MIN_SIDE
    assert (rules["max_size"], rules["read_side"]) == (PAINTING_MAX_SIZE, PAINTING_READ_SIDE)
    assert painting_side(rules["stroke"], 5000) == PAINTING_SIZE
    assert settings["examples"] == ["paintings/a.png"]


def painting_file(folder: Path, name: str = "paint.png", size=(300, 400)) -> Path:
    """A generated 'painting' (natural-like, not the bundled sample pattern) as a PNG."""
    path = folder / name
    save_image(path, from_nchw(natural_image(*size, seed=3)))
    return path


def test_any_painting_kit(fake_dist, tmp_path):
    """--arbitrary: the shipped frame graph as model.onnx, its statistics graph under the name the metadata gives,
    the generated sample and the user's paintings in paintings/, listed in settings.json."""
    mine = painting_file(tmp_path)
    out = tmp_path / "kit"
    report = write_web_kit(ARBITRARY, out, ort_dist=fake_dist, paintings=[mine], arbitrary=True)
    meta = read_metadata(out / "model.onnx")
    graph = meta["arbitrary"]["painting_file"]
    assert meta["arbitrary"]["role"] == "frame" and meta["io"]["input"]["multiple_of"] == 4
    assert (out / "model.onnx").read_bytes() == ARBITRARY.read_bytes()
    assert (out / graph).read_bytes() == (ARBITRARY.parent / graph).read_bytes()
    assert read_metadata(out / graph)["arbitrary"]["role"] == "painting"
    np.testing.assert_array_equal(load_image(out / "paintings" / "sample.png"), sample_style())
    assert (out / "paintings" / "paint.png").read_bytes() == mine.read_bytes()
    # webcam frames on WASM (a CPU) run wct_fast, as fastnst.styles.PREFERENCE says for live frames there
    assert (out / LIVE_MODEL).read_bytes() == ARBITRARY_FAST.read_bytes()
    assert json.loads((out / SETTINGS).read_text()) == page_settings(["paintings/sample.png", "paintings/paint.png"],
                                                                     {"model": LIVE_MODEL, "backends": ["wasm"]})
    assert report.style == "any painting" and report.preset == "arbitrary"
    assert "Any painting" in (out / "README.md").read_text()


def test_any_painting_kit_refusals(lite_onnx, fake_dist, tmp_path):
    out = tmp_path / "kit"
    with pytest.raises(UserError, match="is a trained style, not an any-painting export"):
        write_web_kit(lite_onnx, out, ort_dist=fake_dist, arbitrary=True)
    with pytest.raises(UserError, match="example paintings are for an any-painting kit"):
        write_web_kit(lite_onnx, out, ort_dist=fake_dist, paintings=[painting_file(tmp_path)])
    with pytest.raises(UserError, match="is the painting-statistics graph"):
        write_web_kit(ARBITRARY.with_name("wct.painting.onnx"), out, ort_dist=fake_dist)
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copyfile(ARBITRARY, alone / "wct.onnx")
    with pytest.raises(UserError, match="wct.painting.onnx beside it, which is missing"):
        write_web_kit(alone / "wct.onnx", out, ort_dist=fake_dist)
    with pytest.raises(UserError, match="--painting .*nope.jpg: no such file"):
        write_web_kit(ARBITRARY, out, ort_dist=fake_dist, paintings=[tmp_path / "nope.jpg"])
    (tmp_path / "notes.png").write_text("not a painting")
    with pytest.raises(UserError, match="'notes.png' is not an image"):
        write_web_kit(ARBITRARY, out, ort_dist=fake_dist, paintings=[tmp_path / "notes.png"])
    save_image(tmp_path / "strip.png", np.zeros((2, 300, 3), np.uint8))
    with pytest.raises(UserError, match="'strip.png' is only 300x2 pixels"):
        write_web_kit(ARBITRARY, out, ort_dist=fake_dist, paintings=[tmp_path / "strip.png"])
    assert not out.exists() and leftovers(tmp_path) == []


def test_cli_export_web_arbitrary(fake_dist, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FASTNST_ORT_WEB", str(fake_dist))
    out = tmp_path / "kit"
    assert main(["export", "--web", str(out), "--arbitrary", "--painting", str(painting_file(tmp_path))]) == 0
    assert f"wrote web kit {out} (any painting" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "paintings").iterdir()) == ["paint.png", "sample.png"]
    for argv, message in [
        (["export", "--web", str(tmp_path / "k2"), "--arbitrary", "-o", str(tmp_path / "x.onnx")],
         "--arbitrary writes only a web kit"),
        (["export", "--arbitrary", "-o", str(tmp_path / "x.onnx")], "--arbitrary writes a web kit that takes any "
                                                                     "painting: give --web DIR"),
        (["export", "--web", str(tmp_path / "k2")], "give MODEL"),
        (["export", "wave", "--web", str(tmp_path / "k2"), "--painting", "a.png"], "--painting offers an example"),
        (["export", "wave", "--web", str(tmp_path / "k2"), "--arbitrary"], "not an any-painting export"),
        (["export", "wave_lite.pth", "--web", str(tmp_path / "k2"), "--arbitrary"], "--arbitrary takes an "
                                                                                     "any-painting export"),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kit", "onnxruntime-web", "paint.png"]


def serve(command: list[str], cwd: Path) -> tuple[subprocess.Popen, str]:
    """Start a static server that prints its URL (port 0: a free one); returns (process, base URL)."""
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line) or re.search(r"127\.0\.0\.1 port (\d+)", line)
    if not match:
        proc.kill()
        raise AssertionError(f"no URL from {command}: {line!r}")
    return proc, f"http://127.0.0.1:{match.group(1)}/"


def test_serve_py_sends_isolation_headers(lite_onnx, fake_dist, tmp_path):
    kit = tmp_path / "kit"
    write_web_kit(lite_onnx, kit, ort_dist=fake_dist)
    proc, url = serve([sys.executable, "serve.py", "--port", "0"], kit)
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert r.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
            assert b"app.js" in r.read()
        for name, kind in (("ort/ort.wasm.min.mjs", "text/javascript"), ("ort/ort-wasm-simd-threaded.wasm",
                                                                         "application/wasm")):
            with urllib.request.urlopen(url + name, timeout=10) as r:
                assert r.headers["Content-Type"].startswith(kind), (name, r.headers["Content-Type"])
    finally:
        proc.terminate()
        proc.wait(10)


# --------------------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def real_dist(request, tmp_path_factory) -> Path:
    """onnxruntime-web from npm, installed once into pytest's cache the way ``--web`` installs it."""
    if not shutil.which("npm"):
        pytest.skip("needs npm on PATH (for onnxruntime-web)")
    cache = getattr(request.config, "cache", None)
    folder = Path(cache.mkdir("fastnst-webkit-cache")) if cache else tmp_path_factory.mktemp("webkit-cache")
    old = os.environ.get("FASTNST_CACHE")
    os.environ["FASTNST_CACHE"] = str(folder)
    try:
        return ort_web_dist()
    except UserError as e:
        if "offline" in str(e):
            pytest.skip(f"npm registry unreachable: {e}")
        raise
    finally:
        if old is None:
            os.environ.pop("FASTNST_CACHE", None)
        else:
            os.environ["FASTNST_CACHE"] = old


@pytest.fixture(scope="module")
def kit(lite_onnx, real_dist, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("webkit") / "kit"
    write_web_kit(lite_onnx, folder, ort_dist=real_dist)
    foreign_onnx(folder / "foreign.onnx")
    with_io(lite_onnx, folder / "nhwc.onnx", lambda spec: spec["input"].update(layout="NHWC"))
    (folder / "noise.onnx").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return folder


@pytest.fixture(scope="module")
def servers(kit):
    """The kit served twice on free loopback ports: serve.py (isolated: threads) and plain http.server."""
    isolated = serve([sys.executable, "serve.py", "--port", "0"], kit)
    plain = serve([sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"], kit)
    yield {"isolated": isolated[1], "plain": plain[1]}
    for proc, _ in (isolated, plain):
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium whose camera plays a changing clip; every request that leaves loopback is recorded."""
    with fakecam.camera_browser(tmp_path_factory.mktemp("webkit-browser"), frames=CLIP_FRAMES) as context:
        yield context


def open_page(browser, url: str):
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url, wait_until="load")
    page.wait_for_function("window.fastnst && window.fastnst.ready")
    return page


def canvas(page) -> np.ndarray:
    """The output canvas as uint8 RGB (through a lossless PNG)."""
    from PIL import Image

    url = page.evaluate("document.getElementById('output').toDataURL('image/png')")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.mode == "RGBA" and np.asarray(image)[..., 3].min() == 255
    return np.asarray(image.convert("RGB"))


def next_frame(page, action) -> np.ndarray:
    """Run ``action()``, wait until the page has shown a new picture and is idle; the canvas."""
    before = page.evaluate("window.fastnst.frames")
    action()
    page.wait_for_function(f"window.fastnst.frames > {before} && !window.fastnst.busy || window.fastnst.error")
    assert page.evaluate("window.fastnst.error") is None
    return canvas(page)


def set_strength(page, value: float) -> None:
    page.evaluate("v => { const s = document.getElementById('strength'); s.value = v;"
                  " s.dispatchEvent(new Event('input')); }", value)


def assert_matches(got: np.ndarray, want: np.ndarray, tolerance: int = TOLERANCE) -> float:
    assert got.shape == want.shape, (got.shape, want.shape)
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= tolerance, (diff.max(), (diff > 0).mean())
    return float((diff > 0).mean())


@functools.cache
def photo(folder: str, height: int, width: int) -> tuple[Path, np.ndarray]:
    image = from_nchw(natural_image(height, width, seed=5))
    path = Path(folder) / f"photo_{height}x{width}.png"
    save_image(path, image)
    return path, image


@pytest.mark.browser
@pytest.mark.slow
def test_page_matches_the_stylizer(browser, servers, kit, lite_onnx, tmp_path_factory):
    page = open_page(browser, servers["isolated"])
    assert page.evaluate("[window.fastnst.backend, window.fastnst.threads, crossOriginIsolated]") == \
        ["wasm", page.evaluate("Math.min(4, navigator.hardwareConcurrency)"), True]  # threads: serve.py isolates
    assert "WASM (SIMD" in page.inner_text("#status")
    assert page.evaluate("window.fastnst.style") == {"label": "model.onnx", "style": "test", "preset": "lite"}
    assert page.locator("#blend").is_hidden() and page.evaluate("window.fastnst.weights") is None  # one style
    assert page.locator("#painting").is_hidden()
    # the max side's choices and default are the config's (settings.json)
    choices = page.eval_on_selector_all("#max-side option", "os => os.map((o) => o.value)")
    assert choices == [str(side or "") for side in STROKE_SIDES]
    assert page.input_value("#max-side") == str(STILL_MAX_SIDE)
    stylizer = Stylizer(lite_onnx, device="cpu")
    folder = str(tmp_path_factory.mktemp("photos"))
    path, image = photo(folder, 97, 131)  # odd sizes

    got = next_frame(page, lambda: page.set_input_files("#image-file", str(path)))
    want = stylizer.stylize(image)
    assert np.abs(want.astype(int) - image).mean() > 20  # the style changes the picture: this test can fail
    assert_matches(got, want)
    got = next_frame(page, lambda: set_strength(page, 0.6))
    assert_matches(got, stylizer.stylize(image, strength=0.6))
    got = next_frame(page, lambda: page.check("#keep-colours"))
    assert_matches(got, stylizer.stylize(image, strength=0.6, preserve_color=True))
    got = next_frame(page, lambda: set_strength(page, 0.0))
    np.testing.assert_array_equal(got, image)

    # max side: the page shrinks (INTER_AREA) and enlarges back (INTER_CUBIC) as OpenCV does
    set_strength(page, 1.0)
    page.uncheck("#keep-colours")
    path, image = photo(folder, 289, 401)
    page.select_option("#max-side", "384")
    got = next_frame(page, lambda: page.set_input_files("#image-file", str(path)))
    assert_matches(got, stylizer.stylize(image, max_side=384))
    assert page.errors == [] and browser.outside == []


def set_mix(page, value: float) -> None:
    page.evaluate("v => { const s = document.getElementById('mix'); s.value = v;"
                  " s.dispatchEvent(new Event('input')); }", value)


@pytest.mark.browser
@pytest.mark.slow
def test_page_runs_a_blend_of_a_multi_style_model(browser, servers, kit, mix_onnx, tmp_path):
    """A multi-style export: a style, a second style and the mix feed its weights input, as Stylizer.set_style."""
    shutil.copyfile(mix_onnx, kit / "mix.onnx")
    page = open_page(browser, f"{servers['isolated']}?model=mix.onnx")
    assert page.locator("#blend").is_visible() and page.evaluate("window.fastnst.weights") == [1.0, 0.0]
    assert page.locator("#mix").is_disabled()  # until a second style is picked
    path, image = photo(str(tmp_path), 97, 131)
    got = next_frame(page, lambda: page.set_input_files("#image-file", str(path)))
    assert_matches(got, Stylizer(mix_onnx, device="cpu").stylize(image))  # its first style
    got = next_frame(page, lambda: (page.select_option("#mix-select", "b"), set_mix(page, 0.3)))
    assert np.allclose(page.evaluate("window.fastnst.weights"), [0.7, 0.3])
    want = Stylizer(mix_onnx, device="cpu", blend={"a": 0.7, "b": 0.3}).stylize(image)
    assert np.abs(want.astype(int) - Stylizer(mix_onnx, device="cpu").stylize(image)).mean() > 5  # can fail
    assert_matches(got, want)
    got = next_frame(page, lambda: page.select_option("#style-select", "b"))  # b alone: no second style left
    assert page.input_value("#mix-select") == "" and page.evaluate("window.fastnst.weights") == [0.0, 1.0]
    assert_matches(got, Stylizer(mix_onnx, device="cpu", blend="b").stylize(image))
    assert page.errors == [] and browser.outside == []


@pytest.mark.browser
@pytest.mark.slow
def test_plain_static_server_runs_single_threaded(browser, servers, lite_onnx, tmp_path):
    """``python -m http.server`` sends no COOP/COEP: the page runs WASM on one thread, offline, and says so."""
    page = open_page(browser, servers["plain"])
    assert page.evaluate("[window.fastnst.backend, window.fastnst.threads, crossOriginIsolated]") == \
        ["wasm", 1, False]
    assert "1 thread, not cross-origin isolated" in page.inner_text("#status")
    path, image = photo(str(tmp_path), 97, 131)
    got = next_frame(page, lambda: page.set_input_files("#image-file", str(path)))
    assert_matches(got, Stylizer(lite_onnx, device="cpu").stylize(image))
    assert page.errors == [] and browser.outside == []


@pytest.mark.browser
@pytest.mark.slow
def test_webcam_frames_arrive_and_change(browser, servers):
    page = open_page(browser, servers["isolated"])
    assert page.input_value("#max-side") == str(STILL_MAX_SIDE)
    page.click("#camera-start")
    page.wait_for_function("window.fastnst.frames >= 3")
    assert page.input_value("#max-side") == str(LIVE_MAX_SIDE)  # the webcam's default (fastnst webcam's)
    seen = []
    for _ in range(4):
        start = page.evaluate("window.fastnst.frames")
        page.wait_for_function(f"window.fastnst.frames > {start}")
        seen.append(canvas(page))
    assert all(im.shape == (240, 320, 3) for im in seen)
    changes = [np.abs(a.astype(int) - b).mean() for a, b in zip(seen, seen[1:])]
    assert all(c > 1.0 for c in changes), changes  # a new picture each time
    clip = np.stack([fakecam.frame(i, 320, 240, CLIP_FRAMES) for i in range(CLIP_FRAMES)]).astype(int)
    nearest = [np.abs(clip - im).mean(axis=(1, 2, 3)).min() for im in seen]
    assert min(nearest) > 30, nearest  # stylized, not the camera picture
    assert re.search(r"[\d.]+ frames/s · 320x240", page.inner_text("#status"))

    set_strength(page, 0.0)  # the camera frame itself: its counter says the frames keep coming
    page.wait_for_timeout(500)
    counters = []
    for _ in range(4):
        start = page.evaluate("window.fastnst.frames")
        page.wait_for_function(f"window.fastnst.frames > {start}")
        image = canvas(page)
        index = int(np.abs(clip - image).mean(axis=(1, 2, 3)).argmin())
        assert np.abs(clip[index] - image).mean() < 15 and fakecam.read_counter(image) == index
        counters.append(index)
    assert len(set(counters)) >= 3, counters
    page.click("#camera-stop")
    assert page.errors == [] and browser.outside == []


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("model, message", [
    ("foreign.onnx", "foreign.onnx is not a fastnst style: it has no fastnst metadata"),
    ("nhwc.onnx", 'nhwc.onnx does not match this page: input layout is "NHWC", the page needs "NCHW"'),
    ("noise.onnx", "it is not an ONNX model"),
])
def test_page_refuses_other_models(browser, servers, kit, model, message):
    page = open_page(browser, f"{servers['isolated']}?model={model}")
    page.locator("#error").wait_for(state="visible")
    assert message in page.inner_text("#error")
    assert page.inner_text("#status") == "error"
    # the same refusal for a file picked in the page; the loaded style stays usable
    page = open_page(browser, servers["isolated"])
    page.set_input_files("#model-file", str(kit / model))
    page.locator("#error").wait_for(state="visible")
    assert message.replace(model, model) in page.inner_text("#error")
    assert page.evaluate("window.fastnst.style.label") == "model.onnx"
    assert page.errors == [] and browser.outside == []


@pytest.mark.browser
@pytest.mark.slow
def test_page_resizes_as_opencv(browser, servers):
    """The page's INTER_AREA and INTER_CUBIC (max side) against fastnst.image.resize, on noise.

    The page computes OpenCV's own algorithms (equal to cv2 with cv2.ipp.setUseIPP(False) on all but
    3e-5 of the values); opencv-python's default IPP cubic rounds differently on about 5% of them.
    """
    from fastnst.image import resize

    page = open_page(browser, servers["isolated"])
    image = np.random.default_rng(1).integers(0, 256, (61, 83, 3), dtype=np.uint8)
    rgba = np.concatenate([image, np.full((61, 83, 1), 255, np.uint8)], axis=2)
    sizes = [(41, 30), (40, 29), (83 // 3, 61 // 3), (20, 15), (1, 1), (120, 90), (167, 123), (83, 200), (50, 61)]
    results = page.evaluate("""async ([b64, w, h, sizes]) => {
        const { resize } = await import('./app.js');
        const data = Uint8ClampedArray.from(atob(b64), (c) => c.charCodeAt(0));
        return sizes.map(([dw, dh]) => Array.from(resize({ width: w, height: h, data }, dw, dh).data));
    }""", [base64.b64encode(rgba.tobytes()).decode(), 83, 61, sizes])
    for (w, h), got in zip(sizes, results):
        got = np.array(got, np.uint8).reshape(h, w, 4)[..., :3]
        want = resize(image, (w, h))
        diff = np.abs(got.astype(int) - want)
        share = 0.01 if w <= 83 and h <= 61 else 0.06  # INTER_AREA, INTER_CUBIC (IPP's rounding)
        assert diff.max() <= 1 and (diff > 0).mean() < share, ((w, h), diff.max(), (diff > 0).mean())


# --------------------------------------------------------------------------- any painting, in a real browser


@pytest.fixture(scope="module")
def any_kit(real_dist, tmp_path_factory) -> Path:
    """The any-painting kit of the shipped pair (``fastnst export --web DIR --arbitrary``)."""
    folder = tmp_path_factory.mktemp("webkit-any") / "kit"
    write_web_kit(ARBITRARY, folder, ort_dist=real_dist, arbitrary=True)
    return folder


@pytest.fixture(scope="module")
def any_server(any_kit):
    proc, url = serve([sys.executable, "serve.py", "--port", "0"], any_kit)
    yield url
    proc.terminate()
    proc.wait(10)


def set_range(page, selector: str, value, event: str) -> None:
    page.evaluate("([sel, v, ev]) => { const s = document.querySelector(sel); s.value = v;"
                  " s.dispatchEvent(new Event(ev)); }", [selector, str(value), event])


@pytest.mark.browser
@pytest.mark.slow
def test_any_painting_page_matches_the_stylizer(browser, any_server, tmp_path):
    """Pick a painting, stylize a photo: the canvas equals the Stylizer on the shipped pair with the same painting,
    stroke size (the painting's size, config.painting_side) and style strength; a bad file is a message."""
    page = open_page(browser, any_server)  # starts with the generated sample, at the default stroke size
    assert page.evaluate("window.fastnst.error") is None
    assert page.locator("#painting").is_visible() and page.inner_text("#strength-label") == "Style strength"
    assert page.evaluate("window.fastnst.painting")["name"] == "sample.png"
    assert page.evaluate("window.fastnst.painting")["size"] == PAINTING_SIZE
    stroke = len(STROKE_SIDES)  # the smallest painting: quick
    set_range(page, "#stroke", stroke, "input")
    painting = painting_file(tmp_path)
    size = painting_side(stroke, 400)
    page.set_input_files("#painting-file", str(painting))
    page.wait_for_function("window.fastnst.painting.name === 'paint.png' || window.fastnst.error")
    got_painting = page.evaluate("window.fastnst.painting")
    assert (got_painting["height"], got_painting["width"]) == painting_image(painting, size).shape[:2]

    path, image = photo(str(tmp_path), 97, 131)  # odd sides: padded to the metadata's multiple
    got = next_frame(page, lambda: page.set_input_files("#image-file", str(path)))
    stylizer = Stylizer(ARBITRARY, device="cpu", painting=painting, style_size=size)
    want = stylizer.stylize(image)
    sample = Stylizer(ARBITRARY, device="cpu", painting=sample_style(), style_size=size).stylize(image)
    assert np.abs(want.astype(int) - sample).mean() > 5  # the painting matters: this test can fail
    assert_matches(got, want)
    got = next_frame(page, lambda: set_range(page, "#strength", 0.6, "input"))
    stylizer.set_style_strength(0.6)
    assert_matches(got, stylizer.stylize(image))

    (tmp_path / "notes.png").write_text("not a painting")
    page.set_input_files("#painting-file", str(tmp_path / "notes.png"))
    page.locator("#error").wait_for(state="visible")
    assert "'notes.png' is not an image: pick a painting as a JPEG, PNG or WebP file" in page.inner_text("#error")
    save_image(tmp_path / "strip.png", np.full((8, 400, 3), 128, np.uint8))
    page.set_input_files("#painting-file", str(tmp_path / "strip.png"))
    page.wait_for_function("document.getElementById('error').textContent.includes('strip.png')")
    assert f"give a painting at least {PAINTING_MIN_SIDE} px on each side" in page.inner_text("#error")
    assert page.evaluate("window.fastnst.painting.name") == "paint.png"  # the painting before stays
    assert page.errors == [] and browser.outside == []


@pytest.mark.browser
@pytest.mark.slow
def test_page_painting_rules_match_painting_py(browser, servers, tmp_path):
    """The page's paintingImage, paintingSide and padFrame against fastnst.painting's painting_image, the config's
    painting_side and pad_frame (the rules from settings.json: read side, min side; the multiple of 4 from the
    metadata), messages included."""
    page = open_page(browser, servers["isolated"])
    rules = page.evaluate("fetch('settings.json').then((r) => r.json())")["painting"]
    cases = [((61, 83), 40), ((300, 400), 384), ((50, 1100), 512), ((5, 40), 64), ((30, 900), 256)]
    for k, ((h, w), size) in enumerate(cases):
        rgb = np.random.default_rng(k).integers(0, 256, (h, w, 3), dtype=np.uint8)
        save_image(tmp_path / f"p{k}.png", rgb)
        rgba = np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], axis=2)
        got = page.evaluate("""async ([b64, w, h, size, rules, name]) => {
            const { paintingImage } = await import('./app.js');
            const data = Uint8ClampedArray.from(atob(b64), (c) => c.charCodeAt(0));
            try {
              const out = paintingImage({ width: w, height: h, data }, size, 4, rules, name);
              return { width: out.width, height: out.height, data: Array.from(out.data) };
            } catch (e) { return { error: e.message }; }
        }""", [base64.b64encode(rgba.tobytes()).decode(), w, h, size, rules, f"p{k}.png"])
        try:
            want = painting_image(tmp_path / f"p{k}.png", size)
        except UserError as e:
            assert "error" in got and f"'p{k}.png'" in got["error"] and "pixels" in got["error"], (k, got, e)
            continue
        assert "error" not in got, (k, got)
        pixels = np.array(got["data"], np.uint8).reshape(got["height"], got["width"], 4)[..., :3]
        assert pixels.shape == want.shape and pixels.shape[0] % 4 == 0 and pixels.shape[1] % 4 == 0
        diff = np.abs(pixels.astype(int) - want)
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (k, diff.max(), (diff > 0).mean())
    sides = page.evaluate("""async ([rules, owns]) => {
        const { paintingSide } = await import('./app.js');
        return owns.map((own) => rules.stroke_sides.map((_, k) => paintingSide(k + 1, own, rules)));
    }""", [rules, [10, 400, 5000]])
    assert sides == [[painting_side(k, own) for k in range(1, len(STROKE_SIDES) + 1)] for own in (10, 400, 5000)]
    for h, w in [(5, 7), (97, 131), (16, 16), (3, 40)]:
        rgb = np.random.default_rng(h * w).integers(0, 256, (h, w, 3), dtype=np.uint8)
        rgba = np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], axis=2)
        got = page.evaluate("""async ([b64, w, h, min]) => {
            const { padFrame } = await import('./app.js');
            const data = Uint8ClampedArray.from(atob(b64), (c) => c.charCodeAt(0));
            const out = padFrame({ width: w, height: h, data }, 4, min);
            return { width: out.width, height: out.height, data: Array.from(out.data) };
        }""", [base64.b64encode(rgba.tobytes()).decode(), w, h, rules["min_side"]])
        padded, _ = pad_frame(rgb.transpose(2, 0, 1)[None].astype(np.float32))
        want = padded[0].transpose(1, 2, 0).astype(np.uint8)
        np.testing.assert_array_equal(np.array(got["data"], np.uint8).reshape(got["height"], got["width"], 4)[..., :3],
                                      want)
    # an any-painting file picked from the disk cannot bring its statistics graph: the page says what to do
    page.set_input_files("#model-file", str(ARBITRARY))
    page.locator("#error").wait_for(state="visible")
    assert "wct.onnx runs any painting with wct.painting.onnx beside it" in page.inner_text("#error")
    assert page.evaluate("window.fastnst.style.label") == "model.onnx"  # the style before stays
    assert page.errors == []


STYLIZE_JS = """async ([b64, width, height, minSide]) => {
  const rgba = Uint8ClampedArray.from(atob(b64), (c) => c.charCodeAt(0));
  const out = await window.fastnst.stylize({ width, height, data: rgba }, { live: true, minSide });
  let text = "";
  for (const v of out.data) text += String.fromCharCode(v);
  return btoa(text);
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_any_painting_kit_runs_webcam_frames_with_its_live_graph(browser, any_server, tmp_path):
    """The shipped pair's kit on WASM: a webcam frame runs live.onnx (wct_fast, what 'fastnst webcam -s
    painting.jpg' runs on a CPU) with the statistics of the painting the page took: the same pixels as the
    Stylizer on wct_fast, not the three-level file's; the camera loop says it ran that graph."""
    page = open_page(browser, any_server)  # the generated sample painting, at the default stroke size
    if page.evaluate("window.fastnst.backend") != "wasm":
        pytest.skip("the live graph is for WASM, and this browser has a WebGPU adapter")
    _, image = photo(str(tmp_path), 97, 131)
    rgba = np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2)
    b64 = page.evaluate(STYLIZE_JS, [base64.b64encode(rgba.tobytes()).decode(), 131, 97, PAINTING_MIN_SIDE])
    got = np.frombuffer(base64.b64decode(b64), np.uint8).reshape(97, 131, 4)[..., :3]
    want = Stylizer(ARBITRARY_FAST, device="cpu", painting=sample_style(), style_size=PAINTING_SIZE).stylize(image)
    three = Stylizer(ARBITRARY, device="cpu", painting=sample_style(), style_size=PAINTING_SIZE).stylize(image)
    assert np.abs(want.astype(int) - three).mean() > 2  # the two graphs differ: this test can fail
    assert_matches(got, want)
    page.click("#camera-start")
    page.wait_for_function("window.fastnst.frames >= 2 || window.fastnst.error")
    assert page.evaluate("window.fastnst.error") is None
    assert page.evaluate("window.fastnst.cameraGraph") == LIVE_MODEL
    page.click("#camera-stop")
    assert page.errors == [] and browser.outside == []
