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

A model exported with uint8 frame I/O (``fastnst export --uint8-io``: uint8 NHWC in and out,
the scale, cast and transposes inside the graph) is handed the frame as it is; on a GPU provider
the uint8 buffers go through an IO binding (6 MB a 1080p frame each way instead of 25 MB).
A Stylizer runs the file it is given on the device it is given. Given a style's name or a
catalog entry, or ``device="auto"``, it asks :func:`fastnst.styles.choose` once (the one choice of
preset, copy and device, as every front end does); :func:`load_style` does the same for a use.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .config import MIN_TILE, PaintingOptions
from .errors import UserError, first_line
from .image import blend, check_frame, from_nchw, resize, resize_long_side, to_nchw, transfer_luminance
from .metadata import STYLE_INPUT_NAME, parse_metadata, read_metadata
from .painting import (
    ALPHA_INPUT,
    PaintingStats,
    check_style_size,
    check_style_strength,
    is_arbitrary,
    pad_frame,
    painting_image,
)
from .runtime_devices import DEVICES, device_named, open_on
from .styles import (
    StyleArg,
    StyleFile,
    blend_name,
    blend_weights,
    choose,
    is_file_argument,
    parse_blend,
    resolve_styles,
)

__all__ = ["Stylizer", "describe_metadata", "load_style", "parse_metadata", "read_metadata"]

_WARMUP_SIZE = 64  # pixels, side of the square warm-up image
_STYLE_IO = ("a style model takes one float image (N, 3, H, W) and returns one (N, 3, H, W) "
             "(see 'fastnst export')")


