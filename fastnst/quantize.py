"""int8 copies of an exported style for CPUs: static quantization, checked against fp32.

`quantize_int8` turns an fp32 ONNX export (:mod:`fastnst.export`) into onnxruntime's QDQ format
with :func:`onnxruntime.quantization.quantize_static`: weights int8 per output channel,
activations uint8 with ranges calibrated (MinMax) on real photos. What stays in float, because
int8 is slower or worse there (measured on the project's AVX2 CPU, README "Speed"):

- depthwise convolutions (``group > 1``): onnxruntime's int8 depthwise kernel is slower than
  its fp32 one (lite at 640x480, one thread: 71 ms of QLinearConv with them, 42 ms without);
- the first two dense convolutions (full and half resolution: the photo's own detail) and the
  last one (the picture out): with all of them in int8, two of the five shipped styles fell to
  31-34 dB PSNR; with the first and last in float, composition_vii still had 33.9 dB, which
  only its second conv in float lifted (to 36.7; every other single conv left it below 35);
- instance norms, the output's sigmoid and everything else not in `INT8_OP_TYPES`.

Before the file is written it runs against the fp32 file on held-out photos: PSNR >=
`MIN_PSNR` dB on every one, and no new repeated texture (the periodicity score of
:func:`fastnst.quality.periodicity_score` at most ``PERIODICITY_RATIO`` x fp32's +
``PERIODICITY_SLACK``); a failing check raises RuntimeError and writes nothing.

Photos: BSDS500 ``val`` (calibration) and ``test`` (the check) under a data root (a folder with
``content/bsds500/``: ``fastnst export --int8 --data-root DIR``, else ``$FASTNST_DATA``) when one is
given; otherwise deterministic stand-ins: the bundled sample photo (scikit-image's astronaut) cut
into crops, and :func:`fastnst.quality.natural_image`.

Needs onnx and onnxruntime (no torch).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import UserError
from .files import atomic_output
from .image import from_nchw, load_image, resize, resize_long_side, sample_content, to_nchw
from .metadata import model_metadata, write_metadata
from .ortsession import open_session
from .quality import natural_image, periodicity_score, psnr
from .silence import silence

__all__ = ["DATA_ENV", "INT8_OP_TYPES", "Int8Report", "MIN_PSNR", "PERIODICITY_RATIO", "PERIODICITY_SLACK",
           "calibration_photos", "check_int8", "find_data_root", "float_convs", "quantize_int8"]

INT8_OP_TYPES = ("Conv", "Pad", "Add", "Relu", "Resize")  # what runs in int8 (depthwise Conv excluded)
MIN_PSNR = 35.0  # dB, int8 vs fp32 output, on every held-out photo
PERIODICITY_RATIO, PERIODICITY_SLACK = 1.25, 10.0  # int8 periodicity <= 1.25 * fp32 + 10, per photo
CALIBRATION_COUNT, CHECK_COUNT = 16, 6  # photos
PHOTO_SIDE = 320  # px, long side of the calibration and check photos (BSDS500: 481x321 -> 320x213)


DATA_ENV = "FASTNST_DATA"  # a data root, where no --data-root is given


def find_data_root(given: str | os.PathLike | None = None) -> Path | None:
    """The data root that holds BSDS500 (``content/bsds500/``): ``given``, else ``$FASTNST_DATA``; else None.

    A ``given`` folder without BSDS500 is a UserError; ``$FASTNST_DATA`` without it counts as unset.
    """
    if given is not None:
        if not (Path(given) / "content" / "bsds500").is_dir():
            raise UserError(f"--data-root '{given}' has no content/bsds500/ folder (the calibration photos)")
        return Path(given)
    env = os.environ.get(DATA_ENV)
    return Path(env) if env and (Path(env) / "content" / "bsds500").is_dir() else None


def calibration_photos(split: str, count: int, side: int = PHOTO_SIDE,
                       data_root: str | os.PathLike | None = None) -> tuple[list[np.ndarray], str]:
    """``count`` uint8 RGB (H, W, 3) photos with long side ``side``, and where they came from.

    BSDS500 ``split`` (``val`` for calibration, ``test`` for the check; sorted, the first
    ``count``) under the data root :func:`find_data_root` finds from ``data_root``. Otherwise a
    deterministic fallback: crops of the bundled sample photo for ``val`` and natural-like
    generated images for ``test``, so the check never sees the calibration pictures.
    """
    root = find_data_root(data_root)
    if root is not None:
        files = sorted((root / "content" / "bsds500" / split).glob("*.jpg"))[:count]
        if files:
            return [resize_long_side(load_image(f), side) for f in files], f"BSDS500 {split} ({len(files)} photos)"
    if split == "val":
        photo = sample_content()  # (512, 512, 3)
        crops = [photo[y:y + 320, x:x + 256] for y in (0, 96, 192) for x in (0, 128, 256)]
        photos = [resize(c, (side, side * 4 // 5)) for c in crops][:count]
        return photos, f"sample photo crops ({len(photos)})"
    photos = [from_nchw(natural_image(side * 2 // 3, side, seed=100 + i)) for i in range(count)]
    return photos, f"generated images ({len(photos)})"


class _Photos:
    """onnxruntime's CalibrationDataReader protocol over a list of uint8 photos (one per batch)."""

    def __init__(self, input_name: str, photos: list[np.ndarray]):
        self._items = iter([{input_name: to_nchw(p)} for p in photos])

    def get_next(self):
        return next(self._items, None)


