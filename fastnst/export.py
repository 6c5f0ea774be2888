"""Export a `TransformerNet` to ONNX, and check the export against PyTorch.

`export_onnx` writes the file atomically, stores fastnst metadata in the model's
``metadata_props`` and (by default) runs the exported graph with onnxruntime on random
and natural-looking images at several sizes, odd ones included, comparing with PyTorch.
A file that fails the check is never left behind. `read_metadata` reads the metadata back;
`write_triton_repo` adds an exported file to a Triton Inference Server model repository.

The graph's interface is `IO_SPEC` (also stored in the file as JSON under ``io``).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import warnings
from collections.abc import Iterator

import numpy as np

from . import __version__
from .errors import UserError

OPSET = 18  # opset 17 fails with the dynamo exporter (torch 2.14); the legacy exporter fails too

# The exported graph's interface. Both fp32 and --fp16 exports use it unchanged (the fp16
# graph casts internally), so any runtime code written against it works for both.
IO_SPEC: dict = {
    "input": {"name": "image", "dtype": "float32", "layout": "NCHW", "channels": "RGB",
              "range": [0.0, 1.0], "shape": ["batch", 3, "height", "width"]},
    "output": {"name": "stylized", "dtype": "float32", "layout": "NCHW", "channels": "RGB",
               "range": [0.0, 1.0], "shape": ["batch", 3, "height", "width"]},
    "dynamic": ["batch", "height", "width"],  # any batch >= 1, any height, width >= 1
}

CHECK_SIZES = ((256, 256), (333, 517), (97, 131))  # (height, width)
FP16_MIN_PSNR = 40.0  # dB, fp16 export vs fp32 PyTorch on the natural-like image



# --------------------------------------------------------------------------- test images


def natural_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, natural-looking float32 (1, 3, H, W) image in [0, 1]: gradients, blobs, soft texture.

    Used instead of constant images, on which instance normalisation amplifies rounding noise.
    """
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.linspace(0, 1, height, dtype=np.float32), np.linspace(0, 1, width, dtype=np.float32),
                       indexing="ij")
    channels = []
    for _ in range(3):
        a, b, c = rng.uniform(0.2, 0.8, 3)
        fx, fy = rng.uniform(1, 6, 2)
        ph = rng.uniform(0, 2 * np.pi)
        v = a * x + (1 - a) * y * b + 0.25 * np.sin(2 * np.pi * (fx * x + fy * y) + ph) * c
        cx, cy = rng.uniform(0.2, 0.8, 2)
        v += 0.3 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 0.02)
        channels.append(v)
    img = np.stack(channels)
    # soft texture: low-amplitude noise, box-blurred so it is not white noise
    noise = rng.normal(0, 0.05, img.shape).astype(np.float32)
    noise = (noise + np.roll(noise, 1, 1) + np.roll(noise, 1, 2) + np.roll(noise, (1, 1), (1, 2))) / 4
    img = img + noise
    img = (img - img.min()) / (img.max() - img.min() + 1e-6)
    return np.ascontiguousarray(np.clip(img, 0, 1)[None].astype(np.float32))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two images in [0, 1]."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


# --------------------------------------------------------------------------- fp16


def _half_model(model):
    """A module with fp32 I/O that runs `model` in fp16, except instance norms (kept in fp32)."""
    import torch
    import torch.nn as nn

    class FloatNorm(nn.Module):
        def __init__(self, norm: nn.Module):
            super().__init__()
            self.norm = norm

        def forward(self, x):
            return self.norm(x.float()).to(x.dtype)

    class HalfWrapper(nn.Module):
        def __init__(self, net: nn.Module):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x.to(torch.float16)).to(torch.float32)

    net = copy.deepcopy(model).float().eval()
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.InstanceNorm2d):
                setattr(module, name, FloatNorm(child))
    net.half()
    for module in net.modules():
        if isinstance(module, FloatNorm):
            module.norm.float()
    return HalfWrapper(net).eval()


# --------------------------------------------------------------------------- export


