"""Any painting as a style, at run time: the torch-free side of arbitrary style transfer.

An arbitrary-style export (:mod:`fastnst.export_arbitrary`) is two ONNX files: the per-frame graph
(``X.onnx``, what :class:`fastnst.runtime.Stylizer` runs) and the painting-statistics graph
(``X.painting.onnx``). :class:`PaintingStats` runs the second once per painting and keeps the result
(keyed by the painting's pixels), so a stream pays for a painting once and can switch paintings between
frames without opening a session again. Both graphs take sides that are multiples of :data:`MULTIPLE`:
:func:`pad_frame` repeats a frame's edge up to one (cropped off afterwards by the caller), and
:func:`painting_image` crops a painting to one.

``style_size`` is the painting's long side in pixels before its statistics are taken (default
:data:`DEFAULT_STYLE_SIZE`): it sets the size of the strokes (a smaller painting gives larger strokes).
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from .config import PAINTING_MIN_SIDE, PAINTING_READ_SIDE, PAINTING_SIZE, PaintingOptions
from .errors import UserError
from .image import check_frame, resize_long_side, to_nchw

MULTIPLE = 4  # the graphs' sides are multiples of this (the deepest level's scale; fastnst.arbitrary)
MIN_SIDE = PAINTING_MIN_SIDE  # the smallest side a frame is padded to, and a painting may have after resizing
DEFAULT_STYLE_SIZE = PAINTING_SIZE  # the painting's long side, pixels
IMAGE_INPUT, ALPHA_INPUT, PAINTING_INPUT = "image", "alpha", "painting"  # fastnst.export_arbitrary's names
CACHE_SIZE = 16  # paintings whose statistics are kept

PaintingArg = "str | os.PathLike[str] | np.ndarray"


def is_arbitrary(metadata: dict) -> bool:
    """Whether an ONNX file's fastnst metadata is that of an arbitrary-style frame graph."""
    info = metadata.get("arbitrary")
    return isinstance(info, dict) and info.get("role") == "frame"


def check_style_size(style_size: int | None) -> int:
    """``style_size`` (None: :data:`DEFAULT_STYLE_SIZE`) as an int; UserError outside its bounds (PaintingOptions)."""
    PaintingOptions(style_size=style_size).validate()
    return DEFAULT_STYLE_SIZE if style_size is None else int(style_size)


def check_style_strength(alpha: float) -> float:
    """``alpha`` as a float; UserError outside [0, 1] (NaN included)."""
    PaintingOptions(style_strength=alpha).validate()
    return float(alpha)


def painting_image(painting: Any, style_size: int | None = None) -> np.ndarray:
    """A painting (an image file's path, or a uint8 RGB (H, W, 3) array) as the uint8 RGB array whose
    statistics are taken: long side ``style_size`` px, both sides cropped (centred) to multiples of
    :data:`MULTIPLE`. A one-line UserError for a file that is not an image, one too large to read, a painting
    under :data:`MIN_SIDE` px on its short side (a 1x1 pixel), or one whose short side would be under it at
    ``style_size`` (a 20 000 x 100 strip)."""
    from .userstyles import load_painting  # the one reading of an uploaded painting (bomb limits, JPEG draft)

    size = check_style_size(style_size)
    if isinstance(painting, np.ndarray):
        rgb, name = check_frame(painting, "painting"), "painting"
    else:
        name = os.path.basename(os.fspath(painting))
        rgb, _ = load_painting(painting, max_side=max(size, PAINTING_READ_SIDE), min_side=1)
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:  # a 1x1 pixel has no strokes to take
        raise UserError(f"'{name}' is only {w}x{h} pixels: give a painting at least {MIN_SIDE} px on each side")
    short = round(min(h, w) * size / max(h, w))
    if short < MIN_SIDE:
        raise UserError(f"'{name}' is {w}x{h} pixels: at a long side of {size} px its short side is {short} px, "
                        f"under {MIN_SIDE}; give a less elongated painting, or a larger --style-size")
    rgb = resize_long_side(rgb, size)
    h, w = rgb.shape[:2]
    top, left = (h % MULTIPLE) // 2, (w % MULTIPLE) // 2
    return np.ascontiguousarray(rgb[top:top + h - h % MULTIPLE, left:left + w - w % MULTIPLE])


def pad_frame(x: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Float (N, 3, H, W) -> (the same with its last rows and columns repeated up to sides that are multiples of
    :data:`MULTIPLE` and at least :data:`MIN_SIDE`, (H, W) to crop the result back to)."""
    h, w = x.shape[2:]
    ph = max(MIN_SIDE, -(-h // MULTIPLE) * MULTIPLE) - h
    pw = max(MIN_SIDE, -(-w // MULTIPLE) * MULTIPLE) - w
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="edge")
    return x, (h, w)


def painting_graph(frame_path: str | os.PathLike[str], metadata: dict) -> Path:
    """The painting-statistics graph of an any-painting frame graph ``frame_path``: the file its metadata
    ``arbitrary`` names, in the same folder. A one-line UserError where it is missing (or named as a path)."""
    name = str(metadata["arbitrary"].get("painting_file") or "")
    path = Path(frame_path).parent / name
    if not name or "/" in name or "\\" in name or not path.is_file():
        raise UserError(f"{frame_path} runs any painting with {name or 'a statistics graph'} beside it, "
                        "which is missing")
    return path


class PaintingStats:
    """The painting-statistics graph beside an arbitrary-style frame file, with a cache of its results.

    ``frame_path``: the frame graph; ``metadata``: its fastnst metadata (``arbitrary`` names the statistics
    file, in the same folder); ``session``: a function that opens an ONNX file (as the Stylizer opens its own,
    on the same device). Calling it on a painting's uint8 RGB array (:func:`painting_image`) gives
    {input name: float32 array}, the frame graph's statistics inputs; results are cached by the pixels.
    """

    def __init__(self, frame_path: str | os.PathLike[str], metadata: dict, session: Any) -> None:
        self.path = painting_graph(frame_path, metadata)
        self.session = session(str(self.path))
        self.names = [o.name for o in self.session.get_outputs()]
        self._cache: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()

    def __call__(self, rgb: np.ndarray) -> dict[str, np.ndarray]:
        key = hashlib.blake2b(rgb.tobytes(), digest_size=16, person=str(rgb.shape).encode()[:16]).hexdigest()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        values = self.session.run(self.names, {PAINTING_INPUT: to_nchw(rgb)})
        stats = {n: np.ascontiguousarray(v, np.float32) for n, v in zip(self.names, values)}
        if not all(np.isfinite(v).all() for v in stats.values()):  # the ridge makes this a bug, never the painting
            raise RuntimeError(f"{self.path.name}: the painting's statistics are not finite")
        self._cache[key] = stats
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return stats
