"""Run an exported style (an ONNX file, see :mod:`fastnst.export`) with onnxruntime.

This module never imports torch: a deployed stylizer needs only onnxruntime, numpy
and OpenCV/Pillow (through :mod:`fastnst.image`).

    >>> s = Stylizer("mosaic.onnx")               # or a shipped style name
    >>> out = s.stylize(frame)                    # uint8 (H, W, 3) RGB in and out
    >>> out = s.stylize(frame, strength=0.6, preserve_color=True, max_side=720)
    >>> out = s.stylize(big, tile=512)            # bounded memory for huge images

Frames are uint8 RGB arrays of shape (H, W, 3); (H, W) greyscale is replicated to
three channels and (H, W, 4) RGBA has its alpha channel dropped (not composited).
The result is always uint8 RGB (H, W, 3) of the input's height and width.
"""

from __future__ import annotations

import contextlib
import io
import json
import os

import numpy as np
import onnxruntime as ort

from .errors import UserError
from .image import blend, from_nchw, resize, resize_long_side, to_nchw, transfer_luminance

__all__ = ["DEVICES", "Stylizer"]

_TRT, _CUDA, _CPU = "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"
DEVICES = ("auto", "tensorrt", "cuda", "cpu")
_DEVICE_OF = {_TRT: "tensorrt", _CUDA: "cuda", _CPU: "cpu"}
_JSON_KEYS = ("io", "training", "model_config")
_WARMUP_SIZE = 64  # pixels, side of the square warm-up image