def _torch_export(module, path: str) -> None:
    import torch
    from torch.export import Dim

    dims = {0: Dim("batch", min=1), 2: Dim("height", min=1), 3: Dim("width", min=1)}
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, (torch.rand(1, 3, 256, 256),), path,
                input_names=[IO_SPEC["input"]["name"]], output_names=[IO_SPEC["output"]["name"]],
                dynamic_shapes=(dims,), opset_version=OPSET, dynamo=True, external_data=False,
                verbose=False, report=False,
            )
    except Exception as e:
        tail = chatter.getvalue().strip().splitlines()[-5:]
        raise RuntimeError(f"ONNX export failed: {type(e).__name__}: {e}\n" + "\n".join(tail)) from e


def _write_metadata(path: str, props: dict[str, str]) -> None:
    import onnx

    proto = onnx.load(path)
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, path)


def _check(path: str, model, *, fp16: bool, atol: float) -> dict:
    """Run the ONNX file with onnxruntime vs `model` in PyTorch (fp32). Raises RuntimeError on a mismatch."""
    import onnxruntime as ort
    import torch

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    in_name, out_name = IO_SPEC["input"]["name"], IO_SPEC["output"]["name"]

    def both(x: np.ndarray):
        (got,) = session.run([out_name], {in_name: x})
        with torch.no_grad():
            want = model(torch.from_numpy(x)).numpy()
        if got.shape != want.shape or got.dtype != np.float32:
            raise RuntimeError(f"ONNX output {got.dtype} {got.shape}, expected float32 {want.shape}")
        return got, want

    report: dict = {"max_abs_diff": {}}
    failures = []
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(CHECK_SIZES):
        key = f"{h}x{w}"
        if fp16:
            got, want = both(natural_image(h, w, seed=i))
            value = psnr(got, want)
            report.setdefault("psnr_db", {})[key] = round(value, 2)
            report["max_abs_diff"][key] = float(np.abs(got - want).max())
            if not value >= FP16_MIN_PSNR:
                failures.append(f"{key}: PSNR {value:.1f} dB < {FP16_MIN_PSNR} dB")
            continue
        # batch of 2 (random noise, natural-like): also exercises the dynamic batch dimension
        x = np.concatenate([rng.random((1, 3, h, w), dtype=np.float32), natural_image(h, w, seed=i)])
        got, want = both(x)
        diff = float(np.abs(got - want).max())
        report["max_abs_diff"][key] = diff
        if not diff <= atol:
            failures.append(f"{key}: max abs diff {diff:.3g} > {atol:g}")
    if failures:
        raise RuntimeError("exported ONNX model does not match PyTorch: " + "; ".join(failures))
    return report


def export_onnx(model, path, meta: dict, *, fp16: bool = False, check: bool = True, atol: float = 1e-3) -> dict:
    """Export `model` (a `TransformerNet`) to the ONNX file `path`; returns a report dict.

    `meta` is the model file's metadata (from `load_model_file`), stored as JSON under
    ``training``; ``style`` is taken from ``meta["style"]``. The graph follows `IO_SPEC`
    with dynamic batch, height and width (opset `OPSET`).

    fp16=True exports a graph that computes in half precision (instance norms in fp32) with
    the same float32 inputs and outputs; it is checked by PSNR >= `FP16_MIN_PSNR` dB
    against the fp32 PyTorch model instead of by `atol`.

    With check=True (default) the file is run with onnxruntime on random and natural-like
    images at `CHECK_SIZES` (odd sizes included, batches of 2) and compared with
    PyTorch; a max abs difference above `atol` raises RuntimeError and no file is written.

    Report keys: ``path``, ``opset``, ``fp16``, ``file_size``, ``checked`` and, when
    checked, ``max_abs_diff`` (per "HxW" size), plus ``psnr_db`` for fp16.
    """
    from dataclasses import asdict

    model = copy.deepcopy(model).float().cpu().eval()
    module = _half_model(model) if fp16 else model
    props = {
        "fastnst_version": __version__,
        "preset": str(getattr(model, "preset", None) or ""),
        "style": str((meta or {}).get("style") or ""),
        "precision": "fp16" if fp16 else "fp32",
        "io": json.dumps(IO_SPEC),
        "training": json.dumps(meta or {}),
        "model_config": json.dumps(asdict(model.config)),
    }
    from .files import atomic_output

    report: dict = {"path": os.fspath(path), "opset": OPSET, "fp16": fp16, "checked": check}
    with atomic_output(path, suffix=".onnx") as temp:
        _torch_export(module, temp)
        _write_metadata(temp, props)
        if check:
            report.update(_check(temp, model, fp16=fp16, atol=atol))
        report["file_size"] = os.path.getsize(temp)
    return report


