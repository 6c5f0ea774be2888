"""Any painting as a style: the arbitrary-style export, the Stylizer on paintings, -s painting.jpg, bad paintings."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fastnst import styles
from fastnst.errors import UserError
from fastnst.image import sample_content, sample_style, save_image
from fastnst.painting import MULTIPLE, painting_image
from fastnst.runtime import Stylizer, load_style

from helpers import one_line_error


@pytest.fixture(scope="session")
def arbitrary_onnx(tmp_path_factory):
    """A two-level (relu2_1, relu1_1) arbitrary-style export with seeded random decoders on a random VGG-19
    (made once per run): enough to run, check and feed paintings; its pictures mean nothing. Returns (path,
    report)."""
    import torch

    from fastnst.decoders import Decoder, save_decoder_file
    from fastnst.export_arbitrary import export_arbitrary

    folder = tmp_path_factory.mktemp("arbitrary")
    paths = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for level, width in (("relu2_1", 0.25), ("relu1_1", 1.0)):
            paths.append(str(folder / f"decoder_{level}.pth"))
            save_decoder_file(paths[-1], Decoder(level, width), {"level": level})
    report = export_arbitrary(paths, folder / "wct.onnx", "random-vgg19")
    return folder / "wct.onnx", report


@pytest.mark.slow
def test_the_export_matches_pytorch_at_three_sizes(arbitrary_onnx):
    path, report = arbitrary_onnx
    assert len(report["max_abs_diff"]) == 3 and any(int(k.split("x")[0]) % 2 for k in report["max_abs_diff"])
    assert max(report["max_abs_diff"].values()) <= 1e-3
    assert max(report["stats_max_rel_diff"].values()) <= 1e-3
    assert path.is_file() and path.with_name("wct.painting.onnx").is_file()


@pytest.mark.slow
def test_a_bilinear_decoders_export_matches_pytorch(tmp_path):
    """A decoder that scales up bilinearly (train-decoder --upsample bilinear) exports as ONNX Resize and
    matches PyTorch at the export check's three sizes, odd ones included."""
    import torch

    from fastnst.decoders import Decoder, save_decoder_file
    from fastnst.export_arbitrary import export_arbitrary

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        save_decoder_file(tmp_path / "d.pth", Decoder("relu2_1", 0.25, "bilinear"), {"level": "relu2_1"})
    report = export_arbitrary([str(tmp_path / "d.pth")], tmp_path / "wct.onnx", "random-vgg19")
    assert max(report["max_abs_diff"].values()) <= 1e-3


@pytest.mark.slow
def test_a_stylizer_runs_a_painting_and_switches_paintings_between_frames(arbitrary_onnx, tmp_path):
    path, _ = arbitrary_onnx
    photo = sample_content()[:101, :143]  # odd sides: padded inside, cropped back
    painting = tmp_path / "swirl.png"
    save_image(painting, sample_style(200))
    s = Stylizer(path, device="cpu", painting=painting)
    assert s.style == "swirl"
    a = s.stylize(photo)
    assert a.shape == photo.shape and a.dtype == np.uint8
    cached = len(s.painting_stats._cache)
    assert np.array_equal(s.stylize(photo), a)
    other = np.zeros((64, 96, 3), np.uint8)
    other[:, :48] = (200, 30, 30)
    other[:, 48:] = (20, 40, 220)
    s.set_painting(other)
    b = s.stylize(photo)
    assert np.abs(b.astype(int) - a.astype(int)).mean() > 2  # the painting changed the frame
    s.set_painting(painting)  # back to the first: from the cache, the same frame
    assert len(s.painting_stats._cache) == cached + 1
    assert np.array_equal(s.stylize(photo), a)
    copy = s.with_painting(other)
    assert np.array_equal(copy.stylize(photo), b) and np.array_equal(s.stylize(photo), a)


