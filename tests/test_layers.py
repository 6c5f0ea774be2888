"""The layer explorer (fastnst.layers, ``fastnst layers``): receptive fields, top patches, reconstructions, Gram
pictures and their one-line errors. Small sizes and random loss networks, except where real weights are the point."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from fastnst import image as im
from fastnst import layers as L
from fastnst.config import LayersConfig
from fastnst.losses import gram_matrix
from fastnst.lossnet import build_loss_net
from fastnst.quality import natural_image, psnr, relative_distance

from helpers import one_line_error

SPEC = "random-vgg19"


def run(capsys, *args):
    """``fastnst ARGS`` in this process (as the console script runs it): its exit status and output."""
    from fastnst.cli import main

    capsys.readouterr()
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return SimpleNamespace(returncode=status, stdout=out.out, stderr=out.err)


@pytest.fixture
def photos(tmp_path):
    """Three small natural-like photos (uint8, 40 x 56 and 56 x 40) in a folder."""
    folder = tmp_path / "photos"
    for k, (h, w) in enumerate([(40, 56), (56, 40), (48, 48)]):
        image = (natural_image(h, w, seed=k)[0].transpose(1, 2, 0) * 255).round().astype(np.uint8)
        im.save_image(folder / f"p{k}.png", image)
    return folder


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTNST_CACHE", str(tmp_path / "cache"))


# ----------------------------------------------------------------------------- receptive fields


def test_receptive_fields_of_vgg():
    """VGG-16's receptive fields (3x3 convs, 2x2 pools): conv5_3 sees 196 px at a stride of 16."""
    net = build_loss_net("random-vgg16", ("relu5_3",), "relu5_3")
    expected = {"relu1_1": (3, 1), "relu1_2": (5, 1), "relu2_1": (10, 2), "relu2_2": (14, 2), "relu3_1": (24, 4),
                "relu3_3": (40, 4), "relu4_1": (60, 8), "relu4_3": (92, 8), "relu5_1": (132, 16), "relu5_3": (196, 16)}
    for layer, (size, stride) in expected.items():
        field = L.receptive_field(net, layer)
        assert (field.size, field.stride) == (size, stride), layer


@pytest.mark.parametrize("layer", ["relu1_2", "relu2_1", "relu3_1"])
def test_a_unit_sees_its_box_and_nothing_else(layer):
    """Changing every pixel outside a unit's box leaves its activation as it is; changing the box's corner pixels
    changes it: the box is the unit's receptive field."""
    net = build_loss_net(SPEC, (layer,), layer)
    field = L.receptive_field(net, layer)
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    act = net(image, (layer,))[layer]
    row, col = act.shape[2] // 2, act.shape[3] // 2
    x0, y0, x1, y1 = L.patch_box(field, row, col)
    assert 0 <= x0 and x1 <= 64 and 0 <= y0 and y1 <= 64
    outside = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    outside[..., y0:y1, x0:x1] = image[..., y0:y1, x0:x1]
    same = net(outside, (layer,))[layer][0, :, row, col]
    assert torch.allclose(same, act[0, :, row, col], atol=1e-5)
    for y, x in ((y0, x0), (y1 - 1, x1 - 1)):
        corner = image.clone()
        corner[..., y, x] = 1 - corner[..., y, x] + 5.0
        changed = net(corner, (layer,))[layer][0, :, row, col]
        assert (changed - act[0, :, row, col]).abs().max() > 1e-4, (y, x)


def test_normalised_vgg_fields_match_torchvision_layout(normalised_vgg):
    """The reflection-padded AdaIN layout has the same fields as torchvision's zero-padded VGG."""
    net = build_loss_net(f"vgg19-normalised:{normalised_vgg}", ("relu3_1",), "relu3_1")
    ref = build_loss_net(SPEC, ("relu3_1",), "relu3_1")
    for layer in ("relu1_1", "relu2_1", "relu3_1"):
        assert L.receptive_field(net, layer) == L.receptive_field(ref, layer)


# ----------------------------------------------------------------------------- top patches