def report_lines(report: dict) -> list[str]:
    """What ``fastnst export`` prints of an :func:`export_onnx` report: the check and the file."""
    if report["checked"]:
        diffs = ", ".join(f"{k} {v:.2g}" for k, v in report["max_abs_diff"].items())
        line = f"onnxruntime vs PyTorch max abs diff: {diffs}"
        if "psnr_db" in report:
            line += "; PSNR dB: " + ", ".join(f"{k} {v:.1f}" for k, v in report["psnr_db"].items())
    else:
        line = "not checked against PyTorch (--no-check)"
    precision = "fp16" if report["fp16"] else "fp32"
    return [line, f"opset {report['opset']}, {precision}, {report['file_size'] / 1e6:.2f} MB"]


# --------------------------------------------------------------------------- uint8 frame I/O

# The interface of a --uint8-io file: frames as they come from a camera or a decoder. The
# scale, cast and transposes run inside the graph (6 MB a 1080p frame across a PCIe bus instead
# of 25 MB of float32), so the host only hands over its uint8 (N, H, W, 3) array.
UINT8_IO_SPEC: dict = {
    "input": {"name": "frame", "dtype": "uint8", "layout": "NHWC", "channels": "RGB",
              "range": [0, 255], "shape": ["batch", "height", "width", 3]},
    "output": {"name": "stylized_frame", "dtype": "uint8", "layout": "NHWC", "channels": "RGB",
               "range": [0, 255], "shape": ["batch", "height", "width", 3]},
    "dynamic": ["batch", "height", "width"],
}
UINT8_IO_MAX_DIFF = 1  # 8-bit levels, uint8-I/O output vs the float file's output rounded as from_nchw does


def _uint8_io_graph(model):
    """The onnx ModelProto ``model`` (an `IO_SPEC` graph) wrapped in `UINT8_IO_SPEC` I/O, in place.

    In: uint8 NHWC -> Transpose (uint8) -> Cast float -> Div 255, exactly :func:`fastnst.image.to_nchw`.
    Out: Clip [0, 1] -> Mul 255 -> Round (half to even) -> Cast uint8 -> Transpose (uint8), as
    :func:`fastnst.image.from_nchw` rounds (NaN is undefined here, 0 there).
    """
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    old_in, old_out = graph.input[0].name, graph.output[0].name
    new_in, new_out = UINT8_IO_SPEC["input"]["name"], UINT8_IO_SPEC["output"]["name"]
    graph.initializer.extend([numpy_helper.from_array(np.array(v, np.float32), name)
                              for name, v in (("u8io_255", 255.0), ("u8io_0", 0.0), ("u8io_1", 1.0))])
    head = [helper.make_node("Transpose", [new_in], ["u8io_nchw"], perm=[0, 3, 1, 2], name="u8io_in_transpose"),
            helper.make_node("Cast", ["u8io_nchw"], ["u8io_float"], to=TensorProto.FLOAT, name="u8io_in_cast"),
            helper.make_node("Div", ["u8io_float", "u8io_255"], [old_in], name="u8io_in_scale")]
    tail = [helper.make_node("Clip", [old_out, "u8io_0", "u8io_1"], ["u8io_clipped"], name="u8io_out_clip"),
            helper.make_node("Mul", ["u8io_clipped", "u8io_255"], ["u8io_scaled"], name="u8io_out_scale"),
            helper.make_node("Round", ["u8io_scaled"], ["u8io_rounded"], name="u8io_out_round"),
            helper.make_node("Cast", ["u8io_rounded"], ["u8io_nchw_out"], to=TensorProto.UINT8, name="u8io_out_cast"),
            helper.make_node("Transpose", ["u8io_nchw_out"], [new_out], perm=[0, 2, 3, 1], name="u8io_out_transpose")]
    nodes = head + list(graph.node) + tail
    del graph.node[:]
    graph.node.extend(nodes)
    dims = ("batch", "height", "width", 3)
    del graph.input[:], graph.output[:]
    graph.input.append(helper.make_tensor_value_info(new_in, TensorProto.UINT8, dims))
    graph.output.append(helper.make_tensor_value_info(new_out, TensorProto.UINT8, dims))
    return model