def test_a_painting_is_cropped_to_the_graphs_multiple_at_its_style_size():
    out = painting_image(sample_style(300)[:, :217], style_size=130)
    assert max(out.shape[:2]) <= 130 and out.shape[0] % MULTIPLE == 0 and out.shape[1] % MULTIPLE == 0


def _write(path, array):
    Image.fromarray(array).save(path)
    return path


@pytest.mark.parametrize("case", ["text", "one_pixel", "strip"])
def test_a_bad_painting_is_a_one_line_user_error(case, tmp_path):
    if case == "text":
        path = tmp_path / "notes.jpg"
        path.write_text("not an image")
    elif case == "one_pixel":
        path = _write(tmp_path / "dot.png", np.full((1, 1, 3), 128, np.uint8))
    else:
        path = _write(tmp_path / "strip.png", np.full((100, 20000, 3), 90, np.uint8))  # 20 000 px wide
    with pytest.raises(UserError) as e:
        painting_image(path)
    assert "\n" not in str(e.value) and path.name in str(e.value)


@pytest.mark.slow
def test_flat_and_huge_paintings_give_clean_results(arbitrary_onnx, tmp_path):
    path, _ = arbitrary_onnx
    photo = sample_content()[:120, :160]
    flat = _write(tmp_path / "flat.png", np.full((300, 400, 3), (30, 120, 200), np.uint8))  # singular covariance
    wide = _write(tmp_path / "wide.png", np.random.default_rng(0).integers(0, 255, (1200, 20000, 3), np.uint8))
    s = Stylizer(path, device="cpu", painting=flat)
    assert all(np.isfinite(v).all() for v in s._painting_feeds.values())
    out = s.stylize(photo)
    assert out.shape == photo.shape
    s.set_painting(wide)
    assert s.stylize(photo).shape == photo.shape


