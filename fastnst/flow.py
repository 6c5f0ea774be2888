"""Optical flow, warping, occlusion masks, the warping-error metric and a temporal stabilizer.

Torch-free (numpy + OpenCV): the video converter, the webcam loop and the demo use it
next to the onnxruntime :class:`fastnst.runtime.Stylizer`.

Frames are uint8 RGB arrays of shape (H, W, 3). A flow is a float32 array of shape
(H, W, 2) holding (dx, dy) in pixels. ``optical_flow(src, dst)`` returns the flow with
``src(p) ~ dst(p + flow(p))``, and ``warp(image, flow)`` is the matching backward warp
``out(p) = image(p + flow(p))``. So to bring frame t-1 (or anything aligned with it, such
as its stylized version) to time t::

    >>> flow = optical_flow(frame_t, frame_t_minus_1)      # t -> t-1
    >>> aligned = warp(stylized_t_minus_1, flow)           # ~ aligned with frame_t

The metric :func:`warping_error` is the one of Lai et al. 2018 ("Learning Blind Video
Temporal Consistency"), with OpenCV's DIS flow instead of FlowNet2, and
:class:`Stabilizer` is the flow-guided blend used by ``fastnst video --stabilize``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import cv2
import numpy as np

from .config import STABILIZE_STRENGTH, check_fraction
from .image import check_frame, resize_long_side

__all__ = [
    "DIS_PRESETS",
    "Stabilizer",
    "WarpingError",
    "consistency_mask",
    "optical_flow",
    "warp",
    "warping_error",
]

# DIS presets (Kroeger et al. 2016). Measured on bedroom.mp4 (960x540) on 2 CPU cores: about
# 19 ms (ultrafast), 40 ms (fast) and 180 ms (medium) per flow at full size, 4 ms, 12 ms and
# 49 ms at half size. "fast" is the default: with "ultrafast" the forward-backward check
# keeps only 62% of the pixels of a frame pair (fast: 80%, its flow is noisier), and
# "medium" costs 4.5 times as much for a small gain.
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

_local = threading.local()  # one DIS object per thread and DIS preset (they keep internal buffers)


def _dis(dis_preset: str) -> cv2.DISOpticalFlow:
    cache = getattr(_local, "dis", None)
    if cache is None:
        cache = _local.dis = {}
    if dis_preset not in cache:
        if dis_preset not in DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {dis_preset!r} (choose from {', '.join(DIS_PRESETS)})")
        cache[dis_preset] = cv2.DISOpticalFlow.create(DIS_PRESETS[dis_preset])
    return cache[dis_preset]


def _grey(frame: np.ndarray) -> np.ndarray:
    """uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA -> uint8 (H, W) grey; UserError otherwise."""
    frame = check_frame(frame, "frames", grey=True, alpha=True)
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    return cv2.cvtColor(np.ascontiguousarray(frame[..., :3]), cv2.COLOR_RGB2GRAY)


def _downscale(frame: np.ndarray, max_side: int | None) -> np.ndarray:
    """A grey frame shrunk to long side ``max_side`` (INTER_AREA); as it is when smaller or ``max_side`` is None."""
    return resize_long_side(frame, max_side, enlarge=False)


def _upscale_flow(flow: np.ndarray, h: int, w: int) -> np.ndarray:
    """Resize a flow to (h, w) bilinearly, scaling its vectors to the new pixel size."""
    sh, sw = flow.shape[:2]
    if (sh, sw) == (h, w):
        return flow
    big = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
    big[..., 0] *= w / sw
    big[..., 1] *= h / sh
    return big


def optical_flow(src: np.ndarray, dst: np.ndarray, *, dis_preset: str = "fast",
                 max_side: int | None = None) -> np.ndarray:
    """Dense optical flow from ``src`` to ``dst`` with OpenCV's DIS, on grey frames.

    Args:
        src, dst: uint8 frames of one size, (H, W, 3) RGB (or (H, W) grey).
        dis_preset: DIS preset, ``"ultrafast"``, ``"fast"`` (default) or ``"medium"``.
        max_side: when the long side is larger, the flow is computed on frames downscaled
            to this long side (INTER_AREA), then upscaled bilinearly and its vectors scaled
            back to full-size pixels. Cheaper by about the square of the factor.

    Returns:
        float32 (H, W, 2) flow (dx, dy) in pixels such that ``src(p) ~ dst(p + flow(p))``.
    """
    a, b = _grey(src), _grey(dst)
    if a.shape != b.shape:
        raise ValueError(f"frames differ in size: {a.shape} vs {b.shape}")
    h, w = a.shape
    flow = _dis(dis_preset).calc(_downscale(a, max_side), _downscale(b, max_side), None)
    return _upscale_flow(flow, h, w).astype(np.float32, copy=False)


def _sq(flow: np.ndarray) -> np.ndarray:
    """Squared length of each vector of a (H, W, 2) flow: (H, W)."""
    return flow[..., 0] ** 2 + flow[..., 1] ** 2


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (xs, ys), float32 (H, W) each; the last few sizes are cached per thread."""
    cache = getattr(_local, "grids", None)
    if cache is None:
        cache = _local.grids = {}
    if (h, w) not in cache:
        if len(cache) >= 4:
            cache.pop(next(iter(cache)))
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        cache[(h, w)] = (xs, ys)
    return cache[(h, w)]


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: ``out(p) = image(p + flow(p))``, bilinear, borders replicated.

    Args:
        image: (H, W) or (H, W, C) array, uint8 or float32 (e.g. a frame or another flow).
        flow: float32 (H, W, 2) displacement (dx, dy) in pixels.

    Returns:
        A new array of ``image``'s shape and dtype. Pixels whose source ``p + flow(p)``
        lies outside the image take the nearest border value; :func:`consistency_mask`
        marks them invalid.
    """
    image = np.asarray(image)
    flow = np.asarray(flow, np.float32)
    h, w = image.shape[:2]
    if flow.shape != (h, w, 2):
        raise ValueError(f"flow must have shape {(h, w, 2)}, got {flow.shape}")
    xs, ys = _grid(h, w)
    map_x = xs + flow[..., 0]
    map_y = ys + flow[..., 1]
    src = image if image.dtype in (np.uint8, np.float32) else image.astype(np.float32)
    out = cv2.remap(np.ascontiguousarray(src), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if out.ndim < image.ndim:  # OpenCV drops a trailing channel axis of size 1
        out = out[..., None]
    return out.astype(image.dtype, copy=False)


def consistency_mask(fwd: np.ndarray, bwd: np.ndarray, *, alpha: float = 0.01, beta: float = 0.5,
                     motion_boundaries: bool = True) -> np.ndarray:
    """Forward-backward consistency check (Sundaram et al. 2010, as in Ruder et al. 2016).

    ``fwd`` is the flow from frame A to frame B and ``bwd`` the flow from B to A (in the
    convention of :func:`optical_flow`). A pixel p of A is consistent when following the
    flow to B and back returns to p::

        |fwd(p) + bwd~(p)|^2 < alpha (|fwd(p)|^2 + |bwd~(p)|^2) + beta,   bwd~ = warp(bwd, fwd)

    The tolerance grows with the motion (alpha) plus a constant half a pixel squared
    (beta). It fails for pixels of A that are occluded in B (their match in B belongs to
    another surface, whose backward flow points elsewhere). With ``motion_boundaries``,
    pixels on strong flow discontinuities are dropped too:
    ``|grad u|^2 + |grad v|^2 > 0.01 |fwd|^2 + 0.002``. Pixels whose match lies outside
    the frame (by more than half a pixel) are always inconsistent.

    Args:
        fwd, bwd: float32 (H, W, 2) flows A -> B and B -> A.

    Returns:
        bool (H, W), True where consistent (visible in both frames).
    """
    fwd = np.asarray(fwd, np.float32)
    bwd = np.asarray(bwd, np.float32)
    if fwd.shape != bwd.shape or fwd.ndim != 3 or fwd.shape[2] != 2:
        raise ValueError(f"flows must both have shape (H, W, 2), got {fwd.shape} and {bwd.shape}")
    h, w = fwd.shape[:2]
    bwd_w = warp(bwd, fwd)
    fwd_sq = _sq(fwd)
    mask = _sq(fwd + bwd_w) < alpha * (fwd_sq + _sq(bwd_w)) + beta
    if motion_boundaries:
        # Central differences; Sobel with ksize=1 gives twice them.
        gx = cv2.Sobel(fwd, cv2.CV_32F, 1, 0, ksize=1, scale=0.5)
        gy = cv2.Sobel(fwd, cv2.CV_32F, 0, 1, ksize=1, scale=0.5)
        mask &= _sq(gx) + _sq(gy) <= 0.01 * fwd_sq + 0.002
    xs, ys = _grid(h, w)
    tx, ty = xs + fwd[..., 0], ys + fwd[..., 1]
    mask &= (tx > -0.5) & (tx < w - 0.5) & (ty > -0.5) & (ty < h - 0.5)  # within half a pixel
    return mask


def _float(frame: np.ndarray) -> np.ndarray:
    return np.asarray(frame, np.float32) * (1.0 / 255.0)


class WarpingError:
    """Streaming warping error (Lai et al. 2018) of a stylized sequence against its input.

    Feed the input frames and the output frames one pair at a time. For each t >= 1 the
    flow t -> t-1 of the INPUT frames warps output t-1 to t; the squared difference to
    output t (RGB in [0, 1], mean over channels) is averaged over the pixels that the
    forward-backward check (:func:`consistency_mask`) marks visible in both frames. The
    value is the mean of these per-pair errors. A size change starts a new segment (that
    pair is not counted).

    Attributes:
        value: the warping error so far (float; nan before two frames of one size).
        frames: number of frames seen.
        pairs: number of frame pairs counted.
    """

    def __init__(self, *, dis_preset: str = "fast", max_side: int | None = None):
        self.dis_preset = dis_preset
        self.max_side = max_side
        self.frames = 0
        self.pairs = 0
        self._sum = 0.0
        self._prev: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def value(self) -> float:
        return self._sum / self.pairs if self.pairs else float("nan")

    def update(self, input_frame: np.ndarray, output_frame: np.ndarray) -> float:
        """Add frame t (input and output, uint8 RGB of one size); returns this pair's error (nan for none)."""
        inp, out = np.asarray(input_frame), np.asarray(output_frame)
        if inp.shape[:2] != out.shape[:2]:
            raise ValueError(f"input and output frames differ in size: {inp.shape} vs {out.shape}")
        self.frames += 1
        prev, self._prev = self._prev, (inp.copy(), out.copy())
        if prev is None or prev[0].shape != inp.shape:
            return float("nan")
        kw = {"dis_preset": self.dis_preset, "max_side": self.max_side}
        fwd = optical_flow(inp, prev[0], **kw)
        bwd = optical_flow(prev[0], inp, **kw)
        mask = consistency_mask(fwd, bwd)
        n = int(mask.sum())
        if n == 0:
            return float("nan")  # nothing visible in both frames (a cut): not counted
        diff = _float(warp(prev[1], fwd)) - _float(out)
        err = float(np.mean(cv2.mean(diff * diff, mask=mask.view(np.uint8))[:3]))
        self._sum += err
        self.pairs += 1
        return err