def check_uint8_io(path: str, float_path: str) -> dict:
    """Run the uint8-I/O file against the float one on random and natural-like frames at `CHECK_SIZES`.

    RuntimeError where an output differs by more than `UINT8_IO_MAX_DIFF` levels from the float
    file's output rounded by :func:`fastnst.image.from_nchw`; the report gives ``max_level_diff``.
    """
    import onnxruntime as ort

    from .image import from_nchw, to_nchw

    def session(p):
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        return ort.InferenceSession(p, opts, providers=["CPUExecutionProvider"])

    u8, ref = session(path), session(float_path)
    rng = np.random.default_rng(0)
    report: dict = {"max_level_diff": {}}
    for i, (h, w) in enumerate(CHECK_SIZES):
        frames = np.stack([rng.integers(0, 256, (h, w, 3), dtype=np.uint8), from_nchw(natural_image(h, w, seed=i))])
        (got,) = u8.run(None, {u8.get_inputs()[0].name: frames})
        want = np.stack([from_nchw(ref.run(None, {ref.get_inputs()[0].name: to_nchw(f)})[0]) for f in frames])
        if got.shape != want.shape or got.dtype != np.uint8:
            raise RuntimeError(f"uint8-I/O output {got.dtype} {got.shape}, expected uint8 {want.shape}")
        diff = int(np.abs(got.astype(np.int16) - want).max())
        report["max_level_diff"][f"{h}x{w}"] = diff
        if diff > UINT8_IO_MAX_DIFF:
            raise RuntimeError(f"uint8-I/O model differs from the float one by {diff} levels at {h}x{w} "
                               f"(> {UINT8_IO_MAX_DIFF})")
    return report


def export_uint8_io(float_path, path, *, check: bool = True) -> dict:
    """Write ``float_path`` (an `IO_SPEC` export, fp32, fp16 or int8) with `UINT8_IO_SPEC` I/O to ``path``.

    The metadata is the float file's with ``io`` replaced. With check=True (default) the new file
    runs against the float one (:func:`check_uint8_io`) before it appears; nothing is written on a
    failure. Report keys: ``path``, ``precision``, ``uint8_io`` (True), ``checked``, ``file_size``,
    and ``max_level_diff`` when checked.
    """
    import onnx

    from .files import atomic_output

    float_path = os.fspath(float_path)
    model = onnx.load(float_path)
    if [v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)] != [1, 1]:
        raise ValueError(f"{float_path} is not a float32 image-in, image-out export")
    _uint8_io_graph(model)
    props = {p.key: p.value for p in model.metadata_props}
    props["io"] = json.dumps(UINT8_IO_SPEC)
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    report: dict = {"path": os.fspath(path), "precision": props.get("precision", "fp32"), "uint8_io": True,
                    "checked": check}
    with atomic_output(path, suffix=".onnx") as temp:
        onnx.save(model, temp)
        if check:
            report.update(check_uint8_io(temp, float_path))
        report["file_size"] = os.path.getsize(temp)
    return report


