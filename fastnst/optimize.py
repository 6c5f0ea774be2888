"""Reference mode: the slow Gatys et al. (2015) stylization by optimising the image itself.

Uses the same loss network and loss functions as training, so it doubles as a check of
the loss code: whatever the fast network is taught, this finds directly.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from . import image as im
from .config import LOSS_NET_MIN_SIDE, OptimizeConfig, check_layer_weights
from .devices import resolve_device
from .losses import PerceptualLoss
from .lossnet import build_loss_net


def optimize(content: np.ndarray, style: np.ndarray, cfg: OptimizeConfig | None = None,
             progress: bool = True) -> tuple[np.ndarray, dict]:
    """Stylize ``content`` with ``style`` by L-BFGS (or Adam) on the pixels.

    Args:
        content, style: uint8 (H, W, 3) RGB images.
        cfg: settings; defaults to ``OptimizeConfig()``.
        progress: show a tqdm bar with the loss terms.
    Returns:
        (result, stats): the uint8 (h, w, 3) RGB result with long side ``cfg.size``, and a
        dict with the final loss terms, the style distance (unweighted style loss) of the
        content image and of the result, and the config used.
    """
    from tqdm import tqdm

    cfg = cfg or OptimizeConfig()
    cfg.validate()
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)

    content = im.resize_long_side(content, cfg.size)
    style = im.resize_long_side(style, max(LOSS_NET_MIN_SIDE, round(cfg.style_scale * max(content.shape[:2]))))
    if cfg.preserve_color:  # luminance-only transfer (Gatys et al. 2016)
        content_in, style = im.gray_rgb(content), im.gray_rgb(style)
    else:
        content_in = content

    net = build_loss_net(cfg.loss_net, cfg.style_layers, cfg.content_layer)
    net.to(device)
    check_layer_weights(cfg.style_layer_weights, net.style_layers)  # the net's default layers where none given
    layer_weights = dict(zip(net.style_layers, cfg.style_layer_weights)) if cfg.style_layer_weights else None
    crit = PerceptualLoss(net, im.to_tensor(style, device), content_weight=cfg.content_weight,
                          style_weight=cfg.style_weight, tv_weight=cfg.tv_weight, style_scales=cfg.style_scales,
                          layer_weights=layer_weights)
    c = im.to_tensor(content_in, device)  # (1, 3, H, W) in [0, 1]
    target = crit.content_target(c)
    with torch.no_grad():
        start_terms = crit(c, target)

    x0 = c if cfg.init == "content" else torch.rand(c.shape, device=device)
    x = x0.clone().requires_grad_(True)  # the image being optimised, unconstrained; clamped at the end
    bar = tqdm(total=cfg.iterations, desc="optimize", unit="it", disable=not progress, dynamic_ncols=True)
    terms: dict[str, torch.Tensor] = {}

    def closure():
        opt.zero_grad(set_to_none=True)
        out = crit(x, target)
        out["total"].backward()
        terms.update({k: v.detach() for k, v in out.items()})
        if not torch.isfinite(out["total"]):
            raise RuntimeError("the loss diverged (not finite); try --optimizer adam or a lower --lr")
        if cfg.optimizer == "lbfgs":
            report(opt.state[x]["n_iter"])  # L-BFGS evaluates inside its own loop
        return out["total"]

    def report(step: int):
        bar.update(step - bar.n)
        bar.set_postfix(total=f"{terms['total'].item():.4g}", content=f"{terms['content'].item():.3g}",
                        style=f"{terms['style'].item():.3g}", tv=f"{terms['tv'].item():.3g}")

    if cfg.optimizer == "lbfgs":
        # One call runs all iterations: L-BFGS keeps its curvature history and its strong-Wolfe
        # line search intact (stepping it one iteration at a time was measured to stall).
        opt = torch.optim.LBFGS([x], lr=cfg.lr or 1.0, max_iter=cfg.iterations, max_eval=cfg.iterations * 5 // 4,
                                history_size=50, tolerance_grad=0.0, tolerance_change=0.0,
                                line_search_fn="strong_wolfe")
        opt.step(closure)
        report(opt.state[x]["n_iter"])
    else:
        opt = torch.optim.Adam([x], lr=cfg.lr or 0.02)
        for i in range(cfg.iterations):
            opt.step(closure)
            with torch.no_grad():
                x.clamp_(0, 1)  # our own leaf tensor: keep it a valid image
            report(i + 1)
    bar.close()

    with torch.no_grad():
        final = crit(x, target)
    result = im.to_image(x.detach().clamp(0, 1))
    if cfg.preserve_color:
        result = im.transfer_luminance(result, content)
    stats = {
        "loss": {k: float(v) for k, v in final.items()},
        "style_distance_content": float(start_terms["style"]),
        "style_distance_result": float(final["style"]),
        "config": asdict(cfg),
        "loss_net": net.spec,
        "style_layers": list(crit.style_layers),
        "style_layer_weights": [crit.layer_weights.get(layer, 1.0) for layer in crit.style_layers],
        "content_layer": crit.content_layer,
    }
    return result, stats

