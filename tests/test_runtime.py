"""fastnst.runtime: the torch-free onnxruntime Stylizer, on a small exported lite model."""

import os
import subprocess
import sys

import numpy as np
import pytest

from fastnst.errors import UserError
from fastnst.image import _to_yiq, from_nchw, to_nchw
from fastnst.quality import natural_image, psnr
from fastnst.runtime import Stylizer, _starts, load_style


@pytest.fixture(scope="module")
def onnx_path(lite_onnx):
    return lite_onnx


@pytest.fixture(scope="module")
def stylizer(onnx_path):
    return Stylizer(onnx_path, device="cpu")


def image(h, w, seed=0):
    return from_nchw(natural_image(h, w, seed=seed))


def test_import_does_not_load_torch():
    code = "import sys, fastnst.runtime; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_output_equals_raw_onnx(stylizer, onnx_path):
    import onnxruntime as ort

    frame = image(97, 131)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (raw,) = session.run(["stylized"], {"image": to_nchw(frame)})
    out = stylizer.stylize(frame)
    assert out.dtype == np.uint8 and out.shape == (97, 131, 3)
    np.testing.assert_array_equal(out, from_nchw(raw))


def test_gray_and_rgba(stylizer):
    rgb = image(64, 80)
    gray = rgb[..., 1].copy()
    out = stylizer.stylize(gray)
    assert out.shape == (64, 80, 3)
    np.testing.assert_array_equal(out, stylizer.stylize(np.repeat(gray[..., None], 3, axis=2)))
    rgba = np.concatenate([rgb, np.full((64, 80, 1), 7, np.uint8)], axis=2)
    np.testing.assert_array_equal(stylizer.stylize(rgba), stylizer.stylize(rgb))
    with pytest.raises(UserError, match=r"^frames: expected a uint8 array of shape \(H, W\), \(H, W, 3\) or \(H, W, 4"):
        stylizer.stylize(np.zeros((8, 8, 2), np.uint8))
    with pytest.raises(UserError, match="got float32"):
        stylizer.stylize_batch([rgb.astype(np.float32)])


def test_strength(stylizer):
    frame = image(70, 90, seed=1)
    np.testing.assert_array_equal(stylizer.stylize(frame, strength=0), frame)
    full = stylizer.stylize(frame).astype(int)
    half = stylizer.stylize(frame, strength=0.5).astype(int)
    lo, hi = np.minimum(frame, full), np.maximum(frame, full)
    assert np.all(half >= lo - 1) and np.all(half <= hi + 1)
    assert np.abs(half - (frame.astype(int) + full) / 2).max() <= 1
    for bad in (-0.1, 1.5):
        with pytest.raises(UserError):
            stylizer.stylize(frame, strength=bad)


def test_preserve_color_keeps_chroma(stylizer):
    frame = image(80, 100, seed=2)
    plain = _to_yiq(stylizer.stylize(frame))
    kept = _to_yiq(stylizer.stylize(frame, preserve_color=True))
    original = _to_yiq(frame)
    err_kept = np.abs(kept[..., 1:] - original[..., 1:]).mean()
    err_plain = np.abs(plain[..., 1:] - original[..., 1:]).mean()
    assert err_kept < 0.02 and err_kept < err_plain / 3


def test_max_side_keeps_size(stylizer):
    frame = image(120, 170, seed=3)
    out = stylizer.stylize(frame, max_side=64)
    assert out.shape == frame.shape and out.dtype == np.uint8
    # a no-op max_side gives the plain result
    np.testing.assert_array_equal(stylizer.stylize(frame, max_side=500), stylizer.stylize(frame))


