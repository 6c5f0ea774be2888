"""int8 copies (fastnst.quantize): the check against fp32, its failure modes, calibration photos, shipped files."""

import numpy as np
import onnx
import pytest

import fastnst.quantize as quantize
from fastnst.errors import UserError
from fastnst.image import from_nchw
from fastnst.metadata import read_metadata
from fastnst.quality import natural_image, psnr
from fastnst.runtime import Stylizer
from fastnst.styles import PRETRAINED, list_styles, style_file

from conftest import SHARED, need_shared

SHIPPED = [s for s in list_styles(".onnx") if s.preset == "lite" and s.blend is None]  # int8 copies: one-style files
BSDS_ROOT = SHARED if (SHARED / "content" / "bsds500").is_dir() else None  # real photos where present


@pytest.fixture(scope="module")
def wave_int8(tmp_path_factory):
    """The shipped wave_lite quantized afresh, with its check (BSDS500 photos where ../shared has them)."""
    path = tmp_path_factory.mktemp("int8") / "wave_lite.int8.onnx"
    report = quantize.quantize_int8(PRETRAINED / "wave_lite.onnx", path, data_root=BSDS_ROOT)
    return path, report


def test_int8_passes_its_check_and_records_it(wave_int8):
    path, report = wave_int8
    assert report.checked and len(report.psnr_db) == quantize.CHECK_COUNT
    assert min(report.psnr_db) >= quantize.MIN_PSNR
    for got, fp32 in zip(report.periodicity, report.periodicity_fp32):
        assert got <= quantize.PERIODICITY_RATIO * fp32 + quantize.PERIODICITY_SLACK
    meta = read_metadata(path)
    assert meta["precision"] == "int8" and meta["style"] == "wave" and meta["preset"] == "lite"
    assert meta["io"] == read_metadata(PRETRAINED / "wave_lite.onnx")["io"]  # same float interface


def test_int8_graph_keeps_depthwise_norms_and_ends_in_float(wave_int8):
    model = onnx.load(wave_int8[0])
    ops = [n.op_type for n in model.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    producers = {o: n for n in model.graph.node for o in n.output}
    # instance norms and depthwise convs read float tensors (a DequantizeLinear feeds them, or a float op)
    for node in model.graph.node:
        depthwise = node.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in node.attribute)
        if node.op_type == "InstanceNormalization" or depthwise:
            weight = producers.get(node.input[1]) if len(node.input) > 1 else None
            assert weight is None or weight.op_type != "DequantizeLinear", node.name  # float weights
    out = producers[model.graph.output[0].name]
    assert out.op_type != "DequantizeLinear"  # the output is computed in float, not dequantized
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_failed_psnr_check_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(quantize, "MIN_PSNR", 200.0)
    target = tmp_path / "x.int8.onnx"
    with pytest.raises(RuntimeError, match="PSNR"):
        quantize.quantize_int8(PRETRAINED / "wave_lite.onnx", target)
    assert list(tmp_path.iterdir()) == []


