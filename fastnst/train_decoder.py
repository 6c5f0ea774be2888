"""Training a decoder that inverts the loss network's features at one level (``fastnst train-decoder``).

The photos come as in :mod:`fastnst.train`: the batch at step ``t`` is a pure function of
``(seed, t)`` (:class:`~fastnst.train.CropDataset`, :class:`~fastnst.train.StepSampler`), and a
checkpoint holds the decoder, the optimizer, the scheduler and every RNG, so ``--resume`` continues
exactly. The encoder is the frozen loss network (:func:`fastnst.lossnet.build_loss_net`) truncated
at the level. Run folder layout::

    RUN_DIR/config.json            the DecoderConfig
    RUN_DIR/log.csv                one row per logged step (loss terms, validation PSNR where measured)
    RUN_DIR/checkpoints/step_N.pt  decoder, optimizer, scheduler, RNG states, step, config
    RUN_DIR/decoder.pth            the final decoder file (fastnst.decoders.save_decoder_file)
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import __version__
from . import image as im
from .config import DecoderConfig, from_dict
from .decoders import LEVELS, Decoder, crop_to, load_decoder_file, save_decoder_file
from .errors import UserError, warn
from .lossnet import LossNet, build_loss_net, portable_spec, weights_sha256
from .train import (
    CHECKPOINT_FORMAT,
    LR_FLOOR,
    CropDataset,
    StepSampler,
    append_log,
    atomic_torch_save,
    checkpoints,
    extend_run,
    find_images,
    newest_checkpoint,
    replan_schedule,
    rng_state,
    set_rng_state,
    trim_log,
)
from .wct import painting_stats, wct

LOG_FIELDS = ["step", "total", "pixel", "feature", "transfer", "val_psnr", "lr", "s_per_step", "elapsed_s"]


def encoder_layers(level: str) -> tuple[str, ...]:
    """The encoder levels up to and including ``level`` (relu3_1 -> relu1_1, relu2_1, relu3_1)."""
    return LEVELS[: LEVELS.index(level) + 1]


def build_encoder(loss_net: str | None, level: str) -> LossNet:
    """The frozen loss network, truncated after ``level`` (UserError where its weights stop earlier)."""
    return build_loss_net(loss_net, style_layers=encoder_layers(level), content_layer=level)


def transferred(features: torch.Tensor, sources: torch.Tensor) -> torch.Tensor:
    """Each photo's features (N, C, h, w) whitened and coloured (:func:`fastnst.wct.wct`, alpha 1) to the
    statistics of the features of the same index in ``sources`` (N, C, h', w'): features with another
    image's covariance, as a painting's give at run time, which a decoder trained on photos alone inverts
    worse than its own photos' (issue 23: relative Gram error at relu3_1 about 0.6 against 0.4)."""
    mean, colour = painting_stats(sources)
    return wct(features, mean, colour)


def reconstruction_loss(decoder: Decoder, encoder: LossNet, x: torch.Tensor, cfg: DecoderConfig
                        ) -> dict[str, torch.Tensor]:
    """The loss terms of photos ``x`` (N, 3, H, W) in [0, 1].

    The last ``k = round(cfg.transfer * N)`` photos are decoded from :func:`transferred` features (each
    given the statistics of the photo before it in the batch), the others from their own. Own: ``pixel``
    (MSE of the image) and ``feature`` (sum over the levels up to ``cfg.level`` of the features' MSE, the
    image re-encoded). Transferred: ``transfer``, the MSE of the
    re-encoded features at ``cfg.level`` against the transferred ones (no image to compare with). ``total`` is
    ``pixel_weight * pixel + feature_weight * (feature + transfer)``; a term with no photos is 0.
    """
    layers = encoder_layers(cfg.level)
    n = len(x)
    k = round(cfg.transfer * n)  # photos decoded from transferred features: x[n - k:]
    with torch.no_grad():
        target = encoder(x, layers)  # {layer: (N, C_l, H_l, W_l)}
        f = target[cfg.level]
        if k:
            f = torch.cat([f[:n - k], transferred(f[n - k:], f.roll(1, 0)[n - k:])])  # only the k photos' roots
    y = crop_to(decoder(f), x)  # (N, 3, H, W)
    got = encoder(y, layers)
    zero = y.new_zeros(())
    own = n - k
    pixel = F.mse_loss(y[:own], x[:own]) if own else zero
    feature = sum((F.mse_loss(got[k_][:own], target[k_][:own]) for k_ in layers), zero) if own else zero
    transfer = F.mse_loss(got[cfg.level][own:], f[own:]) if k else zero
    total = cfg.pixel_weight * pixel + cfg.feature_weight * (feature + transfer)
    return {"total": total, "pixel": pixel, "feature": feature, "transfer": transfer}


