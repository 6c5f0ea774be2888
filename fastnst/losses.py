"""The Gatys perceptual loss as pure functions, plus one thin module that bundles them.

Shapes: feature maps are (N, C, H, W); Gram matrices are (N, C, C); images are float RGB
(N, 3, H, W) in [0, 1]. Every loss returns a scalar tensor and never modifies its inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _full(x: torch.Tensor) -> torch.Tensor:
    """Upcast half-precision tensors (autocast) to float32; float32/float64 stay as they are."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrices of feature maps, normalised by C * H * W.

    Args:
        features: (N, C, H, W), any real values.
    Returns:
        (N, C, C), float32 for half-precision input (else the input's dtype):
        ``G[n, i, j] = sum_hw F[n, i, hw] F[n, j, hw] / (C H W)``.
    """
    n, c, h, w = features.shape
    f = _full(features).reshape(n, c, h * w)  # (N, C, HW)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)  # (N, C, C)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between feature maps (N, C, H, W) and their target (same shape)."""
    return F.mse_loss(_full(features), _full(target))


def style_loss(
    features: Mapping[str, torch.Tensor],
    target_grams: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float] | None = None,
) -> torch.Tensor:
    """Weighted sum over layers of the mean squared error between Gram matrices.

    Args:
        features: layer -> (N, C, H, W) activations of the images being judged.
        target_grams: layer -> (1, C, C) or (N, C, C) Gram matrices of the style image(s),
            computed once with :func:`gram_matrix`; (1, C, C) is broadcast over the batch.
        layer_weights: layer -> weight; missing layers weigh 1. Only layers present in
            ``target_grams`` count.
    Returns:
        Scalar: ``sum_l w_l * mean_{n,i,j} (G_l(features)[n] - target_l)^2``.
    """
    total = torch.zeros((), device=next(iter(target_grams.values())).device)
    for layer, target in target_grams.items():
        g = gram_matrix(features[layer])  # (N, C, C)
        w = 1.0 if layer_weights is None else layer_weights.get(layer, 1.0)
        total = total + w * F.mse_loss(g, target.expand_as(g))
    return total


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Squared total variation: mean squared difference of vertical plus horizontal neighbours.

    Args:
        images: (N, C, H, W), any values (zero for a constant image).
    Returns:
        Scalar, >= 0.
    """
    dy = images[:, :, 1:, :] - images[:, :, :-1, :]  # (N, C, H-1, W)
    dx = images[:, :, :, 1:] - images[:, :, :, :-1]  # (N, C, H, W-1)
    return dy.pow(2).mean() + dx.pow(2).mean()


class PerceptualLoss(nn.Module):
    """Content + style + total-variation loss against one style image, on a frozen loss net.

    The style Gram matrices are computed once here. ``forward`` makes a single loss-net
    pass over the output, reading every style layer and the content layer from it.

    Args:
        loss_net: a :class:`fastnst.lossnet.LossNet` (frozen).
        style: (1, 3, Hs, Ws) style image in [0, 1].
        style_layers, content_layer: layer names; default to the loss net's own.
        content_weight, style_weight, tv_weight: weights of the three terms.
        layer_weights: optional per-style-layer weights (default 1 each).
    """

    def __init__(self, loss_net: nn.Module, style: torch.Tensor, *,
                 style_layers: Sequence[str] | None = None, content_layer: str | None = None,
                 content_weight: float = 1.0, style_weight: float = 1.0, tv_weight: float = 0.0,
                 layer_weights: Mapping[str, float] | None = None):
        super().__init__()
        self.loss_net = loss_net
        self.style_layers = tuple(style_layers or loss_net.style_layers)
        self.content_layer = content_layer or loss_net.content_layer
        loss_net.check_layers((*self.style_layers, self.content_layer))
        self.content_weight, self.style_weight, self.tv_weight = content_weight, style_weight, tv_weight
        self.layer_weights = dict(layer_weights or {})
        with torch.no_grad():
            feats = loss_net(style, self.style_layers)
        for layer in self.style_layers:
            self.register_buffer(f"gram_{layer}", gram_matrix(feats[layer]))  # (1, C, C)

    @property
    def target_grams(self) -> dict[str, torch.Tensor]:
        return {layer: getattr(self, f"gram_{layer}") for layer in self.style_layers}

    @torch.no_grad()
    def content_target(self, content: torch.Tensor) -> torch.Tensor:
        """Content-layer features (N, C, H, W) of ``content`` images, without gradients."""
        return self.loss_net(content, (self.content_layer,))[self.content_layer]

    def forward(self, output: torch.Tensor, content_target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss terms for ``output`` (N, 3, H, W) in [0, 1].

        Args:
            content_target: from :meth:`content_target` of the matching content images.
        Returns:
            dict with scalar tensors ``total``, ``content``, ``style`` and ``tv`` (unweighted
            terms; ``total`` is the weighted sum).
        """
        feats = self.loss_net(output, (*self.style_layers, self.content_layer))
        c = content_loss(feats[self.content_layer], content_target)
        s = style_loss(feats, self.target_grams, self.layer_weights)
        tv = total_variation(output) if self.tv_weight else output.new_zeros(())
        total = self.content_weight * c + self.style_weight * s + self.tv_weight * tv
        return {"total": total, "content": c, "style": s, "tv": tv}
