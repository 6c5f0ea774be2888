"""Training a fast style network (Johnson et al. 2016) on the Gatys perceptual loss.

The batch at step ``t`` is a pure function of ``(seed, t)``: which images (a seeded permutation
per epoch) and how they are cropped (an RNG seeded per sample). So a run resumed from a
checkpoint sees exactly the batches the uninterrupted run would have seen, whatever the number
of data-loader workers, and ``torchrun`` processes split each global batch between them.

Run folder layout::

    RUN_DIR/config.json            the TrainConfig
    RUN_DIR/log.csv                one row per logged step
    RUN_DIR/previews/step_N.png    the preview images stylized at step N
    RUN_DIR/checkpoints/step_N.pt  model, optimizer, scheduler, RNG states, step, config
    RUN_DIR/model.pth              the final self-describing model file
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from . import __version__
from . import image as im
from .config import TrainConfig, from_dict
from .devices import resolve_device
from .errors import UserError, warn
from .files import atomic_output
from .losses import PerceptualLoss, random_flow, temporal_loss, warp_torch
from .lossnet import build_loss_net, portable_spec, weights_sha256
from .models import create_model, save_model_file

CHECKPOINT_FORMAT = "fastnst-checkpoint"
LOG_FIELDS = ["step", "total", "content", "style", "tv", "lr", "images_per_s", "elapsed_s", "temporal"]
TERMS = ("total", "content", "style", "tv", "temporal")  # loss terms, as logged


# ----------------------------------------------------------------------------- data


def _looks_readable(path: str) -> bool:
    """A cheap check (headers and, for PNG, checksums; no full decode) that a file is an image."""
    import cv2
    from PIL import Image

    if os.path.splitext(path)[1].lower() not in Image.registered_extensions():
        return cv2.haveImageReader(path)  # formats only OpenCV reads (EXR, ...), by signature
    try:
        with Image.open(path) as img:
            img.verify()
        return True
    except Exception:
        return False


def find_images(folder: str) -> tuple[list[str], list[str]]:
    """All images below ``folder`` (recursively, sorted) and the unreadable ones skipped.

    Files whose extension is no image format are ignored; files with an image extension that
    are not images (empty, text, a broken header) are returned in the second list. The check
    is cheap, so a file can still fail to decode later: :class:`CropDataset` then takes the next one.
    """
    if not os.path.isdir(folder):
        raise UserError(f"training data folder not found: '{folder}'")
    good, bad = [], []
    for path in im.walk_images(folder):
        (good if _looks_readable(path) else bad).append(path)
    return good, bad


class CropDataset(torch.utils.data.Dataset):
    """Sample ``k`` -> a random square crop of one training image, resized.

    Sample ``k`` belongs to epoch ``k // len(files)``; each epoch visits the files in its own
    seeded permutation, and each sample's crop comes from an RNG seeded with ``(seed, k)``.
    The crop side is a fraction of the photo's short side drawn uniformly from ``crop``.

    Returns float (3, size, size) tensors in [0, 1].
    """

    def __init__(self, files: list[str], size: int, seed: int,
                 crop: tuple[float, float] = (TrainConfig.crop_min, TrainConfig.crop_max)):
        self.files, self.size, self.seed, self.crop = list(files), size, seed, crop
        self._perm_epoch, self._perm = -1, None
        self._warned: set[str] = set()

    def __len__(self) -> int:
        return len(self.files)

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._perm_epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm, self._perm_epoch = torch.randperm(len(self.files), generator=g), epoch
        return self._perm

    def _load(self, epoch: int, pos: int) -> np.ndarray:
        """The image at ``pos`` of the epoch's permutation, or the next one that decodes."""
        perm = self._permutation(epoch)
        for i in range(len(self.files)):
            path = self.files[int(perm[(pos + i) % len(self.files)])]
            try:
                return im.load_image(path)
            except UserError as e:
                if path not in self._warned:
                    self._warned.add(path)
                    warn(f"skipping training image: {e}")
        raise UserError("none of the training images could be decoded")

    def __getitem__(self, k: int) -> torch.Tensor:
        epoch, pos = divmod(k, len(self.files))
        rng = random.Random(self.seed * 1_000_003 + k)
        img = self._load(epoch, pos)
        h, w = img.shape[:2]
        side = max(1, round(rng.uniform(*self.crop) * min(h, w)))
        y, x = rng.randint(0, h - side), rng.randint(0, w - side)
        crop = im.resize(img[y:y + side, x:x + side], (self.size, self.size))
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        return torch.from_numpy(im.to_nchw(np.ascontiguousarray(crop))[0])  # (3, S, S)