def test_tiled_close_to_untiled_without_seams(stylizer):
    frame = image(300, 400, seed=3)
    whole = stylizer.stylize(frame).astype(float)
    tiled = stylizer.stylize(frame, tile=160, tile_overlap=32).astype(float)
    assert tiled.shape == whole.shape
    # Instance norm normalises each tile on its own statistics; with this random-weight
    # model the mean difference measured 23.6 / 255 (vs 30 / 255 between two different images).
    assert np.abs(tiled - whole).mean() < 28
    # No seams: the gradient at the tiles' edges (ramp ends) is not above the average.
    gx = np.abs(np.diff(tiled, axis=1)).mean(axis=(0, 2))
    gy = np.abs(np.diff(tiled, axis=0)).mean(axis=(1, 2))
    xs, ys = _starts(400, 160, 32)[1:], _starts(300, 160, 32)[1:]
    cols = sorted({x - 1 for x in xs} | {x + 31 for x in xs})
    rows = sorted({y - 1 for y in ys} | {y + 31 for y in ys})
    assert gx[cols].max() < 1.3 * gx.mean()  # measured 0.74 (hard-edged tiles: 3.3)
    assert gy[rows].max() < 1.3 * gy.mean()


def test_batch_equals_single(stylizer):
    frames = [image(50, 60, seed=s) for s in range(3)]
    batch = stylizer.stylize_batch(frames)
    assert len(batch) == 3
    for f, b in zip(frames, batch):
        assert np.abs(b.astype(int) - stylizer.stylize(f).astype(int)).max() <= 1
    with pytest.raises(UserError):
        stylizer.stylize_batch([frames[0], image(40, 60)])


def test_devices(onnx_path):
    from fastnst.runtime_devices import DEVICES
    from fastnst.styles import choose

    for name, device in DEVICES.items():  # every device of the table: it runs there, or says why not
        try:
            s = Stylizer(onnx_path, device=name, threads=1)
        except UserError as e:
            assert "unknown device" not in str(e) and name in ("tensorrt", "cuda", "openvino"), str(e)
        else:
            assert (s.device, s.provider) == (name, device.provider)
    with pytest.raises(UserError, match="unknown device 'bogus'"):
        Stylizer(onnx_path, device="bogus")
    auto = Stylizer(onnx_path, threads=1)
    assert auto.device == choose(onnx_path).device.name  # "auto": the one choice's device
    assert auto.provider == DEVICES[auto.device].provider


def test_a_style_by_name_on_the_cpu_opens_only_the_file_it_runs(monkeypatch):
    """Stylizer("wave") with "auto" on a CPU: its plain lite file only, not first the GPU's uint8-I/O copy."""
    import onnxruntime as ort

    import fastnst.styles

    monkeypatch.setattr(fastnst.styles, "openvino_installed", lambda: False, raising=False)  # onnxruntime only
    opened, real = [], ort.InferenceSession

    def recording(path, *args, **kwargs):
        opened.append(os.path.basename(os.fspath(path)))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", recording)
    s = Stylizer("wave")
    if s.device != "cpu":
        pytest.skip(f"a GPU loads here ({s.device})")
    assert os.path.basename(s.path) == "wave_lite.onnx"
    assert set(opened) == {"wave_lite.onnx"}, opened


def test_cpu_speeds_are_measured_once_per_machine_and_kept(tmp_path, monkeypatch):
    import json

    import fastnst.runtime_devices as rd
    from fastnst.styles import PRETRAINED

    monkeypatch.setenv("FASTNST_CACHE", str(tmp_path / "cache"))
    lite, broken = PRETRAINED / "wave_lite.onnx", tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    (ms, none) = rd.cpu_speeds([(lite, rd.CPU), (broken, rd.CPU)])
    assert ms > 0 and none is None
    kept = json.loads((tmp_path / "cache" / "runtime_speed.json").read_text())
    (machine, entries), = kept.items()
    assert f"{os.cpu_count()} CPUs" in machine and "onnxruntime" in machine
    assert list(entries) == [f"{rd._digest(str(lite))} cpu 320x240"]  # by content; a failure is not kept

    def measure(candidates):
        raise AssertionError("measured again")

    monkeypatch.setattr(rd, "_measure", measure)
    assert rd.cpu_speeds([(lite, rd.CPU)]) == [pytest.approx(ms, abs=1e-3)]
    with pytest.raises(ValueError):
        rd.cpu_speeds([(lite, rd.CUDA)])