def test_top_patches_are_sorted_and_are_what_the_network_computes(photos):
    cfg = LayersConfig(loss_net=SPEC, layer="relu2_1", photos=str(photos), photo_size=48, num_units=4, top=5)
    picture, info = L.patches_picture(cfg, progress=False)
    assert picture.dtype == np.uint8 and picture.ndim == 3
    net = build_loss_net(SPEC, ("relu2_1",), "relu2_1")
    maps = {p: net(im.to_tensor(L.photo_input(str(p), 48)), ("relu2_1",))["relu2_1"][0]
            for p in sorted(photos.iterdir())}
    assert len(info["units"]) == 4
    for entry in info["units"]:
        values = [p["activation"] for p in entry["patches"]]
        assert len(values) == 5 and values == sorted(values, reverse=True)
        for patch in entry["patches"]:
            act = maps[next(p for p in maps if str(p) == patch["photo"])]
            assert patch["activation"] == pytest.approx(float(act[entry["unit"], patch["row"], patch["col"]]),
                                                        rel=1e-5, abs=1e-6)
        best = max(float(a[entry["unit"]].max()) for a in maps.values())
        assert values[0] == pytest.approx(best, rel=1e-5)  # the first is the unit's strongest anywhere


def test_the_index_is_cached_and_other_units_are_read_from_it(photos, monkeypatch):
    paths = [str(p) for p in sorted(photos.iterdir())]
    first = L.activation_index(SPEC, "relu1_1", paths, 32, 3, progress=False)

    def no_network(*a, **k):
        raise AssertionError("the network ran again")

    monkeypatch.setattr(L, "_net", no_network)
    again = L.activation_index(SPEC, "relu1_1", paths, 32, 3, progress=False)
    np.testing.assert_array_equal(first["values"], again["values"])
    np.testing.assert_array_equal(first["positions"], again["positions"])


def test_one_patch_per_photo_where_there_are_enough_photos():
    index = {"values": np.array([[[9.0, 8.0]], [[1.0, 0.5]]], np.float32), "positions": np.zeros((2, 1, 2), np.int64),
             "shapes": np.array([[4, 4], [4, 4]]), "paths": ["a", "b"]}
    field = L.Field(3, 1, 0.0)
    one = L.top_patches(index, [0], 2, field)[0]["patches"]
    assert [(p["photo"], p["activation"]) for p in one] == [("a", 9.0), ("b", 1.0)]
    three = L.top_patches(index, [0], 3, field)[0]["patches"]  # more than the photos: two of one photo
    assert [p["activation"] for p in three] == [9.0, 8.0, 1.0]


# ----------------------------------------------------------------------------- reconstructions


def test_content_from_relu1_1_is_closer_to_the_photo_than_from_relu3_1():
    """Detail fades with depth (Gatys et al. 2016, Figure 1): measured 20-inf dB against about 10 dB."""
    cfg = LayersConfig(loss_net=SPEC, size=40, iterations=30)
    photo = im.resize_long_side(im.sample_content(), 40)
    from fastnst.optimize import optimize

    shallow, _ = optimize(photo, photo, L.content_config(cfg, SPEC, "relu1_1"), progress=False)
    deep, _ = optimize(photo, photo, L.content_config(cfg, SPEC, "relu3_1"), progress=False)
    assert psnr(shallow / 255, photo / 255) > psnr(deep / 255, photo / 255) + 5


def test_figure1_rows():
    cfg = LayersConfig(loss_net=SPEC, size=24, iterations=2, layers=("relu1_1", "relu2_1"))
    picture, info = L.figure1(im.sample_content(), im.sample_style(), cfg, progress=False)
    assert picture.dtype == np.uint8 and picture.shape[0] > 2 * 24
    assert [r["layers"] for r in info["content"]["reconstructions"]] == [["relu1_1"], ["relu2_1"]]
    assert [r["layers"] for r in info["style"]["reconstructions"]] == [["relu1_1"], ["relu1_1", "relu2_1"]]


def test_content_reconstructions_with_real_weights(normalised_vgg):
    spec = f"vgg19-normalised:{normalised_vgg}"
    cfg = LayersConfig(loss_net=spec, size=48, iterations=40)
    photo = im.resize_long_side(im.sample_content(), 48)
    from fastnst.optimize import optimize

    shallow, _ = optimize(photo, photo, L.content_config(cfg, spec, "relu1_1"), progress=False)
    deep, _ = optimize(photo, photo, L.content_config(cfg, spec, "relu3_1"), progress=False)
    assert psnr(shallow / 255, photo / 255) > psnr(deep / 255, photo / 255) + 3


