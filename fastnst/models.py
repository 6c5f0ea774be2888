"""Feed-forward style transfer networks (Johnson et al. 2016) and their model files.

A `TransformerNet` maps a batch of images (N, 3, H, W) in [0, 1] to stylized images of
the same shape, also in [0, 1]. Its layout is described by a `ModelConfig`; named
configurations live in `PRESETS` and are built with `create_model`:

    encoder:  stem conv (k x k, stride 1 or 2) -> stride-2 3x3 convs
    body:     residual blocks at the lowest resolution
    decoder:  (x2 upsample -> 3x3 conv [+ the encoder output of that resolution, with
              `skips`]) per stage -> upsample what is left -> k x k conv to RGB -> sigmoid

Every conv uses reflection padding and is followed by instance normalisation
(affine) and ReLU, except the last one. Transposed convs are avoided on purpose
(checkerboard artifacts).

A multi-style network (``num_styles > 1``, conditional instance normalisation of Dumoulin,
Shlens and Kudlur 2017) shares every conv between its styles; each instance norm takes its
scale and shift from a (num_styles, C) table, indexed by a style-weight vector: one-hot for a
style, any convex combination for a blend. A one-style network is exactly the plain one.

Model files (`save_model_file` / `load_model_file`) are self-describing dicts that
`torch.load(..., weights_only=True)` can read.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from fastnst.config import PRESET_LAYOUTS, UPSAMPLE_MODES, from_dict
from fastnst.decoders import FILE_FORMAT as DECODER_FORMAT
from fastnst.errors import UserError, first_line

BLOCK_TYPES = ("basic", "dwsep", "bottleneck")
FILE_FORMAT = "fastnst-model"
FILE_VERSION = 1


@dataclass(frozen=True)
class ModelConfig:
    """Layout of a `TransformerNet`.

    The total stride is `stem_stride * 2 ** len(down_channels)`; the decoder undoes it
    with one x2 upsample per entry of `up_channels` and upsamples whatever is left right
    before the output conv.
    """

    stem_channels: int = 32  # channels of the first conv
    stem_kernel: int = 9  # kernel size of the first conv (odd)
    stem_stride: int = 1  # 1 or 2; 2 halves the resolution right away
    down_channels: tuple[int, ...] = (64, 128)  # one stride-2 3x3 conv per entry
    num_blocks: int = 5  # residual blocks at the lowest resolution
    block: str = "basic"  # "basic" | "dwsep" | "bottleneck", see `ResidualBlock`
    bottleneck_ratio: int = 4  # channel reduction inside "bottleneck" blocks
    up_channels: tuple[int, ...] = (64, 32)  # one (x2 upsample, 3x3 conv) per entry
    out_kernel: int = 9  # kernel size of the last conv (odd)
    upsample: str = "nearest"  # "nearest" | "bilinear": how the decoder doubles the resolution
    skips: bool = False  # add each encoder output to the decoder stage of the same resolution (U-Net style)
    num_styles: int = 1  # > 1: conditional instance norm, one (gamma, beta) row per style

    def __post_init__(self) -> None:
        if self.num_styles < 1:
            raise ValueError(f"num_styles must be at least 1, got {self.num_styles}")
        if self.upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {self.upsample!r}")
        if self.block not in BLOCK_TYPES:
            raise ValueError(f"block must be one of {BLOCK_TYPES}, got {self.block!r}")
        if self.stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {self.stem_stride}")
        if self.stem_kernel % 2 == 0 or self.out_kernel % 2 == 0:
            raise ValueError("stem_kernel and out_kernel must be odd")
        if 2 ** len(self.up_channels) > self.total_stride:
            raise ValueError("more upsampling stages than downsampling")
        if self.block == "bottleneck" and self.body_channels % self.bottleneck_ratio:
            raise ValueError("body channels must be divisible by bottleneck_ratio")
        encoder = (self.stem_channels, *self.down_channels)  # channels per resolution, finest first
        if self.skips and (len(self.up_channels) > len(self.down_channels)
                           or any(c != encoder[-2 - k] for k, c in enumerate(self.up_channels))):
            raise ValueError(f"skips need up_channels {self.up_channels} to mirror the encoder's {encoder[:-1]}")

    @property
    def total_stride(self) -> int:
        """Factor between the input and the lowest resolution; inputs are padded to a multiple of it."""
        return self.stem_stride * 2 ** len(self.down_channels)

    @property
    def min_size(self) -> int:
        """Smallest padded input side for which every internal reflection pad is valid.

        Full-resolution convs need a side >= their kernel size, 3x3 convs at the lowest
        resolution need a side >= 2.
        """
        s = self.total_stride
        return s * max(2, -(-max(self.stem_kernel, self.out_kernel) // s))

    @property
    def body_channels(self) -> int:
        """Channels at the lowest resolution (where the residual blocks run)."""
        return self.down_channels[-1] if self.down_channels else self.stem_channels


# Named presets: the table of layouts is fastnst.config.PRESET_LAYOUTS (torch-free, so the CLI and the style
# files know the names without torch); `lite` is explained there.
PRESETS: dict[str, ModelConfig] = {name: ModelConfig(**layout) for name, layout in PRESET_LAYOUTS.items()}


def list_presets() -> list[str]:
    """Names of the built-in model presets, sorted."""
    return sorted(PRESETS)


def create_model(preset: str, **overrides) -> TransformerNet:
    """Build a freshly initialised `TransformerNet` from a named preset.

    `overrides` replace fields of the preset's `ModelConfig`, e.g.
    `create_model("johnson", num_blocks=3)`. An unknown preset is a `UserError`.
    """
    if preset not in PRESETS:
        raise UserError(f"unknown model preset {preset!r}; known presets: {', '.join(list_presets())}")
    config = replace(PRESETS[preset], **overrides)
    return TransformerNet(config, preset=preset)


def random_model(preset: str, seed: int = 0, noise: float = 0.05) -> TransformerNet:
    """An untrained `TransformerNet` in eval mode with seeded weights, for tests and benchmarks.

    The preset's initialisation (seeded, without touching the global RNG) plus Gaussian
    noise of std `noise` on every parameter, so that the output is far from the input
    (a plain initialisation gives an almost uniform grey): it costs what a trained model
    costs and stylizes visibly, but means nothing.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create_model(preset)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * noise)
    return model.eval()