@torch.no_grad()
def least_squares_start(decoder: Decoder, encoder: LossNet, batches, ridge: float = 1e-3) -> None:
    """Set a decoder that is one linear conv (relu1_1) to the pixel loss's exact minimum over ``batches``.

    Such a decoder is ``y = conv3x3(reflect_pad(f)) + bias``, linear in its weights, so the minimum of
    ``|y - x|^2`` over the photos ``x`` of ``batches`` (each (B, 3, H, W) in [0, 1]) solves the normal
    equations ``(P^T P + r I) w = P^T x``: ``P`` (pixels, C * 9 + 1) holds each pixel's reflection-padded
    3x3 patch of features and a 1 for the bias, ``r`` is ``ridge`` x the mean of ``P^T P``'s diagonal.
    Accumulated photo by photo in float64; ``decoder`` is changed in place.
    """
    convs = [m for m in decoder.modules() if isinstance(m, torch.nn.Conv2d)]
    if len(convs) != 1 or convs[0].kernel_size != (3, 3):
        raise ValueError(f"a least-squares start needs a decoder of one 3x3 conv, not {len(convs)} convs")
    conv = convs[0]
    k = conv.in_channels * 9 + 1
    lhs = torch.zeros(k, k, dtype=torch.float64)
    rhs = torch.zeros(k, conv.out_channels, dtype=torch.float64)
    for x in batches:  # (B, 3, H, W)
        features = encoder(x, [decoder.level])[decoder.level]  # (B, C, H, W)
        for f, photo in zip(features, x):
            patches = F.unfold(F.pad(f[None], (1, 1, 1, 1), mode="reflect"), 3)[0].T  # (H*W, C*9)
            p = torch.cat([patches, torch.ones(len(patches), 1)], 1).double()  # (H*W, C*9 + 1)
            lhs += p.T @ p
            rhs += p.T @ photo.reshape(conv.out_channels, -1).T.double()  # (C*9 + 1, 3)
    lhs += ridge * lhs.diagonal().mean() * torch.eye(k, dtype=torch.float64)
    w = torch.linalg.solve(lhs, rhs)  # (C*9 + 1, 3)
    conv.weight.copy_(w[:-1].T.reshape_as(conv.weight).float())  # unfold's order is (C, kh, kw), as the weight's
    conv.bias.copy_(w[-1].float())


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images ``a`` and ``b`` (N, 3, H, W) in [0, 1], ``a`` clamped first."""
    mse = F.mse_loss(a.clamp(0, 1), b).item()
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def validation_photos(folder: str, count: int, size: int) -> list[torch.Tensor]:
    """The first ``count`` photos of ``folder`` (sorted), scaled so the short side is ``size`` and
    centre-cropped to ``size`` x ``size``: (1, 3, size, size) tensors in [0, 1]."""
    paths = find_images(folder)[0][:count]
    if not paths:
        raise UserError(f"no readable images in the --val folder '{folder}'")
    out = []
    for p in paths:
        img = im.load_image(p)
        h, w = img.shape[:2]
        s = min(h, w)
        y, x = (h - s) // 2, (w - s) // 2
        out.append(im.to_tensor(im.resize(img[y:y + s, x:x + s], (size, size))))
    return out


@torch.no_grad()
def validation_psnr(decoder: Decoder, encoder: LossNet, level: str, photos: list[torch.Tensor]) -> float:
    """Mean PSNR (dB) of ``photos`` reconstructed through ``encoder`` and ``decoder`` at ``level``."""
    was = decoder.training
    decoder.eval()
    scores = [psnr(crop_to(decoder(encoder(x, [level])[level]), x), x) for x in photos]
    decoder.train(was)
    return float(np.mean(scores))


def train_decoder(cfg: DecoderConfig | None = None, resume: str | None = None, progress: bool = True,
                  iterations: int | None = None) -> Path:
    """Train a decoder; returns the path of the final decoder file (RUN_DIR/decoder.pth).

    Args:
        cfg: the run's settings (ignored when resuming: the checkpoint's are used).
        resume: a run folder to continue from its newest checkpoint, exactly.
        progress: show a tqdm bar.
        iterations: with ``resume``, extend the run to this many steps, the cosine schedule planned anew
            (:func:`fastnst.train.replan_schedule`).
    """
    from tqdm import tqdm

    ckpt = None
    if resume:
        ckpt = newest_checkpoint(resume)
        cfg = from_dict(DecoderConfig, ckpt["config"], strict=False)
        cfg.output = resume
    if cfg is None:
        raise UserError("give the settings or a run folder to resume")
    extend_run(cfg, ckpt, iterations, resume)
    cfg.validate()
    run = Path(cfg.output)
    torch.manual_seed(cfg.seed)
    files, bad = find_images(cfg.data)
    if bad:
        warn(f"skipped {len(bad)} unreadable file(s) in '{cfg.data}', e.g. '{bad[0]}'")
    if not files:
        raise UserError(f"no readable images found in '{cfg.data}'")
    encoder = build_encoder(cfg.loss_net, cfg.level)
    val = validation_photos(cfg.val, cfg.val_images, cfg.val_size) if cfg.val else []

    decoder = Decoder(cfg.level, cfg.width, cfg.upsample)
    if ckpt is None and cfg.init_from:  # its upsampling may differ: a nearest decoder fine-tuned as bilinear
        start, _ = load_decoder_file(cfg.init_from)
        if (start.level, start.width) != (decoder.level, decoder.width):
            raise UserError(f"--init-from {cfg.init_from} is a {start.level} decoder of width {start.width:g}, "
                            f"not {decoder.level} of width {decoder.width:g}")
        decoder.load_state_dict(start.state_dict())
    dataset = CropDataset(files, cfg.image_size, cfg.seed, (cfg.crop_min, cfg.crop_max))
    if ckpt is None and cfg.init == "lstsq":  # the first init_batches steps' crops; resume loads the weights
        first = torch.utils.data.DataLoader(dataset, batch_size=cfg.batch_size, num_workers=0,
                                            sampler=StepSampler(0, cfg.init_batches, cfg.batch_size))
        least_squares_start(decoder, encoder, tqdm(first, desc="least-squares start", unit="batch",
                                                   disable=not progress, leave=False))
    opt = torch.optim.Adam(decoder.parameters(), lr=cfg.lr)
    if cfg.lr_schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.iterations), eta_min=cfg.lr * LR_FLOOR)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    step = 0
    if ckpt is not None:
        decoder.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        set_rng_state(ckpt["rng"])
        step = ckpt["step"]
        if iterations is not None:
            replan_schedule(sched, opt, cfg, step, cfg.iterations)
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    trim_log(run / "log.csv", step, LOG_FIELDS)

    loader = torch.utils.data.DataLoader(
        dataset, batch_size=cfg.batch_size,
        sampler=StepSampler(step, cfg.iterations, cfg.batch_size), num_workers=0)
    bar = tqdm(total=cfg.iterations, initial=step, desc=f"decoder {cfg.level}", unit="step", disable=not progress,
               dynamic_ncols=True)
    t0 = last = time.perf_counter()
    done_since = 0
    score = float("nan")
    for x in loader:  # (B, 3, S, S) in [0, 1]
        terms = reconstruction_loss(decoder, encoder, x, cfg)
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        opt.step()
        sched.step()
        step += 1
        done_since += 1
        bar.update(1)
        if not torch.isfinite(terms["total"]):
            raise RuntimeError(f"the loss diverged at step {step}; try a lower --lr")
        measured = val and (step % cfg.val_every == 0 or step == cfg.iterations)
        if measured:
            score = validation_psnr(decoder, encoder, cfg.level, val)
        if step % cfg.log_every == 0 or step == cfg.iterations or measured:
            now = time.perf_counter()
            row = {"step": step, **{k: f"{v.item():.6g}" for k, v in terms.items()},
                   "val_psnr": f"{score:.3f}" if measured else "", "lr": f"{sched.get_last_lr()[0]:.6g}",
                   "s_per_step": f"{(now - last) / done_since:.3f}", "elapsed_s": f"{now - t0:.1f}"}
            last, done_since = now, 0
            append_log(run / "log.csv", row, LOG_FIELDS)
            bar.set_postfix(loss=row["total"], psnr=f"{score:.2f}")
        if step % cfg.checkpoint_every == 0 and step < cfg.iterations:
            ckpt = {"format": CHECKPOINT_FORMAT, "step": step, "config": asdict(cfg), "model": decoder.state_dict(),
                    "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "rng": rng_state(),
                    "fastnst_version": __version__}
            atomic_torch_save(ckpt, run / "checkpoints" / f"step_{step:06d}.pt")
            for old in checkpoints(run)[:-cfg.keep]:
                old.unlink(missing_ok=True)
    bar.close()
    if val and math.isnan(score):  # no step was measured: --iterations 0 (the least-squares decoder as is)
        score = validation_psnr(decoder, encoder, cfg.level, val)

    out = run / "decoder.pth"
    meta = {"level": cfg.level, "width": cfg.width, "loss_net": portable_spec(encoder.spec),
            "loss_net_sha256": weights_sha256(encoder.spec), "iterations": cfg.iterations,
            "image_size": cfg.image_size, "batch_size": cfg.batch_size, "lr": cfg.lr,
            "pixel_weight": cfg.pixel_weight, "feature_weight": cfg.feature_weight, "seed": cfg.seed, "init": cfg.init,
            "init_from": Path(cfg.init_from).name if cfg.init_from else None, "transfer": cfg.transfer,
            "upsample": cfg.upsample,
            "data": Path(cfg.data).name, "data_images": len(files),
            "val": Path(cfg.val).name if cfg.val else None, "val_psnr": None if math.isnan(score) else round(score, 3),
            "fastnst_version": __version__}
    save_decoder_file(out, decoder, meta, half=cfg.save_half)
    return out