def test_periodicity_check_catches_a_grid_psnr_misses(monkeypatch):
    """A faint 4-px checkerboard keeps PSNR above 35 dB but is a new repeated texture."""
    photos = [from_nchw(natural_image(96, 128, seed=s)) for s in range(2)]
    ref = [natural_image(96, 128, seed=10 + s) for s in range(2)]
    yy, xx = np.mgrid[0:96, 0:128]
    grid = (((yy // 2 + xx // 2) % 2) * 2 - 1).astype(np.float32) * 0.01
    monkeypatch.setattr(quantize, "_outputs", lambda path, _: [np.clip(r + grid, 0, 1) for r in ref]
                        if path == "int8" else ref)
    with pytest.raises(RuntimeError, match="periodicity") as err:
        quantize.check_int8("int8", "fp32", photos, quantize.Int8Report("int8", "test", True))
    assert "PSNR" not in str(err.value)
    assert psnr(np.clip(ref[0] + grid, 0, 1), ref[0]) > quantize.MIN_PSNR
    report = quantize.Int8Report("fp32", "test", True)
    quantize.check_int8("fp32", "fp32", photos, report)  # identical outputs pass
    assert report.periodicity == report.periodicity_fp32 and len(report.psnr_db) == len(photos)


def test_refuses_a_file_that_is_not_fp32(wave_int8, tmp_path):
    with pytest.raises(ValueError, match="not fp32"):
        quantize.quantize_int8(wave_int8[0], tmp_path / "again.onnx")


def test_fallback_photos_are_deterministic_and_disjoint(monkeypatch):
    monkeypatch.delenv(quantize.DATA_ENV, raising=False)
    val, where = quantize.calibration_photos("val", 4)
    again, _ = quantize.calibration_photos("val", 4)
    test, where_test = quantize.calibration_photos("test", 3)
    assert "sample photo" in where and "generated" in where_test
    assert len(val) == 4 and len(test) == 3
    assert all(np.array_equal(a, b) for a, b in zip(val, again))
    assert all(max(p.shape[:2]) == quantize.PHOTO_SIDE and p.dtype == np.uint8 for p in val + test)


def test_bsds_photos_where_present(monkeypatch):
    need_shared(SHARED / "content" / "bsds500")
    val, where = quantize.calibration_photos("val", 2, data_root=SHARED)
    test, _ = quantize.calibration_photos("test", 2, data_root=SHARED)
    assert where.startswith("BSDS500 val") and not np.array_equal(val[0], test[0])
    monkeypatch.setenv(quantize.DATA_ENV, str(SHARED))  # the environment's root, where none is given
    assert quantize.calibration_photos("val", 2)[1] == where


def test_a_data_root_without_bsds_is_refused_and_an_unset_one_falls_back(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="no content/bsds500"):
        quantize.find_data_root(tmp_path)
    monkeypatch.setenv(quantize.DATA_ENV, str(tmp_path))  # an environment root without BSDS500 counts as unset
    assert quantize.find_data_root() is None


def test_cli_export_int8_from_onnx(tmp_path, capsys):
    from fastnst.cli import main

    out = tmp_path / "wave_lite.int8.onnx"
    assert main(["export", str(PRETRAINED / "wave_lite.onnx"), "--int8", "-o", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"wrote {out}" and "PSNR" in lines[0]
    assert read_metadata(out)["precision"] == "int8"
    assert main(["export", str(PRETRAINED / "wave_lite.onnx"), "--int8", "--fp16", "-o", str(tmp_path / "y.onnx")]) == 2
    assert main(["export", str(PRETRAINED / "wave_lite.onnx"), "--uint8-io", "--data-root", str(tmp_path),
                 "-o", str(tmp_path / "z.onnx")]) == 2  # --data-root is --int8's
    assert main(["export", str(PRETRAINED / "wave_lite.onnx"), "--int8", "--data-root", str(tmp_path),
                 "-o", str(tmp_path / "z.onnx")]) == 2  # no BSDS500 there
    assert not (tmp_path / "z.onnx").exists()


@pytest.mark.parametrize("style", SHIPPED, ids=lambda s: s.name)
def test_shipped_int8_copy_is_close_to_fp32(style):
    """Every shipped lite style has its int8 copy, with its metadata, within the PSNR bound of fp32."""
    path = style.path.with_name(f"{style.name}_{style.preset}.int8.onnx")
    assert path.exists(), f"{path.name} is not shipped"
    f = style_file(path)
    assert (f.name, f.preset, f.precision) == (style.name, style.preset, "int8")
    meta = read_metadata(path)
    assert meta["precision"] == "int8" and meta["style"] == style.name
    assert path.stat().st_size < 500_000
    frame = from_nchw(natural_image(120, 160, seed=5))
    got = Stylizer(path, device="cpu").stylize(frame)
    want = Stylizer(style.path, device="cpu").stylize(frame)
    assert psnr(got / 255.0, want / 255.0) >= quantize.MIN_PSNR