def _as_rgb(frame) -> np.ndarray:
    """uint8 (H, W, 3) as is; (H, W) grey replicated; (H, W, 4) RGBA with alpha dropped."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        raise UserError(f"frames must be uint8 arrays, got {frame.dtype}")
    if frame.ndim == 2:
        return np.repeat(frame[..., None], 3, axis=2)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return np.ascontiguousarray(frame[..., :3])
    if frame.ndim == 3 and frame.shape[2] == 3:
        return frame
    raise UserError(f"frames must have shape (H, W), (H, W, 3) or (H, W, 4), got {frame.shape}")


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile start offsets covering [0, length): step tile - overlap, last tile flush with the end."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, tile - overlap))
    starts.append(length - tile)
    return starts


def _ramp(start: int, size: int, length: int, overlap: int) -> np.ndarray:
    """Per-pixel blending weights of one tile along one axis: linear ramps on interior edges."""
    w = np.ones(size, np.float32)
    if overlap > 0:
        r = (np.arange(size, dtype=np.float32) + 0.5) / overlap
        if start > 0:
            w = np.minimum(w, r)
        if start + size < length:
            w = np.minimum(w, r[::-1])
    return w


class Stylizer:
    """One loaded style: an onnxruntime session plus pre- and post-processing.

    ``style_or_path``: an .onnx file, or the name of a shipped style (``fastnst.styles``).
    ``device``: ``"auto"`` (TensorRT, then CUDA, then CPU: whatever actually loads),
    ``"tensorrt"``, ``"cuda"`` (UserError where not usable, never a silent CPU run) or
    ``"cpu"``. ``threads``: onnxruntime intra-op threads (None: onnxruntime's default).

    Attributes: ``path``, ``provider`` (the execution provider in use), ``device``
    ("tensorrt" / "cuda" / "cpu"), ``metadata`` (the file's fastnst metadata, JSON values
    parsed), ``style`` and ``preset``.
    """

    def __init__(self, style_or_path, device: str = "auto", threads: int | None = None):
        self.path = self._resolve(style_or_path)
        if device not in DEVICES:
            raise UserError(f"unknown device '{device}' (choose from {', '.join(DEVICES)})")
        if threads is not None and int(threads) < 1:
            raise UserError(f"threads must be >= 1, got {threads}")
        self.threads = None if threads is None else int(threads)
        self.session = self._open(device)
        self.provider = self.session.get_providers()[0]
        self.device = _DEVICE_OF.get(self.provider, self.provider)
        self.metadata = self._read_metadata()
        self.style = str(self.metadata.get("style") or os.path.splitext(os.path.basename(self.path))[0])
        self.preset = str(self.metadata.get("preset") or "") or None
        self._in = self.session.get_inputs()[0].name
        self._out = self.session.get_outputs()[0].name
        self._buffer: np.ndarray | None = None  # reused batch input, see _run_batch
        # On a GPU provider, run through an IO binding (see _run_bound); the CPU path is a plain run.
        self._io_binding = self.device in ("cuda", "tensorrt")
        self._binding = None
        self._run(np.zeros((1, 3, _WARMUP_SIZE, _WARMUP_SIZE), np.float32))  # warm-up

    # ------------------------------------------------------------------ loading

    @staticmethod
    def _resolve(style_or_path) -> str:
        from .styles import find_style

        return str(find_style(style_or_path, suffix=".onnx").path)  # UserError listing the shipped ones

    def _options(self) -> ort.SessionOptions:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if self.threads is not None:
            opts.intra_op_num_threads = self.threads
        return opts

    def _session(self, providers: list[str], *, quiet: bool = False) -> ort.InferenceSession:
        try:
            if not quiet:
                return ort.InferenceSession(self.path, self._options(), providers=providers)
            # A GPU provider that fails to load logs errors through onnxruntime's default
            # logger and prints an "EP Error" banner; neither is news for a probe.
            ort.set_default_logger_severity(4)
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    return ort.InferenceSession(self.path, self._options(), providers=providers)
            finally:
                ort.set_default_logger_severity(2)
        except Exception as e:
            if quiet:
                raise
            raise UserError(f"cannot load style model {self.path}: {type(e).__name__}: {e}") from None

    def _open(self, device: str) -> ort.InferenceSession:
        available = ort.get_available_providers()
        if device == "cpu":
            return self._session([_CPU])
        if device == "auto":
            gpu = [p for p in (_TRT, _CUDA) if p in available]
            if gpu:
                # get_available_providers() lists what the build supports, not what loads
                # (e.g. onnxruntime-gpu on a machine without CUDA): check what did load.
                try:
                    session = self._session(gpu + [_CPU], quiet=True)
                    if session.get_providers()[0] in gpu:
                        return session
                except Exception:
                    pass
            return self._session([_CPU])
        wanted = _TRT if device == "tensorrt" else _CUDA
        if wanted not in available:
            raise UserError(f"device '{device}' is not available: this onnxruntime has no {wanted} "
                            f"(available: {', '.join(available)})")
        chain = [_TRT, _CUDA, _CPU] if device == "tensorrt" else [_CUDA, _CPU]
        try:
            session = self._session([p for p in chain if p in available], quiet=True)
        except Exception as e:
            raise UserError(f"device '{device}' is not usable: {type(e).__name__}: {e}") from None
        if session.get_providers()[0] != wanted:
            raise UserError(f"device '{device}' is not usable here: {wanted} failed to load "
                            "(missing GPU, driver, CUDA/cuDNN or TensorRT libraries?)")
        return session

    def _read_metadata(self) -> dict:
        props = dict(self.session.get_modelmeta().custom_metadata_map)
        for key in _JSON_KEYS:
            if key in props:
                try:
                    props[key] = json.loads(props[key])
                except ValueError:
                    pass
        return props

    def __repr__(self) -> str:
        return (f"Stylizer(style={self.style!r}, preset={self.preset!r}, device={self.device!r}, "
                f"provider={self.provider!r}, path={self.path!r})")

    # ------------------------------------------------------------------ running

    def _run(self, x: np.ndarray) -> np.ndarray:
        if self._io_binding:
            return self._run_bound(x)
        (y,) = self.session.run([self._out], {self._in: x})
        return y

    def _run_bound(self, x: np.ndarray) -> np.ndarray:
        """One run through a reused IO binding: float32 (N, 3, H, W) host array in, new host array out.

        The input is copied from the host buffer once; the output is left on the provider's
        device (onnxruntime allocates it from its arena) and copied back to a new host array.
        """
        if self._binding is None:
            self._binding = self.session.io_binding()
            kind = "cpu" if self.device == "cpu" else "cuda"  # TensorRT's outputs live in CUDA memory
            options = self.session.get_provider_options().get(self.provider, {})
            self._out_device = (kind, int(options.get("device_id", 0) or 0))
        self._binding.bind_cpu_input(self._in, np.ascontiguousarray(x, dtype=np.float32))
        self._binding.bind_output(self._out, *self._out_device)
        self.session.run_with_iobinding(self._binding)
        (y,) = self._binding.copy_outputs_to_cpu()
        return y

    def _run_batch(self, frames: list[np.ndarray]) -> np.ndarray:
        """Stylize same-size uint8 RGB frames in one session run; float32 (N, 3, H, W) out."""
        h, w = frames[0].shape[:2]
        shape = (len(frames), 3, h, w)
        if self._buffer is None or self._buffer.shape != shape:
            self._buffer = np.empty(shape, np.float32)
        for i, f in enumerate(frames):
            self._buffer[i] = to_nchw(f)[0]
        return self._run(self._buffer)

    def _network(self, rgb: np.ndarray, tile: int | None, overlap: int) -> np.ndarray:
        """The network's uint8 RGB output for uint8 RGB `rgb` (same size), whole or tiled."""
        h, w = rgb.shape[:2]
        if tile is None or (h <= tile and w <= tile):
            return from_nchw(self._run(to_nchw(rgb)))
        acc = np.zeros((3, h, w), np.float32)
        weight = np.zeros((h, w), np.float32)
        for y0 in _starts(h, tile, overlap):
            th = min(tile, h)
            wy = _ramp(y0, th, h, overlap)
            for x0 in _starts(w, tile, overlap):
                tw = min(tile, w)
                out = self._run(to_nchw(np.ascontiguousarray(rgb[y0:y0 + th, x0:x0 + tw])))[0]
                wt = wy[:, None] * _ramp(x0, tw, w, overlap)[None, :]
                acc[:, y0:y0 + th, x0:x0 + tw] += out * wt
                weight[y0:y0 + th, x0:x0 + tw] += wt
        return from_nchw(acc / weight)

    @staticmethod
    def _check_options(strength, max_side, tile, tile_overlap) -> None:
        if not 0.0 <= float(strength) <= 1.0:
            raise UserError(f"strength must be in [0, 1], got {strength}")
        if max_side is not None and int(max_side) < 1:
            raise UserError(f"max_side must be a positive number of pixels, got {max_side}")
        if tile is not None:
            if int(tile) < 16:
                raise UserError(f"tile must be at least 16 pixels, got {tile}")
            if not 0 <= int(tile_overlap) <= int(tile) // 2:
                raise UserError(f"tile_overlap must be in [0, tile / 2], got {tile_overlap}")

    def _finish(self, rgb: np.ndarray, styled: np.ndarray, strength: float, preserve_color: bool) -> np.ndarray:
        h, w = rgb.shape[:2]
        styled = resize(styled, (w, h))
        if preserve_color:
            styled = transfer_luminance(styled, rgb)
        if strength < 1.0:
            styled = blend(rgb, styled, float(strength))
        return styled

    def stylize(self, frame, *, strength: float = 1.0, preserve_color: bool = False,
                max_side: int | None = None, tile: int | None = None, tile_overlap: int = 32) -> np.ndarray:
        """Stylize one uint8 frame; returns a new uint8 RGB (H, W, 3) array of the input's size.

        ``strength`` in [0, 1] mixes the original (0: the input itself, as RGB) with the
        stylized image (1). ``preserve_color`` keeps the input's colours (stylized luminance,
        original chrominance). ``max_side``: when the long side is larger, a downscaled copy
        is stylized and the result scaled back up. ``tile``: run the network on tile x tile
        pieces overlapping by ``tile_overlap`` pixels, blended with linear-ramp weights
        (bounded memory for big images; instance norm sees each tile's own statistics, so
        the result differs a little from an untiled run).
        """
        self._check_options(strength, max_side, tile, tile_overlap)
        rgb = _as_rgb(frame)
        if float(strength) == 0.0:
            return rgb.copy()
        small = resize_long_side(rgb, max_side) if max_side and max(rgb.shape[:2]) > int(max_side) else rgb
        styled = self._network(small, None if tile is None else int(tile), int(tile_overlap))
        return self._finish(rgb, styled, float(strength), preserve_color)

    def stylize_batch(self, frames, *, strength: float = 1.0, preserve_color: bool = False,
                      max_side: int | None = None) -> list[np.ndarray]:
        """Stylize same-size frames in one session run (batch N); a list of uint8 RGB arrays.

        Options as in :meth:`stylize` (no tiling). Results equal per-frame :meth:`stylize`
        up to floating-point differences of batched kernels.
        """
        self._check_options(strength, max_side, None, 0)
        rgbs = [_as_rgb(f) for f in frames]
        if not rgbs:
            return []
        if len({f.shape for f in rgbs}) != 1:
            raise UserError(f"stylize_batch needs frames of one size, got {sorted({f.shape for f in rgbs})}")
        if float(strength) == 0.0:
            return [f.copy() for f in rgbs]
        smalls = rgbs
        if max_side and max(rgbs[0].shape[:2]) > int(max_side):
            smalls = [resize_long_side(f, max_side) for f in rgbs]
        out = self._run_batch(smalls)
        return [self._finish(rgb, from_nchw(y), float(strength), preserve_color) for rgb, y in zip(rgbs, out)]
