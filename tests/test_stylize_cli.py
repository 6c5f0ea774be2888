"""`fastnst stylize`: files, folders and globs through the one Stylizer runtime."""

import json

import numpy as np
import pytest
import torch

from fastnst.cli import main
from fastnst.export import export_onnx
from fastnst.image import load_image, save_image
from fastnst.models import create_model
from fastnst.runtime import load_style
from fastnst.styles import choose


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("lite")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    path = tmp_path_factory.mktemp("m") / "test_style.onnx"
    export_onnx(model, path, {"style": "test"}, check=False)
    return str(path)


def photo(h, w, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w] / max(h, w)
    img = np.stack([x, y, 0.5 + 0.5 * np.sin(9 * x)], -1) * 220 + rng.normal(0, 8, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def test_one_file(onnx_model, tmp_path):
    src = tmp_path / "in.png"
    save_image(src, photo(45, 61))
    assert main(["stylize", str(src), "-s", onnx_model, "-o", str(tmp_path / "out.png"), "-q"]) == 0
    out = load_image(tmp_path / "out.png")
    np.testing.assert_array_equal(out, load_style(onnx_model, "image").stylize(photo(45, 61)))  # the same choice
    # default name beside the input
    assert main(["stylize", str(src), "-s", onnx_model, "-q"]) == 0
    assert (tmp_path / "in_test.png").exists()


def test_folder_gray_rgba_and_a_broken_file(onnx_model, tmp_path, capsys):
    d = tmp_path / "imgs"
    save_image(d / "a.png", photo(30, 40))
    save_image(d / "sub" / "b.jpg", photo(33, 21, 1)[:, :, 0])  # grayscale JPEG
    from PIL import Image
    Image.fromarray(np.dstack([photo(20, 20, 2), np.full((20, 20), 128, np.uint8)])).save(d / "c.png")  # RGBA
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n junk")
    rc = main(["stylize", str(d), "-s", onnx_model, "-o", str(tmp_path / "out"), "--json", "-q"])
    assert rc == 2  # one file failed, the rest were written
    summary = json.loads(capsys.readouterr().out)
    ok = {r["input"].split("/")[-1]: r for r in summary["files"]}
    assert summary["failed"] == 1 and not ok["broken.png"]["ok"]
    assert load_image(tmp_path / "out" / "a.png").shape == (30, 40, 3)
    assert load_image(tmp_path / "out" / "b.png").shape == (33, 21, 3)
    assert load_image(tmp_path / "out" / "c.png").shape == (20, 20, 3)
    assert summary["provider"] == choose(onnx_model, "image").device.provider  # where "auto" runs it here


def test_glob_strength_zero_and_never_overwrite(onnx_model, tmp_path, capsys):
    src = tmp_path / "x.png"
    pixels = photo(24, 24)
    save_image(src, pixels)
    assert main(["stylize", str(tmp_path / "*.png"), "-s", onnx_model, "-o", str(tmp_path / "y.png"),
                 "--strength", "0", "-q"]) == 0
    np.testing.assert_array_equal(load_image(tmp_path / "y.png"), pixels)
    assert main(["stylize", str(src), "-s", onnx_model, "-o", str(src), "-q"]) == 2
    np.testing.assert_array_equal(load_image(src), pixels)
    assert main(["stylize", str(tmp_path / "nothing*.png"), "-s", onnx_model]) == 2
    assert "fastnst: error: no such file" in capsys.readouterr().err
