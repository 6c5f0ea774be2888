"""Export arbitrary style transfer (:mod:`fastnst.arbitrary`) to two ONNX files that onnxruntime alone runs.

``OUT.onnx`` is the per-frame graph, ``OUT.painting.onnx`` the painting-statistics graph: a painting's
statistics are computed once (by the second) and fed to the first with every frame. Both are plain
ONNX at :data:`fastnst.export.OPSET` (the matrix roots are Newton-Schulz iterations: matrix products
only), with the metadata key ``arbitrary`` saying what each input means (:func:`arbitrary_io`).

Before anything is written both files are run with onnxruntime at three sizes (odd ones included) on
natural-like images and paintings and compared with PyTorch; a max abs difference above ``atol`` is
a RuntimeError and no file is left behind.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .arbitrary import FrameNet, PaintingNet, stat_names
from .config import level_strengths
from .decoders import CHANNELS, Decoder, load_decoder_file
from .errors import UserError
from .export import CHECK_SIZES, OPSET
from .files import atomic_output
from .lossnet import portable_spec, weights_sha256
from .metadata import write_metadata
from .ortsession import open_session
from .painting import ALPHA_INPUT as ALPHA  # the names the runtime feeds
from .painting import IMAGE_INPUT as IMAGE
from .painting import MULTIPLE, pad_frame
from .painting import PAINTING_INPUT as PAINTING
from .quality import natural_image
from .silence import silence
from .train_decoder import build_encoder

OUTPUT = "stylized"
PAINTING_SUFFIX = ".painting.onnx"  # OUT.onnx's statistics graph: OUT.painting.onnx


def painting_file(frame_file: str | os.PathLike[str]) -> Path:
    """The statistics graph that goes with the per-frame graph ``frame_file``: ``X.onnx`` -> ``X.painting.onnx``."""
    p = Path(frame_file)
    return p.with_name(p.name.removesuffix(".onnx") + PAINTING_SUFFIX)


def arbitrary_io(levels: tuple[str, ...], transform: str, painting_name: str,
                 strengths: dict[str, float] | None = None) -> dict:
    """The metadata ``arbitrary`` of both files: the interface of each graph and what every input means, and each
    level's strength (the factor of alpha there; None: :data:`fastnst.config.LEVEL_STRENGTHS`)."""
    strengths = level_strengths(levels, strengths)
    stats = {}
    for level in levels:
        c = CHANNELS[level]
        stats[f"mean_{level}"] = {"shape": [1, c, 1], "meaning": f"the painting's mean {level} feature"}
        stats[f"colour_{level}"] = {"shape": [1, c, c], "meaning": f"square root of the painting's {level} "
                                                                      "feature covariance (colouring matrix)"}
    return {
        "transform": transform, "levels": list(levels), "strengths": strengths, "painting_file": painting_name,
        "frame": {"input": {"name": IMAGE, "dtype": "float32", "layout": "NCHW", "channels": "RGB", "range": [0.0, 1.0],
                            "shape": [1, 3, "height", "width"], "multiple_of": MULTIPLE},
                  "output": {"name": OUTPUT, "dtype": "float32", "layout": "NCHW", "channels": "RGB",
                             "range": [0.0, 1.0], "shape": [1, 3, "height", "width"]},
                  "inputs": {IMAGE: {"shape": [1, 3, "height", "width"], "range": [0, 1],
                                     "meaning": "the photo or frame, float32 RGB NCHW, sides multiples of 4 "
                                                "(fastnst.painting.pad_frame repeats the edge up to them)"},
                             ALPHA: {"shape": [1], "range": [0, 1],
                                     "meaning": "style strength: 1 the painting's statistics (at each level "
                                                "times that level's strength, 'strengths'), 0 the photo's"},
                             **stats},
                  "outputs": {OUTPUT: {"shape": [1, 3, "height", "width"], "range": [0, 1]}}},
        "painting": {"input": {"name": PAINTING, "dtype": "float32", "layout": "NCHW", "channels": "RGB",
                               "range": [0.0, 1.0], "shape": [1, 3, "height", "width"], "multiple_of": MULTIPLE},
                     "inputs": {PAINTING: {"shape": [1, 3, "height", "width"], "range": [0, 1],
                                           "meaning": "the painting, float32 RGB NCHW, sides multiples of 4 "
                                                      "(fastnst.painting.painting_image); its size sets the strokes'"}},
                     "outputs": stats},
    }


