"""Configuration dataclasses, one per job, free of heavy imports.

The CLI maps flags onto these (and reads their defaults for ``--help`` without importing
torch); checkpoints and model files store them, so nothing has to be guessed later.
"""

from __future__ import annotations

import json
import math
import os
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import UserError

# The model presets: each name's fastnst.models.ModelConfig fields that differ from the defaults (johnson's
# layout). fastnst.models.PRESETS builds its ModelConfigs from this table; the names are here, free of torch.
# `lite` was picked from six designs by FLOPs and onnxruntime fps at 640x480 on a 2-core x86 CPU (the table
# is in the README's "Presets"): stride-2 stem, total stride 8, depthwise-separable residual blocks at 64
# channels, 3x3 output conv; 0.028x johnson's FLOPs per pixel, ~19x its fps. Its skips (free at run time)
# keep the photo's detail and remove the texture that repeated every 8 px without them (README, "Quality").
PRESET_LAYOUTS: dict[str, dict] = {
    "lite": {"stem_channels": 16, "stem_kernel": 5, "stem_stride": 2, "down_channels": (32, 64), "num_blocks": 5,
             "block": "dwsep", "up_channels": (32, 16), "out_kernel": 3, "skips": True},
    "johnson": {},
}
PRESET_NAMES = tuple(PRESET_LAYOUTS)  # in the order the styles list them

if TYPE_CHECKING:
    from _typeshed import DataclassInstance
T = TypeVar("T", bound="DataclassInstance")  # from_dict's class: a dataclass