def test_missing_file(tmp_path):
    with pytest.raises(UserError):
        Stylizer(tmp_path / "nope.onnx")
    with pytest.raises(UserError):
        Stylizer("no_such_style")


def test_metadata_and_repr(stylizer):
    assert stylizer.style == "test" and stylizer.preset == "lite"
    assert stylizer.metadata["style"] == "test" and isinstance(stylizer.metadata["io"], dict)
    assert "test" in repr(stylizer) and "CPUExecutionProvider" in repr(stylizer)


def test_io_binding_path_equals_plain_run(lite_onnx):
    """The IO-binding path used on CUDA/TensorRT gives the plain path's results (forced here on the CPU)."""
    plain = Stylizer(lite_onnx, device="cpu")
    assert plain._io_binding is False  # the CPU path stays a plain session.run
    bound = Stylizer(lite_onnx, device="cpu")
    bound._io_binding = True
    frame = from_nchw(natural_image(97, 131, seed=2))
    np.testing.assert_array_equal(bound.stylize(frame), plain.stylize(frame))
    np.testing.assert_array_equal(bound.stylize(frame, tile=64, tile_overlap=16),
                                  plain.stylize(frame, tile=64, tile_overlap=16))
    for got, want in zip(bound.stylize_batch([frame, frame[::-1].copy()]),
                         plain.stylize_batch([frame, frame[::-1].copy()])):
        np.testing.assert_array_equal(got, want)
    x = natural_image(33, 45)
    first, second = bound._infer_float(x), bound._infer_float(x)
    assert not np.shares_memory(first, second)  # each run returns a new array
    np.testing.assert_array_equal(first, plain._infer_float(x))


# --------------------------------------------------------------------------- uint8 I/O, shipped copies, OpenVINO


@pytest.fixture(scope="module")
def uint8_onnx(lite_onnx, tmp_path_factory):
    from fastnst.uint8io import export_uint8_io

    path = tmp_path_factory.mktemp("u8") / "test_lite.uint8io.onnx"
    export_uint8_io(lite_onnx, path)
    return path


def test_uint8_io_model_equals_float_model(lite_onnx, uint8_onnx):
    """The Stylizer runs a uint8-I/O file like its float original: within one 8-bit level, every path."""
    plain, u8 = Stylizer(lite_onnx, device="cpu"), Stylizer(uint8_onnx, device="cpu")
    assert u8.uint8_io and not plain.uint8_io
    frame = from_nchw(natural_image(97, 131, seed=4))

    def close(a, b):
        assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).max() <= 1

    close(u8.stylize(frame), plain.stylize(frame))
    close(u8.stylize(frame, strength=0.5, preserve_color=True, max_side=64),
          plain.stylize(frame, strength=0.5, preserve_color=True, max_side=64))
    close(u8.stylize(frame, tile=64, tile_overlap=16), plain.stylize(frame, tile=64, tile_overlap=16))
    frames = [frame, frame[::-1].copy()]
    for got, want in zip(u8.stylize_batch(frames), plain.stylize_batch(frames)):
        close(got, want)
    bound = Stylizer(uint8_onnx, device="cpu")
    bound._io_binding = True  # the GPU path, binding the uint8 buffers (forced here on the CPU)
    np.testing.assert_array_equal(bound.stylize(frame), u8.stylize(frame))
    first, second = bound.stylize(frame), bound.stylize(frame)
    assert not np.shares_memory(first, second)


def test_a_shipped_style_by_name_runs_the_tables_copy():
    from fastnst.styles import PRETRAINED, best_variant, pick, style_file

    for name in ("wave", "wave_lite"):
        s = Stylizer(name, device="cpu")
        assert s.path == str(best_variant(pick(name), "cpu").path)
        assert (s.style, s.preset) == ("wave", "lite")
    exact = Stylizer("wave_lite.int8.onnx", device="cpu")  # a file name runs exactly that file
    assert exact.path == str(PRETRAINED / "wave_lite.int8.onnx") and exact.metadata["precision"] == "int8"
    assert Stylizer(PRETRAINED / "wave_lite.onnx", device="cpu").path == str(PRETRAINED / "wave_lite.onnx")
    assert style_file(load_style("wave", "stream", device="cpu").path) == best_variant(pick("wave"), "cpu")