# ---------------------------------------------------------------------------------------
# building blocks


class FewChannelConv2d(nn.Conv2d):
    """An `nn.Conv2d` to a few output channels (the RGB output conv), fast to train on CPUs.

    oneDNN's NCHW gradient with respect to the input of such a conv is pathologically slow on
    CPUs: for johnson's 9x9 conv from 32 channels to 3 at 128x128, batch 4, forward plus
    backward takes 434 ms in NCHW and 103 ms in channels-last (2-core AVX2 EPYC, torch 2.14),
    a fifth of a whole training step. So while autograd records on a CPU, this conv runs in
    channels-last and hands back a contiguous NCHW tensor. Inference, export and GPUs take the
    plain path; parameters and results are those of `nn.Conv2d`.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.requires_grad and x.device.type == "cpu" and not torch.compiler.is_compiling():
            return super().forward(x.contiguous(memory_format=torch.channels_last)).contiguous()
        return super().forward(x)


class ConditionalInstanceNorm2d(nn.Module):
    """Instance norm whose scale and shift are a blend of per-style rows (Dumoulin et al. 2017).

    ``weight`` and ``bias`` are (S, C) tables; for style weights ``w`` (N, S) the sample ``n``
    gets ``gamma = w[n] @ weight`` and ``beta = w[n] @ bias``, computed once per call (not per
    pixel). One-hot weights give that style's own norm.
    """

    def __init__(self, channels: int, num_styles: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_styles, channels))  # (S, C) gamma per style
        self.bias = nn.Parameter(torch.zeros(num_styles, channels))  # (S, C) beta per style

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """x: (N, C, H, W); style: (N, S) weights -> (N, C, H, W)."""
        gamma = (style @ self.weight)[:, :, None, None]  # (N, C, 1, 1)
        beta = (style @ self.bias)[:, :, None, None]
        return F.instance_norm(x, eps=self.eps) * gamma + beta


class ConvLayer(nn.Sequential):
    """Reflection pad -> conv -> (instance norm) -> (ReLU). Keeps H, W when stride is 1.

    With ``num_styles > 1`` the norm is a :class:`ConditionalInstanceNorm2d` and ``forward``
    needs the style weights (N, S).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
                 norm: bool = True, act: bool = True, num_styles: int = 1):
        layers: list[nn.Module] = []
        if kernel > 1:
            layers.append(nn.ReflectionPad2d(kernel // 2))
        # the conv bias is redundant before an affine instance norm
        conv = FewChannelConv2d if c_out <= 4 else nn.Conv2d
        layers.append(conv(c_in, c_out, kernel, stride=stride, groups=groups, bias=not norm))
        if norm:
            layers.append(nn.InstanceNorm2d(c_out, affine=True) if num_styles == 1
                          else ConditionalInstanceNorm2d(c_out, num_styles))
        if act:
            layers.append(nn.ReLU())
        super().__init__(*layers)

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self:
            x = layer(x, style) if isinstance(layer, ConditionalInstanceNorm2d) else layer(x)
        return x


def _call(layer: nn.Module, x: torch.Tensor, style: torch.Tensor | None) -> torch.Tensor:
    """``layer(x)``, handing the style weights (N, S) to the layers that take them."""
    return layer(x, style) if isinstance(layer, (ConvLayer, ResidualBlock)) else layer(x)


def _run(layers: nn.Sequential, x: torch.Tensor, style: torch.Tensor | None) -> torch.Tensor:
    """``layers`` in order (:func:`_call`)."""
    for layer in layers:
        x = _call(layer, x, style)
    return x


class ResidualBlock(nn.Module):
    """x + f(x) with C channels in and out, same H, W.

    basic:      3x3 conv, IN, ReLU, 3x3 conv, IN                         (Johnson et al.)
    dwsep:      twice (3x3 depthwise conv, 1x1 conv, IN), ReLU in between (MobileNet-style)
    bottleneck: 1x1 conv to C/r, IN, ReLU, 3x3 conv, IN, ReLU, 1x1 conv to C, IN (ResNet-style)
    """

    def __init__(self, channels: int, block: str = "basic", bottleneck_ratio: int = 4, num_styles: int = 1):
        super().__init__()
        c, k = channels, num_styles
        if block == "basic":
            self.body = nn.Sequential(ConvLayer(c, c, 3, num_styles=k), ConvLayer(c, c, 3, act=False, num_styles=k))
        elif block == "dwsep":
            self.body = nn.Sequential(
                ConvLayer(c, c, 3, groups=c, norm=False, act=False), ConvLayer(c, c, 1, num_styles=k),
                ConvLayer(c, c, 3, groups=c, norm=False, act=False), ConvLayer(c, c, 1, act=False, num_styles=k),
            )
        elif block == "bottleneck":
            m = c // bottleneck_ratio
            self.body = nn.Sequential(ConvLayer(c, m, 1, num_styles=k), ConvLayer(m, m, 3, num_styles=k),
                                      ConvLayer(m, c, 1, act=False, num_styles=k))
        else:
            raise ValueError(f"unknown block type {block!r}")

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        return x + _run(self.body, x, style)


def _pad_reflect(x: torch.Tensor, left, right, top, bottom) -> torch.Tensor:
    """Pad the last two dims by reflection, replicating the edge for what reflection cannot reach.

    Reflection can add at most size - 1 pixels per side; any excess (tiny images) is filled
    by replicating the border. Amounts may be symbolic ints (`torch.export`), hence
    `torch.sym_min` instead of Python branches.
    """
    h, w = x.shape[-2:]
    rl, rr = torch.sym_min(left, w - 1), torch.sym_min(right, w - 1)
    rt, rb = torch.sym_min(top, h - 1), torch.sym_min(bottom, h - 1)
    x = F.pad(x, (rl, rr, rt, rb), mode="reflect")
    return F.pad(x, (left - rl, right - rr, top - rt, bottom - rb), mode="replicate")


# ---------------------------------------------------------------------------------------
# the network


class TransformerNet(nn.Module):
    """Image transformation network: (N, 3, H, W) in [0, 1] -> (N, 3, H, W) in [0, 1].

    Any H, W >= 1 is accepted: the input is padded at the bottom and right to a multiple
    of `config.total_stride` (and to at least `config.min_size`, so that every internal
    reflection pad is valid) by reflection (replicating the border where a tiny image is
    too small to reflect), run through the network and cropped back to H, W. The output
    comes from a sigmoid, so it lies in [0, 1] by construction.
    """

    def __init__(self, config: ModelConfig | None = None, preset: str | None = None):
        super().__init__()
        self.config = cfg = config or ModelConfig()
        self.preset = preset  # informational; the config is what defines the network

        k = cfg.num_styles
        layers: list[nn.Module] = [ConvLayer(3, cfg.stem_channels, cfg.stem_kernel, stride=cfg.stem_stride,
                                             num_styles=k)]
        c = cfg.stem_channels
        for c_out in cfg.down_channels:
            layers.append(ConvLayer(c, c_out, 3, stride=2, num_styles=k))
            c = c_out
        self.encoder = nn.Sequential(*layers)

        self.body = nn.Sequential(*[ResidualBlock(c, cfg.block, cfg.bottleneck_ratio, num_styles=k)
                                    for _ in range(cfg.num_blocks)])

        def upsample(factor: int) -> nn.Upsample:
            if cfg.upsample == "nearest":
                return nn.Upsample(scale_factor=factor, mode="nearest")
            return nn.Upsample(scale_factor=factor, mode=cfg.upsample, align_corners=False)

        layers = []
        for c_out in cfg.up_channels:
            layers += [upsample(2), ConvLayer(c, c_out, 3, num_styles=k)]
            c = c_out
        rest = cfg.total_stride // 2 ** len(cfg.up_channels)  # upsampling still missing
        if rest > 1:
            layers.append(upsample(rest))
        layers += [ConvLayer(c, 3, cfg.out_kernel, norm=False, act=False), nn.Sigmoid()]
        self.decoder = nn.Sequential(*layers)

    @property
    def num_styles(self) -> int:
        return self.config.num_styles

    def style_weights(self, style: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """Style weights as (N, S): None (one-style net only), (S,) for every sample, or (N, S)."""
        if style is None:
            if self.num_styles > 1:
                raise ValueError(f"a {self.num_styles}-style network needs style weights")
            return None
        if style.shape[-1] != self.num_styles or style.dim() not in (1, 2):
            raise ValueError(f"style weights must be (S,) or (N, S) with S={self.num_styles}, got {tuple(style.shape)}")
        return style.expand(n, -1) if style.dim() == 1 else style

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        """x: (N, 3, H, W) float in [0, 1] -> (N, 3, H, W) float in [0, 1]. Does not modify x.

        style: the style weights of a multi-style network, (S,) or (N, S) (a blend: any weights,
        normally summing to 1); None for a one-style network.
        """
        _, _, h, w = x.shape
        style = self.style_weights(style, x.shape[0])
        s = self.config.total_stride
        # padded size: a multiple of s (ceil division on possibly symbolic ints), >= min_size
        hp = torch.sym_max((h + s - 1) // s * s, self.config.min_size)
        wp = torch.sym_max((w + s - 1) // s * s, self.config.min_size)
        # pad at the bottom/right only: a centred split needs (hp - h) // 2, which the ONNX
        # exporter rewrites into a floor division of a negative number and mistranslates
        x = _pad_reflect(x, 0, wp - w, 0, hp - h)  # (N, 3, hp, wp)
        if not self.config.skips:
            y = _run(self.decoder, _run(self.body, _run(self.encoder, x, style), style), style)  # (N, 3, hp, wp)
            return y.narrow(2, 0, h).narrow(3, 0, w)  # (N, 3, H, W)
        encoded = []  # the encoder's outputs, finest first: (N, C_i, hp / s_i, wp / s_i)
        for layer in self.encoder:
            x = layer(x, style)
            encoded.append(x)
        y = _run(self.body, x, style)  # (N, C, hp / s, wp / s)
        for i, layer in enumerate(self.decoder):
            y = _call(layer, y, style)
            stage = (i - 1) // 2  # decoder[2k + 1] is the conv of up-stage k
            if i % 2 == 1 and stage < len(self.config.up_channels):
                y = y + encoded[-2 - stage]  # same resolution and channels
        return y.narrow(2, 0, h).narrow(3, 0, w)  # (N, 3, H, W)


# ---------------------------------------------------------------------------------------
# size and cost


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def flops_per_pixel(model: TransformerNet | ModelConfig | str) -> float:
    """Forward FLOPs (2 x multiply-accumulates of the convs) per input pixel.

    Counted with `torch.utils.flop_counter.FlopCounterMode` on a meta-device copy (no
    real compute) at a size that is a multiple of the stride, where the count is exactly
    proportional to the pixels; norms, activations and resampling are not counted.
    """
    from torch.utils.flop_counter import FlopCounterMode

    if isinstance(model, str):
        config = create_model(model).config
    else:
        config = model if isinstance(model, ModelConfig) else model.config
    size = 4 * config.total_stride
    with torch.device("meta"):
        meta_model = TransformerNet(config)
        x = torch.rand(1, 3, size, size)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        meta_model(x)
    return counter.get_total_flops() / (size * size)


# ---------------------------------------------------------------------------------------
# model files


def _config_to_dict(config: ModelConfig) -> dict:
    """asdict(config) with tuples turned into lists (plain JSON values)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def save_model_file(path: str | os.PathLike, model: TransformerNet, meta: dict, half: bool = False) -> None:
    """Write a self-describing model file atomically (temp file in the same folder, then rename).

    Contents: {"format": "fastnst-model", "version": 1, "preset", "model_config",
    "state_dict", "meta"}. `meta` must be JSON-serialisable (style name, loss net,
    layers, weights, image size, ...). `half=True` stores floating weights as fp16.
    """
    try:
        json.dumps(meta)
    except (TypeError, ValueError) as e:
        raise TypeError(f"meta must be plain JSON-able values: {e}") from None
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    payload = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "preset": model.preset,
        "model_config": _config_to_dict(model.config),
        "state_dict": state,
        "meta": meta,
    }
    from .files import atomic_output

    with atomic_output(path, suffix=".tmp") as tmp, open(tmp, "wb") as f:  # umask permissions, not 0600
        torch.save(payload, f)
        f.flush()
        os.fsync(f.fileno())


def load_model_file(path: str | os.PathLike, map_location="cpu") -> tuple[TransformerNet, dict]:
    """Read a file written by `save_model_file`; returns (model, meta).

    The model is in eval mode with fp32 weights (also for files saved with `half=True`),
    on `map_location` when that is a device or a device name.

    A missing, unreadable or foreign file raises `UserError` with a one-line message.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise UserError(f"cannot read model file {path}: {first_line(e) or type(e).__name__}") from None
    if isinstance(payload, dict) and payload.get("format") == DECODER_FORMAT:
        raise UserError(f"{path} is a decoder of 'fastnst train-decoder', not a style model: export it with its "
                        f"encoder by 'fastnst export-arbitrary DECODER... -o OUT.onnx'")
    if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
        raise UserError(f"{path} is not a fastnst model file")
    if payload.get("version") != FILE_VERSION:
        raise UserError(f"{path}: unsupported model file version {payload.get('version')!r} (expected {FILE_VERSION})")
    try:
        config = from_dict(ModelConfig, payload["model_config"], strict=True, what="model_config")
        model = TransformerNet(config, preset=payload.get("preset"))
        state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
        model.load_state_dict(state)
    except Exception as e:
        msg = " ".join(str(e).split())  # load_state_dict errors span several lines
        raise UserError(f"{path}: invalid model file: {msg[:300]}") from None
    if isinstance(map_location, (str, torch.device)):
        model = model.to(map_location)
    return model.eval(), payload.get("meta", {})
