"""The feature transforms of arbitrary style transfer (fastnst.wct): WCT, AdaIN and the Newton-Schulz roots."""

import pytest
import torch

from fastnst.wct import EPS, adain, covariance, painting_stats, sqrt_and_inv_sqrt, std_of, wct


def _random_spd(c: int, condition: float, generator: torch.Generator) -> torch.Tensor:
    """A random (1, C, C) SPD matrix with eigenvalues spread log-uniformly over [1 / condition, 1] x 37."""
    q, _ = torch.linalg.qr(torch.randn(c, c, dtype=torch.float64, generator=generator))
    eig = torch.logspace(0, -torch.log10(torch.tensor(condition)).item(), c, dtype=torch.float64) * 37.0
    return (q @ torch.diag(eig) @ q.T)[None]


def _eigh_roots(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    w, v = torch.linalg.eigh(a.double())
    return (v @ torch.diag_embed(w.sqrt()) @ v.transpose(1, 2),
            v @ torch.diag_embed(w.rsqrt()) @ v.transpose(1, 2))


@pytest.mark.parametrize("condition", [1e1, 1e3, 1e4])
@pytest.mark.parametrize("c", [3, 64, 256])
def test_newton_schulz_roots_match_an_eigendecomposition(c, condition):
    g = torch.Generator().manual_seed(c)
    a = _random_spd(c, condition, g)
    want_sqrt, want_inv = _eigh_roots(a)
    got_sqrt, got_inv = sqrt_and_inv_sqrt(a.float())
    rel = lambda x, y: ((x.double() - y).norm() / y.norm()).item()  # noqa: E731
    assert rel(got_sqrt, want_sqrt) < 1e-4
    assert rel(got_inv, want_inv) < 1e-3
    assert torch.allclose((got_sqrt @ got_sqrt).double(), a, rtol=0, atol=1e-4 * a.abs().max().item())


def test_the_ridge_keeps_an_ill_conditioned_covariance_within_reach_of_the_iterations():
    """A covariance of condition 1e8 (past what fp32 roots can reach) regularised as covariance() does: the roots
    are those of the regularised matrix."""
    g = torch.Generator().manual_seed(1)
    a = _random_spd(128, 1e8, g)
    ridge = a + EPS * (a.diagonal(dim1=1, dim2=2).mean() + 1e-3) * torch.eye(128, dtype=a.dtype)
    want_sqrt, want_inv = _eigh_roots(ridge)
    got_sqrt, got_inv = sqrt_and_inv_sqrt(ridge.float())
    assert ((got_sqrt.double() - want_sqrt).norm() / want_sqrt.norm()) < 1e-4
    assert ((got_inv.double() - want_inv).norm() / want_inv.norm()) < 1e-3


def _features(seed: int, c: int = 32, h: int = 24, w: int = 20) -> torch.Tensor:
    """Correlated, non-negative features (1, C, H, W), like ReLU outputs."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(c, c, generator=g) / c ** 0.5
    return (mix @ torch.randn(c, h * w, generator=g) + torch.rand(c, 1, generator=g) * 2).relu().view(1, c, h, w)


@pytest.mark.parametrize("dtype, eps, tolerance", [(torch.float64, 1e-9, 1e-6), (torch.float32, EPS, 1e-2)])
def test_wct_gives_the_content_the_paintings_mean_and_covariance(dtype, eps, tolerance):
    """Exact without a ridge (float64, eps 1e-9); with the default ridge, the content's weakest directions are
    whitened a little less (by lambda / (lambda + ridge)), so the covariance matches within 1%."""
    content, painting = _features(0).to(dtype), _features(1, h=30, w=31).to(dtype)
    mean, colour = painting_stats(painting, eps=eps, iterations=40)
    out = wct(content, mean, colour, alpha=1.0, eps=eps, iterations=40)
    got_mean, got_cov = covariance(out, eps=0)
    want_mean, want_cov = covariance(painting, eps=0)
    assert torch.allclose(got_mean, want_mean, atol=1e-4)
    assert ((got_cov - want_cov).norm() / want_cov.norm()).item() < tolerance


def test_wct_with_strength_zero_gives_the_content_back_and_blends_linearly():
    content, painting = _features(2), _features(3)
    mean, colour = painting_stats(painting)
    assert torch.allclose(wct(content, mean, colour, alpha=0.0), content, atol=1e-6)
    full = wct(content, mean, colour, alpha=1.0)
    assert torch.allclose(wct(content, mean, colour, alpha=0.3), 0.3 * full + 0.7 * content, atol=1e-4)


def test_adain_gives_each_channel_the_paintings_mean_and_std():
    content, painting = _features(4), _features(5)
    mean, colour = painting_stats(painting, eps=0)
    flat = painting.flatten(2)
    assert torch.allclose(std_of(colour), flat.std(dim=2, unbiased=False, keepdim=True), rtol=1e-3)
    out = adain(content, flat.mean(2, keepdim=True), flat.std(2, unbiased=False, keepdim=True)).flatten(2)
    assert torch.allclose(out.mean(2, keepdim=True), flat.mean(2, keepdim=True), atol=1e-4)
    assert torch.allclose(out.std(2, unbiased=False, keepdim=True), flat.std(2, unbiased=False, keepdim=True),
                          rtol=1e-3)
    assert torch.allclose(adain(content, mean, std_of(colour), alpha=0.0), content, atol=1e-6)


@pytest.mark.parametrize("value", [0.0, 3.5])
def test_a_flat_painting_or_frame_gives_finite_features(value):
    """One colour: every position equal, a zero covariance (singular). The ridge keeps everything finite; a flat
    painting gives (nearly) its own flat features, a flat frame the painting's mean."""
    flat = torch.full((1, 16, 9, 7), value)
    content, painting = _features(6, c=16), _features(7, c=16)
    mean, colour = painting_stats(flat)
    out = wct(content, mean, colour)
    assert torch.isfinite(out).all() and torch.isfinite(colour).all()
    assert (out - value).abs().max().item() < 0.1 * content.std().item()
    mean, colour = painting_stats(painting)
    out = wct(flat, mean, colour)
    assert torch.isfinite(out).all()
    assert torch.allclose(out, mean.view(1, 16, 1, 1).expand_as(out), atol=1e-3)
    single = wct(content[:, :, :1, :1], mean, colour)  # one position: no covariance at all
    assert torch.isfinite(single).all()
