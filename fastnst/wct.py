"""Feature transforms of arbitrary style transfer: WCT (Li et al. 2017) and AdaIN (Huang & Belongie 2017).

Pure functions on encoder features ``(N, C, H, W)``. The painting's side is summarised once per
painting and level by :func:`painting_stats` (its mean and colouring matrix, the square root of its
covariance); every frame then needs only its own whitening (:func:`wct`) or mean/std (:func:`adain`).

The matrix square roots are Newton-Schulz iterations (:func:`sqrt_and_inv_sqrt`): matrix products
only, so the whole transform exports to ONNX (an eigen-decomposition is no ONNX operator). Every
covariance gets a ridge ``eps * (trace / C + 1e-3)`` on its diagonal (:func:`covariance`): a flat,
one-colour painting or frame (a singular covariance, even all zeros) gives finite roots, never NaN.
"""

from __future__ import annotations

import torch

EPS = 1e-3  # the covariances' ridge, relative to their mean eigenvalue (trace / C): fp32 roots stay within 1e-3
EPS_FLOOR = 1e-3  # the ridge's absolute part, for an all-zero covariance (a flat image)
NS_ITERATIONS = 24  # Newton-Schulz steps: the ridge bounds the condition number by C / EPS (converged by ~20)


def covariance(features: torch.Tensor, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and regularised covariance of features ``(N, C, H, W)`` over their positions.

    Returns ``mean`` (N, C, 1) and ``cov`` (N, C, C) = centred f f^T / HW (the population covariance:
    no special case for a single position, and no shape arithmetic in the exported graph)
    + ``eps * (trace / C + EPS_FLOOR)`` I, symmetric positive definite for any input.
    """
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)  # (N, C, P)
    mean = f.mean(dim=2, keepdim=True)  # (N, C, 1)
    fc = f - mean
    cov = fc @ fc.transpose(1, 2) / (h * w)  # (N, C, C)
    eye = torch.eye(c, dtype=f.dtype, device=f.device)
    trace = (cov * eye).sum(dim=(1, 2), keepdim=True)  # (N, 1, 1)
    return mean, cov + eps * (trace / c + EPS_FLOOR) * eye


def sqrt_and_inv_sqrt(a: torch.Tensor, iterations: int = NS_ITERATIONS) -> tuple[torch.Tensor, torch.Tensor]:
    """Square root and inverse square root of symmetric positive definite matrices ``a`` (N, C, C).

    Coupled Newton-Schulz iterations (Higham 2008, eq. 6.35) on ``a / ||a||_F``, whose eigenvalues
    lie in (0, 1]: ``T = (3I - Z Y) / 2; Y <- Y T; Z <- T Z`` takes Y to sqrt and Z to inv-sqrt. The root
    of an eigenvalue far below 1 grows 1.5x per step, then converges quadratically; ``iterations`` must
    cover log1.5 of sqrt(condition number) plus a few (24 covers the ridge of :func:`covariance`). In fp32
    the inverse root's relative error is about 2e-8 x the condition number (3e-4 at 1.7e4).
    Returns (sqrt, inv_sqrt), each (N, C, C).
    """
    c = a.shape[-1]
    norm = a.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, 1, 1)  # (N, 1, 1): ||a||_F >= largest eigenvalue
    eye = torch.eye(c, dtype=a.dtype, device=a.device).expand_as(a)
    y, z = a / norm, eye
    for _ in range(iterations):
        t = 0.5 * (3.0 * eye - z @ y)
        y, z = y @ t, t @ z
    root = norm.sqrt()
    return y * root, z / root


def painting_stats(features: torch.Tensor, eps: float = EPS, iterations: int = NS_ITERATIONS
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """A painting's statistics at one level, computed once: features (N, C, H, W) -> ``mean`` (N, C, 1) and
    ``colour`` (N, C, C), the square root of its regularised covariance."""
    mean, cov = covariance(features, eps)
    return mean, sqrt_and_inv_sqrt(cov, iterations)[0]


def wct(content: torch.Tensor, mean: torch.Tensor, colour: torch.Tensor, alpha: float | torch.Tensor = 1.0,
        eps: float = EPS, iterations: int = NS_ITERATIONS) -> torch.Tensor:
    """Whitening and colouring transform of content features (N, C, H, W) to a painting's ``mean`` (N, C, 1) and
    ``colour`` (N, C, C) (:func:`painting_stats`).

    The content is whitened (its covariance made the identity), coloured (given the painting's covariance)
    and moved to the painting's mean; ``alpha`` in [0, 1] blends the result with the content features
    (1: the painting's statistics, 0: the content unchanged). Returns (N, C, H, W).

    All of that is one affine map of each position's features, ``alpha (K (f - m_c) + m_s) + (1 - alpha) f
    = A f + b`` with ``K = colour @ whitening``: built on the (C, C) matrices, then applied to the features
    with a single product, so a frame costs one pass over its features (not a chain of full-size ops).
    """
    n, c, h, w = content.shape
    f = content.reshape(n, c, h * w)  # (N, C, P)
    c_mean, c_cov = covariance(content, eps)
    k = colour @ sqrt_and_inv_sqrt(c_cov, iterations)[1]  # (N, C, C): whiten, then colour
    eye = torch.eye(c, dtype=f.dtype, device=f.device)
    a = alpha * k + (1 - alpha) * eye  # (N, C, C)
    b = alpha * (mean - k @ c_mean)  # (N, C, 1)
    return (a @ f + b).reshape(n, c, h, w)


def std_of(colour: torch.Tensor) -> torch.Tensor:
    """Per-channel standard deviations (N, C, 1) of the covariance whose symmetric square root is ``colour``
    (N, C, C): the diagonal of colour @ colour, the rows' sums of squares."""
    return colour.square().sum(dim=2, keepdim=True).sqrt()


def adain(content: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, alpha: float | torch.Tensor = 1.0,
          eps: float = 1e-5) -> torch.Tensor:
    """Adaptive instance normalisation: content features (N, C, H, W) given a painting's per-channel
    ``mean`` and ``std`` (N, C, 1), blended with the content by ``alpha`` in [0, 1]. Returns (N, C, H, W)."""
    n, c, h, w = content.shape
    f = content.reshape(n, c, h * w)
    c_mean = f.mean(dim=2, keepdim=True)
    c_std = (f.var(dim=2, keepdim=True, unbiased=False) + eps).sqrt()
    out = (f - c_mean) / c_std * std + mean
    return (alpha * out + (1 - alpha) * f).reshape(n, c, h, w)
