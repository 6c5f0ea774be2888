"""How good a stylized image is: the three measures of ``benchmarks/quality.py``.

- **style distance**: the relative Gram distance ``||G(x) - G(s)||_F / ||G(s)||_F`` between
  the image and the painting, averaged over the loss net's style layers (0 for the painting
  itself; the photo it started from is typically near 1);
- **content distance**: the relative feature distance ``||F(x) - F(p)||_F / ||F(p)||_F`` at
  the content layer between the image and the photo it came from (0 for the photo itself);
- **periodicity score**: how strongly one texture repeats every 2, 4 or 8 pixels over the
  whole picture (the fingerprint of a network's stride), from the power spectrum;
- **stroke period**: the wavelength (px) that splits the picture's edge energy in half, from
  the power spectrum too: larger strokes, longer period (``benchmarks/stroke_size.py``).

Images come in as uint8 RGB ``(H, W, 3)``, as everywhere at fastnst's edges. The distances
need torch and a loss network (:class:`QualityJudge`); :func:`periodicity_score` is numpy only.

The export checks (fp16, int8, uint8 I/O) and the tests share two more numpy-only pieces:
:func:`natural_image`, a deterministic natural-looking test picture, and :func:`psnr`.
"""

from __future__ import annotations

import numpy as np

from .image import LUMA

PERIODS = (2, 4, 8)  # pixels: the strides of fastnst's networks and their harmonics


def _grey(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) RGB or (H, W) grey -> float64 (H, W) luma (:data:`fastnst.image.LUMA`) in [0, 1]."""
    img = np.asarray(image, dtype=np.float64) / 255.0
    if img.ndim == 3:
        img = img[..., :3] @ np.array(LUMA)
    return img


def periodicity_score(image: np.ndarray, periods=PERIODS) -> float:
    """How strongly a texture repeats every ``p`` pixels, for ``p`` in ``periods``.

    The grey image (cropped to a multiple of every period, mean removed, Hann-windowed)
    gives a 2-D power spectrum. A pattern that repeats every ``p`` pixels puts peaks at the
    frequencies ``1/p`` cycles per pixel along the axes and the diagonals. Each of those
    peaks is divided by the median power of the ring of frequencies at its radius (what an
    image without such a pattern has there); the score is the largest ratio. Natural photos
    score about 5 to 100, a strong 8-px grid in the thousands.

    Args:
        image: uint8 (H, W, 3) RGB or (H, W) grey, H and W >= 4 * max(periods).
        periods: repeat lengths in pixels.
    Returns:
        float >= 0 (0 for a constant image).
    """
    g = _grey(image)
    m = int(np.lcm.reduce(np.array(periods)))
    h, w = (g.shape[0] // m) * m, (g.shape[1] // m) * m
    if min(h, w) < 4 * max(periods):
        raise ValueError(f"image too small for the periodicity score: {g.shape[:2]}")
    g = g[:h, :w] - g[:h, :w].mean()
    window = np.hanning(h)[:, None] * np.hanning(w)[None, :]
    power = np.abs(np.fft.fft2(g * window)) ** 2  # (h, w); bin (i, j) is (i/h, j/w) cycles/px
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    radius = np.hypot(fy, fx)  # (h, w)
    ring_width = 1.0 / min(h, w)
    floor = power.mean() * 1e-12 + 1e-30  # a constant image has no power anywhere
    best = 0.0
    for p in periods:
        for ay, ax in ((0, 1), (1, 0), (1, 1), (1, -1)):  # along x, along y, the two diagonals
            i, j = (ay * h // p) % h, (ax * w // p) % w  # the bin of frequency (ay/p, ax/p)
            ring = power[np.abs(radius - radius[i, j]) <= ring_width]
            best = max(best, float(power[i, j] / (np.median(ring) + floor)))
    return best


def stroke_period(image: np.ndarray) -> float:
    """The median wavelength of an image's edge energy, in pixels: how large its strokes are.

    The grey image (mean removed, Hann-windowed) gives a 2-D power spectrum ``P(f)``; its
    gradient energy at radial frequency ``f`` (cycles/px) is ``f^2 P(f)``. The result is
    ``1 / f_med`` where half of that energy lies below ``f_med``: 8 for stripes with an
    8-px period, and twice as long when a picture is stylized at half size and scaled back up.

    Args:
        image: uint8 (H, W, 3) RGB or (H, W) grey, H and W >= 8.
    Returns:
        float in [sqrt(2)/2, max(H, W)] pixels; inf for a constant image.
    """
    g = _grey(image)
    h, w = g.shape
    if min(h, w) < 8:
        raise ValueError(f"image too small for the stroke period: {g.shape}")
    g = g - g.mean()
    power = np.abs(np.fft.fft2(g * (np.hanning(h)[:, None] * np.hanning(w)[None, :]))) ** 2  # (h, w)
    radius = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]).ravel()  # (h * w,) cycles/px
    energy = radius ** 2 * power.ravel()
    total = energy.sum()
    if total <= 1e-20 * h * w:
        return float("inf")
    order = np.argsort(radius, kind="stable")
    median = radius[order][np.searchsorted(np.cumsum(energy[order]), 0.5 * total)]
    return float(1.0 / median)


def natural_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, natural-looking float32 (1, 3, H, W) image in [0, 1]: gradients, blobs, soft texture.

    Deterministic for a ``seed``. Used instead of constant images, on which instance
    normalisation amplifies rounding noise.
    """
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.linspace(0, 1, height, dtype=np.float32), np.linspace(0, 1, width, dtype=np.float32),
                       indexing="ij")
    channels = []
    for _ in range(3):
        a, b, c = rng.uniform(0.2, 0.8, 3)
        fx, fy = rng.uniform(1, 6, 2)
        ph = rng.uniform(0, 2 * np.pi)
        v = a * x + (1 - a) * y * b + 0.25 * np.sin(2 * np.pi * (fx * x + fy * y) + ph) * c
        cx, cy = rng.uniform(0.2, 0.8, 2)
        v += 0.3 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 0.02)
        channels.append(v)
    img = np.stack(channels)
    # soft texture: low-amplitude noise, box-blurred so it is not white noise
    noise = rng.normal(0, 0.05, img.shape).astype(np.float32)
    noise = (noise + np.roll(noise, 1, 1) + np.roll(noise, 1, 2) + np.roll(noise, (1, 1), (1, 2))) / 4
    img = img + noise
    img = (img - img.min()) / (img.max() - img.min() + 1e-6)
    return np.ascontiguousarray(np.clip(img, 0, 1)[None].astype(np.float32))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two same-shape images in [0, 1] (inf where they are equal)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