def export_file(model_path, output, *, fp16: bool = False, int8: bool = False, uint8_io: bool = False,
                check: bool = True, data_root=None) -> Iterator[str]:
    """A model file (.pth) or a float ONNX export -> the checked ``output``; yields report lines as it goes.

    A .pth is exported first (:func:`export_onnx`, fp32 or ``fp16``); ``int8`` then quantizes it
    (:func:`fastnst.quantize.quantize_int8`) and ``uint8_io`` gives it uint8 NHWC frames
    (:func:`export_uint8_io`). Each step is checked before the next; only ``output`` is written,
    and nothing where a check fails.
    """
    import tempfile

    model_path, output = os.fspath(model_path), os.fspath(output)
    with tempfile.TemporaryDirectory(prefix="fastnst-export-") as temp:
        source = model_path
        if not source.lower().endswith(".onnx"):  # a model file: the checked ONNX export first
            from .models import load_model_file

            model, meta = load_model_file(source)
            source = output if not (int8 or uint8_io) else os.path.join(temp, "float.onnx")
            yield from report_lines(export_onnx(model, source, meta, fp16=fp16, check=check))
        if int8:
            from .quantize import quantize_int8

            target = output if not uint8_io else os.path.join(temp, "int8.onnx")
            r = quantize_int8(source, target, check=check, data_root=data_root)
            if r["checked"]:
                yield (f"int8 vs fp32 on {r['held_out']}: PSNR dB " + ", ".join(f"{v:.1f}" for v in r["psnr_db"])
                       + "; periodicity " + ", ".join(f"{a:.0f} ({b:.0f})" for a, b in
                                                      zip(r["periodicity"], r["periodicity_fp32"])))
            yield f"int8 (calibrated on {r['calibration']}), {r['file_size'] / 1e6:.2f} MB"
            source = target
        if uint8_io:
            r = export_uint8_io(source, output, check=check)
            if r["checked"]:
                yield "uint8 I/O vs float, max 8-bit level difference: " + ", ".join(
                    f"{k} {v}" for k, v in r["max_level_diff"].items())
            yield f"uint8 NHWC frames in and out, {r['precision']}, {r['file_size'] / 1e6:.2f} MB"


def run_export(cfg) -> Iterator[str]:
    """``fastnst export`` (a :class:`fastnst.config.ExportConfig`): the ONNX file, then the Triton entry and
    the web kit made from it; yields what to print. Every destination is checked before any work."""
    import tempfile

    from .files import check_not_input
    from .webkit import check_out_dir, write_web_kit

    cfg = cfg.resolved()  # a bundled style's name -> its file
    cfg.validate()
    if cfg.data_root:
        from .quantize import find_data_root

        find_data_root(cfg.data_root)  # a folder without the photos fails before any work
    if cfg.web:
        check_out_dir(cfg.web, cfg.overwrite)
    with tempfile.TemporaryDirectory(prefix="fastnst-export-") as temp:
        onnx_path = cfg.model
        if cfg.converts:  # without -o the ONNX file lives only in the repository or the web kit
            onnx_path = cfg.output or os.path.join(temp, os.path.splitext(os.path.basename(cfg.model))[0] + ".onnx")
            check_not_input(onnx_path, [cfg.model])
            yield from export_file(cfg.model, onnx_path, fp16=cfg.fp16, int8=cfg.int8, uint8_io=cfg.uint8_io,
                                   check=not cfg.no_check, data_root=cfg.data_root)
            if cfg.output:
                yield f"wrote {cfg.output}"
        if cfg.triton:
            folder = write_triton_repo(onnx_path, cfg.triton, name=cfg.triton_name)
            yield f"wrote Triton model {folder} (config.pbtxt, 1/model.onnx)"
        if cfg.web:
            kit = write_web_kit(onnx_path, cfg.web, overwrite=cfg.overwrite)
            yield (f"wrote web kit {kit['path']} ({kit['style']}, onnxruntime-web {kit['ort_version']}, "
                   f"{kit['bytes'] / 1e6:.0f} MB); serve it: python {os.path.join(kit['path'], 'serve.py')}")


# --------------------------------------------------------------------------- Triton

TRITON_MAX_BATCH = 8  # default max_batch_size of the generated Triton config

# ONNX TensorProto element types -> Triton data types
_TRITON_TYPES = {1: "TYPE_FP32", 10: "TYPE_FP16", 11: "TYPE_FP64", 2: "TYPE_UINT8", 3: "TYPE_INT8",
                 6: "TYPE_INT32", 7: "TYPE_INT64", 9: "TYPE_BOOL"}


def _triton_name(path: str, meta: dict) -> str:
    """A Triton model name: <style>_<preset>[_fp16] from the metadata, else the file's stem."""
    import re

    style, preset = str(meta.get("style") or ""), str(meta.get("preset") or "")
    name = "_".join(p for p in (style, preset, "fp16" if meta.get("precision") == "fp16" else "") if p)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name if style else os.path.splitext(os.path.basename(path))[0])
    return name.strip("._") or "fastnst"