def float_convs(model) -> list[str]:
    """Names of the Conv nodes kept in float (onnx ModelProto): depthwise ones (group > 1), and the
    first two and the last of the others (graph order: the encoder's first two convs, the output conv)."""
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    depthwise = [n.name for n in convs if any(a.name == "group" and a.i > 1 for a in n.attribute)]
    dense = [n.name for n in convs if n.name not in depthwise]
    return depthwise + dense[:2] + dense[2:][-1:]


def _outputs(path: str, photos: list[np.ndarray]) -> list[np.ndarray]:
    """The float (1, 3, H, W) outputs of ONNX file ``path`` on uint8 photos (CPU)."""
    session = open_session(path)
    name = session.get_inputs()[0].name
    return [session.run(None, {name: to_nchw(p)})[0] for p in photos]


@dataclass
class Int8Report:
    """What :func:`quantize_int8` wrote and measured: per held-out photo (when ``checked``) the int8
    output's PSNR against fp32's and the periodicity of both."""

    path: str
    calibration: str
    checked: bool
    file_size: int = 0
    held_out: str = ""
    psnr_db: list[float] = field(default_factory=list)
    periodicity: list[float] = field(default_factory=list)
    periodicity_fp32: list[float] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What ``fastnst export --int8`` prints of it."""
        lines = []
        if self.checked:
            lines.append(f"int8 vs fp32 on {self.held_out}: PSNR dB " + ", ".join(f"{v:.1f}" for v in self.psnr_db)
                         + "; periodicity " + ", ".join(f"{a:.0f} ({b:.0f})" for a, b in
                                                        zip(self.periodicity, self.periodicity_fp32)))
        return [*lines, f"int8 (calibrated on {self.calibration}), {self.file_size / 1e6:.2f} MB"]


def check_int8(int8_path: str, fp32_path: str, photos: list[np.ndarray], report: Int8Report) -> None:
    """PSNR and periodicity of the int8 file's outputs against fp32's on ``photos``, one value per photo
    appended to ``report``; RuntimeError on a failure."""
    failures = []
    for i, (got, want) in enumerate(zip(_outputs(int8_path, photos), _outputs(fp32_path, photos))):
        got, want = from_nchw(got), from_nchw(want)
        value = psnr(got / 255.0, want / 255.0)
        texture, texture_fp32 = periodicity_score(got), periodicity_score(want)
        report.psnr_db.append(round(value, 2))
        report.periodicity.append(round(texture, 1))
        report.periodicity_fp32.append(round(texture_fp32, 1))
        if not value >= MIN_PSNR:
            failures.append(f"photo {i}: PSNR {value:.1f} dB < {MIN_PSNR} dB")
        if not texture <= PERIODICITY_RATIO * texture_fp32 + PERIODICITY_SLACK:
            failures.append(f"photo {i}: periodicity {texture:.0f} > {PERIODICITY_RATIO} x fp32's {texture_fp32:.0f} "
                            f"+ {PERIODICITY_SLACK:g}")
    if failures:
        raise RuntimeError("int8 model is not close enough to fp32: " + "; ".join(failures))


def quantize_int8(fp32_path, path, *, check: bool = True, data_root: str | os.PathLike | None = None) -> Int8Report:
    """Write an int8 (QDQ) copy of the fp32 ONNX export ``fp32_path`` to ``path``; returns an :class:`Int8Report`.

    Calibrated on :func:`calibration_photos` ``("val", CALIBRATION_COUNT)`` under the data root
    ``data_root`` (see :func:`find_data_root`); with check=True
    (default) checked by :func:`check_int8` on ``("test", CHECK_COUNT)`` before ``path`` appears
    (atomically; nothing is written on a failure). The metadata is fp32's with ``precision``
    ``int8`` and ``quantization`` (JSON: calibration source, int8 op types, float nodes).
    """
    import onnx  # the export side's package (fastnst[train])
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quant_pre_process, quantize_static

    fp32_path = os.fspath(fp32_path)
    source = onnx.load(fp32_path)
    meta = model_metadata(source)
    if meta.get("precision", "fp32") != "fp32":
        raise ValueError(f"{fp32_path} is {meta['precision']}, not fp32: quantize the fp32 export")
    input_name = source.graph.input[0].name
    photos, calibration = calibration_photos("val", CALIBRATION_COUNT, data_root=data_root)
    report = Int8Report(path=os.fspath(path), calibration=calibration, checked=check)
    with tempfile.TemporaryDirectory() as temp, atomic_output(path, suffix=".onnx") as out:
        prepared = os.path.join(temp, "prepared.onnx")
        with silence():  # shape inference + onnxruntime's basic graph optimisations, as the tool recommends
            quant_pre_process(fp32_path, prepared, skip_symbolic_shape=True)
        float_nodes = float_convs(onnx.load(prepared))
        with silence():  # onnxruntime.quantization's logging and warnings
            quantize_static(prepared, out, _Photos(input_name, photos), quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=list(INT8_OP_TYPES), nodes_to_exclude=float_nodes,
                            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax)
        meta.update(precision="int8", quantization={
            "format": "QDQ", "calibration": calibration, "method": "MinMax", "weights": "int8 per channel",
            "activations": "uint8", "int8_op_types": list(INT8_OP_TYPES), "float_nodes": float_nodes})
        write_metadata(out, meta)
        if check:
            held_out, source_name = calibration_photos("test", CHECK_COUNT, data_root=data_root)
            report.held_out = source_name
            check_int8(out, fp32_path, held_out, report)
        report.file_size = os.path.getsize(out)
    return report
