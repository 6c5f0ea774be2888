import numpy as np
import pytest

from fastnst.config import OptimizeConfig
from fastnst.errors import UserError
from fastnst.optimize import optimize


def stripes(h, w, period, colours):
    """A synthetic style: diagonal colour stripes."""
    y, x = np.mgrid[:h, :w]
    idx = ((x + y) // period) % len(colours)
    return np.asarray(colours, np.uint8)[idx]


def smooth_photo(h, w):
    """A synthetic content image: smooth gradients and a disc."""
    y, x = np.mgrid[:h, :w] / max(h, w)
    img = np.stack([x, y, 0.5 + 0.4 * np.sin(6 * x)], -1)
    img[(x - 0.5) ** 2 + (y - 0.4) ** 2 < 0.05] = (0.9, 0.8, 0.1)
    return (img * 255).astype(np.uint8)


@pytest.mark.parametrize("opt", ["lbfgs", "adam"])
def test_optimize_lowers_style_distance(opt):
    content = smooth_photo(60, 80)
    style = stripes(64, 64, 5, [(200, 30, 30), (20, 20, 180), (240, 240, 240)])
    cfg = OptimizeConfig(size=48, iterations=25 if opt == "lbfgs" else 60, optimizer=opt,
                         loss_net="random-vgg19:0", style_layers=("relu1_1", "relu2_1"),
                         content_layer="relu2_1", device="cpu", style_weight=1e4)
    result, stats = optimize(content, style, cfg, progress=False)
    assert result.dtype == np.uint8 and result.shape == (36, 48, 3)
    assert stats["style_distance_result"] < stats["style_distance_content"] / 3
    assert stats["content_layer"] == "relu2_1"


def chroma(img):
    """I and Q of YIQ (NTSC), per pixel, for uint8 RGB."""
    m = np.array([[0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    return (img / 255.0) @ m.T


def test_preserve_color_keeps_chroma():
    from fastnst.image import resize_long_side

    content = smooth_photo(40, 40)
    style = stripes(40, 40, 4, [(255, 0, 0), (0, 255, 0)])
    cfg = OptimizeConfig(size=32, iterations=8, loss_net="random-vgg16:0", preserve_color=True,
                         style_weight=1e5, device="cpu")
    kept, _ = optimize(content, style, cfg, progress=False)
    cfg.preserve_color = False
    free, _ = optimize(content, style, cfg, progress=False)
    target = chroma(resize_long_side(content, 32))
    err_kept = np.abs(chroma(kept) - target).mean()
    assert err_kept < 0.02
    assert err_kept < np.abs(chroma(free) - target).mean() / 2


def test_noise_init_is_seeded():
    content, style = smooth_photo(32, 32), stripes(32, 32, 4, [(255, 0, 0), (0, 0, 255)])
    cfg = OptimizeConfig(size=32, iterations=3, init="noise", loss_net="random-vgg16:0", seed=3, device="cpu")
    a, _ = optimize(content, style, cfg, progress=False)
    b, _ = optimize(content, style, cfg, progress=False)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("field,value", [("size", 4), ("iterations", 0), ("optimizer", "sgd"),
                                         ("init", "zeros"), ("style_scale", 0.0), ("device", "tpu")])
def test_bad_config(field, value):
    cfg = OptimizeConfig(loss_net="random-vgg16", device="cpu")
    setattr(cfg, field, value)
    with pytest.raises(UserError):
        optimize(smooth_photo(32, 32), smooth_photo(32, 32), cfg, progress=False)


@pytest.mark.slow
@pytest.mark.shared
def test_real_photo_and_painting(normalised_vgg):
    """The issue's acceptance check, on real data: the style distance falls many times."""
    from fastnst.image import load_image

    from conftest import SHARED, need_shared

    photo = sorted(need_shared(SHARED / "content/bsds500/train").glob("*.jpg"))[5]
    painting = need_shared(SHARED / "styles/starry_night.jpg")
    cfg = OptimizeConfig(size=128, iterations=40, loss_net=f"vgg19-normalised:{normalised_vgg}", device="cpu")
    result, stats = optimize(load_image(photo), load_image(painting), cfg, progress=False)
    assert stats["style_distance_result"] < stats["style_distance_content"] / 10