def _triton_tensor(value_info, batched: bool) -> str:
    """One config.pbtxt input/output entry for an ONNX graph input/output."""
    t = value_info.type.tensor_type
    if t.elem_type not in _TRITON_TYPES:
        raise UserError(f"tensor '{value_info.name}' has an ONNX element type ({t.elem_type}) Triton cannot serve")
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
    if batched:
        dims = dims[1:]  # the batch dimension is implicit when max_batch_size > 0
    return (f"  {{\n    name: \"{value_info.name}\"\n    data_type: {_TRITON_TYPES[t.elem_type]}\n"
            f"    dims: [ {', '.join(str(d) for d in dims)} ]\n  }}")


def write_triton_repo(onnx_path, repo_dir, name: str | None = None, max_batch_size: int = TRITON_MAX_BATCH):
    """Add an exported ONNX model to a Triton Inference Server model repository; returns the model folder.

    Writes ``repo_dir/<name>/config.pbtxt`` and ``repo_dir/<name>/1/model.onnx`` (a copy of
    `onnx_path`). ``name`` defaults to ``<style>_<preset>`` (``_fp16`` appended for fp16
    models) from the file's metadata, else the file's stem. Other models already in
    `repo_dir` are left alone; an existing ``<name>`` folder is a UserError.

    The config: platform ``onnxruntime_onnx``; inputs and outputs with the graph's names,
    data types and dims, free dims as -1 (for `IO_SPEC`: ``[3, -1, -1]``). With
    ``max_batch_size`` > 0 (default `TRITON_MAX_BATCH`) the first (batch) dim is implicit
    and ``dynamic_batching`` is on: Triton runs queued requests of one image size together,
    up to that many, without waiting for more (queue delay 0). ``max_batch_size=0`` makes
    the batch dim explicit (``[-1, 3, -1, -1]``) and turns dynamic batching off.
    """
    import shutil
    import tempfile

    import onnx

    from .files import check_not_input

    onnx_path, repo_dir = os.fspath(onnx_path), os.fspath(repo_dir)
    if int(max_batch_size) < 0:
        raise UserError(f"max_batch_size must be >= 0, got {max_batch_size}")
    try:
        proto = onnx.load(onnx_path, load_external_data=False)
    except Exception as e:
        raise UserError(f"cannot read ONNX model {onnx_path}: {type(e).__name__}") from None
    meta = {p.key: p.value for p in proto.metadata_props}
    name = name or _triton_name(onnx_path, meta)
    if not name or name in (".", "..") or os.sep in name or (os.altsep and os.altsep in name):
        raise UserError(f"bad Triton model name '{name}'")
    target = os.path.join(repo_dir, name)
    if os.path.exists(target):
        raise UserError(f"{target} already exists (remove it or choose another model name)")
    check_not_input(os.path.join(target, "1", "model.onnx"), [onnx_path])
    initializers = {i.name for i in proto.graph.initializer}
    inputs = [v for v in proto.graph.input if v.name not in initializers]
    batched = int(max_batch_size) > 0
    for v in list(inputs) + list(proto.graph.output):
        dims = v.type.tensor_type.shape.dim
        if batched and (not dims or dims[0].HasField("dim_value")):
            raise UserError(f"tensor '{v.name}' has no dynamic batch dimension; use max_batch_size=0")
    lines = [f"name: \"{name}\"", "platform: \"onnxruntime_onnx\"", f"max_batch_size: {int(max_batch_size)}",
             "input [\n" + ",\n".join(_triton_tensor(v, batched) for v in inputs) + "\n]",
             "output [\n" + ",\n".join(_triton_tensor(v, batched) for v in proto.graph.output) + "\n]"]
    if batched:
        lines.append("dynamic_batching {\n  max_queue_delay_microseconds: 0\n}")
    os.makedirs(repo_dir, exist_ok=True)
    temp = tempfile.mkdtemp(prefix=f".{name}.", dir=repo_dir)  # build beside, then rename into place
    try:
        os.makedirs(os.path.join(temp, "1"))
        shutil.copyfile(onnx_path, os.path.join(temp, "1", "model.onnx"))
        with open(os.path.join(temp, "config.pbtxt"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        os.rename(temp, target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return target
