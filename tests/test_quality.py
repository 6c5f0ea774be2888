"""fastnst.quality: the measures of benchmarks/quality.py on images with known answers."""

import numpy as np
import pytest

from fastnst.quality import QualityJudge, periodicity_score, relative_distance


def _smooth_noise(h=192, w=256, seed=0, sigma=3.0):
    import cv2

    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((h, w)), (0, 0), sigma)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    return np.repeat((noise * 255).round().astype(np.uint8)[..., None], 3, axis=2)


def test_periodicity_is_high_for_an_8px_checkerboard_and_low_for_smooth_noise():
    y, x = np.mgrid[:192, :256]
    board = (((y // 4) + (x // 4)) % 2 * 255).astype(np.uint8)  # repeats every 8 px
    noisy = np.clip(board * 0.2 + _smooth_noise()[..., 0] * 0.8, 0, 255).astype(np.uint8)
    assert periodicity_score(board) > 1e6
    assert periodicity_score(noisy) > 1000  # a faint grid over an image is still found
    assert periodicity_score(_smooth_noise()) < 30
    assert periodicity_score(np.full((64, 64, 3), 128, np.uint8)) == 0.0


@pytest.mark.parametrize("period", [2, 4])
def test_periodicity_finds_stripes_of_each_period(period):
    x = np.arange(256)
    stripes = ((x % period) < period // 2).astype(np.float64)  # vertical stripes along x
    img = np.clip(_smooth_noise()[..., 0] * 0.9 + np.tile(stripes, (192, 1)) * 25, 0, 255).astype(np.uint8)
    assert periodicity_score(img) > 100
    assert periodicity_score(img, periods=(8,)) < 30  # odd harmonics only: nothing at 1/8


def test_periodicity_too_small_is_an_error():
    with pytest.raises(ValueError):
        periodicity_score(np.zeros((16, 16), np.uint8))


def test_relative_distance_known_values():
    import torch

    b = torch.ones(2, 3, 4)
    assert relative_distance(b, b).tolist() == [0.0, 0.0]
    torch.testing.assert_close(relative_distance(2 * b, b), torch.ones(2))


def test_judge_distances_zero_for_identical_images_and_grow_with_change():
    from fastnst.lossnet import build_loss_net

    rng = np.random.default_rng(0)
    photo = _smooth_noise(64, 96)
    style = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    judge = QualityJudge(build_loss_net("random-vgg19:1", ("relu1_1", "relu2_1"), "relu2_1"), style)
    assert judge.style_distance(style) == pytest.approx(0.0, abs=1e-6)
    assert judge.content_distance(photo, photo) == 0.0
    near = np.clip(photo.astype(int) + rng.integers(-10, 11, photo.shape), 0, 255).astype(np.uint8)
    far = 255 - photo
    assert 0 < judge.content_distance(near, photo) < judge.content_distance(far, photo)
    assert judge.style_distance(photo) > judge.style_distance(
        np.clip(0.5 * photo + 0.5 * style, 0, 255).astype(np.uint8))
    with pytest.raises(ValueError):
        judge.content_distance(photo[:32], photo)