def load_decoders(paths: list[str], loss_net: str) -> tuple[dict[str, Decoder], list[dict]]:
    """The decoder files ``paths`` (one per level) -> ({level: Decoder}, their metadata). UserError where two share
    a level, or where a decoder was trained on another loss network than ``loss_net``'s weights."""
    decoders, metas = {}, []
    sha = weights_sha256(loss_net)
    for path in paths:
        decoder, meta = load_decoder_file(path)
        if decoder.level in decoders:
            raise UserError(f"two decoders for {decoder.level}: give one per level")
        trained = meta.get("loss_net_sha256")
        if trained and sha and trained != sha:
            raise UserError(f"{path} was trained on another loss network ({meta.get('loss_net')}) than '{loss_net}'")
        decoders[decoder.level] = decoder
        metas.append(meta)
    if not decoders:
        raise UserError("give at least one decoder file")
    return decoders, metas


def _torch_export(module: torch.nn.Module, args: tuple, path: str, inputs: list[str], outputs: list[str],
                  shapes: tuple) -> None:
    """``module`` run on ``args`` -> the ONNX file ``path``; ``shapes``: torch.export's dynamic shapes of ``args``."""
    with silence() as chatter:
        try:
            torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, dynamic_shapes=shapes,
                              opset_version=OPSET, dynamo=True, external_data=False, verbose=False, report=False)
        except Exception as e:
            tail = chatter.getvalue().strip().splitlines()[-5:]
            raise RuntimeError(f"ONNX export failed: {type(e).__name__}: {e}\n" + "\n".join(tail)) from e


