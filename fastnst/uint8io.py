"""uint8 frame I/O: an exported float graph wrapped so it takes and returns uint8 NHWC frames.

`UINT8_IO_SPEC` is the interface of a ``--uint8-io`` file: frames as they come from a camera or a
decoder. The scale, cast and transposes run inside the graph (6 MB a 1080p frame across a PCIe
bus instead of 25 MB of float32), so the host only hands over its uint8 (N, H, W, 3) array.
:func:`export_uint8_io` writes such a copy of an `fastnst.export.IO_SPEC` file (fp32, fp16 or
int8) and checks it against the float file (:func:`check_uint8_io`) before it appears.

Needs onnx and onnxruntime (no torch).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .export import CHECK_SIZES
from .files import atomic_output
from .image import from_nchw, to_nchw
from .metadata import model_metadata, set_metadata
from .ortsession import open_session
from .quality import natural_image

__all__ = ["UINT8_IO_MAX_DIFF", "UINT8_IO_SPEC", "Uint8IOReport", "check_uint8_io", "export_uint8_io", "uint8_io_graph"]

UINT8_IO_SPEC: dict = {
    "input": {"name": "frame", "dtype": "uint8", "layout": "NHWC", "channels": "RGB",
              "range": [0, 255], "shape": ["batch", "height", "width", 3]},
    "output": {"name": "stylized_frame", "dtype": "uint8", "layout": "NHWC", "channels": "RGB",
               "range": [0, 255], "shape": ["batch", "height", "width", 3]},
    "dynamic": ["batch", "height", "width"],
}
UINT8_IO_MAX_DIFF = 1  # 8-bit levels, uint8-I/O output vs the float file's output rounded as from_nchw does


def uint8_io_graph(model):
    """The onnx ModelProto ``model`` (an `IO_SPEC` graph) wrapped in `UINT8_IO_SPEC` I/O, in place.

    In: uint8 NHWC -> Transpose (uint8) -> Cast float -> Div 255, exactly :func:`fastnst.image.to_nchw`.
    Out: Clip [0, 1] -> Mul 255 -> Round (half to even) -> Cast uint8 -> Transpose (uint8), as
    :func:`fastnst.image.from_nchw` rounds (NaN is undefined here, 0 there).
    """
    from onnx import TensorProto, helper, numpy_helper  # the export side's package (fastnst[train])

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


@dataclass
class Uint8IOReport:
    """What :func:`export_uint8_io` wrote and measured: per "HxW" check size (when ``checked``) the
    largest 8-bit level difference from the float file's rounded output."""

    path: str
    precision: str
    checked: bool
    file_size: int = 0
    max_level_diff: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """What ``fastnst export --uint8-io`` prints of it."""
        lines = []
        if self.checked:
            lines.append("uint8 I/O vs float, max 8-bit level difference: " + ", ".join(
                f"{k} {v}" for k, v in self.max_level_diff.items()))
        return [*lines, f"uint8 NHWC frames in and out, {self.precision}, {self.file_size / 1e6:.2f} MB"]


def check_uint8_io(path: str, float_path: str, report: Uint8IOReport) -> None:
    """Run the uint8-I/O file against the float one on random and natural-like frames at
    `fastnst.export.CHECK_SIZES` (batches of 2).

    RuntimeError where an output differs by more than `UINT8_IO_MAX_DIFF` levels from the float
    file's output rounded by :func:`fastnst.image.from_nchw`; fills ``report.max_level_diff``.
    """
    u8, ref = open_session(path), open_session(float_path)
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(CHECK_SIZES):
        frames = np.stack([rng.integers(0, 256, (h, w, 3), dtype=np.uint8), from_nchw(natural_image(h, w, seed=i))])
        (got,) = u8.run(None, {u8.get_inputs()[0].name: frames})
        want = np.stack([from_nchw(ref.run(None, {ref.get_inputs()[0].name: to_nchw(f)})[0]) for f in frames])
        if got.shape != want.shape or got.dtype != np.uint8:
            raise RuntimeError(f"uint8-I/O output {got.dtype} {got.shape}, expected uint8 {want.shape}")
        diff = int(np.abs(got.astype(np.int16) - want).max())
        report.max_level_diff[f"{h}x{w}"] = diff
        if diff > UINT8_IO_MAX_DIFF:
            raise RuntimeError(f"uint8-I/O model differs from the float one by {diff} levels at {h}x{w} "
                               f"(> {UINT8_IO_MAX_DIFF})")


def export_uint8_io(float_path, path, *, check: bool = True) -> Uint8IOReport:
    """Write ``float_path`` (an `IO_SPEC` export, fp32, fp16 or int8) with `UINT8_IO_SPEC` I/O to ``path``.

    The metadata is the float file's with ``io`` replaced. With check=True (default) the new file
    runs against the float one (:func:`check_uint8_io`) before it appears; nothing is written on a
    failure; returns an :class:`Uint8IOReport`.
    """
    import onnx  # the export side's package (fastnst[train])

    float_path = os.fspath(float_path)
    model = onnx.load(float_path)
    if [v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)] != [1, 1]:
        raise ValueError(f"{float_path} is not a float32 image-in, image-out export")
    uint8_io_graph(model)
    meta = model_metadata(model)
    meta["io"] = UINT8_IO_SPEC
    set_metadata(model, meta)
    report = Uint8IOReport(path=os.fspath(path), precision=str(meta.get("precision", "fp32")), checked=check)
    with atomic_output(path, suffix=".onnx") as temp:
        onnx.save(model, temp)
        if check:
            check_uint8_io(temp, float_path, report)
        report.file_size = os.path.getsize(temp)
    return report