STYLE_BOUND = 0.2  # relative Gram distance at each layer used; noise starts at about 1 (relu1_1) and 2.7 (relu2_1)


def test_a_style_reconstruction_matches_the_gram_matrices_of_its_layers():
    layers = ("relu1_1", "relu2_1")
    cfg = LayersConfig(loss_net=SPEC, size=48, iterations=40, layers=layers)
    painting = im.resize_long_side(im.sample_style(), 48)
    from fastnst.optimize import optimize

    texture, _ = optimize(painting, painting, L.style_config(cfg, SPEC, layers), progress=False)
    net = build_loss_net(SPEC, layers, layers[0])
    noise = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got, want, start = (net(x, layers) for x in (im.to_tensor(texture), im.to_tensor(painting), noise))
    for layer in layers:
        target = gram_matrix(want[layer])
        assert float(relative_distance(gram_matrix(got[layer]), target)) < STYLE_BOUND, layer
        assert float(relative_distance(gram_matrix(start[layer]), target)) > 3 * STYLE_BOUND, layer


def test_style_layer_weights_steer_the_texture():
    """All the weight on relu1_1 matches relu1_1's Gram matrix better than all of it on relu2_1, and the
    other way round."""
    layers = ("relu1_1", "relu2_1")
    painting = im.resize_long_side(im.sample_style(), 40)
    cfg = LayersConfig(loss_net=SPEC, size=40, iterations=30, layers=layers)
    net = build_loss_net(SPEC, layers, layers[0])
    with torch.no_grad():
        want = {k: gram_matrix(v) for k, v in net(im.to_tensor(painting), layers).items()}
    from fastnst.optimize import optimize

    dist = {}
    for weights in ((1.0, 0.0), (0.0, 1.0)):
        texture, _ = optimize(painting, painting, L.style_config(cfg, SPEC, layers, weights), progress=False)
        with torch.no_grad():
            got = net(im.to_tensor(texture), layers)
        dist[weights] = {k: float(relative_distance(gram_matrix(got[k]), want[k])) for k in layers}
    assert dist[(1.0, 0.0)]["relu1_1"] < dist[(0.0, 1.0)]["relu1_1"]
    assert dist[(0.0, 1.0)]["relu2_1"] < dist[(1.0, 0.0)]["relu2_1"]


# ----------------------------------------------------------------------------- the Gram picture


def test_gram_heat_map_shows_channel_correlations():
    gram = np.array([[4.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 9.0]], np.float32)
    heat = L.gram_heat_map(gram, side=3)
    # channels by energy: 2, 0, 1; correlations: 1 on the diagonal, 2 / sqrt(4 * 1) = 1 between 0 and 1, else 0
    assert heat.shape == (3, 3, 3) and heat.dtype == np.uint8
    bright, dark = heat[0, 0], heat[0, 1]
    np.testing.assert_array_equal(heat[1, 2], bright)  # channels 0 and 1: fully correlated
    np.testing.assert_array_equal(heat[2, 2], bright)
    np.testing.assert_array_equal(heat[1, 0], dark)
    assert int(bright.astype(int).sum()) > int(dark.astype(int).sum())


def test_gram_picture_and_its_json(tmp_path):
    cfg = LayersConfig(loss_net=SPEC, size=32, iterations=3, layers=("relu1_1", "relu2_1"), layer="relu2_1",
                       style_layer_weights=(1.0, 0.5))
    picture, info = L.gram_picture(im.sample_style(), cfg, progress=False)
    assert info["channels"] == 128 and info["style_layer_weights"] == [1.0, 0.5]
    painting = im.resize_long_side(im.sample_style(), 32)
    assert info["gram_max"] == pytest.approx(float(np.abs(L.gram_of(SPEC, painting, "relu2_1")).max()), rel=1e-5)
    meta = L.save_picture(str(tmp_path / "g.png"), picture, info)
    np.testing.assert_array_equal(im.load_image(tmp_path / "g.png"), picture)
    assert json.loads(open(meta).read()) == info