class StepSampler(torch.utils.data.Sampler):
    """Sample indices for steps ``start..stop-1``: this process's share of each global batch."""

    def __init__(self, start: int, stop: int, batch: int, rank: int = 0, world: int = 1):
        self.start, self.stop, self.batch, self.rank, self.world = start, stop, batch, rank, world

    def __len__(self) -> int:
        return (self.stop - self.start) * self.batch

    def __iter__(self):
        for step in range(self.start, self.stop):
            base = (step * self.world + self.rank) * self.batch
            yield from range(base, base + self.batch)


def style_images(cfg: TrainConfig) -> list[str]:
    """The run's style images: ``cfg.style``'s files, and each folder's images (sorted), in order.

    One image trains a one-style network; several train one multi-style network whose style
    ``k`` is the ``k``-th image here. UserError for a missing path, an empty folder or a repeat.
    """
    found: list[str] = []
    for path in cfg.style_paths():
        if os.path.isdir(path):
            images = find_images(path)[0]
            if not images:
                raise UserError(f"no readable style images in '{path}'")
            found += images
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise UserError(f"style image not found: '{path}'")
    names = [Path(p).stem for p in found]
    if len(set(names)) != len(names):
        shared = sorted(n for n in set(names) if names.count(n) > 1)
        raise UserError(f"two style images share a name: {', '.join(shared)}")
    return found


def style_of_step(seed: int, step: int, num_styles: int) -> int:
    """The style trained at ``step``: each run of ``num_styles`` steps visits every style once, in an
    order drawn from ``(seed, cycle)``, so a resumed run trains the same style at the same step."""
    if num_styles == 1:
        return 0
    cycle, pos = divmod(step, num_styles)
    g = torch.Generator().manual_seed(seed * 1_000_003 + 7_919 * cycle + 1)
    return int(torch.randperm(num_styles, generator=g)[pos])


def grow_styles(base, new_rows: int = 1):
    """A copy of the network ``base`` with ``new_rows`` more styles, for ``fastnst train --base``.

    Every weight is copied; each conditional instance norm gains rows initialised to the mean of
    the base's rows (for a one-style base: its norm's scale and shift). Returns (model, frozen
    style count S): training must change only rows S.. (see :func:`train_new_rows_only`).
    """
    from dataclasses import replace

    from .models import TransformerNet

    old = base.num_styles
    model = TransformerNet(replace(base.config, num_styles=old + new_rows), preset=base.preset)
    state = {}
    for key, value in base.state_dict().items():
        target = model.state_dict()[key]
        if value.shape != target.shape:  # a norm's (C,) or (S, C) table -> (S + new, C)
            rows = value.reshape(-1, value.shape[-1])
            value = torch.cat([rows, rows.mean(0, keepdim=True).expand(new_rows, -1)])
        state[key] = value
    model.load_state_dict(state)
    return model, old


def train_new_rows_only(model, frozen: int) -> list[torch.nn.Parameter]:
    """Freeze every weight of ``model`` except its style tables, whose rows < ``frozen`` get zero
    gradients (Adam then leaves them exactly as they are). Returns the parameters to optimise."""
    from .models import ConditionalInstanceNorm2d

    trained = []
    for module in model.modules():
        for p in module.parameters(recurse=False):
            p.requires_grad_(isinstance(module, ConditionalInstanceNorm2d))
            if isinstance(module, ConditionalInstanceNorm2d):
                p.register_hook(lambda g: torch.cat([torch.zeros_like(g[:frozen]), g[frozen:]]))
                trained.append(p)
    return trained


# ----------------------------------------------------------------------------- checkpoints


def checkpoints(run_dir: str) -> list[Path]:
    """The checkpoint files of a run, oldest first."""
    return sorted(Path(run_dir, "checkpoints").glob("step_*.pt"), key=lambda p: int(p.stem.split("_")[1]))


def atomic_torch_save(obj, path: Path) -> None:
    """``torch.save`` to ``path`` through a temp file and a rename: never a half-written checkpoint."""
    with atomic_output(path, suffix=".tmp") as tmp:
        torch.save(obj, tmp)


