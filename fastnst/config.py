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
    style_scales: int = 1  # Gaussian-pyramid levels of the style loss (1: single scale)
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
        if self.style_scales < 1:
            raise UserError(f"--style-scales must be at least 1, got {self.style_scales}")
        if min(self.content_weight, self.style_weight, self.tv_weight) < 0:
            raise UserError("loss weights must not be negative")


@dataclass
class TrainConfig:
    """Settings of ``fastnst train`` (one field per flag). Stored in every checkpoint and model file."""

    style: str = ""  # style image path
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
    workers: int = 2
    val: str | None = None  # folder of fixed preview images
    preview_every: int = 200
    log_every: int = 10
    checkpoint_every: int = 500
    keep: int = 3  # checkpoints kept
    channels_last: bool = False
    amp: str = "none"  # "none", "bf16" or "fp16" (fp16 on CUDA only)
    style_name: str | None = None  # default: the style file's stem
    save_half: bool = False  # final model weights stored as fp16

    def validate(self) -> None:
        for name in ("image_size", "batch_size", "preview_every", "log_every", "checkpoint_every", "keep"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.image_size < 32:
            raise UserError(f"--image-size must be at least 32, got {self.image_size}")
        if self.iterations is not None and self.iterations < 1 and self.epochs is None:
            raise UserError(f"--iterations must be at least 1, got {self.iterations}")
        if self.epochs is not None and not self.epochs > 0:
            raise UserError(f"--epochs must be positive, got {self.epochs}")
        if not self.lr > 0:
            raise UserError(f"--lr must be positive, got {self.lr}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise UserError(f"--lr-schedule must be cosine or constant, got '{self.lr_schedule}'")
        if self.amp not in ("none", "bf16", "fp16"):
            raise UserError(f"--amp must be none, bf16 or fp16, got '{self.amp}'")
        if min(self.content_weight, self.style_weight, self.tv_weight, self.temporal_weight) < 0:
            raise UserError("loss weights must not be negative")
        if self.style_scales < 1:
            raise UserError(f"--style-scales must be at least 1, got {self.style_scales}")
        if not 0 < self.crop_min <= self.crop_max <= 1:
            raise UserError(f"need 0 < --crop-min <= --crop-max <= 1, got {self.crop_min} and {self.crop_max}")
        if self.workers < 0:
            raise UserError(f"--workers must be >= 0, got {self.workers}")


@dataclass
class DemoConfig:
    """Limits and stream settings of the web app, ``fastnst demo`` (flags of the same names).

    ``stream_max_side`` / ``stream_every`` / ``video_max_side``: None picks by device: 384 px,
    0.1 s and 480 px on a CPU; 720 px, 0.05 s and 1080 px on a GPU. ``max_streams``: webcam
    streams served at once (more wait in the queue); ``stream_time_limit``: seconds one
    stream may run before it stops (press Record again to go on).
    """

    max_upload_mb: float = 50.0
    max_video_seconds: float = 30.0
    max_video_pixels: int = 1920 * 1080  # per frame
    image_max_side: int = 1600
    video_max_side: int | None = None
    stream_max_side: int | None = None
    stream_every: float | None = None
    max_streams: int = 8
    stream_time_limit: int = 600
    stabilize_strength: float = 0.5
    mirror: bool = False