def test_cached_pictures_come_back_without_recomputing(tmp_path, monkeypatch):
    cfg = LayersConfig(loss_net=SPEC, size=32, iterations=2, layers=("relu1_1",))
    calls = []

    def make():
        calls.append(1)
        return L.gram_picture(im.sample_style(64), cfg, progress=False)

    first = L.cached("gram", cfg, [im.sample_style(64)], make)
    again = L.cached("gram", cfg, [im.sample_style(64)], make)
    assert len(calls) == 1 and (first[2], again[2]) == (False, True)
    np.testing.assert_array_equal(first[0], again[0])
    assert first[1] == again[1]
    monkeypatch.setattr(L, "CACHE_KEEP", 2)  # the oldest pictures go where there are more
    L.cached("gram", cfg, [im.sample_style(72)], make)  # another painting: computed
    L.cached("gram", LayersConfig(loss_net=SPEC, size=32, iterations=3, layers=("relu1_1",)), [im.sample_style(64)],
             make)  # other settings: computed
    assert len(calls) == 3
    assert len(list((tmp_path / "cache" / "layers").glob("gram-*"))) == 4  # two pictures, two JSON files
    L.cached("gram", cfg, [im.sample_style(64)], make)  # the first was pruned: computed again
    assert len(calls) == 4


# ----------------------------------------------------------------------------- the command line


def test_cli_writes_the_picture_and_json(tmp_path, photos, capsys):
    out = tmp_path / "p.png"
    r = run(capsys, "layers", "patches", "--loss-net", SPEC, "--photos", photos, "--layer", "relu1_1",
            "--units", "3,5", "--top", "4", "--photo-size", "32", "-o", out, "-q")
    assert r.returncode == 0 and r.stdout == f"wrote {out} and {tmp_path / 'p.json'}\n", r.stderr
    info = json.loads((tmp_path / "p.json").read_text())
    assert [u["unit"] for u in info["units"]] == [3, 5]
    assert im.load_image(out).ndim == 3


@pytest.mark.parametrize("args,says", [
    (["gram", "{notimage}"], "cannot read image"),
    (["patches", "--layer", "relu9_1"], "has no layer relu9_1"),
    (["patches", "--photos", "{empty}"], "no images in"),
    (["patches", "--photos", "{missing}"], "photos folder not found"),
    (["gram", "--layers", "relu1_1,relu2_1", "--style-layer-weights", "1,2,3"], "one weight per style layer"),
    (["patches", "--units", "1,9999", "--layer", "relu1_1", "--photos", "{photos}"], "has units 0..63"),
    (["reconstruct", "--layers", "relu1_1,conv9_9"], "has no layer conv9_9"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, photos, capsys, args, says):
    (tmp_path / "notimage.jpg").write_text("hello")
    (tmp_path / "empty").mkdir()
    names = {"notimage": tmp_path / "notimage.jpg", "empty": tmp_path / "empty", "missing": tmp_path / "nowhere",
             "photos": photos}
    args = [a.format(**names) for a in args]
    r = run(capsys, "layers", *args, "--loss-net", SPEC, "-o", tmp_path / "out.png", "-q")
    assert says in one_line_error(r)
    assert not (tmp_path / "out.png").exists() and not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("kind", ["random-vgg16", "random-vgg19", "normalised", "normalised+random-deep"])
def test_every_kind_of_loss_net(kind, photos):
    """The explorer takes its layers from the network: VGG-16's relu1_2..relu4_3, VGG-19's relu1_1..relu5_1, the
    truncated normalised file's relu1_1..relu3_1, and relu5_1 again where random layers extend it."""
    from conftest import NORMALISED_VGG, need_shared

    spec = kind if kind.startswith("random") else f"vgg19-{kind}:{need_shared(NORMALISED_VGG)}"
    expected = {"random-vgg16": "relu4_3", "random-vgg19": "relu5_1", "normalised": "relu3_1",
                "normalised+random-deep": "relu5_1"}[kind]
    layers = L.default_layers(spec)
    assert layers[-1] == expected and L.available_layers(spec)[-1] == expected
    cfg = LayersConfig(loss_net=spec, photos=str(photos), photo_size=32, num_units=2, top=2)
    _, info = L.patches_picture(cfg, progress=False)
    assert info["layer"] == expected and len(info["units"]) == 2
