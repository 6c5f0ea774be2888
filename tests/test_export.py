"""ONNX export: parity with PyTorch at odd sizes and batch > 1, metadata, atomicity, the CLI."""

import os
import shutil
import subprocess

import numpy as np
import pytest
import torch

import fastnst.export
from fastnst.cli import main
from fastnst.export import IO_SPEC, export_onnx
from fastnst.metadata import read_metadata
from fastnst.models import load_model_file, random_model, save_model_file
from fastnst.quality import natural_image, psnr

from helpers import one_line_error

META = {"style": "mosaic", "loss_net": "random-vgg16", "image_size": 256, "iterations": 0, "style_layers": ["relu1_2"]}


def perturbed(preset: str, seed: int = 0):
    """A fresh model with seeded weight noise, so that the output is not trivial."""
    return random_model(preset, seed)


def run_onnx(path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == [IO_SPEC["input"]["name"]]
    assert [o.name for o in session.get_outputs()] == [IO_SPEC["output"]["name"]]
    (y,) = session.run(None, {"image": x})
    return y


def run_torch(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One lite model file, exported once through the CLI; shared by the tests below."""
    folder = tmp_path_factory.mktemp("export")
    model_path = folder / "lite.pth"
    save_model_file(model_path, perturbed("lite"), META)
    onnx_path = folder / "lite.onnx"
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["export", str(model_path), "-o", str(onnx_path)])
    assert rc == 0
    return model_path, onnx_path, out.getvalue()


def test_cli_export_prints_only_our_lines(exported):
    _, onnx_path, stdout = exported
    lines = stdout.strip().splitlines()
    assert lines[-1] == f"wrote {onnx_path}"
    assert len(lines) <= 3 and "max abs diff" in lines[0], stdout
    assert [p for p in os.listdir(onnx_path.parent) if p.startswith(".")] == []  # no temp files left


@pytest.mark.parametrize("size", [(97, 131), (333, 517), (1, 1), (7, 300)])
def test_parity_at_odd_sizes(exported, size):
    model_path, onnx_path, _ = exported
    model, _ = load_model_file(model_path)
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.random((1, 3, *size), dtype=np.float32), natural_image(*size, seed=3)])
    got, want = run_onnx(onnx_path, x), run_torch(model, x)
    assert got.shape == want.shape == x.shape and got.dtype == np.float32
    assert np.abs(got - want).max() <= 1e-4
    assert got.min() >= 0 and got.max() <= 1


def test_dynamic_batch(exported):
    model_path, onnx_path, _ = exported
    model, _ = load_model_file(model_path)
    x = np.concatenate([natural_image(64, 80, seed=5), natural_image(64, 80, seed=6)])
    got = run_onnx(onnx_path, x)
    assert got.shape == (2, 3, 64, 80)
    np.testing.assert_allclose(got, run_torch(model, x), atol=1e-4)
    np.testing.assert_allclose(got[1:], run_onnx(onnx_path, x[1:]), atol=1e-5)  # batch items are independent


def test_metadata_round_trip(exported):
    _, onnx_path, _ = exported
    meta = read_metadata(onnx_path)
    assert meta["preset"] == "lite" and meta["style"] == "mosaic" and meta["precision"] == "fp32"
    assert meta["io"] == IO_SPEC
    assert meta["training"] == META
    assert meta["model_config"]["block"] == "dwsep" and meta["model_config"]["down_channels"] == [32, 64]
    from fastnst import __version__
    assert meta["fastnst_version"] == __version__


def test_info_command(exported, capsys):
    _, onnx_path, _ = exported
    assert main(["info", str(onnx_path)]) == 0
    out = capsys.readouterr().out
    assert "preset:     lite" in out and "style:      mosaic" in out
    assert "'image' float32 NCHW RGB" in out and "'stylized'" in out
    assert "loss_net: random-vgg16" in out


def main_error(capsys, argv) -> str:
    """:func:`helpers.one_line_error` of ``fastnst ARGV`` run in this process."""
    code = main(argv)
    return one_line_error(subprocess.CompletedProcess(argv, code, "", capsys.readouterr().err))


def test_info_rejects_non_onnx(tmp_path, capsys, exported):
    model_path, _, _ = exported
    assert "missing.onnx" in main_error(capsys, ["info", str(tmp_path / "missing.onnx")])
    bad = tmp_path / "bad.onnx"
    bad.write_text("not a model")
    main_error(capsys, ["info", str(bad)])
    main_error(capsys, ["info", str(model_path)])  # a .pth is not ONNX


def test_failed_check_leaves_no_file(tmp_path, exported, monkeypatch):
    model_path, onnx_path, _ = exported
    model, meta = load_model_file(model_path)
    # skip the 10-20 s torch export: reuse the file exported above (the check is what fails here)
    monkeypatch.setattr(fastnst.export, "_torch_export", lambda module, path, *_: shutil.copyfile(onnx_path, path))
    out = tmp_path / "sub" / "fail.onnx"
    with pytest.raises(RuntimeError, match="does not match"):
        export_onnx(model, out, meta, atol=-1)
    assert not out.exists()
    assert os.listdir(out.parent) == []  # no temp file either


def test_refuses_to_overwrite_input(exported, capsys):
    model_path, _, _ = exported
    before = model_path.read_bytes()
    assert "refusing" in main_error(capsys, ["export", str(model_path), "-o", str(model_path)])
    assert model_path.read_bytes() == before


def test_missing_or_corrupt_model_file(tmp_path, capsys):
    out = tmp_path / "o.onnx"
    assert "nope.pth" in main_error(capsys, ["export", str(tmp_path / "nope.pth"), "-o", str(out)])
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"garbage" * 10)
    main_error(capsys, ["export", str(bad), "-o", str(out)])
    assert not out.exists()


def test_fp16_export(exported, tmp_path, monkeypatch):
    model_path, _, _ = exported
    model, meta = load_model_file(model_path)
    monkeypatch.setattr(fastnst.export, "CHECK_SIZES", ((97, 131),))  # fp16 onnxruntime on CPU is slow
    out = tmp_path / "half.onnx"
    report = export_onnx(model, out, meta, fp16=True)
    assert all(v >= 40 for v in report.psnr_db.values()), report
    assert read_metadata(out)["precision"] == "fp16"
    x = natural_image(121, 203, seed=9)
    got = run_onnx(out, x)  # float32 in, float32 out: same spec as fp32
    assert got.dtype == np.float32 and got.shape == x.shape
    assert psnr(got, run_torch(model, x)) >= 40


@pytest.mark.slow
def test_johnson_export(tmp_path):
    model = perturbed("johnson", seed=1)
    out = tmp_path / "johnson.onnx"
    report = export_onnx(model, out, {"style": "j"}, check=False)
    assert report.checked is False and out.exists()
    x = np.concatenate([natural_image(75, 99, seed=2), np.random.default_rng(2).random((1, 3, 75, 99), np.float32)])
    assert np.abs(run_onnx(out, x) - run_torch(model, x)).max() <= 1e-4


# --------------------------------------------------------------------------- uint8 frame I/O


def test_uint8_io_export_matches_the_float_model(exported, tmp_path):
    """--uint8-io: uint8 NHWC frames in and out, within one 8-bit level of the float model + from_nchw."""
    import onnxruntime as ort

    from fastnst.image import from_nchw, to_nchw
    from fastnst.uint8io import UINT8_IO_SPEC, export_uint8_io

    _, onnx_path, _ = exported
    out = tmp_path / "lite.uint8io.onnx"
    report = export_uint8_io(onnx_path, out)
    assert report.checked and max(report.max_level_diff.values()) <= 1
    meta = read_metadata(out)
    assert meta["io"] == UINT8_IO_SPEC and meta["style"] == "mosaic"
    u8 = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type) for i in u8.get_inputs()] == [("frame", "tensor(uint8)")]
    rng = np.random.default_rng(7)
    frames = rng.integers(0, 256, (2, 37, 53, 3), dtype=np.uint8)  # odd size, batch of 2
    (got,) = u8.run(None, {"frame": frames})
    assert got.dtype == np.uint8 and got.shape == frames.shape
    want = np.stack([from_nchw(run_onnx(onnx_path, to_nchw(f))) for f in frames])
    assert np.abs(got.astype(int) - want).max() <= 1


def test_uint8_io_failed_check_writes_nothing(exported, tmp_path, monkeypatch):
    import fastnst.uint8io
    from fastnst.uint8io import export_uint8_io

    monkeypatch.setattr(fastnst.uint8io, "UINT8_IO_MAX_DIFF", -1)
    with pytest.raises(RuntimeError, match="levels"):
        export_uint8_io(exported[1], tmp_path / "x.onnx")
    assert list(tmp_path.iterdir()) == []


def test_cli_export_uint8_io_from_a_model_file(exported, tmp_path, capsys):
    model_path, _, _ = exported
    out = tmp_path / "lite.uint8io.onnx"
    assert main(["export", str(model_path), "--uint8-io", "-o", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "max abs diff" in lines[0] and "uint8 I/O vs float" in lines[2] and lines[-1] == f"wrote {out}"
    assert read_metadata(out)["io"]["input"]["dtype"] == "uint8"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # the float intermediate is not left behind


def test_a_bundled_styles_name_exports_its_shipped_file(tmp_path, capsys):
    from fastnst.styles import PRETRAINED, export_source

    # -o alone exports the shipped .pth afresh; the copies (and Triton, web) start from the shipped .onnx
    assert export_source("wave", "x.onnx") == str(PRETRAINED / "wave_lite.pth")
    assert export_source("wave_lite", "x.onnx", uint8_io=True) == str(PRETRAINED / "wave_lite.onnx")
    assert export_source("wave", None) == str(PRETRAINED / "wave_lite.onnx")  # --triton / --web: the .onnx
    assert export_source("my.pth", "x.onnx") == "my.pth"  # a file as given
    out = tmp_path / "wave.onnx"
    assert main(["export", "wave", "-o", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {out}"
    frame = natural_image(48, 64, seed=1)
    shipped = run_onnx(PRETRAINED / "wave_lite.onnx", frame)
    assert np.abs(run_onnx(out, frame) - shipped).max() < 1e-3  # the same weights as the shipped file
    assert "shipped style 'nosuch'" in main_error(capsys, ["export", "nosuch", "-o", str(tmp_path / "n.onnx")])


# ----------------------------------------------------------------------------- multi-style files


def multi_model(styles=3, seed=0):
    from fastnst.models import create_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create_model("lite", num_styles=styles)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def test_multi_style_export_takes_the_style_weights_and_matches_pytorch_for_a_blend(tmp_path):
    import onnxruntime as ort

    model = multi_model()
    path = tmp_path / "multi.onnx"
    export_onnx(model, path, {"styles": ["a", "b", "c"], "style": "3 styles"})
    meta = read_metadata(path)
    assert meta["styles"] == ["a", "b", "c"] and meta["io"]["style"]["shape"] == [3]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape) for i in session.get_inputs()][1] == ("style", [3])
    for h, w, weights in [(37, 53, [0.2, 0.5, 0.3]), (101, 67, [0.0, 1.0, 0.0])]:
        x = np.random.default_rng(h).random((1, 3, h, w), dtype=np.float32)
        (got,) = session.run(None, {"image": x, "style": np.array(weights, np.float32)})
        with torch.no_grad():
            want = model(torch.from_numpy(x), torch.tensor(weights)).numpy()
        assert np.abs(got - want).max() <= 1e-3


def test_export_of_one_style_of_a_multi_style_file_is_a_plain_one_input_model(tmp_path):
    model = multi_model()
    save_model_file(tmp_path / "multi.pth", model, {"styles": ["a", "b", "c"], "style": "3 styles"})
    out = tmp_path / "b.onnx"
    assert main(["export", str(tmp_path / "multi.pth"), "--style", "a+c", "-o", str(out)]) == 0
    meta = read_metadata(out)
    assert meta["style"] == "a+c" and "style" not in meta["io"] and "styles" not in meta
    x = np.random.default_rng(0).random((1, 3, 45, 39), dtype=np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x), torch.tensor([0.5, 0.0, 0.5])).numpy()
    assert np.abs(run_onnx(out, x) - want).max() <= 1e-3


def test_export_style_errors_are_one_line(tmp_path, capsys):
    model = multi_model(2)
    save_model_file(tmp_path / "multi.pth", model, {"styles": ["a", "b"]})
    for args in (["--style", "nope"], ["--style", "a:x"], ["--int8"]):
        out = tmp_path / "x.onnx"
        main_error(capsys, ["export", str(tmp_path / "multi.pth"), "-o", str(out), *args])
        assert not out.exists()