def rng_state() -> dict:
    """Every RNG state a step depends on (torch, Python, NumPy, CUDA), for a checkpoint's exact resume."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": torch.from_numpy(np.random.get_state()[1].astype(np.int64))}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), 624, 0, 0.0))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def newest_checkpoint(run: str | os.PathLike) -> dict:
    """The newest checkpoint of the run folder ``run``, loaded; UserError where it has none."""
    found = checkpoints(run)
    if not found:
        raise UserError(f"no checkpoint to resume from in '{run}/checkpoints'")
    return load_checkpoint(found[-1])


def load_checkpoint(path: Path) -> dict:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(f"cannot read checkpoint '{path}': {type(e).__name__}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"'{path}' is not a fastnst checkpoint")
    return ckpt


# ----------------------------------------------------------------------------- training


def total_steps(cfg: TrainConfig, n_images: int, world: int) -> int:
    """Steps to run: ``iterations``, or ``epochs`` passes over the data at the global batch size."""
    if cfg.epochs is not None:
        return max(1, math.ceil(cfg.epochs * n_images / (cfg.batch_size * world)))
    return cfg.iterations


def _dist_info() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


@dataclass
class RunStyles:
    """What a run trains: its paintings, the network's style names (a base network's first, with
    ``--add-style``) and the name the model file records."""

    paths: list[str]  # the paintings this run trains, in order
    names: list[str]  # style k of the network is names[k]
    base_names: list[str]  # the base network's styles (--add-style), else empty
    base: object = None  # the base TransformerNet (--add-style), else None

    @property
    def label(self) -> str:
        """``wave``, ``wave+mondrian`` or ``8 styles``."""
        return "+".join(self.names) if len(self.names) <= 3 else f"{len(self.names)} styles"


def run_styles(cfg: TrainConfig) -> RunStyles:
    """The paintings and style names of the run ``cfg``; UserError for a clash of names."""
    paths = style_images(cfg)
    if cfg.style_name and len(paths) > 1:
        raise UserError("--style-name names a one-style network; a multi-style one takes its styles' file names")
    names = [cfg.style_name or Path(paths[0]).stem] if len(paths) == 1 else [Path(p).stem for p in paths]
    if not cfg.base:
        return RunStyles(paths, names, [])
    from .models import load_model_file  # --add-style: the base network's styles come first

    base, base_meta = load_model_file(cfg.base)
    base_names = list(base_meta.get("styles") or [base_meta.get("style") or Path(cfg.base).stem])
    if names[0] in base_names:
        raise UserError(f"'{cfg.base}' already has a style named '{names[0]}': name the new one with --style-name")
    return RunStyles(paths, base_names + names, base_names, base)


LR_FLOOR = 0.1  # the cosine schedule ends at this fraction of ``lr``


def cosine_lr(cfg, step: int, steps: int) -> float:
    """The learning rate after ``step`` of ``steps`` in the cosine schedule: ``lr`` at 0, ``lr * LR_FLOOR`` at
    the end."""
    low = cfg.lr * LR_FLOOR
    return low + (cfg.lr - low) * (1 + math.cos(math.pi * step / steps)) / 2


def extend_run(cfg, ckpt: dict | None, iterations: int | None, run: str | None) -> None:
    """Set a resumed run's ``cfg.iterations`` to ``iterations`` (None: leave it); UserError unless the run is
    resumed (``ckpt``, from ``run``) and ``iterations`` is past its checkpoint's step. ``cfg``: a
    :class:`TrainConfig` or :class:`fastnst.config.DecoderConfig`."""
    if iterations is None:
        return
    if ckpt is None:
        raise UserError("iterations= extends a resumed run; set cfg.iterations for a new one")
    if iterations <= ckpt["step"]:
        raise UserError(f"--iterations {iterations} is not past the checkpoint's step {ckpt['step']} in '{run}'")
    cfg.iterations = iterations


def replan_schedule(sched, opt, cfg, step: int, steps: int) -> None:
    """Plan a resumed run's learning rate anew for ``steps`` steps in all: from ``step`` on it follows the
    schedule a run of that length would have had (a constant schedule stays as it is). ``cfg``: the run's
    :class:`TrainConfig` or :class:`fastnst.config.DecoderConfig` (its ``lr`` and ``lr_schedule``)."""
    if cfg.lr_schedule != "cosine":
        return
    sched.T_max = steps
    for group in opt.param_groups:  # the scheduler's recurrence carries on from the closed form at ``step``
        group["lr"] = cosine_lr(cfg, step, steps)


def _optimization(cfg: TrainConfig, params, steps: int, device: torch.device, main_proc: bool):
    """Adam, the learning-rate schedule and the fp16 gradient scaler of a run; UserError for an AMP mode
    the device lacks."""
    opt = torch.optim.Adam(params, lr=cfg.lr)
    if cfg.lr_schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=cfg.lr * LR_FLOOR)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.amp == "fp16")
    if cfg.amp == "fp16" and device.type != "cuda":
        raise UserError("--amp fp16 needs a CUDA device; use --amp bf16 on the CPU")
    if cfg.amp == "bf16" and device.type == "cpu" and main_proc and \
            not torch.backends.cpu.get_cpu_capability().startswith("AVX512"):
        warn("--amp bf16 is slow on this CPU (no AVX-512: measured 120x slower than fp32 on AVX2)")
    return opt, sched, scaler


def _losses(cfg: TrainConfig, net, crit: PerceptualLoss, x: torch.Tensor, style, step: int,
            rank: int) -> dict[str, torch.Tensor]:
    """One step's loss terms for the batch ``x`` (B, 3, S, S) in [0, 1] through ``net`` (the network, or
    its DDP wrapper) with the style weights ``style`` ((S,), or None for a one-style network)."""
    if not cfg.temporal_weight:
        y = net(x, style)
        terms = crit(y, crit.content_target(x))
        terms["temporal"] = y.new_zeros(())
        return terms
    # A second frame: the batch warped by a random smooth flow drawn from a generator seeded with
    # (seed, step, rank), so resumed runs draw the same flows. Both frames go through the network in
    # one batch; the loss net sees only the first.
    flow = _step_flow(cfg, step, rank, x)
    y, y_next = net(torch.cat([x, warp_torch(x, flow)]), style).chunk(2)
    terms = crit(y, crit.content_target(x))
    terms["temporal"] = temporal_loss(y_next, y, flow)
    terms["total"] = terms["total"] + cfg.temporal_weight * terms["temporal"]
    return terms


def _model_meta(cfg: TrainConfig, styles: RunStyles, crit: PerceptualLoss, net, steps: int, world: int,
                images: int, num_styles: int) -> dict:
    """What the model file records of its training (never a machine path: file and folder names only)."""
    meta = {
        "style": styles.label, "style_file": os.path.basename(styles.paths[0]), "loss_net": portable_spec(net.spec),
        "loss_net_sha256": weights_sha256(net.spec),
        "style_layers": list(crit.style_layers), "content_layer": crit.content_layer,
        "content_weight": cfg.content_weight, "style_weight": cfg.style_weight, "tv_weight": cfg.tv_weight,
        "temporal_weight": cfg.temporal_weight, "style_scales": cfg.style_scales,
        "crop": [cfg.crop_min, cfg.crop_max],
        "image_size": cfg.image_size, "style_size": cfg.style_size or cfg.image_size,
        "iterations": steps, "batch_size": cfg.batch_size * world, "lr": cfg.lr, "seed": cfg.seed,
        "data": os.path.basename(os.path.normpath(cfg.data)), "data_images": images,
        "fastnst_version": __version__,
    }
    if num_styles > 1:  # style k of the network is styles[k]
        meta["styles"] = styles.names
    if len(styles.paths) > 1:
        meta["style_files"] = [os.path.basename(p) for p in styles.paths]
    if cfg.base:  # the new style's own settings above; the other styles are the base's
        meta.update(style=styles.names[-1], base=os.path.basename(cfg.base), base_styles=styles.base_names)
    return meta


def train(cfg: TrainConfig | None = None, resume: str | None = None, progress: bool = True,
          iterations: int | None = None) -> Path:
    """Train a style network; returns the path of the final model file.

    ``fastnst train`` first calls :func:`fastnst.allocator.reuse_freed_memory` (1.5-2x faster steps
    on a CPU); this function leaves the process's allocator alone, so a program calling it opts in.

    Args:
        cfg: the run's settings (ignored when resuming: the checkpoint's are used).
        resume: a run folder to continue from its newest checkpoint, exactly.
        progress: show a tqdm bar (on rank 0).
        iterations: with ``resume``, extend (or shorten) the run to this many steps: the cosine schedule is
            planned anew from the checkpoint's step, as if the run had been started with this length
            (:func:`replan_schedule`). The run is then no longer the exact continuation of the old plan.
    """
    from tqdm import tqdm

    ckpt = None
    if resume:
        ckpt = newest_checkpoint(resume)
        cfg = from_dict(TrainConfig, ckpt["config"], strict=False)  # a checkpoint of another version may differ
        cfg.output = resume
    extend_run(cfg, ckpt, iterations, resume)
    if iterations is not None:
        cfg.epochs = None  # the steps are now given
    cfg.validate()
    if not cfg.style:
        raise UserError("a style image is needed (--style)")
    run = Path(cfg.output)
    styles = run_styles(cfg)

    rank, world, local_rank = _dist_info()
    device = resolve_device(cfg.device)
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    main_proc = rank == 0
    torch.manual_seed(cfg.seed)

    files, bad = find_images(cfg.data)
    if bad and main_proc:
        warn(f"skipped {len(bad)} unreadable file(s) in '{cfg.data}', e.g. '{bad[0]}'")
    if not files:
        raise UserError(f"no readable images found in '{cfg.data}'")
    net = build_loss_net(cfg.loss_net, cfg.style_layers, cfg.content_layer).to(device)
    crits = []  # one loss per painting (its Gram targets); they share the loss net
    for path in styles.paths:
        style_img = im.resize_long_side(im.load_image(path), cfg.style_size or cfg.image_size)
        crits.append(PerceptualLoss(net, im.to_tensor(style_img, device), content_weight=cfg.content_weight,
                                    style_weight=cfg.style_weight, tv_weight=cfg.tv_weight,
                                    style_scales=cfg.style_scales))
    if styles.base is not None:  # --add-style: one new norm row, the rest frozen
        model, frozen = grow_styles(styles.base)
        model = model.to(device)
        params = train_new_rows_only(model, frozen)
        trained_styles = [frozen]  # crits[0] trains the new row
    else:
        model = create_model(cfg.preset, num_styles=len(crits)).to(device)
        params = list(model.parameters())
        trained_styles = list(range(len(crits)))
    num_styles = model.num_styles
    memory_format = torch.channels_last if cfg.channels_last else torch.preserve_format
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
        net.to(memory_format=torch.channels_last)
    steps = total_steps(cfg, len(files), world)
    opt, sched, scaler = _optimization(cfg, params, steps, device, main_proc)

    step = 0
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        set_rng_state(ckpt["rng"])
        step = ckpt["step"]
        if iterations is not None:
            replan_schedule(sched, opt, cfg, step, steps)
    ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model

    previews = _preview_batch(cfg, files, device)
    if main_proc:
        (run / "checkpoints").mkdir(parents=True, exist_ok=True)
        (run / "previews").mkdir(exist_ok=True)
        (run / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
        trim_log(run / "log.csv", step)

    loader = torch.utils.data.DataLoader(
        CropDataset(files, cfg.image_size, cfg.seed, (cfg.crop_min, cfg.crop_max)), batch_size=cfg.batch_size,
        sampler=StepSampler(step, steps, cfg.batch_size, rank, world), num_workers=cfg.loader_workers(device.type),
        pin_memory=device.type == "cuda", persistent_workers=False,
    )
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.amp)
    autocast = (lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype else nullcontext

    bar = tqdm(total=steps, initial=step, desc=f"train {styles.label}", unit="step",
               disable=not (progress and main_proc), dynamic_ncols=True)
    t0, seen, last_log = time.perf_counter(), 0, time.perf_counter()
    for x in loader:
        x = x.to(device, non_blocking=True, memory_format=memory_format)  # (B, 3, S, S) in [0, 1]
        i = style_of_step(cfg.seed, step, len(crits))
        style = None if num_styles == 1 else torch.nn.functional.one_hot(  # (S,): this step's style alone
            torch.tensor(trained_styles[i]), num_styles).float().to(device)
        with autocast():
            terms = _losses(cfg, ddp, crits[i], x, style, step, rank)
        opt.zero_grad(set_to_none=True)
        scaler.scale(terms["total"]).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()
        step += 1
        seen += x.shape[0] * world
        bar.update(1)

        if not torch.isfinite(terms["total"]):
            raise RuntimeError(f"the loss diverged at step {step}; try a lower --lr or --amp none")
        log_now = step % cfg.log_every == 0 or step == steps
        if log_now:
            logged = torch.stack([terms[k].detach().float() for k in TERMS])
            if world > 1:
                dist.all_reduce(logged)  # log the loss of the global batch, not of rank 0's share
                logged /= world
        if main_proc and log_now:
            now = time.perf_counter()
            rate = seen / (now - last_log)
            seen, last_log = 0, now
            values = dict(zip(TERMS, logged.tolist()))
            row = {"step": step, **{k: f"{v:.6g}" for k, v in values.items()},
                   "lr": f"{sched.get_last_lr()[0]:.6g}", "images_per_s": f"{rate:.2f}", "elapsed_s": f"{now - t0:.1f}"}
            append_log(run / "log.csv", row)
            bar.set_postfix(loss=row["total"], content=row["content"], style=row["style"], img_s=row["images_per_s"])
        if main_proc and (step % cfg.preview_every == 0 or step == steps):
            _save_preview(model, previews, run / "previews" / f"step_{step:06d}.png", num_styles)
        if step % cfg.checkpoint_every == 0 and step < steps:
            if main_proc:
                _save_checkpoint(run, step, cfg, model, opt, sched, scaler)
            if world > 1:
                dist.barrier()
    bar.close()

    out = run / "model.pth"
    if main_proc:
        meta = _model_meta(cfg, styles, crits[0], net, steps, world, len(files), num_styles)
        save_model_file(out, model, meta, half=cfg.save_half)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return out


def _step_flow(cfg: TrainConfig, step: int, rank: int, x: torch.Tensor) -> torch.Tensor:
    """The random flows (B, 2, S, S) for the temporal loss at ``step``: a function of (seed, step, rank)."""
    g = torch.Generator().manual_seed((cfg.seed * 1_000_003 + step) * 1_009 + rank + 1)
    return random_flow(x.shape[0], x.shape[2], x.shape[3], generator=g, device=x.device).to(x.dtype)


def _save_checkpoint(run: Path, step: int, cfg: TrainConfig, model, opt, sched, scaler) -> None:
    ckpt = {"format": CHECKPOINT_FORMAT, "step": step, "config": asdict(cfg), "model": model.state_dict(),
            "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "scaler": scaler.state_dict(),
            "rng": rng_state(), "fastnst_version": __version__}
    atomic_torch_save(ckpt, run / "checkpoints" / f"step_{step:06d}.pt")
    for old in checkpoints(run)[:-cfg.keep]:
        old.unlink(missing_ok=True)


def append_log(path: Path, row: dict, fields: list[str] = LOG_FIELDS) -> None:
    """Append ``row`` to the CSV log at ``path`` (columns ``fields``), writing the header first in a new file."""
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fields)
        if new:
            w.writeheader()
        w.writerow(row)


def trim_log(path: Path, step: int, fields: list[str] = LOG_FIELDS) -> None:
    """Drop log rows after ``step`` (written after the checkpoint a run resumes from)."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
    with atomic_output(path, suffix=".tmp") as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fields)
        w.writeheader()
        w.writerows(rows)


def _preview_batch(cfg: TrainConfig, files: list[str], device) -> torch.Tensor:
    """Up to 4 fixed images (from --val, else the first training images), (N, 3, S, S') in [0, 1]."""
    paths = find_images(cfg.val)[0][:4] if cfg.val else files[:4]
    if not paths:
        raise UserError(f"no readable images in the --val folder '{cfg.val}'")
    size = cfg.image_size
    imgs = [im.resize(im.load_image(p), (size, size)) for p in paths]
    return torch.cat([im.to_tensor(i) for i in imgs]).to(device)


@torch.no_grad()
def _save_preview(model, batch: torch.Tensor, path: Path, num_styles: int = 1) -> None:
    """The preview photos (top row) above their stylized versions, one row per style."""
    model.eval()
    if num_styles == 1:
        outs = [model(batch)]  # [(N, 3, S, S)]
    else:
        outs = [model(batch, torch.eye(num_styles, device=batch.device)[k]) for k in range(num_styles)]
    model.train()
    columns = [np.concatenate([im.to_image(a)] + [im.to_image(o[i]) for o in outs], axis=0)
               for i, a in enumerate(batch)]
    im.save_image(path, np.concatenate(columns, axis=1))
