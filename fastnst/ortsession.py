"""onnxruntime sessions as fastnst opens them: the one place that sets their options.

Every session fastnst creates comes from :func:`open_session`: the Stylizer's (any provider), the
export checks', the int8 check's, the OpenVINO wrapper's metadata session and the metadata reader's.
Torch-free: onnxruntime and the standard library.
"""

from __future__ import annotations

import contextlib
import os

import onnxruntime as ort

from .errors import UserError, first_line
from .silence import silence

__all__ = ["CPU", "ORT_ERRORS", "load_error", "open_session", "pytorch_file_error", "session_options"]

CPU = "CPUExecutionProvider"
ORT_ERRORS = 3  # the session log severity fastnst uses: errors only (onnxruntime's default is 2, warnings)


def session_options(*, threads: int | None = None, spin: bool = True, log_severity: int = ORT_ERRORS,
                    optimize: bool = True) -> ort.SessionOptions:
    """Session options: ``threads`` intra-op threads (None: onnxruntime's default); ``spin=False``
    makes idle intra-op threads sleep instead of spinning between runs; ``log_severity`` as in
    onnxruntime (0 verbose ... 4 fatal: :data:`fastnst.silence.ORT_SILENT`); ``optimize=False``
    turns graph optimisations off (a session opened only to read the file's inputs, outputs and
    metadata)."""
    opts = ort.SessionOptions()
    opts.log_severity_level = log_severity
    if threads is not None:
        opts.intra_op_num_threads = int(threads)
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return opts


def open_session(path: str | os.PathLike, providers: list[str] | tuple[str, ...] = (CPU,), *,
                 threads: int | None = None, spin: bool = True, log_severity: int = ORT_ERRORS,
                 optimize: bool = True, quiet: bool = False) -> ort.InferenceSession:
    """An onnxruntime InferenceSession of the ONNX file ``path`` (on the CPU unless ``providers``
    names others, in order of preference); options as in :func:`session_options`.

    ``quiet=True`` silences the load (:func:`fastnst.silence.silence`, onnxruntime's logger
    included): a GPU provider that fails to load logs errors and prints an "EP Error" banner,
    neither of which is news for a probe. Errors propagate as onnxruntime raises them.
    """
    opts = session_options(threads=threads, spin=spin, log_severity=log_severity, optimize=optimize)
    with silence(onnxruntime_logger=True) if quiet else contextlib.nullcontext():
        return ort.InferenceSession(os.fspath(path), opts, providers=list(providers))


def pytorch_file_error(path: str | os.PathLike) -> UserError | None:
    """The one-line UserError for a PyTorch model file (a training's ``model.pth``, a decoder, or any zip
    archive as ``torch.save`` writes it) given where an ONNX file is needed, naming the command that turns it
    into one; None for any other file. Checked before a file is opened on any device."""
    text = os.fspath(path)
    try:
        with open(text, "rb") as f:
            zipped = f.read(4) == b"PK\x03\x04"
    except OSError:
        zipped = False
    if zipped or text.lower().endswith((".pth", ".pt")):
        return UserError(f"{text} is a PyTorch model file, not an ONNX one: export it first "
                         f"('fastnst export {text} -o MODEL.onnx'; a decoder: 'fastnst export-arbitrary')")
    return None


def load_error(path: str | os.PathLike, error: Exception) -> UserError:
    """The one-line UserError for an ONNX file onnxruntime could not load (``error``, from :func:`open_session`):
    :func:`pytorch_file_error` for a PyTorch file, else what onnxruntime found wrong."""
    return pytorch_file_error(path) or UserError(
        f"{os.fspath(path)} is not an ONNX model onnxruntime can load ({type(error).__name__}: {first_line(error)})")