def warping_error(inputs: Iterable[np.ndarray], outputs: Iterable[np.ndarray], **kwargs) -> float:
    """Warping error (Lai et al. 2018) of ``outputs`` against ``inputs``; see :class:`WarpingError`.

    Args:
        inputs, outputs: equal-length sequences of uint8 RGB (H, W, 3) frames.
        kwargs: ``dis_preset`` / ``max_side`` for the flow.

    Returns:
        Mean over t >= 1 of the masked mean squared difference between output t and output
        t-1 warped to t, RGB in [0, 1]; nan for fewer than two frames. 0 for a static clip.
    """
    inputs, outputs = list(inputs), list(outputs)
    if len(inputs) != len(outputs):
        raise ValueError(f"sequences differ in length: {len(inputs)} inputs, {len(outputs)} outputs")
    metric = WarpingError(**kwargs)
    for a, b in zip(inputs, outputs):
        metric.update(a, b)
    return metric.value


class Stabilizer:
    """Flow-guided temporal stabilization of per-frame stylized video.

    For frame t the previous *stabilized* output is warped to t along the flow of the
    input frames (t -> t-1) and blended with the current stylized frame::

        out_t = weight * warp(out_{t-1}) + (1 - weight) * stylized_t

    ``weight`` is ``strength`` where the forward-backward check says the pixel was visible
    in frame t-1 (0 where it was occluded, feathered over 3 pixels), and falls to 0 where
    the warped previous output differs strongly from the current stylized frame (a flow
    error: blending there would leave ghost trails), with a soft ramp between. It is 0 (the frame passes through
    unchanged) for the first frame, after a size change, after :meth:`reset` and on scene
    cuts (fewer than ``cut_fraction`` of the pixels are consistent). Blending recursively
    makes it an exponential moving average along motion trajectories, so flicker with a
    period of a few frames is damped while moving content stays sharp.

    Args:
        strength: blend weight of the history in [0, 1]; 0 turns stabilization off, 1 keeps
            the history wherever it agrees with the stylized frame (the most stable).
        dis_preset, max_side: flow settings, see :func:`optical_flow`. The flow is computed
            on frames downscaled to ``max_side`` (default 480): twice per frame, and at
            half size it costs about a quarter.
        agree: (low, high) mean absolute RGB difference in [0, 1] between the warped
            history and the stylized frame, averaged over blocks of the flow's pixels (about
            2x2 at 960x540): full weight below ``low``, none above ``high``. On bedroom.mp4 a
            trained style's own flicker, so measured at consistent pixels, has a 95th
            percentile of 0.16 and a 99th of 0.27; (0.15, 0.35) left a 20% higher warping
            error than (0.25, 0.5), with no visible difference in trails (the consistency mask
            already removes most flow errors).
        cut_fraction: a frame with fewer consistent pixels than this fraction is a cut.
    """

    def __init__(self, strength: float = STABILIZE_STRENGTH, *, dis_preset: str = "fast", max_side: int | None = 480,
                 agree: tuple[float, float] = (0.25, 0.5), cut_fraction: float = 0.3):
        check_fraction("stabilization strength", float(strength))
        if not 0.0 <= agree[0] < agree[1]:
            raise ValueError(f"agree must be (low, high) with 0 <= low < high, got {agree}")
        self.strength = float(strength)
        self.dis_preset = dis_preset
        self.max_side = max_side
        self.agree = (float(agree[0]), float(agree[1]))
        self.cut_fraction = float(cut_fraction)
        self.cuts = 0  # scene cuts detected so far
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next frame passes through."""
        self._size: tuple[int, int] | None = None
        self._grey: np.ndarray | None = None  # previous input, grey, downscaled to max_side
        self._out: np.ndarray | None = None  # previous output, uint8 RGB (H, W, 3)

    def __call__(self, frame: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """Stabilize stylized frame t; returns a new uint8 RGB (H, W, 3) array.

        Args:
            frame: input frame t, uint8 RGB (H, W, 3).
            stylized: its per-frame stylized result, uint8 RGB of the same size.
        """
        frame, stylized = np.asarray(frame), check_frame(stylized, "stylized frame")
        if frame.shape[:2] != stylized.shape[:2]:
            raise ValueError(f"frame {frame.shape} and stylized {stylized.shape} must be (H, W, 3) of one size")
        if self.strength == 0.0:
            return stylized.copy()
        grey = _downscale(_grey(frame), self.max_side)
        if self._grey is None or self._size != frame.shape[:2]:
            return self._restart(frame, grey, stylized)
        h, w = frame.shape[:2]
        # Flows between the downscaled grey inputs, t -> t-1 and t-1 -> t.
        dis = _dis(self.dis_preset)
        fwd = dis.calc(grey, self._grey, None)
        bwd = dis.calc(self._grey, grey, None)
        mask = consistency_mask(fwd, bwd)
        if mask.mean() < self.cut_fraction:
            self.cuts += 1
            return self._restart(frame, grey, stylized)
        history = warp(self._out, _upscale_flow(fwd, h, w))
        # Disagreement of the warped history with the current result, at the flow's size:
        # INTER_AREA averages it locally, so that the pixel-level flicker we want to remove
        # does not count, while a wrong flow (a whole region that differs) does.
        sh, sw = grey.shape
        diff = cv2.resize(cv2.absdiff(history, stylized), (sw, sh), interpolation=cv2.INTER_AREA)
        diff = diff.astype(np.float32).mean(axis=2) * (1.0 / 255.0)
        low, high = self.agree
        agree = np.clip((high - diff) / (high - low), 0.0, 1.0)
        # Feather the occlusion mask so that occlusion edges do not show as seams.
        visible = np.where(mask, cv2.blur(mask.astype(np.float32), (3, 3)), 0.0)
        weight = (self.strength * agree * visible).astype(np.float32)
        if (sh, sw) != (h, w):
            weight = cv2.resize(weight, (w, h), interpolation=cv2.INTER_LINEAR)
        out = cv2.blendLinear(history, np.ascontiguousarray(stylized), weight, 1.0 - weight)
        self._grey, self._out = grey, out
        return out.copy()

    def _restart(self, frame: np.ndarray, grey: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """Pass ``stylized`` through and make it the new history."""
        self._size = frame.shape[:2]
        self._grey = grey
        self._out = stylized.copy()
        return stylized.copy()
