"""A Triton Inference Server model repository entry for an exported style.

:func:`write_triton_repo` copies an ONNX file into ``repo/<name>/1/model.onnx`` and writes the
``config.pbtxt`` that serves it with Triton's onnxruntime backend: the graph's input and output
names, data types and dims, and dynamic batching over a free batch dimension.

Needs onnx (no torch).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

from .errors import UserError
from .files import check_not_input
from .metadata import model_metadata

__all__ = ["TRITON_MAX_BATCH", "write_triton_repo"]

TRITON_MAX_BATCH = 8  # default max_batch_size of the generated Triton config

# ONNX TensorProto element types -> Triton data types
_TRITON_TYPES = {1: "TYPE_FP32", 10: "TYPE_FP16", 11: "TYPE_FP64", 2: "TYPE_UINT8", 3: "TYPE_INT8",
                 6: "TYPE_INT32", 7: "TYPE_INT64", 9: "TYPE_BOOL"}


def _triton_name(path: str, meta: dict) -> str:
    """A Triton model name: <style>_<preset>[_fp16] from the metadata, else the file's stem."""
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
    data types and dims, free dims as -1 (for `fastnst.export.IO_SPEC`: ``[3, -1, -1]``). With
    ``max_batch_size`` > 0 (default `TRITON_MAX_BATCH`) the first (batch) dim is implicit
    and ``dynamic_batching`` is on: Triton runs queued requests of one image size together,
    up to that many, without waiting for more (queue delay 0). ``max_batch_size=0`` makes
    the batch dim explicit (``[-1, 3, -1, -1]``) and turns dynamic batching off.
    """
    import onnx  # the export side's package (fastnst[train])

    onnx_path, repo_dir = os.fspath(onnx_path), os.fspath(repo_dir)
    if int(max_batch_size) < 0:
        raise UserError(f"max_batch_size must be >= 0, got {max_batch_size}")
    try:
        proto = onnx.load(onnx_path, load_external_data=False)
    except Exception as e:
        raise UserError(f"cannot read ONNX model {onnx_path}: {type(e).__name__}") from None
    meta = model_metadata(proto)
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