def test_openvino_device(lite_onnx, uint8_onnx, monkeypatch):
    import builtins
    import importlib.util

    frame = from_nchw(natural_image(61, 83, seed=1))
    if importlib.util.find_spec("openvino") is not None:
        ov = Stylizer(lite_onnx, device="openvino")
        assert (ov.device, ov.provider) == ("openvino", "OpenVINO")
        want = Stylizer(lite_onnx, device="cpu").stylize(frame) / 255.0  # fp32 both: rounding-order differences
        assert psnr(ov.stylize(frame) / 255.0, want) >= 40
        assert psnr(Stylizer(uint8_onnx, device="openvino").stylize(frame) / 255.0, want) >= 40
        assert Stylizer("wave", device="openvino").uint8_io  # the table: the uint8-I/O copy on OpenVINO
    real_import = builtins.__import__

    def no_openvino(name, *args, **kwargs):
        if name == "openvino" or name.startswith("openvino."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_openvino)
    with pytest.raises(UserError, match="pip install openvino") as err:
        Stylizer(lite_onnx, device="openvino")  # never a silent fallback to onnxruntime
    assert "\n" not in str(err.value)


def test_a_stylizer_without_spinning_threads_gives_the_same_pictures(onnx_path):
    calm = Stylizer(onnx_path, device="cpu", spin=False)
    options = calm.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    frame = from_nchw(natural_image(72, 96, seed=4))
    np.testing.assert_array_equal(calm.stylize(frame), Stylizer(onnx_path, device="cpu").stylize(frame))
    assert load_style(onnx_path, "video", device="cpu", spin=False).spin is False


# ----------------------------------------------------------------------------- multi-style files


@pytest.fixture(scope="module")
def multi_onnx(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from fastnst.export import export_onnx
    from fastnst.models import create_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = create_model("lite", num_styles=3)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.1)
    folder = tmp_path_factory.mktemp("multi")
    export_onnx(model.eval(), folder / "multi.onnx", {"styles": ["a", "b", "c"]}, check=False)
    export_onnx(model, folder / "ac.onnx", {"styles": ["a", "b", "c"]}, check=False, blend={"a": 0.5, "c": 0.5})
    return folder


def test_a_blend_set_on_a_multi_style_file_equals_the_export_of_that_blend(multi_onnx):
    frame = np.random.default_rng(0).integers(0, 256, (45, 61, 3), dtype=np.uint8)
    multi = Stylizer(multi_onnx / "multi.onnx", device="cpu")
    assert multi.styles == ["a", "b", "c"] and multi.style == "a"
    first = multi.stylize(frame)
    multi.set_style("a+c")
    assert multi.style == "a+c" and multi.style_weights.tolist() == [0.5, 0.0, 0.5]
    fixed = Stylizer(multi_onnx / "ac.onnx", device="cpu")
    assert fixed.styles == [] and fixed.style == "a+c"
    assert np.array_equal(multi.stylize(frame), fixed.stylize(frame))
    assert np.abs(first.astype(int) - fixed.stylize(frame)).max() > 10  # a different style
    multi.set_style({"a": 2.0, "b": 0.0, "c": 2.0})  # weights are scaled to sum to 1
    assert np.array_equal(multi.stylize(frame), fixed.stylize(frame))
    assert np.array_equal(Stylizer(multi_onnx / "multi.onnx", device="cpu", blend="c:1,a:1").stylize(frame),
                          fixed.stylize(frame))


def test_set_style_errors(multi_onnx):
    multi = Stylizer(multi_onnx / "multi.onnx", device="cpu")
    for bad in ("d", "a:-1,b:1", "a:0,b:0", "a+a"):
        with pytest.raises(UserError) as e:
            multi.set_style(bad)
        assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="nothing to blend"):
        Stylizer(multi_onnx / "ac.onnx", device="cpu").set_style("a")