def from_dict(cls: type[T], d: dict, strict: bool = True, what: str | None = None) -> T:
    """The dataclass ``cls`` from a dict of its fields (a recipe, a checkpoint's or model file's config).

    JSON lists become tuples where the field holds a tuple. Unknown keys are a UserError naming
    them when ``strict``; otherwise they are dropped (a file written by another fastnst version).
    ``what`` names the source in the message (default: the class).
    """
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(d) - set(known))
    if unknown and strict:
        raise UserError(f"{what or cls.__name__} has unknown keys: {', '.join(unknown)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in d.items():
        if key in known:
            values[key] = tuple(value) if isinstance(value, list) and _holds_tuple(hints[key]) else value
    return cls(**values)


def _holds_tuple(hint: Any) -> bool:
    """Whether a field annotated ``hint`` holds a tuple: ``tuple[...]``, or a union with one
    (``tuple[str, ...] | None``)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_holds_tuple(arg) for arg in typing.get_args(hint))
    return hint is tuple or origin is tuple


# --------------------------------------------------------------------------- the rules of flag values
# Every bound of a flag's value is checked by its dataclass's validate(), with these; the CLI only parses.

OPTIMIZERS = ("lbfgs", "adam")  # optimize --optimizer
INITS = ("content", "noise")  # optimize --init: the starting image
LR_SCHEDULES = ("cosine", "constant")  # train --lr-schedule
AMP_MODES = ("none", "bf16", "fp16")  # train --amp
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
SEED_MAX = 2**32 - 1  # seeds are 0 .. 2^32 - 1 (train mixes the seed into 64-bit generator seeds)
LOSS_NET_MIN_SIDE = 16  # the smallest image side the VGG loss nets take: relu5_1 sees it at 1 px
MIN_TILE = 16  # the smallest tile of Stylizer.stylize(tile=...)


def check_number(flag: str, value: float | None, low: float, high: float | None = None, *,
                 above: bool = False) -> None:
    """UserError naming ``flag`` unless ``value`` is None or a finite number >= ``low`` (> ``low`` where ``above``)
    and <= ``high`` (where given). NaN and infinity are out of range."""
    if value is None:
        return
    ok = (value > low if above else value >= low) and (value <= high if high is not None else value < math.inf)
    if ok:
        return
    if high is not None:
        need = f"in [{low:g}, {high:g}]"
    elif above:
        need = "positive" if low == 0 else f"above {low:g}"
    else:
        need = f"at least {low:g}"
    raise UserError(f"{flag} must be {need}, got {value}")


def check_choice(flag: str, value: object, choices: Sequence[str]) -> None:
    """UserError naming ``flag`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise UserError(f"{flag} must be {', '.join(choices[:-1])} or {choices[-1]}, got '{value}'")


def check_style_scales(style_scales: int, *sizes: int | None) -> None:
    """UserError unless ``style_scales`` >= 1 and every pyramid level of an image of each long side in ``sizes``
    keeps :data:`LOSS_NET_MIN_SIDE` (each level halves the side, rounding up)."""
    check_number("--style-scales", style_scales, 1)
    for size in filter(None, sizes):
        smallest = ((size - 1) >> (style_scales - 1)) + 1  # the side halved style_scales - 1 times, rounded up
        if smallest < LOSS_NET_MIN_SIDE:
            raise UserError(f"--style-scales {style_scales} halves a {size} px side to {smallest} px, below the "
                            f"loss net's {LOSS_NET_MIN_SIDE}: use fewer levels or a larger size")


def check_layer_weights(weights: Sequence[float] | None, layers: Sequence[str] | None) -> None:
    """UserError unless ``weights`` (per-style-layer weights, --style-layer-weights) is None, or one number >= 0
    per layer of ``layers`` (where given), not all zero."""
    if weights is None:
        return
    for w in weights:
        check_number("--style-layer-weights", w, 0)
    if layers is not None and len(weights) != len(layers):
        raise UserError(f"--style-layer-weights needs one weight per style layer ({', '.join(layers)}): "
                        f"got {len(weights)} for {len(layers)}")
    if not any(weights):
        raise UserError("--style-layer-weights are all zero: give at least one layer a weight")


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
    style_scales: int = 1  # Gaussian-pyramid levels of the style loss (1: single scale)
    preserve_color: bool = False
    loss_net: str | None = None  # spec; None: $FASTNST_LOSS_NET or vgg16
    seed: int = 0
    device: str = "auto"
    lr: float | None = None  # None: 1.0 for L-BFGS, 0.02 for Adam
    style_layer_weights: tuple[float, ...] | None = None  # one weight per style layer; None: 1 each

    def validate(self) -> None:
        check_number("--size", self.size, LOSS_NET_MIN_SIDE)
        check_number("--iterations", self.iterations, 1)
        check_layer_weights(self.style_layer_weights, self.style_layers)
        check_choice("--optimizer", self.optimizer, OPTIMIZERS)
        check_choice("--init", self.init, INITS)
        check_number("--lr", self.lr, 0, above=True)
        check_number("--style-scale", self.style_scale, 0, above=True)
        style_side = max(LOSS_NET_MIN_SIDE, round(self.style_scale * self.size))  # as fastnst.optimize scales it
        check_style_scales(self.style_scales, self.size, style_side)
        for name in ("content_weight", "style_weight", "tv_weight"):
            check_number(f"--{name.replace('_', '-')}", getattr(self, name), 0)
        check_number("--seed", self.seed, 0, SEED_MAX)


LAYER_PICTURES = ("patches", "reconstruct", "gram")  # fastnst layers SUBCOMMAND: the layer explorer's pictures


@dataclass
class LayersConfig:
    """Settings of ``fastnst layers`` and the web app's Layers tab (:mod:`fastnst.layers`; flags of the same names).

    ``loss_net``: the network explored (None: ``vgg19-normalised`` on the data root's
    ``weights/vgg_normalised_conv3_1.pth`` where there is one, else ``$FASTNST_LOSS_NET``, else ``vgg16``);
    ``data_root`` (None: ``$FASTNST_DATA``): holds ``weights/`` and ``content/bsds500/train``.
    Top patches: ``layer`` (None: the network's deepest style layer), ``units`` (None: ``num_units`` drawn
    with ``seed``), the ``top`` patches of each, over at most ``max_photos`` photos of ``photos`` (None: BSDS500
    under the data root, else scikit-image's sample photos) at ``photo_size`` px on the long side.
    Reconstructions: ``layers`` (None: the network's style layers) at ``size`` px, ``iterations`` L-BFGS steps
    from noise. Gram picture: the painting's Gram matrix at ``layer`` and a texture from ``layers`` weighted
    by ``style_layer_weights`` (None: 1 each).
    """

    loss_net: str | None = None
    data_root: str | None = None
    layer: str | None = None
    units: tuple[int, ...] | None = None
    num_units: int = 9
    top: int = 9
    photos: str | None = None
    max_photos: int = 60
    photo_size: int = 160
    layers: tuple[str, ...] | None = None
    size: int = 128
    iterations: int = 40
    style_layer_weights: tuple[float, ...] | None = None
    seed: int = 0
    device: str = "auto"

    def validate(self) -> None:
        check_number("--num-units", self.num_units, 1, 64)
        check_number("--top", self.top, 1, 64)
        for unit in self.units or ():
            check_number("--units", unit, 0)
        if self.units is not None and len(set(self.units)) != len(self.units):
            raise UserError(f"--units has a unit twice: {','.join(map(str, self.units))}")
        check_number("--max-photos", self.max_photos, 1)
        check_number("--photo-size", self.photo_size, LOSS_NET_MIN_SIDE)
        check_number("--size", self.size, LOSS_NET_MIN_SIDE)
        check_number("--iterations", self.iterations, 1)
        check_layer_weights(self.style_layer_weights, self.layers)
        check_number("--seed", self.seed, 0, SEED_MAX)


@dataclass
class TrainConfig:
    """Settings of ``fastnst train`` (one field per flag). Stored in every checkpoint and model file."""

    style: str | tuple[str, ...] = ""  # style image, or several / a folder of them: one multi-style network
    data: str = ""  # folder of content images, searched recursively
    output: str = ""  # run folder
    preset: str = "johnson"
    image_size: int = 256  # training crops are resized to this square size
    crop_min: float = 0.6  # crop side, as a fraction of the photo's short side: drawn from
    crop_max: float = 1.0  # [crop_min, crop_max]; crop_max * short side / image_size sets the scale
    style_size: int | None = None  # long side of the style image; None: image_size
    batch_size: int = 4  # per process
    iterations: int | None = 2000
    epochs: float | None = None  # overrides iterations when given
    lr: float = 1e-3
    lr_schedule: str = "cosine"  # "cosine" (to lr/10) or "constant"
    content_weight: float = 1.0
    style_weight: float = 1e4  # 1e5 gave texture without the photo in short runs
    tv_weight: float = 1.0
    temporal_weight: float = 0.0  # 0: off; > 0: temporal loss on randomly warped frame pairs
    style_scales: int = 1  # Gaussian-pyramid levels of the style loss (1: single scale)
    style_layers: tuple[str, ...] | None = None
    content_layer: str | None = None
    loss_net: str | None = None
    seed: int = 0
    device: str = "auto"
    workers: int | None = None  # data-loading processes; None: see loader_workers
    val: str | None = None  # folder of fixed preview images
    preview_every: int = 200
    log_every: int = 10
    checkpoint_every: int = 500
    keep: int = 3  # checkpoints kept
    channels_last: bool = False
    amp: str = "none"  # "none", "bf16" or "fp16" (fp16 on CUDA only)
    style_name: str | None = None  # default: the style file's stem (one style only)
    save_half: bool = False  # final model weights stored as fp16
    base: str | None = None  # a trained model file: add --style to it as a new style, training only its norm rows

    def validate(self) -> None:
        if self.preset not in PRESET_NAMES:
            raise UserError(f"unknown preset '{self.preset}' (choose from {', '.join(PRESET_NAMES)})")
        check_number("--image-size", self.image_size, 32)
        check_number("--style-size", self.style_size, LOSS_NET_MIN_SIDE)
        for name in ("batch_size", "preview_every", "log_every", "checkpoint_every", "keep"):
            check_number(f"--{name.replace('_', '-')}", getattr(self, name), 1)
        if self.epochs is None:
            check_number("--iterations", self.iterations, 1)
        check_number("--epochs", self.epochs, 0, above=True)
        check_number("--lr", self.lr, 0, above=True)
        check_choice("--lr-schedule", self.lr_schedule, LR_SCHEDULES)
        check_choice("--amp", self.amp, AMP_MODES)
        for name in ("content_weight", "style_weight", "tv_weight", "temporal_weight"):
            check_number(f"--{name.replace('_', '-')}", getattr(self, name), 0)
        check_style_scales(self.style_scales, self.image_size, self.style_size)
        if not 0 < self.crop_min <= self.crop_max <= 1:
            raise UserError(f"need 0 < --crop-min <= --crop-max <= 1, got {self.crop_min} and {self.crop_max}")
        check_number("--workers", self.workers, 0)
        check_number("--seed", self.seed, 0, SEED_MAX)
        if self.base and len(self.style_paths()) != 1:
            raise UserError("--base adds one style: give one --add-style PAINTING")

    def style_paths(self) -> tuple[str, ...]:
        """``style`` as a tuple of paths as given (files or folders; :func:`fastnst.train.style_images` expands)."""
        return (self.style,) if isinstance(self.style, str) else tuple(self.style)

    def loader_workers(self, device_type: str) -> int:
        """Data-loading processes: ``workers``, or where None 2 on a GPU and 0 on the CPU.

        On the CPU a worker process takes cores from the training step's threads, which wait for
        the slowest of them in every parallel region: with 2 workers a lite step at 256 px took
        1.30x as long on the project's 2-core CPU as loading in the main process
        (``benchmarks/train_speed.py --command``).
        """
        if self.workers is not None:
            return self.workers
        return 2 if device_type == "cuda" else 0


STABILIZE_STRENGTH = 0.5  # the Stabilizer strength where stabilization is switched on without one

# Stroke size of the bundled styles (README "Stroke size"). Their networks learned strokes of a fixed size in
# pixels (128-px crops), so the larger the frame, the finer the texture looks: a frame is stylized at a working
# long side (``max_side``) and scaled back up, and a smaller side draws larger strokes. STROKE_SIDES[k - 1] is the
# working side of "stroke size" k, the web app's slider (None: the frame's full size). STILL_MAX_SIDE: the default
# of images and video files (benchmarks/stroke_size.py: on 1280-px frames, 720 is nearest the paintings at 1280
# px and 512 at 640 px, with less content lost than full size); LIVE_MAX_SIDE: the webcam's, a 640x480 camera whole.
STROKE_SIDES: tuple[int | None, ...] = (None, 960, 720, 640, 512, 384)
STILL_MAX_SIDE = 720
LIVE_MAX_SIDE = 640


def stroke_side(stroke: int) -> int | None:
    """The working long side (px; None: full size) of stroke size ``stroke`` (1 .. len(STROKE_SIDES))."""
    check_number("stroke size", stroke, 1, len(STROKE_SIDES))
    return STROKE_SIDES[int(stroke) - 1]


def stroke_size(max_side: int | None) -> int:
    """The stroke size (1 .. len(STROKE_SIDES)) whose working side is nearest ``max_side`` (None: 1, full size)."""
    if max_side is None:
        return 1
    sides = [s or 10 ** 6 for s in STROKE_SIDES]
    return 1 + min(range(len(sides)), key=lambda k: abs(math.log(sides[k] / max(1, int(max_side)))))


def loss_net_file(spec: str | None) -> str | None:
    """The weights file a ``--loss-net`` spec names, or None: the one rule of which specs carry a file.

    ``NAME:PATH`` carries PATH (``vgg16:PATH``, ``vgg19:PATH``, ``vgg19-normalised[+random-deep]:PATH``);
    ``vgg16`` / ``vgg19`` (torchvision's cache) and ``random-vgg16[:SEED]`` / ``random-vgg19[:SEED]``
    (a seed after the colon) carry none. Torch-free, so recipes use it as :mod:`fastnst.lossnet` does.
    """
    name, sep, arg = (spec or "").partition(":")
    return arg if sep and arg and not name.startswith("random") else None


RECIPE_PATH_KEYS = ("style", "data", "val")  # recipe paths taken from its data root when relative


def load_recipe(path: str, data_root: str | None = None, cls: type = TrainConfig) -> dict:
    """A training recipe: a JSON object of ``cls``'s fields (:class:`TrainConfig`, or :class:`DecoderConfig` for
    ``fastnst train-decoder``; ``output`` excluded; ``comment`` ignored).

    Relative style/data/val paths, and the weights file of a ``loss_net`` spec, are taken from
    ``data_root`` (default: the recipe's folder). UserError for an unreadable file or unknown keys.
    """
    try:
        with open(path) as f:
            recipe = json.load(f)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read recipe '{path}': {e}") from None
    if not isinstance(recipe, dict):
        raise UserError(f"recipe '{path}' is not a JSON object")
    recipe.pop("comment", None)
    if "output" in recipe:
        raise UserError(f"recipe '{path}' has unknown keys: output (give the run folder with -o)")
    from_dict(cls, recipe, strict=True, what=f"recipe '{path}'")  # unknown keys fail here
    root = data_root or os.path.dirname(os.path.abspath(path))
    for key in RECIPE_PATH_KEYS:
        value = recipe.get(key)
        if isinstance(value, list):  # several style images
            recipe[key] = [v if os.path.isabs(v) else os.path.join(root, v) for v in value]
        elif value and not os.path.isabs(value):
            recipe[key] = os.path.join(root, value)
    weights = loss_net_file(recipe.get("loss_net"))
    if weights and not os.path.isabs(weights):
        recipe["loss_net"] = f"{recipe['loss_net'].partition(':')[0]}:{os.path.join(root, weights)}"
    return recipe


def train_config(recipe: dict | None, flags: dict) -> TrainConfig:
    """The run's TrainConfig: the dataclass defaults, then the recipe, then the flags given (flags win)."""
    return from_dict(TrainConfig, {**(recipe or {}), **flags}, strict=True, what="training settings")


@dataclass
class PaintingOptions:
    """How a painting runs as a style (``-s painting.jpg`` in ``stylize``, ``video``, ``webcam`` and ``bench``;
    :mod:`fastnst.painting`): ``style_strength`` (alpha in [0, 1]: how far the photo's features move to the
    painting's statistics) and ``style_size`` (the painting's long side in px, which sets the strokes' size:
    smaller, larger strokes; None: :data:`PAINTING_SIZE`)."""

    style_strength: float = 1.0
    style_size: int | None = None

    def validate(self) -> None:
        check_number("--style-strength", self.style_strength, 0, 1)
        check_number("--style-size", self.style_size, PAINTING_MIN_SIDE, PAINTING_MAX_SIZE)


PAINTING_SIZE = 512  # a painting's default long side, px (PaintingOptions.style_size)
PAINTING_MIN_SIDE = 16  # the smallest side of a painting after resizing, and of a frame inside the graph
PAINTING_MAX_SIZE = 2048  # the largest --style-size
PAINTING_READ_SIDE = 1024  # a larger painting is read at this long side (or at --style-size where larger) first


def painting_side(stroke: int, own: int) -> int:
    """A painting's long side in px (its ``style_size``) at stroke size ``stroke``: the web app's one "stroke size"
    slider for any painting. The same :data:`STROKE_SIDES` (:func:`stroke_side`): a smaller painting draws larger
    strokes, as a smaller working side does for a trained style; 1 (full size) is the painting's own long side
    ``own``, at most :data:`PAINTING_MAX_SIZE`."""
    return stroke_side(stroke) or min(max(int(own), PAINTING_MIN_SIDE), PAINTING_MAX_SIZE)


DECODER_LEVELS = ("relu1_1", "relu2_1", "relu3_1")  # the levels a decoder inverts (fastnst.decoders.LEVELS)
UPSAMPLE_MODES = ("nearest", "bilinear")  # how a style network or a decoder scales up 2x (nn.Upsample's modes)
DECODER_INITS = ("random", "lstsq")  # train-decoder --init: lstsq only for a decoder that is one linear conv
# How far each level's features move to the painting's at style strength (alpha) 1: a level's own strength
# multiplies alpha in the exported per-frame graph (export-arbitrary --level-strength LEVEL=S). relu1_1 at 0.7:
# the whole whitening and colouring of relu1_1's features (a 3x3 patch of pixels lifted to 64 channels) also
# whitens directions the photo barely uses, whose noise the linear relu1_1 decoder passes into the relu2_1
# statistics. Chosen on val with three-level WCT (benchmarks/quality.py, README "Any painting").
LEVEL_STRENGTHS = {"relu3_1": 1.0, "relu2_1": 1.0, "relu1_1": 0.7}


def level_strengths(levels: tuple[str, ...], given: dict[str, float] | None = None) -> dict[str, float]:
    """Each of ``levels``' strength: :data:`LEVEL_STRENGTHS` with ``given`` (level -> strength in [0, 1]) over it.
    UserError for a level not among ``levels`` or a strength outside [0, 1]."""
    given = dict(given or {})
    for level, strength in given.items():
        if level not in levels:
            raise UserError(f"--level-strength {level}: no decoder for that level (levels: {', '.join(levels)})")
        check_number(f"--level-strength {level}", strength, 0, 1)
    return {level: float(given.get(level, LEVEL_STRENGTHS[level])) for level in levels}


@dataclass
class DecoderConfig:
    """Settings of ``fastnst train-decoder`` (one field per flag): a decoder that inverts the loss network's
    features at ``level`` (:mod:`fastnst.decoders`), trained on random crops of the photos in ``data``.

    The loss is ``pixel_weight`` x the mean squared error of the image plus ``feature_weight`` x the mean
    squared error of the encoder's features at every level up to ``level`` (relu1_1, relu2_1, ...), with
    the image re-encoded. ``init``: ``random`` (PyTorch's default), or ``lstsq`` for a decoder that is one
    linear conv (relu1_1): its weights start at the least-squares solution of the pixel loss on the crops of
    the first ``init_batches`` steps, the exact optimum a gradient descent only approaches (seconds instead of
    thousands of steps). ``val``: held-out photos whose PSNR (dB) is logged every ``val_every`` steps on
    their first ``val_images``, centre-cropped to ``val_size`` px. ``width`` scales the decoder's hidden
    channels; ``upsample`` is how it scales up 2x (``nearest`` or ``bilinear``). ``init_from``: a decoder
    file (``decoder.pth``) of the same level and width whose weights start the run instead (a fine-tune; its
    upsampling may differ). ``transfer``: the fraction of each batch decoded from transferred
    features instead of the photos' own: each such photo's features whitened and coloured to the next photo's
    statistics (:func:`fastnst.train_decoder.transferred`), what the decoder meets at run time; those photos
    have no pixel target, their loss is the feature error at ``level`` (weighted like the others'). Stored in
    every checkpoint and decoder file.
    """

    level: str = "relu3_1"
    data: str = ""
    val: str | None = None
    output: str = ""
    loss_net: str | None = None
    width: float = 1.0
    image_size: int = 128
    crop_min: float = 0.5
    crop_max: float = 1.0
    batch_size: int = 8
    iterations: int = 2000
    lr: float = 1e-3
    lr_schedule: str = "cosine"
    pixel_weight: float = 1.0
    feature_weight: float = 1.0
    val_every: int = 200
    val_images: int = 16
    val_size: int = 192
    log_every: int = 10
    checkpoint_every: int = 200
    keep: int = 3
    seed: int = 0
    save_half: bool = True
    init: str = "random"
    init_batches: int = 16
    init_from: str | None = None
    transfer: float = 0.0
    upsample: str = "nearest"

    def validate(self) -> None:
        check_choice("--level", self.level, DECODER_LEVELS)
        check_choice("--init", self.init, DECODER_INITS)
        if self.init_from and self.init == "lstsq":
            raise UserError("--init-from and --init lstsq both set the starting weights: give one")
        check_number("--transfer", self.transfer, 0, 1)
        check_choice("--upsample", self.upsample, UPSAMPLE_MODES)
        if self.init == "lstsq" and self.level != "relu1_1":
            raise UserError(f"--init lstsq needs a decoder that is one linear conv (relu1_1), not {self.level}")
        check_number("--width", self.width, 0.125, 4)
        check_number("--image-size", self.image_size, 32)
        check_number("--val-size", self.val_size, 32)
        for name in ("batch_size", "val_every", "val_images", "log_every", "checkpoint_every", "keep", "init_batches"):
            check_number(f"--{name.replace('_', '-')}", getattr(self, name), 1)
        check_number("--iterations", self.iterations, 0 if self.init == "lstsq" else 1)  # 0: the lstsq decoder as is
        check_number("--lr", self.lr, 0, above=True)
        check_choice("--lr-schedule", self.lr_schedule, LR_SCHEDULES)
        check_number("--pixel-weight", self.pixel_weight, 0)
        check_number("--feature-weight", self.feature_weight, 0)
        if not 0 < self.crop_min <= self.crop_max <= 1:
            raise UserError(f"need 0 < --crop-min <= --crop-max <= 1, got {self.crop_min} and {self.crop_max}")
        check_number("--seed", self.seed, 0, SEED_MAX)


@dataclass
class AddStyleConfig:
    """How a painting becomes a style of its own (:class:`fastnst.userstyles.StyleTrainer`, the web app's
    "Add your painting"): ``fastnst train --add-style`` on ``base`` (None: the bundled ``gallery_lite.pth``),
    only the new style's instance-norm rows trained, for ``steps`` steps of ``batch_size`` crops of
    ``image_size`` px at learning rate ``lr``, the painting at ``style_size`` px (the base's recipe,
    ``training/recipes/gallery_lite.json``: 128 and 256 px, style weight 2e4; a higher lr than its 5e-3
    since only the norm rows train). ``loss_net`` / ``style_layers`` / ``content_layer``: as for
    ``fastnst train`` (None: ``vgg19-normalised`` on ``DATA_ROOT/weights/vgg_normalised_conv3_1.pth``, the
    base's loss net, else ``$FASTNST_LOSS_NET``). ``data_root`` (None: ``$FASTNST_DATA``): holds ``weights/``
    and the photos, ``content/bsds500/train`` (without them: scikit-image's sample photos). A painting
    is resized to ``max_side`` px on its long side first and refused below ``min_side`` px on its short side.
    """

    steps: int = 300
    image_size: int = 128
    style_size: int = 256
    batch_size: int = 4
    lr: float = 1e-2
    style_weight: float = 2e4
    loss_net: str | None = None
    style_layers: tuple[str, ...] | None = None
    content_layer: str | None = None
    data_root: str | None = None
    base: str | None = None
    max_side: int = 512
    min_side: int = 64

    def validate(self) -> None:
        for name in ("steps", "batch_size"):
            check_number(f"--add-style-{name.replace('_', '-')}", getattr(self, name), 1)
        check_number("--add-style-image-size", self.image_size, 32)
        check_number("--add-style-style-size", self.style_size, LOSS_NET_MIN_SIDE)
        check_number("--add-style-lr", self.lr, 0, above=True)
        check_number("--add-style-style-weight", self.style_weight, 0)
        check_number("--add-style-max-side", self.max_side, LOSS_NET_MIN_SIDE)
        check_number("--add-style-min-side", self.min_side, 1)


@dataclass
class DemoConfig:
    """Limits and stream settings of the web app, ``fastnst demo`` (flags of the same names).

    ``stream_max_side`` / ``stream_every`` / ``video_max_side``: None picks by device, see
    :meth:`resolve`. ``max_streams``: webcam streams served at once (more wait in the
    queue); ``stream_time_limit``: seconds one stream may run before it stops (press Record
    again to go on); ``stabilize_strength``: the Stabilizer strength of the stabilize boxes.
    ``max_live``: WebRTC live connections served at once (the page says so when full);
    ``live_bitrate``: Mbit/s of the live video sent back (VP8 at this fixed rate,
    :class:`fastnst.webrtc.LiveEncoder`: painted texture needs about 3 at 640x480 for 30 dB);
    0: aiortc's own encoder, which follows the browser's bandwidth estimate between 0.25 and 1.5;
    ``ice_servers``: STUN/TURN URLs for WebRTC (e.g. ``stun:stun.example.org:3478``); empty:
    none is contacted, the server's own addresses serve (enough on one machine or a LAN).
    ``host``, ``port``: where the app listens (loopback only by default).
    ``add_style_steps``: training steps of "Add your painting" (:class:`AddStyleConfig` ``steps``);
    ``data_root``: where it finds the loss net's weights and the photos (:class:`AddStyleConfig`; None:
    ``$FASTNST_DATA``); ``add_style_loss_net`` / ``add_style_layers``: its loss net and style layers (None:
    :class:`AddStyleConfig`'s). ``layers_loss_net``: the network the Layers tab explores (None: as
    :class:`LayersConfig`'s, from ``data_root``).
    """

    max_upload_mb: float = 50.0
    max_video_seconds: float = 30.0
    max_video_pixels: int = 1920 * 1080  # per frame
    image_max_side: int = STILL_MAX_SIDE
    video_max_side: int | None = None
    stream_max_side: int | None = None
    stream_every: float | None = None
    max_streams: int = 8
    stream_time_limit: int = 600
    stabilize_strength: float = STABILIZE_STRENGTH
    mirror: bool = False
    max_live: int = 4
    live_bitrate: float = 3.0
    ice_servers: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = 7860
    add_style_steps: int = AddStyleConfig.steps
    data_root: str | None = None
    add_style_loss_net: str | None = None
    add_style_layers: tuple[str, ...] | None = None
    layers_loss_net: str | None = None

    def add_style(self) -> AddStyleConfig:
        """The :class:`AddStyleConfig` of the web app's "Add your painting"."""
        return AddStyleConfig(steps=self.add_style_steps, data_root=self.data_root, loss_net=self.add_style_loss_net,
                              style_layers=self.add_style_layers)

    # (CPU, GPU) values of the settings that None leaves to the device.
    # A CPU stylizes a 640x480 camera at its full size: at a smaller working size the texture's scale differs
    # from a still's (384 px: 21 dB against `fastnst stylize` of the same frame; benchmarks/live_quality.py).
    _BY_DEVICE = {"stream_max_side": (LIVE_MAX_SIDE, STILL_MAX_SIDE), "stream_every": (0.1, 0.05),
                  "video_max_side": (512, STILL_MAX_SIDE)}

    def resolve(self, gpu: bool) -> DemoConfig:
        """A copy with the device-dependent settings that are None filled in for a GPU or a CPU.

        On a CPU: ``stream_max_side`` 640 px, ``stream_every`` 0.1 s, ``video_max_side`` 512 px;
        on a GPU: 720 px, 0.05 s and 720 px (the stroke size of a still, :data:`STILL_MAX_SIDE`).
        The web app's "stroke size" sliders start at these (:func:`stroke_size`).
        """
        from dataclasses import replace

        filled: dict[str, Any] = {name: values[bool(gpu)] for name, values in self._BY_DEVICE.items()
                                  if getattr(self, name) is None}
        return replace(self, **filled)

    def validate(self) -> None:
        for name in ("max_upload_mb", "max_video_seconds", "stream_every"):
            check_number(f"--{name.replace('_', '-')}", getattr(self, name), 0, above=True)
        for name in ("max_video_pixels", "image_max_side", "video_max_side", "stream_max_side", "max_streams",
                     "stream_time_limit", "max_live"):
            check_number(f"--{name.replace('_', '-')}", getattr(self, name), 1)
        check_number("--stabilize-strength", self.stabilize_strength, 0, 1)
        check_number("--live-bitrate", self.live_bitrate, 0, 50)
        check_number("--port", self.port, 1, 65535)
        check_number("--add-style-steps", self.add_style_steps, 1)


# --------------------------------------------------------------------------- video and webcam


def check_fraction(name: str, value: float | None) -> None:
    """UserError naming ``name`` (a flag) unless ``value`` is None or a number in [0, 1]."""
    check_number(name, value, 0, 1)


@dataclass
class ImageOptions:
    """How each image or frame is stylized, in ``fastnst stylize``, ``video`` and ``webcam`` (flags of the same
    names): ``strength``, ``preserve_color``, ``max_side`` as in ``Stylizer.stylize``: the working long side, the
    stroke size (default :data:`STILL_MAX_SIDE`; None: full size, ``--full-size``)."""

    strength: float = 1.0
    preserve_color: bool = False
    max_side: int | None = STILL_MAX_SIDE

    def validate(self) -> None:
        check_fraction("--strength", self.strength)
        check_number("--max-side", self.max_side, 1)


@dataclass
class StylizeOptions(ImageOptions):
    """Settings of ``fastnst stylize``: the :class:`ImageOptions`, and ``tile`` (run the network on tiles of this
    size, None: whole) and ``value_range`` (the pixel range the model works in: 1, or 255 for the ONNX Model Zoo's)."""

    tile: int | None = None
    value_range: float = 1.0

    def validate(self) -> None:
        super().validate()
        check_number("--tile", self.tile, MIN_TILE)
        check_number("--value-range", self.value_range, 0, above=True)


@dataclass
class FrameOptions(ImageOptions):
    """The per-frame settings that ``fastnst video`` and ``fastnst webcam`` share (flags of the same names).

    The :class:`ImageOptions`, and ``stabilize``: None (off) or the strength in [0, 1] of
    :class:`fastnst.flow.Stabilizer`.
    """

    stabilize: float | None = None

    def validate(self) -> None:
        super().validate()
        check_fraction("--stabilize", self.stabilize)


@dataclass
class VideoOptions(FrameOptions):
    """How :func:`fastnst.video.convert_video` stylizes a clip (``fastnst video``).

    The :class:`FrameOptions`, and: ``start``, ``duration``: the part of the clip to
    convert, in seconds (None: to the end). ``report``: also measure the result's warping
    error (:class:`fastnst.flow.WarpingError`). ``crf``: x264 quality of the output, 0-51
    (lower: better and bigger; 18 is visually near-lossless). ``x264_preset``: x264 speed
    preset (ultrafast ... veryslow; slower ones make smaller files of the same quality
    at the same crf, but take CPU from the network; default by measurement, README "Video
    files and the webcam"). ``encode_threads``: x264 threads (0: x264's own choice, about 1.5 per core).
    """

    start: float = 0.0
    duration: float | None = None
    report: bool = False
    crf: int = 18
    x264_preset: str = "superfast"
    encode_threads: int = 0

    def validate(self) -> None:
        super().validate()
        check_number("--start", self.start, 0)
        check_number("--duration", self.duration, 0, above=True)
        check_number("--crf", self.crf, 0, 51)
        check_choice("--x264-preset", self.x264_preset, X264_PRESETS)
        check_number("--encode-threads", self.encode_threads, 0)  # 0: x264's own choice


@dataclass
class WebcamOptions(FrameOptions):
    """Settings of :func:`fastnst.webcam.run_webcam` (``fastnst webcam``).

    The :class:`FrameOptions` (``stabilize`` None: start with stabilization off; the s key
    turns it on at :data:`STABILIZE_STRENGTH`), and: ``camera``: camera index (used when
    ``source`` is None); ``source``: a video file or a stream URL instead. ``device``:
    onnxruntime device. ``headless``: no window (stop with ``frames``, the end of a file
    source or Ctrl-C). ``record``: write the stylized stream to this video file
    (mp4/m4v/mov/mkv). ``frames``: stop after this many stylized frames. ``snapshot_dir``:
    where the space key saves PNG snapshots. ``max_side``: :data:`LIVE_MAX_SIDE` by default (speed).
    """

    max_side: int | None = LIVE_MAX_SIDE
    camera: int = 0
    source: str | None = None
    device: str = "auto"
    headless: bool = False
    record: str | None = None
    frames: int | None = None
    snapshot_dir: str = "."

    def validate(self) -> None:
        super().validate()
        check_number("--camera", self.camera, 0)
        check_number("--frames", self.frames, 1)


# --------------------------------------------------------------------------- export


@dataclass
class ExportConfig:
    """What ``fastnst export`` writes (flags of the same names): ``model`` (a .pth model file, an .onnx
    export, or a bundled style's name: :func:`fastnst.styles.export_source`) to ``output``, in ``fp16`` or
    ``int8``, with ``uint8_io`` frames; also a Triton repository entry (``triton``, ``triton_name``) and a web kit
    (``web``; ``overwrite`` replaces an earlier kit there). ``arbitrary``: the web kit takes any painting (``model``
    an any-painting export, or empty for the shipped pair), with ``painting`` files offered as examples.
    ``no_check`` skips the checks; ``data_root`` holds the int8 calibration photos (``content/bsds500/``,
    :func:`fastnst.quantize.find_data_root`)."""

    model: str = ""
    output: str | None = None
    fp16: bool = False
    int8: bool = False
    uint8_io: bool = False
    no_check: bool = False
    triton: str | None = None
    triton_name: str | None = None
    web: str | None = None
    overwrite: bool = False
    data_root: str | None = None
    style: str | None = None  # a multi-style .pth: export one style or blend of it as a one-input file
    arbitrary: bool = False
    painting: tuple[str, ...] = ()

    @property
    def from_onnx(self) -> bool:
        """Whether ``model`` is already ONNX (for a bundled style's name: once :func:`fastnst.styles.export_source`
        made it a file)."""
        return self.model.lower().endswith(".onnx")

    @property
    def converts(self) -> bool:
        """Whether an ONNX file is written: a model file's export, or an int8 / uint8-I/O copy."""
        return not self.from_onnx or self.int8 or self.uint8_io

    def validate(self) -> None:
        if self.arbitrary and not self.web:
            raise UserError("--arbitrary writes a web kit that takes any painting: give --web DIR")
        if self.arbitrary and (self.output or self.triton or self.fp16 or self.int8 or self.uint8_io or self.style):
            raise UserError("--arbitrary writes only a web kit (--web DIR): the any-painting pair is exported by "
                            "'fastnst export-arbitrary'")
        if self.arbitrary and self.model and not self.from_onnx:
            raise UserError(f"--arbitrary takes an any-painting export (OUT.onnx of 'fastnst export-arbitrary'), "
                            f"not {self.model}")
        if self.painting and not self.arbitrary:
            raise UserError("--painting offers an example painting in an any-painting web kit: it needs --arbitrary")
        if not self.model:
            raise UserError("give MODEL (a .pth, an .onnx or a shipped style's name), or --arbitrary --web DIR for a "
                            "page that takes any painting")
        if self.style and self.from_onnx:
            raise UserError("--style picks a style of a multi-style model file (.pth); an .onnx export already has "
                            "its styles fixed or takes their weights as an input")
        if not (self.output or self.triton or self.web):
            raise UserError("give -o OUT.onnx, --triton DIR, --web DIR, or several")
        if self.triton_name and not self.triton:
            raise UserError("--triton-name needs --triton DIR")
        if self.overwrite and not self.web:
            raise UserError("--overwrite needs --web DIR")
        if self.data_root and not self.int8:
            raise UserError("--data-root is where --int8 finds its calibration photos: it needs --int8")
        if self.fp16 and self.int8:
            raise UserError("--fp16 and --int8 are two precisions: choose one")
        if self.from_onnx and (self.int8 or self.uint8_io) and (not self.output or self.fp16):
            raise UserError("--int8 / --uint8-io of an .onnx file need -o OUT.onnx (and no --fp16)")
        if self.from_onnx and not self.converts and (self.output or self.fp16):
            raise UserError(f"{self.model} is already ONNX: it can only be added to a Triton repository or a web "
                            "kit (--triton DIR, --web DIR, without -o or --fp16), or copied with --int8 / --uint8-io "
                            "-o OUT.onnx")


# --------------------------------------------------------------------------- bench

BENCH_SIZES: tuple[tuple[int, int], ...] = ((256, 256), (640, 480), (1280, 720), (1920, 1080))  # (width, height)


@dataclass
class BenchConfig:
    """What ``fastnst bench`` times: frame ``sizes`` as (width, height), timed ``runs`` after ``warmup``
    untimed ones, on ``device`` (as for the Stylizer) with ``threads`` intra-op threads (None: the runtime's)."""

    sizes: tuple[tuple[int, int], ...] = BENCH_SIZES
    runs: int = 10
    warmup: int = 2
    device: str = "auto"
    threads: int | None = None

    def validate(self) -> None:
        if not self.sizes or any(w < 1 or h < 1 for w, h in self.sizes):
            raise UserError(f"--sizes must be positive WxH sizes, got {self.sizes}")
        check_number("--runs", self.runs, 1)
        check_number("--warmup", self.warmup, 0)
        check_number("--threads", self.threads, 1)
