"""Configuration dataclasses, one per job, free of heavy imports.

The CLI maps flags onto these (and reads their defaults for ``--help`` without importing
torch); checkpoints and model files store them, so nothing has to be guessed later.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UserError


@dataclass
class OptimizeConfig:
    """Settings of ``fastnst optimize`` (one field per flag)."""

    size: int = 384  # long side of the output, pixels
    iterations: int = 200
    optimizer: str = "lbfgs"  # "lbfgs" or "adam"
    init: str = "content"  # "content" or "noise"
    content_weight: float = 1.0
    style_weight: float = 1e5
    tv_weight: float = 1.0
    style_layers: tuple[str, ...] | None = None  # None: the loss net's defaults
    content_layer: str | None = None
    style_scale: float = 1.0  # style image long side relative to the content's
    preserve_color: bool = False
    loss_net: str | None = None  # spec; None: $FASTNST_LOSS_NET or vgg16
    seed: int = 0
    device: str = "auto"
    lr: float | None = None  # None: 1.0 for L-BFGS, 0.02 for Adam

    def validate(self) -> None:
        if self.size < 16:
            raise UserError(f"--size must be at least 16, got {self.size}")
        if self.iterations < 1:
            raise UserError(f"--iterations must be at least 1, got {self.iterations}")
        if self.optimizer not in ("lbfgs", "adam"):
            raise UserError(f"--optimizer must be lbfgs or adam, got '{self.optimizer}'")
        if self.init not in ("content", "noise"):
            raise UserError(f"--init must be content or noise, got '{self.init}'")
        if not self.style_scale > 0:
            raise UserError(f"--style-scale must be positive, got {self.style_scale}")
        if min(self.content_weight, self.style_weight, self.tv_weight) < 0:
            raise UserError("loss weights must not be negative")