def _as_rgb(frame: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) as is; (H, W) grey replicated; (H, W, 4) RGBA with alpha dropped; UserError otherwise."""
    frame = check_frame(frame, "frames", grey=True, alpha=True)
    if frame.ndim == 2:
        return np.repeat(frame[..., None], 3, axis=2)
    if frame.shape[2] == 4:
        return np.ascontiguousarray(frame[..., :3])
    return frame


def describe_metadata(path: str | os.PathLike[str], meta: dict) -> list[str]:
    """``fastnst info``'s lines for a model file's metadata; UserError where it has no fastnst metadata."""
    if "fastnst_version" not in meta:
        raise UserError(f"{path} has no fastnst metadata (not written by 'fastnst export')")
    lines = [f"file:       {path}", f"fastnst:    {meta.get('fastnst_version')}",
             f"preset:     {meta.get('preset') or '-'}", f"style:      {meta.get('style') or '-'}",
             f"precision:  {meta.get('precision', 'fp32')}"]
    spec = meta.get("io")
    if isinstance(spec, dict):
        for side in ("input", "output"):
            s = spec.get(side, {})
            shape = "x".join(str(d) for d in s.get("shape", []))
            lines.append(f"{side + ':':<11} '{s.get('name')}' {s.get('dtype')} {s.get('layout')} {s.get('channels')} "
                         f"{shape} range {s.get('range')}")
    config = meta.get("model_config")
    if isinstance(config, dict):
        lines.append("network:    " + ", ".join(f"{k}={v}" for k, v in config.items()))
    arbitrary = meta.get("arbitrary")
    if isinstance(arbitrary, dict):  # an any-painting file (fastnst.export_arbitrary.arbitrary_io)
        strengths = arbitrary.get("strengths") or {}  # absent in files exported before level strengths
        levels = ", ".join(f"{lv} (strength {strengths.get(lv, 1):g})" for lv in arbitrary.get("levels", []))
        lines.append(f"painting:   any painting, {arbitrary.get('transform')} at {levels}; "
                     + ("the painting's statistics from " + str(arbitrary.get("painting_file"))
                        if arbitrary.get("role") == "frame" else "this file computes the painting's statistics"))
    training = meta.get("training")
    if isinstance(training, dict) and training:
        lines.append("training:")
        lines += [f"  {k}: {json.dumps(v) if isinstance(v, (list, dict)) else v}" for k, v in training.items()]
    return lines


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

    ``style_or_path``: an .onnx file, run as it is; or a shipped style's name or a catalog entry
    (:class:`fastnst.styles.StyleFile`), for which :func:`fastnst.styles.choose` picks the file.
    ``device``: one of :data:`fastnst.runtime_devices.DEVICE_NAMES`: ``"tensorrt"``, ``"cuda"``
    (UserError where not usable, never a silent CPU run), ``"cpu"``, ``"openvino"`` (OpenVINO on
    the CPU; UserError where the ``openvino`` package is not installed), or ``"auto"``, which
    :func:`fastnst.styles.choose` resolves (the GPU where one loads, else the faster CPU runtime for
    the file). ``threads``: intra-op threads (None: the runtime's default).
    ``spin``: whether onnxruntime's idle threads spin between runs (its default, the fastest alone); False
    where other work shares the cores, as the video pipeline's decoder and encoder do (a spinning
    thread takes the core they need).

    ``value_range``: the pixel range the network takes and returns: 1 for fastnst's own exports
    ([0, 1]); 255 runs a foreign model that works in [0, 255], such as the ONNX Model Zoo's
    fast_neural_style (never guessed: a fastnst file's metadata must agree). A model with a
    fixed input size (the zoo's 224x224) is run on the frame resized to that size.

    A multi-style file (``fastnst export`` of a network trained on several paintings) takes the
    weights of its styles beside the image: ``blend`` (a style's name, ``"wave+starry_night"``,
    ``"wave:0.7,starry_night:0.3"`` or {name: weight}; default its first style) sets them, and
    :meth:`set_style` changes them between frames at no cost (the blend is one small vector);
    :meth:`with_style` is a copy with a blend of its own on the same loaded session (one per thread or
    page where several blends run at once).

    An arbitrary-style file (:mod:`fastnst.painting`; ``-s painting.jpg`` chooses the shipped one) runs any
    painting: ``painting`` (an image file or a uint8 RGB array; default the bundled sample pattern),
    ``style_size`` (its long side in px: the strokes' size) and ``style_strength`` (alpha in [0, 1]: how far
    the features move to the painting's statistics). The painting's statistics are computed once (and
    cached); :meth:`set_painting` and :meth:`set_style_strength` change them between frames at no session
    cost, and :meth:`with_painting` is a copy with a painting of its own on the same sessions.

    Attributes: ``path``, ``provider`` (the execution provider in use, or "OpenVINO"), ``device``
    (the name of the device it runs on: "tensorrt", "cuda", "cpu" or "openvino"), ``metadata`` (the
    file's fastnst metadata, JSON values parsed), ``style`` (for a multi-style file: the blend's
    name), ``preset``, ``styles`` (a multi-style file's style names, else []) and ``style_weights``.
    """

    def __init__(self, style_or_path: StyleArg, device: str = "auto", threads: int | None = None,
                 value_range: float = 1.0, spin: bool = True, blend: str | dict[str, float] | None = None,
                 painting: Any = None, style_strength: float = 1.0, style_size: int | None = None) -> None:
        if threads is not None and int(threads) < 1:
            raise UserError(f"threads must be >= 1, got {threads}")
        if not float(value_range) > 0:
            raise UserError(f"value range must be positive, got {value_range}")
        on = device_named(device)  # UserError for an unknown name; None: auto
        if on is None or isinstance(style_or_path, (StyleFile, list, tuple)) or not is_file_argument(style_or_path):
            choice = choose(style_or_path, "any", device)  # a name, a catalog entry or "auto": chosen once, there
            path, on = choice.file.path, choice.device
            blend = blend or choice.file.blend
            painting = choice.file.painting if painting is None else painting
        else:
            found = resolve_styles(style_or_path)[0]  # a file, or a shipped file's name; UserError if missing
            path, blend = found.path, blend or found.blend
            painting = found.painting if painting is None else painting
        self.path = str(path)
        self.threads = None if threads is None else int(threads)
        self.spin = bool(spin)
        self.session = open_on(self.path, on, self.threads, self.spin)
        self.provider = self.session.get_providers()[0]
        self.device = on.name
        self.metadata = self._read_metadata()
        # an arbitrary-style file: its painting-statistics graph, on the same device
        self.painting_stats = PaintingStats(self.path, self.metadata, lambda p: open_on(p, on, self.threads,
                                                                                       self.spin)) \
            if is_arbitrary(self.metadata) else None
        self.style = str(self.metadata.get("style") or os.path.splitext(os.path.basename(self.path))[0])
        self.preset = str(self.metadata.get("preset") or "") or None
        self._in = self.session.get_inputs()[0].name
        self._out = self.session.get_outputs()[0].name
        self.uint8_io = self.session.get_inputs()[0].type == "tensor(uint8)"  # frames in and out as they are
        self.fixed_size = self._check_io(float(value_range))  # (H, W) of a fixed-size model, else None
        # a multi-style file: its styles, and the weights fed with every frame (set_style; the first style)
        self.styles: list[str] = [str(n) for n in self.metadata.get("styles") or []]
        self.style_weights: np.ndarray | None = None
        self._feeds: dict[str, np.ndarray] = {}
        if self.styles:
            self.set_style(blend or self.styles[0])
        self.style_strength, self.style_size = 1.0, check_style_size(style_size)
        self._painting_feeds: dict[str, np.ndarray] = {}
        if self.painting_stats is not None:
            from .image import sample_style

            self.set_style_strength(style_strength)
            self.set_painting(sample_style() if painting is None else painting)
        elif painting is not None:
            raise UserError(f"{self.path} is a trained style: it takes no painting (-s PAINTING.jpg runs any painting)")
        self._scale = float(value_range)
        self._buffer: np.ndarray | None = None  # reused batch input, see _stylize_same_size
        # On a GPU provider, run through an IO binding (see _infer_bound); the CPU path is a plain run.
        self._io_binding = on.gpu
        self._binding: Any = None  # an onnxruntime IOBinding, made on the first bound run
        h, w = self.fixed_size or (_WARMUP_SIZE, _WARMUP_SIZE)
        try:  # warm-up, and a check of what comes out
            if self.uint8_io:
                y = self._infer_uint8(np.zeros((1, h, w, 3), np.uint8)).transpose(0, 3, 1, 2)
            else:
                y = self._infer_float(np.zeros((1, 3, h, w), np.float32))
        except Exception as e:
            raise UserError(f"cannot run style model {self.path}: {type(e).__name__}: {first_line(e)}") from None
        if y.ndim != 4 or y.shape[1] != 3:
            raise UserError(f"{self.path} is not a style model: it returned shape {tuple(y.shape)}; {_STYLE_IO}")

    # ------------------------------------------------------------------ loading

    def _check_io(self, value_range: float) -> tuple[int, int] | None:
        """UserError unless the model is one image in, one image out; the fixed (H, W) of its input, if any.

        Float models take (N, 3, H, W); uint8-I/O models (N, H, W, 3) uint8 and return the same.
        """
        ins, outs = self.session.get_inputs(), self.session.get_outputs()
        if len(ins) == 2 and ins[1].name == STYLE_INPUT_NAME and ins[1].type == "tensor(float)" \
                and len(self.metadata.get("styles") or []) == (ins[1].shape or [0])[0]:
            ins = ins[:1]  # a multi-style file: the second input is the style weights (set_style)
        if self.painting_stats is not None and {i.name for i in ins[1:]} == {ALPHA_INPUT, *self.painting_stats.names}:
            ins = ins[:1]  # an arbitrary-style file: alpha and the painting's statistics (set_painting)
        shape = ins[0].shape if len(ins) == 1 else []
        floats = ("tensor(float)", "tensor(float16)")
        channel = 3 if self.uint8_io else 1
        channels_ok = len(shape) == 4 and (shape[channel] in (3, None) or isinstance(shape[channel], str))
        types = ("tensor(uint8)",) if self.uint8_io else floats
        if len(ins) != 1 or len(outs) != 1 or not channels_ok or ins[0].type not in types or outs[0].type not in types:
            got = ", ".join(f"{i.name} {i.type} {i.shape}" for i in ins) or "no inputs"
            raise UserError(f"{self.path} is not a style model (inputs: {got}; {len(outs)} outputs): {_STYLE_IO}")
        spec = self.metadata.get("io")
        if self.uint8_io:
            if value_range != 1.0:
                raise UserError(f"{self.path} takes uint8 frames: value_range does not apply")
        elif isinstance(spec, dict) and spec.get("input", {}).get("range") not in (None, [0, value_range]):
            raise UserError(f"{self.path} takes values in {spec['input']['range']} (its metadata), "
                            f"not [0, {value_range:g}]")
        h, w = shape[1:3] if self.uint8_io else shape[2:]
        return (h, w) if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0 else None

    def set_style(self, blend: str | dict[str, float]) -> None:
        """A multi-style file's style or blend for the frames that follow: a name, ``"a+b"``,
        ``"a:0.7,b:0.3"`` or {name: weight} (weights scaled to sum to 1); UserError for a style the
        file lacks, or for a one-style file."""
        if not self.styles:
            raise UserError(f"{self.path} has one style ({self.style}): there is nothing to blend")
        if isinstance(blend, str):
            blend = parse_blend(blend) or {blend: 1.0}
        else:
            total = sum(blend.values())
            if not total > 0 or min(blend.values()) < 0:
                raise UserError(f"style weights must be >= 0 with a positive sum, got {blend}")
            blend = {k: v / total for k, v in blend.items()}
        self.style_weights = np.asarray(blend_weights(blend, self.styles), np.float32)  # (S,)
        self._feeds = {STYLE_INPUT_NAME: self.style_weights}
        self.style = blend_name(blend)

    def set_painting(self, painting: Any, style_size: int | None = None) -> None:
        """The painting for the frames that follow (an arbitrary-style file only): an image file's path or a uint8
        RGB array, at ``style_size`` px on its long side (None: keep the current size). Its statistics are
        computed once (cached); a one-line UserError for a file that is not an image or a painting too small."""
        if self.painting_stats is None:
            raise UserError(f"{self.path} is a trained style ({self.style}): it takes no painting")
        size = self.style_size if style_size is None else check_style_size(style_size)
        self._painting_feeds = self.painting_stats(painting_image(painting, size))
        self.style_size = size
        self._feeds = {**self._painting_feeds, ALPHA_INPUT: np.array([self.style_strength], np.float32)}
        self.style = "painting" if isinstance(painting, np.ndarray) else os.path.splitext(os.path.basename(
            os.fspath(painting)))[0]

    def set_style_strength(self, alpha: float) -> None:
        """How far the features move to the painting's statistics (an arbitrary-style file): alpha in [0, 1]."""
        if self.painting_stats is None:
            raise UserError(f"{self.path} is a trained style: --style-strength is for paintings (-s PAINTING.jpg)")
        self.style_strength = check_style_strength(alpha)
        self._feeds = {**self._painting_feeds, ALPHA_INPUT: np.array([self.style_strength], np.float32)}

    def with_painting(self, painting: Any, style_size: int | None = None) -> Stylizer:
        """A Stylizer for the same loaded files with a painting of its own (as :meth:`set_painting`); the sessions
        and the statistics cache are shared."""
        other = copy.copy(self)
        other._buffer, other._binding = None, None
        other.set_painting(painting, style_size)
        return other

    def with_style(self, blend: str | dict[str, float]) -> Stylizer:
        """A Stylizer for the same loaded file with its own style or blend (as in :meth:`set_style`): the
        session is shared (nothing is loaded again), the style weights and run buffers are the copy's own,
        so two threads with different blends each use their own copy and never change the other's."""
        other = copy.copy(self)
        other._buffer, other._binding = None, None  # run state: per copy (onnxruntime's run is thread-safe)
        other.set_style(blend)
        return other

    def _read_metadata(self) -> dict:
        return parse_metadata(self.session.get_modelmeta().custom_metadata_map)

    def __repr__(self) -> str:
        return (f"Stylizer(style={self.style!r}, preset={self.preset!r}, device={self.device!r}, "
                f"provider={self.provider!r}, path={self.path!r})")

    # ------------------------------------------------------------------ running

    def _infer_float(self, x: np.ndarray) -> np.ndarray:
        """float32 (N, 3, H, W) in [0, 1] -> the network's (N, 3, H, W) output, back in [0, 1] units."""
        if self.painting_stats is not None:  # sides padded to what the graph takes, one frame a run
            padded, (h, w) = pad_frame(x)
            outs = [self.session.run([self._out], {self._in: padded[i:i + 1], **self._feeds})[0]
                    for i in range(len(padded))]
            return np.concatenate(outs)[:, :, :h, :w]
        if self._scale != 1.0:
            x = x * np.float32(self._scale)
        if self._io_binding:
            y = self._infer_bound(x)
        else:
            (y,) = self.session.run([self._out], {self._in: x, **self._feeds})
        return y if self._scale == 1.0 else y / np.float32(self._scale)

    def _infer_uint8(self, frames: np.ndarray) -> np.ndarray:
        """A uint8-I/O model on uint8 RGB (N, H, W, 3) frames -> new uint8 RGB (N, H, W, 3)."""
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        if self._io_binding:
            return self._infer_bound(frames)
        (y,) = self.session.run([self._out], {self._in: frames, **self._feeds})
        return y

    def _stylize_one(self, rgb: np.ndarray) -> np.ndarray:
        """The network's uint8 RGB (H, W, 3) output for one uint8 RGB frame, either kind of model."""
        if self.uint8_io:
            return self._infer_uint8(rgb[None])[0]
        return from_nchw(self._infer_float(to_nchw(rgb)))

    def _infer_bound(self, x: np.ndarray) -> np.ndarray:
        """One run through a reused IO binding: a host array in (float32 (N, 3, H, W), or uint8
        (N, H, W, 3) for a uint8-I/O model), a new host array out.

        The input is copied from the host buffer once; the output is left on the provider's
        device (onnxruntime allocates it from its arena) and copied back to a new host array.
        """
        if self._binding is None:
            self._binding = self.session.io_binding()
            kind = "cuda" if DEVICES[self.device].gpu else "cpu"  # TensorRT's outputs live in CUDA memory
            options = self.session.get_provider_options().get(self.provider, {})
            self._out_device = (kind, int(options.get("device_id", 0) or 0))
        self._binding.bind_cpu_input(self._in, np.ascontiguousarray(x, dtype=np.uint8 if self.uint8_io else np.float32))
        for name, value in self._feeds.items():  # a multi-style file's style weights
            self._binding.bind_cpu_input(name, value)
        self._binding.bind_output(self._out, *self._out_device)
        self.session.run_with_iobinding(self._binding)
        (y,) = self._binding.copy_outputs_to_cpu()
        return y

    def _stylize_same_size(self, frames: list[np.ndarray]) -> np.ndarray:
        """Stylize same-size uint8 RGB frames in one session run; float32 (N, 3, H, W) out."""
        if self.uint8_io:
            return np.concatenate([to_nchw(y) for y in self._infer_uint8(np.stack(frames))])
        h, w = frames[0].shape[:2]
        shape = (len(frames), 3, h, w)
        if self._buffer is None or self._buffer.shape != shape:
            self._buffer = np.empty(shape, np.float32)
        for i, f in enumerate(frames):
            self._buffer[i] = to_nchw(f)[0]
        return self._infer_float(self._buffer)

    def _network(self, rgb: np.ndarray, tile: int | None, overlap: int) -> np.ndarray:
        """The network's uint8 RGB output for uint8 RGB `rgb` (same size), whole or tiled."""
        h, w = rgb.shape[:2]
        if self.fixed_size is not None:  # resized to the model's size here, back to the frame's in _finish
            return self._stylize_one(resize(rgb, self.fixed_size[::-1]))
        if tile is None or (h <= tile and w <= tile):
            return self._stylize_one(rgb)
        acc = np.zeros((3, h, w), np.float32)
        weight = np.zeros((h, w), np.float32)
        for y0 in _starts(h, tile, overlap):
            th = min(tile, h)
            wy = _ramp(y0, th, h, overlap)
            for x0 in _starts(w, tile, overlap):
                tw = min(tile, w)
                piece = np.ascontiguousarray(rgb[y0:y0 + th, x0:x0 + tw])
                if self.uint8_io:
                    out = to_nchw(self._stylize_one(piece))[0]
                else:
                    out = self._infer_float(to_nchw(piece))[0]
                wt = wy[:, None] * _ramp(x0, tw, w, overlap)[None, :]
                acc[:, y0:y0 + th, x0:x0 + tw] += out * wt
                weight[y0:y0 + th, x0:x0 + tw] += wt
        return from_nchw(acc / weight)

    @staticmethod
    def _check_options(strength: float, max_side: int | None, tile: int | None, tile_overlap: int) -> None:
        if not 0.0 <= float(strength) <= 1.0:
            raise UserError(f"strength must be in [0, 1], got {strength}")
        if max_side is not None and int(max_side) < 1:
            raise UserError(f"max_side must be a positive number of pixels, got {max_side}")
        if tile is not None:
            if int(tile) < MIN_TILE:
                raise UserError(f"tile must be at least {MIN_TILE} pixels, got {tile}")
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

    def stylize(self, frame: np.ndarray, *, strength: float = 1.0, preserve_color: bool = False,
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

    def stylize_batch(self, frames: Sequence[np.ndarray], *, strength: float = 1.0, preserve_color: bool = False,
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
        if self.fixed_size is not None:  # a fixed-size model may also fix its batch at 1
            return [self.stylize(f, strength=strength, preserve_color=preserve_color, max_side=max_side) for f in rgbs]
        smalls = rgbs
        if max_side and max(rgbs[0].shape[:2]) > int(max_side):
            smalls = [resize_long_side(f, max_side) for f in rgbs]
        out = self._stylize_same_size(smalls)
        return [self._finish(rgb, from_nchw(y), float(strength), preserve_color) for rgb, y in zip(rgbs, out)]


def load_style(style: StyleArg, use: str = "any", device: str = "auto", threads: int | None = None,
               value_range: float = 1.0, spin: bool = True, painting: PaintingOptions | None = None) -> Stylizer:
    """The :class:`Stylizer` of what :func:`fastnst.styles.choose` picks for ``style``, ``use`` and ``device``:
    one file (preset and copy) on one device, opened once.

    ``style``: a style argument (:func:`fastnst.styles.resolve_styles`), a StyleFile or a list of one
    style's :class:`fastnst.styles.StyleFile` (a :class:`fastnst.styles.Catalog` entry); ``painting``: the
    style strength and size where ``style`` is a painting (-s painting.jpg); the others as for :class:`Stylizer`.
    """
    choice = choose(style, use, device)
    p = painting or PaintingOptions()
    return Stylizer(choice.file.path, choice.device.name, threads=threads, value_range=value_range, spin=spin,
                    blend=choice.file.blend, painting=choice.file.painting, style_strength=p.style_strength,
                    style_size=p.style_size)