def _check(frame_path: str, painting_path: str, frame_net: FrameNet, painting_net: PaintingNet, atol: float) -> dict:
    """onnxruntime vs PyTorch on both graphs at :data:`CHECK_SIZES` (odd ones through the runtime's padding,
    :func:`fastnst.painting.pad_frame`; a painting of another size each time; alpha 0.8). RuntimeError on a
    mismatch of the output images or of the statistics (relative to their largest value)."""
    frame, paint = open_session(frame_path), open_session(painting_path)
    names = stat_names(frame_net.levels)
    report: dict = {"max_abs_diff": {}, "stats_max_rel_diff": {}}
    failures = []
    alpha = np.array([0.8], np.float32)
    for i, (h, w) in enumerate(CHECK_SIZES):
        image, _ = pad_frame(natural_image(h, w, seed=i))
        painting = natural_image((w // 2 + 7) // MULTIPLE * MULTIPLE, (h // 2 + 5) // MULTIPLE * MULTIPLE, seed=10 + i)
        got_stats = paint.run(names, {PAINTING: painting})
        with torch.no_grad():
            want_stats = painting_net(torch.from_numpy(painting))
            want = frame_net(torch.from_numpy(image), torch.from_numpy(alpha), list(want_stats)).numpy()[:, :, :h, :w]
        rel = max(float(np.abs(g - s.numpy()).max() / (np.abs(s.numpy()).max() + 1e-12))
                  for g, s in zip(got_stats, want_stats))
        (got,) = frame.run([OUTPUT], {IMAGE: image, ALPHA: alpha, **dict(zip(names, got_stats))})
        key = f"{h}x{w}"
        diff = float(np.abs(got[:, :, :h, :w] - want).max())
        report["max_abs_diff"][key], report["stats_max_rel_diff"][key] = diff, rel
        if not (diff <= atol and rel <= atol):
            failures.append(f"{key}: max abs diff {diff:.3g}, statistics {rel:.3g} (limit {atol:g})")
    if failures:
        raise RuntimeError("exported ONNX files do not match PyTorch: " + "; ".join(failures))
    return report


def export_arbitrary(decoder_paths: list[str], output: str | os.PathLike[str], loss_net: str, *,
                     transform: str = "wct", strengths: dict[str, float] | None = None, check: bool = True,
                     atol: float = 1e-3) -> dict:
    """Export the decoders ``decoder_paths`` (one per level; multi-level where several) with the encoder of
    ``loss_net`` (a spec with its weights file) to ``output`` (per frame) and :func:`painting_file` (per painting).
    ``strengths``: level -> its strength, over :data:`fastnst.config.LEVEL_STRENGTHS` (UserError for a level
    not among the decoders' or a strength outside [0, 1]).

    Returns a report: ``paths``, ``levels``, ``strengths``, ``opset``, ``file_size`` (both files), ``checked`` and, when
    checked, ``max_abs_diff`` (output image, per size) and ``stats_max_rel_diff``.
    """
    decoders, metas = load_decoders(list(decoder_paths), loss_net)
    deepest = max(decoders, key=lambda lv: CHANNELS[lv])
    encoder = build_encoder(loss_net, deepest)
    frame_net = FrameNet(encoder, decoders, transform, strengths).eval()
    painting_net = PaintingNet(encoder, frame_net.levels).eval()
    levels = frame_net.levels
    names = stat_names(levels)
    output = Path(output)
    stats_out = painting_file(output)
    io = arbitrary_io(levels, transform, stats_out.name, frame_net.strengths)
    common = {"fastnst_version": __version__, "preset": "arbitrary", "style": "", "precision": "fp32",
              "training": {"loss_net": portable_spec(loss_net), "loss_net_sha256": weights_sha256(loss_net),
                           "decoders": metas}}
    from torch.export import Dim

    with torch.no_grad():
        example_stats = painting_net(torch.rand(1, 3, 64, 80))
    report: dict = {"paths": [str(output), str(stats_out)], "levels": list(levels),
                    "strengths": frame_net.strengths, "opset": OPSET,
                    "checked": check}
    with atomic_output(output, suffix=".onnx") as frame_tmp, atomic_output(stats_out, suffix=".onnx") as stats_tmp:
        _torch_export(painting_net, (torch.rand(1, 3, 64, 80),), stats_tmp, [PAINTING], names,
                      ({2: Dim("painting_height", min=2), 3: Dim("painting_width", min=2)},))
        image_axes = {0: Dim("batch", min=1), 2: Dim("height", min=2), 3: Dim("width", min=2)}
        _torch_export(frame_net, (torch.rand(1, 3, 96, 128), torch.tensor([1.0]), list(example_stats)), frame_tmp,
                      [IMAGE, ALPHA, *names], [OUTPUT], (image_axes, None, [None] * len(names)))
        write_metadata(frame_tmp, {**common, "io": io["frame"], "arbitrary": {**io, "role": "frame"}})
        write_metadata(stats_tmp, {**common, "io": io["painting"], "arbitrary": {**io, "role": "painting"}})
        if check:
            report.update(_check(frame_tmp, stats_tmp, frame_net, painting_net, atol))
        report["file_size"] = os.path.getsize(frame_tmp) + os.path.getsize(stats_tmp)
    return report


def report_lines(report: dict) -> list[str]:
    """What ``fastnst export-arbitrary`` prints of a report."""
    if report["checked"]:
        diffs = ", ".join(f"{k} {v:.2g}" for k, v in report["max_abs_diff"].items())
        stats = max(report["stats_max_rel_diff"].values())
        line = f"onnxruntime vs PyTorch max abs diff: {diffs}; statistics max rel diff {stats:.2g}"
    else:
        line = "not checked against PyTorch (--no-check)"
    levels = ", ".join(f"{lv} (strength {report['strengths'][lv]:g})" for lv in report["levels"])
    return [line, f"levels {levels}; opset {report['opset']}, fp32, "
                  f"{report['file_size'] / 1e6:.2f} MB in {' and '.join(report['paths'])}"]