@pytest.mark.slow
def test_dash_s_painting_runs_the_shipped_arbitrary_file_in_every_front_end(arbitrary_onnx, tmp_path, monkeypatch,
                                                                           capsys):
    from fastnst.cli import main
    from fastnst.config import PaintingOptions

    path, _ = arbitrary_onnx
    monkeypatch.setattr(styles, "ARBITRARY", path)
    monkeypatch.setattr(styles, "ARBITRARY_FAST", tmp_path / "no_fast.onnx")  # not shipped: every use runs `path`
    painting = tmp_path / "swirl.png"
    save_image(painting, sample_style(160))
    choice = styles.choose(str(painting), "image", "cpu")
    assert choice.file.path == path and choice.file.painting == painting and "any painting" in choice.label
    s = load_style(str(painting), "stream", "cpu", painting=PaintingOptions(style_strength=0.5, style_size=128))
    assert (s.style, s.style_strength, s.style_size) == ("swirl", 0.5, 128)
    photo = tmp_path / "photo.png"
    save_image(photo, sample_content()[:96, :128])
    out = tmp_path / "out.png"
    assert main(["stylize", str(photo), "-s", str(painting), "-o", str(out), "--style-strength", "0.7",
                 "--style-size", "200", "-q"]) == 0
    assert out.is_file()
    bad = tmp_path / "bad.jpg"
    bad.write_text("no")
    assert main(["stylize", str(photo), "-s", str(bad), "-o", str(tmp_path / "x.png"), "-q"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastnst: error: ") and "bad.jpg" in lines[0]
    assert not (tmp_path / "x.png").exists()
    assert main(["stylize", str(photo), "-s", str(painting), "-o", str(tmp_path / "y.png"),
                 "--style-strength", "1.5"]) == 2
    assert "--style-strength" in capsys.readouterr().err


def test_a_trained_style_takes_no_painting(lite_onnx):
    with pytest.raises(UserError, match="no painting"):
        Stylizer(lite_onnx, device="cpu", painting=sample_style(64))


def test_a_painting_needs_the_arbitrary_file(tmp_path, monkeypatch):
    monkeypatch.setattr(styles, "ARBITRARY", tmp_path / "missing.onnx")
    painting = tmp_path / "p.png"
    save_image(painting, sample_style(64))
    with pytest.raises(UserError, match="arbitrary-style model"):
        styles.resolve_styles(str(painting))
    assert os.path.exists(painting)


def test_a_levels_strength_scales_alpha_at_that_level_only():
    """FrameNet with level strengths against the levels written out by hand with fastnst.wct: at alpha a,
    a level of strength s moves its features a * s of the way (relu2_1 whole, relu1_1 at 0.3 here), and the
    default strengths are the shipped table's."""
    import torch

    from fastnst.arbitrary import FrameNet, PaintingNet
    from fastnst.config import LEVEL_STRENGTHS
    from fastnst.decoders import Decoder, crop_to
    from fastnst.quality import natural_image
    from fastnst.train_decoder import build_encoder
    from fastnst.wct import wct

    torch.manual_seed(0)
    encoder = build_encoder("random-vgg19", "relu2_1")
    decoders = {"relu2_1": Decoder("relu2_1", 0.25).eval(), "relu1_1": Decoder("relu1_1").eval()}
    assert FrameNet(encoder, decoders).strengths == {lv: LEVEL_STRENGTHS[lv] for lv in ("relu2_1", "relu1_1")}
    net = FrameNet(encoder, decoders, strengths={"relu2_1": 1.0, "relu1_1": 0.3})
    image, painting = torch.from_numpy(natural_image(48, 64, 1)), torch.from_numpy(natural_image(40, 56, 2))
    with torch.no_grad():
        stats = list(PaintingNet(encoder, net.levels)(painting))
        got = net(image, torch.tensor([0.8]), stats)
        x = image
        for i, (level, a) in enumerate((("relu2_1", 0.8), ("relu1_1", 0.8 * 0.3))):
            f = wct(encoder(x, [level])[level], stats[2 * i], stats[2 * i + 1], a)
            x = crop_to(decoders[level](f), image).clamp(0, 1)
        whole = FrameNet(encoder, decoders, strengths={"relu1_1": 1.0})(image, torch.tensor([0.8]), stats)
    torch.testing.assert_close(got, x, atol=1e-5, rtol=0)
    assert (got - whole).abs().max() > 1e-3  # the strength changed the picture


def test_the_exports_metadata_says_each_levels_strength(arbitrary_onnx):
    from fastnst.config import LEVEL_STRENGTHS
    from fastnst.metadata import read_metadata

    path, report = arbitrary_onnx
    want = {lv: LEVEL_STRENGTHS[lv] for lv in ("relu2_1", "relu1_1")}
    assert report["strengths"] == want
    assert read_metadata(path)["arbitrary"]["strengths"] == want
    assert read_metadata(styles.ARBITRARY)["arbitrary"]["strengths"] == LEVEL_STRENGTHS  # the shipped file's
    from fastnst.runtime import describe_metadata

    line = next(x for x in describe_metadata(path, read_metadata(path)) if x.startswith("painting:"))
    said = ", ".join(f"{lv} (strength {s:g})" for lv, s in want.items())
    assert said in line and "wct.painting.onnx" in line  # fastnst info


@pytest.mark.parametrize("flag, says", [("relu3_1=0.5", "no decoder for that level"), ("relu1_1=2", "in [0, 1]"),
                                        ("relu1_1=nan", "in [0, 1]"), ("relu1_1", "LEVEL=S")])
def test_a_bad_level_strength_is_a_one_line_error(flag, says, tmp_path):
    import torch

    from fastnst.decoders import Decoder, save_decoder_file

    torch.manual_seed(0)
    save_decoder_file(tmp_path / "d.pth", Decoder("relu1_1"), {"level": "relu1_1"})
    run = subprocess.run([sys.executable, "-m", "fastnst", "export-arbitrary", str(tmp_path / "d.pth"), "-o",
                          str(tmp_path / "w.onnx"), "--loss-net", "random-vgg19", "--level-strength", flag],
                         capture_output=True, text=True)
    assert says in one_line_error(run) and not (tmp_path / "w.onnx").exists()
