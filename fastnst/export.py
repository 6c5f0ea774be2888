"""Export a `TransformerNet` to ONNX, and check the export against PyTorch.

`export_onnx` writes the file atomically, stores fastnst metadata in the model's
``metadata_props`` (the keys: :mod:`fastnst.metadata`) and (by default) runs the exported graph
with onnxruntime on random and natural-looking images at several sizes, odd ones included,
comparing with PyTorch. A file that fails the check is never left behind.

The graph's interface is `IO_SPEC` (also stored in the file as JSON under ``io``). The steps
that start from an export live beside it: :mod:`fastnst.quantize` (int8), :mod:`fastnst.uint8io`
(uint8 frame I/O), :mod:`fastnst.triton` (a Triton model repository entry), and
:mod:`fastnst.exportchain` runs them as ``fastnst export``.
"""

from __future__ import annotations

import copy
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from . import __version__
from .errors import UserError
from .files import atomic_output
from .fp16 import half_model
from .metadata import STYLE_INPUT_NAME, write_metadata
from .ortsession import open_session
from .quality import natural_image, psnr
from .silence import silence
from .styles import blend_name, blend_weights

__all__ = ["CHECK_SIZES", "FP16_MIN_PSNR", "IO_SPEC", "OPSET", "STYLE_INPUT", "ExportReport", "export_onnx",
           "fixed_blend", "io_spec"]

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

# A multi-style network's second input: the weights of its styles (metadata "styles" names them),
# one-hot for one style, any convex combination for a blend. The scale and shift tables stay in the
# graph, so every blend runs without a new export.
STYLE_INPUT: dict = {"name": STYLE_INPUT_NAME, "dtype": "float32", "shape": ["styles"], "range": [0.0, 1.0],
                     "meaning": "weight of each style (metadata 'styles'), summing to 1"}


def io_spec(num_styles: int = 1) -> dict:
    """The exported graph's interface: `IO_SPEC`, plus `STYLE_INPUT` (with its length) for a multi-style network."""
    if num_styles == 1:
        return IO_SPEC
    return {**IO_SPEC, "style": {**STYLE_INPUT, "shape": [num_styles]}}


CHECK_SIZES = ((256, 256), (333, 517), (97, 131))  # (height, width)
FP16_MIN_PSNR = 40.0  # dB, fp16 export vs fp32 PyTorch on the natural-like image


def _torch_export(module, path: str, num_styles: int = 1) -> None:
    """``module`` -> the ONNX file ``path`` (`io_spec` names, dynamic batch, height and width; `OPSET`)."""
    import torch  # fastnst[train]'s package, needed only to export
    from torch.export import Dim

    dims = {0: Dim("batch", min=1), 2: Dim("height", min=1), 3: Dim("width", min=1)}
    args, names, shapes = (torch.rand(1, 3, 256, 256),), [IO_SPEC["input"]["name"]], (dims,)
    if num_styles > 1:
        args += (torch.full((num_styles,), 1 / num_styles),)
        names.append(STYLE_INPUT["name"])
        shapes += (None,)  # a fixed number of styles
    with silence() as chatter:
        try:
            torch.onnx.export(
                module, args, path,
                input_names=names, output_names=[IO_SPEC["output"]["name"]],
                dynamic_shapes=shapes, opset_version=OPSET, dynamo=True, external_data=False,
                verbose=False, report=False,
            )
        except Exception as e:
            tail = chatter.getvalue().strip().splitlines()[-5:]
            raise RuntimeError(f"ONNX export failed: {type(e).__name__}: {e}\n" + "\n".join(tail)) from e


@dataclass
class ExportReport:
    """What :func:`export_onnx` wrote and measured. ``max_abs_diff`` and (fp16) ``psnr_db`` are per
    "HxW" check size, empty when not ``checked``."""

    path: str
    opset: int
    fp16: bool
    checked: bool
    file_size: int = 0
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    psnr_db: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """What ``fastnst export`` prints of it: the check and the file."""
        if self.checked:
            line = "onnxruntime vs PyTorch max abs diff: " + ", ".join(
                f"{k} {v:.2g}" for k, v in self.max_abs_diff.items())
            if self.psnr_db:
                line += "; PSNR dB: " + ", ".join(f"{k} {v:.1f}" for k, v in self.psnr_db.items())
        else:
            line = "not checked against PyTorch (--no-check)"
        precision = "fp16" if self.fp16 else "fp32"
        return [line, f"opset {self.opset}, {precision}, {self.file_size / 1e6:.2f} MB"]


