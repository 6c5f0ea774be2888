"""Decoders that invert the normalised VGG-19's features: relu1_1, relu2_1 or relu3_1 back to an image.

Universal style transfer (Li et al. 2017) needs, per encoder level, a decoder trained only to
reconstruct photos from their features; the style enters at run time through a transform of the
features (:mod:`fastnst.wct`). Each decoder mirrors the encoder's layers up to its level, as the
AdaIN/WCT decoders do: reflection padding before every 3x3 conv, ReLU after every conv but the
last, and 2x upsampling where the encoder max-pools (``upsample``: ``nearest``, as the AdaIN/WCT decoders,
or ``bilinear``, which leaves less of a repeated 2- or 4-px pattern in what it paints). ``width`` scales the
channels of every hidden conv (1.0: the encoder's own 64/128/256; 0.5 halves them, for speed)::

    relu3_1 (N, 256, H/4, W/4) -> conv 256->128w, up 2x, conv 128w->128w, conv 128w->64w,
                                  up 2x, conv 64w->64w, conv 64w->3 -> (N, 3, H, W)
    relu2_1 (N, 128, H/2, W/2) -> conv 128->64w, up 2x, conv 64w->64w, conv 64w->3
    relu1_1 (N, 64, H, W)      -> conv 64->3

The encoder pools with ``ceil_mode``, so an odd side comes back up to one or more pixels larger;
:func:`crop_to` takes the output back to the photo's size. Outputs are not clamped: the pixel loss
sees them raw, the transforms clamp to [0, 1] at the edge.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from .config import DECODER_LEVELS, UPSAMPLE_MODES, check_choice
from .errors import UserError

LEVELS = DECODER_LEVELS  # relu1_1, relu2_1, relu3_1; coarse-to-fine order is reversed(LEVELS)
CHANNELS = {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256}  # the encoder's channels at each level
FILE_FORMAT = "fastnst-decoder"
FILE_VERSION = 1

# The decoder's layers after its level's first conv: ("conv", out_channels at width 1) or ("up",).
_LAYOUT = {
    "relu3_1": [("conv", 128), ("up",), ("conv", 128), ("conv", 64), ("up",), ("conv", 64), ("conv", 3)],
    "relu2_1": [("conv", 64), ("up",), ("conv", 64), ("conv", 3)],
    "relu1_1": [("conv", 3)],
}


def check_level(level: str) -> None:
    """UserError unless ``level`` is one of :data:`LEVELS`."""
    if level not in LEVELS:
        raise UserError(f"unknown decoder level '{level}': choose {', '.join(LEVELS)}")


def scale_of(level: str) -> int:
    """How many times smaller than the photo the features of ``level`` are (1, 2 or 4)."""
    return 2 ** LEVELS.index(level)


class Decoder(nn.Module):
    """Features of one encoder level (N, C_level, h, w) -> image (N, 3, h * s, w * s), s = :func:`scale_of`."""

    def __init__(self, level: str, width: float = 1.0, upsample: str = "nearest"):
        super().__init__()
        check_level(level)
        if not 0 < width <= 4:
            raise UserError(f"decoder width must be in (0, 4], got {width}")
        check_choice("decoder upsampling", upsample, UPSAMPLE_MODES)
        self.level, self.width, self.upsample = level, float(width), upsample
        layers: list[nn.Module] = []
        cin = CHANNELS[level]
        steps = _LAYOUT[level]
        for i, step in enumerate(steps):
            if step[0] == "up":
                layers.append(nn.Upsample(scale_factor=2, mode=upsample))
                continue
            last = i == len(steps) - 1
            cout = 3 if last else max(8, round(step[1] * width))
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]
            if not last:
                layers.append(nn.ReLU())
            cin = cout
        self.layers = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


def crop_to(image: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``image`` (N, 3, H', W') cropped to the height and width of ``like`` (N, C, H, W), H <= H', W <= W'."""
    return image[:, :, : like.shape[2], : like.shape[3]]


# ----------------------------------------------------------------------------- decoder files


def save_decoder_file(path: str | os.PathLike, decoder: Decoder, meta: dict, half: bool = False) -> None:
    """Write ``{"format", "version", "level", "width", "upsample", "state_dict", "meta"}`` atomically; ``half``
    stores fp16 weights (a file without ``upsample`` is a ``nearest`` one). ``meta`` (JSON values: loss net,
    training settings, validation PSNR) never holds a path."""
    json.dumps(meta)  # TypeError here, before anything is written
    state = {k: v.detach().cpu() for k, v in decoder.state_dict().items()}
    if half:
        state = {k: v.half() for k, v in state.items()}
    payload = {"format": FILE_FORMAT, "version": FILE_VERSION, "level": decoder.level, "width": decoder.width,
               "upsample": decoder.upsample, "state_dict": state, "meta": meta}
    from .files import atomic_output

    with atomic_output(path, suffix=".tmp") as tmp:
        torch.save(payload, tmp)


def load_decoder_file(path: str | os.PathLike) -> tuple[Decoder, dict]:
    """A decoder file -> (Decoder in eval mode, fp32 weights, meta); UserError for a missing or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"decoder file not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(f"cannot read decoder file {path}: {type(e).__name__}") from None
    if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
        raise UserError(f"{path} is not a fastnst decoder file")
    decoder = Decoder(payload["level"], payload["width"], payload.get("upsample", "nearest"))
    try:
        decoder.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
    except RuntimeError as e:
        raise UserError(f"{path}: invalid decoder file: {' '.join(str(e).split())[:200]}") from None
    return decoder.eval(), payload.get("meta", {})
