"""The Gatys perceptual loss as pure functions, plus one thin module that bundles them.

Shapes: feature maps are (N, C, H, W); Gram matrices are (N, C, C); images are float RGB
(N, 3, H, W) in [0, 1]. Every loss returns a scalar tensor and never modifies its inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _full(x: torch.Tensor) -> torch.Tensor:
    """Upcast half-precision tensors (autocast) to float32; float32/float64 stay as they are."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


class _SelfProduct(torch.autograd.Function):
    """``F F^T`` for F (N, C, K), with the gradient of a product of a matrix with itself.

    autograd's ``bmm(F, F^T)`` backward makes two (N, C, K) products, ``dG F`` and ``dG^T F``,
    one per operand; here it is one, ``(dG + dG^T) F``: a third of the Gram matrices' cost in
    a training step (at 256 px the products over relu1_1's 64 x 65536 maps dominate). Computed
    in the input's dtype with autocast off, so half-precision autocast cannot lower it.
    """

    @staticmethod
    def forward(ctx, f: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(f)
        with torch.autocast(f.device.type, enabled=False):
            return torch.bmm(f, f.transpose(1, 2))  # (N, C, C)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (f,) = ctx.saved_tensors
        grad = grad.to(f.dtype)
        with torch.autocast(f.device.type, enabled=False):
            return torch.bmm(grad + grad.transpose(1, 2), f)  # (N, C, K)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrices of feature maps, normalised by C * H * W.

    Args:
        features: (N, C, H, W), any real values.
    Returns:
        (N, C, C), float32 for half-precision input, also under autocast (else the input's
        dtype): ``G[n, i, j] = sum_hw F[n, i, hw] F[n, j, hw] / (C H W)``.
    """
    n, c, h, w = features.shape
    f = _full(features).reshape(n, c, h * w)  # (N, C, HW)
    return _SelfProduct.apply(f) / (c * h * w)  # (N, C, C)


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


def blur_downsample(images: torch.Tensor) -> torch.Tensor:
    """One Gaussian-pyramid step: a 5-tap binomial blur ([1, 4, 6, 4, 1] / 16 per axis) and
    subsampling by 2 (Burt and Adelson 1983).

    Args:
        images: (N, C, H, W), any values, H and W >= 3 (reflection padding).
    Returns:
        (N, C, ceil(H / 2), ceil(W / 2)), the input's dtype; a constant image stays constant.
    """
    c = images.shape[1]
    k = images.new_tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
    kernel = (k[:, None] * k[None, :]).expand(c, 1, 5, 5)  # (C, 1, 5, 5), one per channel
    padded = F.pad(images, (2, 2, 2, 2), mode="reflect")
    return F.conv2d(padded, kernel, stride=2, groups=c)


def pyramid(images: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Gaussian pyramid: ``[images, blur_downsample(images), ...]``, ``levels`` entries.

    Args:
        images: (N, C, H, W); each level halves H and W (rounding up).
        levels: >= 1; 1 returns ``[images]``.
    """
    out = [images]
    for _ in range(levels - 1):
        out.append(blur_downsample(out[-1]))
    return out


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


def multiscale_style_loss(
    loss_net: nn.Module,
    levels: Sequence[torch.Tensor],
    target_grams: Sequence[Mapping[str, torch.Tensor]],
    layer_weights: Mapping[str, float] | None = None,
    first_features: Mapping[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Sum over pyramid levels of :func:`style_loss` (Snelgrove 2017; Risser et al. 2017).

    Matching Gram matrices of a Gaussian pyramid of the output against those of the style
    image's pyramid multiplies the loss network's receptive field by 2 per level, so a
    shallow network also sees large-scale structure (strokes, swirls), for about a third
    more loss-network compute with three levels.

    Args:
        loss_net: a :class:`fastnst.lossnet.LossNet`.
        levels: the output's pyramid, from :func:`pyramid`: (N, 3, H / 2^k, W / 2^k) in [0, 1].
        target_grams: per level, layer -> (1, C, C) Gram matrices of the style pyramid.
        layer_weights: as in :func:`style_loss`.
        first_features: loss-net features of ``levels[0]`` when already computed.
    Returns:
        Scalar: ``sum_k style_loss(features(levels[k]), target_grams[k])``.
    """
    total = None
    for k, (images, grams) in enumerate(zip(levels, target_grams, strict=True)):
        feats = first_features if (k == 0 and first_features is not None) else loss_net(images, tuple(grams))
        term = style_loss(feats, grams, layer_weights)
        total = term if total is None else total + term
    return total


class PerceptualLoss(nn.Module):
    """Content + style + total-variation loss against one style image, on a frozen loss net.

    The style Gram matrices are computed once here. ``forward`` makes a single loss-net
    pass over the output, reading every style layer and the content layer from it, plus
    one pass per further pyramid level when ``style_scales > 1``.

    Args:
        loss_net: a :class:`fastnst.lossnet.LossNet` (frozen).
        style: (1, 3, Hs, Ws) style image in [0, 1].
        style_layers, content_layer: layer names; default to the loss net's own.
        content_weight, style_weight, tv_weight: weights of the three terms.
        layer_weights: optional per-style-layer weights (default 1 each).
        style_scales: Gaussian-pyramid levels of the style loss (:func:`multiscale_style_loss`);
            1 is the plain single-scale Gram loss of Gatys et al.
    """

    def __init__(self, loss_net: nn.Module, style: torch.Tensor, *,
                 style_layers: Sequence[str] | None = None, content_layer: str | None = None,
                 content_weight: float = 1.0, style_weight: float = 1.0, tv_weight: float = 0.0,
                 layer_weights: Mapping[str, float] | None = None, style_scales: int = 1):
        super().__init__()
        if style_scales < 1:
            raise ValueError(f"style_scales must be >= 1, got {style_scales}")
        self.loss_net = loss_net
        self.style_layers = tuple(style_layers or loss_net.style_layers)
        self.content_layer = content_layer or loss_net.content_layer
        loss_net.check_layers((*self.style_layers, self.content_layer))
        self.content_weight, self.style_weight, self.tv_weight = content_weight, style_weight, tv_weight
        self.layer_weights = dict(layer_weights or {})
        self.style_scales = style_scales
        with torch.no_grad():
            for k, level in enumerate(pyramid(style, style_scales)):
                feats = loss_net(level, self.style_layers)
                for layer in self.style_layers:
                    self.register_buffer(f"gram{k}_{layer}", gram_matrix(feats[layer]))  # (1, C, C)

    @property
    def target_grams(self) -> dict[str, torch.Tensor]:
        """Layer -> (1, C, C) Gram matrices of the style image at full scale."""
        return self.level_grams(0)

    def level_grams(self, k: int) -> dict[str, torch.Tensor]:
        """Layer -> (1, C, C) Gram matrices of pyramid level ``k`` of the style image."""
        return {layer: getattr(self, f"gram{k}_{layer}") for layer in self.style_layers}

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
            terms, ``style`` summed over the pyramid levels; ``total`` is the weighted sum).
        """
        feats = self.loss_net(output, (*self.style_layers, self.content_layer))
        c = content_loss(feats[self.content_layer], content_target)
        if self.style_scales == 1:
            s = style_loss(feats, self.target_grams, self.layer_weights)
        else:
            grams = [self.level_grams(k) for k in range(self.style_scales)]
            s = multiscale_style_loss(self.loss_net, pyramid(output, self.style_scales), grams,
                                      self.layer_weights, first_features=feats)
        tv = total_variation(output) if self.tv_weight else output.new_zeros(())
        total = self.content_weight * c + self.style_weight * s + self.tv_weight * tv
        return {"total": total, "content": c, "style": s, "tv": tv}


# ----------------------------------------------------------------------------- temporal


def warp_torch(images: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp: ``out(p) = images(p + flow(p))``, bilinear, borders replicated.

    The torch twin of :func:`fastnst.flow.warp` (same flow convention), differentiable in
    ``images`` and ``flow``.

    Args:
        images: (N, C, H, W), any values.
        flow: (N, 2, H, W) displacements (dx, dy) in pixels.
    Returns:
        (N, C, H, W), the dtype of ``images``.
    """
    n, _, h, w = images.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=flow.device, dtype=flow.dtype),
                            torch.arange(w, device=flow.device, dtype=flow.dtype), indexing="ij")
    gx = (xs + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0  # (N, H, W) in [-1, 1] inside the image
    gy = (ys + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1).to(images.dtype)  # (N, H, W, 2)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)


def flow_inside(flow: torch.Tensor) -> torch.Tensor:
    """Mask of the pixels whose source ``p + flow(p)`` lies inside the image.

    Args:
        flow: (N, 2, H, W) in pixels.
    Returns:
        (N, 1, H, W) float, 1 inside and 0 outside.
    """
    _, _, h, w = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=flow.device, dtype=flow.dtype),
                            torch.arange(w, device=flow.device, dtype=flow.dtype), indexing="ij")
    x, y = xs + flow[:, 0], ys + flow[:, 1]
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    return inside.unsqueeze(1).to(flow.dtype)


def random_flow(n: int, h: int, w: int, *, magnitude: float = 0.02, generator: torch.Generator | None = None,
                device=None) -> torch.Tensor:
    """Random smooth flows imitating camera and object motion between two video frames.

    Each flow is a random affine motion about the image centre (a shift of up to
    ``magnitude * max(h, w)`` pixels per axis, a rotation of up to ``magnitude`` * 60 degrees,
    a zoom of up to ``1 +- magnitude``) plus a smooth random deformation (a 4 x 4 grid of
    normal displacements with standard deviation ``magnitude * max(h, w) / 2``, upsampled
    bicubically). With the default 0.02 on 256 px crops: shifts up to 5 px, 1.2 degrees.

    Args:
        n, h, w: number of flows and their size.
        magnitude: overall motion scale, relative to the image size.
        generator: torch CPU generator (the flows are drawn on the CPU, then moved).
    Returns:
        (N, 2, H, W) float32 flows (dx, dy) in pixels, for :func:`warp_torch`.
    """
    side = float(max(h, w))

    def uniform(*shape):
        return torch.rand(shape, generator=generator) * 2 - 1  # [-1, 1)

    shift = uniform(n, 2) * magnitude * side  # (N, 2)
    angle = uniform(n) * math.radians(60 * magnitude)
    zoom = 1 + uniform(n) * magnitude
    noise = torch.randn((n, 2, 4, 4), generator=generator) * (magnitude * side / 2)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32) - (h - 1) / 2,
                            torch.arange(w, dtype=torch.float32) - (w - 1) / 2, indexing="ij")
    cos, sin = (zoom * torch.cos(angle))[:, None, None], (zoom * torch.sin(angle))[:, None, None]
    dx = cos * xs - sin * ys - xs + shift[:, 0, None, None]  # (N, H, W)
    dy = sin * xs + cos * ys - ys + shift[:, 1, None, None]
    smooth = F.interpolate(noise, size=(h, w), mode="bicubic", align_corners=True)  # (N, 2, H, W)
    return (torch.stack((dx, dy), dim=1) + smooth).to(device)


def temporal_loss(output_next: torch.Tensor, output: torch.Tensor, flow: torch.Tensor,
                  mask: torch.Tensor | None = None) -> torch.Tensor:
    """Short-term temporal loss (Huang et al. 2017, ReCoNet 2018) for a warped frame pair.

    ``output`` is the network's result for a frame x and ``output_next`` its result for the
    next frame ``warp_torch(x, flow)``. A temporally stable network commutes with the
    motion: ``T(warp(x)) = warp(T(x))``. The loss is the mean squared difference
    ``(output_next - warp_torch(output, flow))^2`` over channels and the pixels whose source
    lies inside the image (:func:`flow_inside`), times ``mask`` when given.

    Args:
        output_next, output: (N, C, H, W) network outputs, e.g. RGB in [0, 1].
        flow: (N, 2, H, W) flow in pixels from the next frame to the first
            (``next(p) = first(p + flow(p))``).
        mask: optional (N, 1, H, W) weights in [0, 1] (e.g. 0 at occlusions).
    Returns:
        Scalar >= 0; 0 when the network commutes with the warp on the valid pixels.
    """
    valid = flow_inside(flow)
    if mask is not None:
        valid = valid * mask
    diff = (_full(output_next) - _full(warp_torch(output, flow))).pow(2).mean(dim=1, keepdim=True)  # (N, 1, H, W)
    return (diff * valid).sum() / valid.sum().clamp_min(1.0)