def relative_distance(a, b):
    """Per-sample ``||a - b||_F / ||b||_F`` of two torch tensors (N, ...) -> (N,)."""
    n = a.shape[0]
    diff = (a - b).reshape(n, -1).norm(dim=1)
    return diff / b.reshape(n, -1).norm(dim=1).clamp_min(1e-12)


class QualityJudge:
    """Style and content distances against one painting, on a loss network.

    Args:
        loss_net: a :class:`fastnst.lossnet.LossNet` (its default style and content layers).
        style: uint8 (H, W, 3) RGB painting, at the size the distances are taken at
            (``fastnst optimize`` uses the content's long side).
    """

    def __init__(self, loss_net, style: np.ndarray):
        import torch

        from . import image as im
        from .losses import gram_matrix

        self._torch, self._im, self._gram = torch, im, gram_matrix
        self.net = loss_net.eval()
        self.style_layers, self.content_layer = tuple(loss_net.style_layers), loss_net.content_layer
        with torch.no_grad():
            feats = self.net(im.to_tensor(style), self.style_layers)
        self.style_grams = {k: gram_matrix(v) for k, v in feats.items()}  # layer -> (1, C, C)

    def style_distance(self, image: np.ndarray) -> float:
        """Mean over the style layers of the relative Gram distance to the painting."""
        with self._torch.no_grad():
            feats = self.net(self._im.to_tensor(image), self.style_layers)
            d = [relative_distance(self._gram(feats[k]), self.style_grams[k]) for k in self.style_layers]
        return float(self._torch.stack(d).mean())

    def content_distance(self, image: np.ndarray, photo: np.ndarray) -> float:
        """Relative content-layer feature distance between ``image`` and the ``photo`` (same size)."""
        if image.shape != photo.shape:
            raise ValueError(f"image {image.shape} and photo {photo.shape} differ in size")
        with self._torch.no_grad():
            x = self.net(self._im.to_tensor(image), (self.content_layer,))[self.content_layer]
            y = self.net(self._im.to_tensor(photo), (self.content_layer,))[self.content_layer]
        return float(relative_distance(x, y)[0])