def _check(path: str, model, report: ExportReport, *, atol: float) -> None:
    """Run the ONNX file with onnxruntime vs `model` in PyTorch (fp32), filling ``report``'s
    figures. Raises RuntimeError on a mismatch."""
    import torch  # fastnst[train]'s package, needed only to export

    session = open_session(path)
    in_name, out_name = IO_SPEC["input"]["name"], IO_SPEC["output"]["name"]
    styles = getattr(model, "num_styles", 1)
    # a multi-style graph is checked on a blend of all its styles (uneven weights, seeded)
    blend = np.random.default_rng(1).dirichlet(np.ones(styles)).astype(np.float32) if styles > 1 else None

    def both(x: np.ndarray):
        feeds = {in_name: x} if blend is None else {in_name: x, STYLE_INPUT["name"]: blend}
        (got,) = session.run([out_name], feeds)
        with torch.no_grad():
            want = (model(torch.from_numpy(x)) if blend is None else
                    model(torch.from_numpy(x), torch.from_numpy(blend))).numpy()
        if got.shape != want.shape or got.dtype != np.float32:
            raise RuntimeError(f"ONNX output {got.dtype} {got.shape}, expected float32 {want.shape}")
        return got, want

    fp16 = report.fp16
    failures = []
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(CHECK_SIZES):
        key = f"{h}x{w}"
        if fp16:
            got, want = both(natural_image(h, w, seed=i))
            value = psnr(got, want)
            report.psnr_db[key] = round(value, 2)
            report.max_abs_diff[key] = float(np.abs(got - want).max())
            if not value >= FP16_MIN_PSNR:
                failures.append(f"{key}: PSNR {value:.1f} dB < {FP16_MIN_PSNR} dB")
            continue
        # batch of 2 (random noise, natural-like): also exercises the dynamic batch dimension
        x = np.concatenate([rng.random((1, 3, h, w), dtype=np.float32), natural_image(h, w, seed=i)])
        got, want = both(x)
        diff = float(np.abs(got - want).max())
        report.max_abs_diff[key] = diff
        if not diff <= atol:
            failures.append(f"{key}: max abs diff {diff:.3g} > {atol:g}")
    if failures:
        raise RuntimeError("exported ONNX model does not match PyTorch: " + "; ".join(failures))


def fixed_blend(model, weights):
    """A one-input module running the multi-style ``model`` with fixed style ``weights`` (S,): what
    ``fastnst export MULTI.pth --style NAME`` exports for embedders that feed an image only."""
    import torch  # fastnst[train]'s package, needed only to export

    class FixedBlend(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model
            self.register_buffer("weights", torch.as_tensor(weights, dtype=torch.float32))  # (S,)

        @property
        def config(self):
            return model.config

        def forward(self, x):
            return self.net(x, self.weights)

    return FixedBlend().eval()


def export_onnx(model, path, meta: dict, *, fp16: bool = False, check: bool = True, atol: float = 1e-3,
                blend: dict[str, float] | None = None) -> ExportReport:
    """Export `model` (a `TransformerNet`) to the ONNX file `path`; returns an :class:`ExportReport`.

    `meta` is the model file's metadata (from `load_model_file`), stored as JSON under
    ``training``; ``style`` is taken from ``meta["style"]``. The graph follows `IO_SPEC`
    with dynamic batch, height and width (opset `OPSET`). A multi-style network gets the second
    input `STYLE_INPUT` (:func:`io_spec`) and its style names in the metadata (``styles``), unless
    ``blend`` ({style name: weight}, from ``meta["styles"]``) fixes the style: then the file is a
    plain one-input export of that blend.

    fp16=True exports a graph that computes in half precision (instance norms in fp32) with
    the same float32 inputs and outputs; it is checked by PSNR >= `FP16_MIN_PSNR` dB
    against the fp32 PyTorch model instead of by `atol`.

    With check=True (default) the file is run with onnxruntime on random and natural-like
    images at `CHECK_SIZES` (odd sizes included, batches of 2) and compared with
    PyTorch; a max abs difference above `atol` raises RuntimeError and no file is written.
    """
    model = copy.deepcopy(model).float().cpu().eval()
    names = list((meta or {}).get("styles") or [])
    style_name = str((meta or {}).get("style") or "")
    if blend is not None:
        weights = blend_weights(blend, names)
        model, style_name = fixed_blend(model, weights), blend_name(blend)
    styles = getattr(model, "num_styles", 1)
    if fp16 and styles > 1:
        raise UserError("--fp16 of a multi-style network is not supported: export it in fp32, or one style "
                        "of it with --style NAME")
    module = half_model(model) if fp16 else model
    props = {
        "fastnst_version": __version__,
        "preset": str(getattr(model, "preset", None) or getattr(getattr(model, "net", None), "preset", None) or ""),
        "style": style_name,
        "precision": "fp16" if fp16 else "fp32",
        "io": io_spec(styles),
        "training": meta or {},
        "model_config": asdict(model.config),
    }
    if styles > 1:
        props["styles"] = names
    report = ExportReport(path=os.fspath(path), opset=OPSET, fp16=fp16, checked=check)
    with atomic_output(path, suffix=".onnx") as temp:
        _torch_export(module, temp, styles)
        write_metadata(temp, props)
        if check:
            _check(temp, model, report, atol=atol)
        report.file_size = os.path.getsize(temp)
    return report
