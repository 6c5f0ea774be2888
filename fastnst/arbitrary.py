"""Arbitrary style transfer in PyTorch: any painting, no training per style (universal style transfer).

The reference that :mod:`fastnst.export_arbitrary` exports and checks against. Two networks share the
frozen encoder (the loss network, :func:`fastnst.train_decoder.build_encoder`):

- :class:`PaintingNet` (once per painting): painting (1, 3, H, W) in [0, 1] -> per level, coarse to
  fine, ``mean`` (1, C, 1) and ``colour`` (1, C, C) (:func:`fastnst.wct.painting_stats`);
- :class:`FrameNet` (every frame): image (N, 3, H, W) in [0, 1], ``alpha`` (1,) in [0, 1] and those
  statistics -> stylized (N, 3, H, W) in [0, 1]. For each level, coarse to fine (relu3_1, relu2_1,
  relu1_1 as in Li et al. 2017's multi-level WCT): encode, transform (WCT or AdaIN, blended with the
  content by ``alpha`` times the level's strength, :data:`fastnst.config.LEVEL_STRENGTHS`), decode
  (:mod:`fastnst.decoders`), clamp to [0, 1], and pass on.

Both take sides that are multiples of :data:`MULTIPLE` (4): the encoder's ceil-mode pools make the sizes
inside depend on the sides' parity, which ``torch.export`` fixes on the example, so the exported graphs
are made for such sides and :func:`fastnst.painting.pad_frame` / :func:`fastnst.painting.painting_image`
bring any frame or painting to one (repeating the frame's edge, cropped off again afterwards).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import level_strengths
from .decoders import LEVELS, Decoder, crop_to
from .lossnet import LossNet
from .wct import adain, painting_stats, std_of, wct

TRANSFORMS = ("wct", "adain")
MULTIPLE = 4  # the graphs' sides are multiples of this: the deepest level's scale


def stat_names(levels: tuple[str, ...]) -> list[str]:
    """The statistics' names in graph order: ``mean_<level>``, ``colour_<level>`` for each level."""
    return [f"{kind}_{level}" for level in levels for kind in ("mean", "colour")]


def coarse_to_fine(levels) -> tuple[str, ...]:
    """``levels`` ordered deepest first (relu3_1, relu2_1, relu1_1)."""
    return tuple(sorted(levels, key=LEVELS.index, reverse=True))


class PaintingNet(nn.Module):
    """Painting (1, 3, H, W) in [0, 1] -> (mean_l (1, C_l, 1), colour_l (1, C_l, C_l)) for each level l of
    ``levels`` (coarse to fine), flattened into one tuple (see :func:`stat_names`)."""

    def __init__(self, encoder: LossNet, levels: tuple[str, ...]):
        super().__init__()
        self.encoder, self.levels = encoder, coarse_to_fine(levels)

    def forward(self, painting: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = self.encoder(painting, self.levels)
        out: list[torch.Tensor] = []
        for level in self.levels:
            out += painting_stats(features[level])
        return tuple(out)


class FrameNet(nn.Module):
    """Image (N, 3, H, W) in [0, 1], ``alpha`` (1,) and the painting's statistics (a list, in the order
    :class:`PaintingNet` returns them) -> stylized image (N, 3, H, W) in [0, 1].

    ``strengths``: level -> its strength in [0, 1], the factor of ``alpha`` at that level (None: the
    shipped :data:`fastnst.config.LEVEL_STRENGTHS`; :func:`fastnst.config.level_strengths`)."""

    def __init__(self, encoder: LossNet, decoders: dict[str, Decoder], transform: str = "wct",
                 strengths: dict[str, float] | None = None):
        super().__init__()
        if transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
        self.encoder, self.transform = encoder, transform
        self.levels = coarse_to_fine(decoders)
        self.strengths = level_strengths(self.levels, strengths)
        self.decoders = nn.ModuleDict({level: decoders[level] for level in self.levels})

    def forward(self, image: torch.Tensor, alpha: torch.Tensor, stats: list[torch.Tensor]) -> torch.Tensor:
        x = image
        for i, level in enumerate(self.levels):
            mean, colour = stats[2 * i], stats[2 * i + 1]
            f = self.encoder(x, [level])[level]  # (N, C, h, w)
            a = alpha * self.strengths[level]  # (1,): this level's share of the style strength
            if self.transform == "wct":
                f = wct(f, mean, colour, a)
            else:
                f = adain(f, mean, std_of(colour), a)
            x = crop_to(self.decoders[level](f), image).clamp(0, 1)
        return x


def stylize(frame_net: FrameNet, painting_net: PaintingNet, image: torch.Tensor, painting: torch.Tensor,
            alpha: float = 1.0) -> torch.Tensor:
    """One call of both: image (N, 3, H, W) and painting (1, 3, H', W') in [0, 1] -> (N, 3, H, W) in [0, 1]."""
    with torch.no_grad():
        return frame_net(image, torch.tensor([float(alpha)]), list(painting_net(painting)))
