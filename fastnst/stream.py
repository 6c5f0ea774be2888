"""One live-frame pipeline: stylize, then stabilize, under settings that change while frames flow (torch-free).

This module owns what happens to one frame of a stream and when the stabilizer's history
must be forgotten. The webcam loop (:mod:`fastnst.webcam`), the web app's webcam handler
(:mod:`fastnst.webapp`) and the stages of the video converter (:mod:`fastnst.video`) all run
their frames through a :class:`FrameStylizer`; :class:`FrameTiming` is the frame rate and
latency that the live front ends show; :class:`LatestFrame` is the one-slot mailbox through
which the live front ends (the webcam loop, WebRTC) hand the newest frame to the thread that
stylizes it, so stale frames are dropped, never queued.

    >>> from fastnst.runtime import Stylizer
    >>> live = FrameStylizer(Stylizer("wave"), stabilize=0.5)
    >>> out = live(frame)                      # stylized, then stabilized
    >>> live.update(preserve_color=True)       # forgets the stabilizer's history
    >>> live.update(strength=0.8)              # keeps it
    >>> live.update(blend="wave:0.7,mondrian:0.3")   # a multi-style network's mix: keeps it too
    >>> live.timing.fps, live.timing.latency_ms

Frames are uint8 RGB arrays of shape (H, W, 3), in and out.
"""

from __future__ import annotations

import threading
import time
from types import EllipsisType
from typing import TYPE_CHECKING, Any

import numpy as np

from .flow import Stabilizer

if TYPE_CHECKING:
    from .runtime import Stylizer

__all__ = ["FrameStylizer", "FrameTiming", "LatestFrame"]


class LatestFrame:
    """A one-slot mailbox between two threads: the newest item wins.

    ``put(item)`` replaces an item not yet taken (counted in ``dropped``); ``get()``
    waits for an item newer than the last one taken and returns it, or None once
    :meth:`close` was called and nothing new is left (or after ``timeout`` seconds).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item = None
        self._fresh = False
        self.closed = False
        self.dropped = 0

    def put(self, item: Any) -> None:
        with self._cond:
            if self._fresh:
                self.dropped += 1
            self._item, self._fresh = item, True
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Any:
        with self._cond:
            if not self._cond.wait_for(lambda: self._fresh or self.closed, timeout):
                return None
            if not self._fresh:
                return None
            self._fresh = False
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class FrameTiming:
    """Frame rate and latency of a stream: over the last ``window`` seconds, and overall.

    :meth:`tick` records one finished frame with the ``time.perf_counter()`` at which its
    work started (its capture, or the request's arrival). ``fps`` counts the frames over
    the window, ``latency_ms`` averages their latency; a gap longer than the window starts
    a new window (a new recording). ``frames``, ``mean_latency_ms`` and ``max_latency_ms``
    cover every frame since the start.
    """

    def __init__(self, window: float = 5.0):
        self.window = float(window)
        self.frames = 0
        self._recent: list[tuple[float, float]] = []  # (finished, latency ms) within the window
        self._total_ms = 0.0
        self.max_latency_ms = float("nan")

    def tick(self, started: float) -> None:
        """Record one frame whose work began at ``started`` (perf_counter) and is done now."""
        now = time.perf_counter()
        latency = (now - started) * 1000.0
        recent = self._recent
        if recent and now - recent[-1][0] > self.window:
            recent = []
        self._recent = [t for t in recent if now - t[0] <= self.window] + [(now, latency)]
        self.frames += 1
        self._total_ms += latency
        self.max_latency_ms = latency if self.frames == 1 else max(self.max_latency_ms, latency)

    @property
    def fps(self) -> float:
        """Frames per second over the window (0 until there are two frames)."""
        recent = self._recent  # one snapshot: another thread may tick meanwhile
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1][0] - recent[0][0], 1e-6)

    @property
    def latency_ms(self) -> float:
        """Mean latency over the window, ms (0 before the first frame)."""
        recent = self._recent
        return sum(t[1] for t in recent) / len(recent) if recent else 0.0

    @property
    def mean_latency_ms(self) -> float:
        """Mean latency over every frame, ms (nan before the first frame)."""
        return self._total_ms / self.frames if self.frames else float("nan")


class FrameStylizer:
    """A :class:`fastnst.runtime.Stylizer` plus an optional :class:`fastnst.flow.Stabilizer` and live settings.

    ``stylizer``: the model. ``blend``: for a multi-style network, None (the stylizer's own style)
    or a style or blend of its styles (as ``Stylizer.set_style`` takes it), run on a copy of its
    own (``Stylizer.with_style``: the same loaded session), so a stylizer shared with other streams
    is never changed. ``strength``, ``preserve_color``, ``max_side``: as in
    ``Stylizer.stylize``. ``stabilize``: None or 0 (off), else the Stabilizer strength in
    [0, 1]. ``window``: seconds of :class:`FrameTiming`'s window (``timing``).

    ``live(frame)`` stylizes and stabilizes one frame and records its timing;
    :meth:`stylize` and :meth:`stabilize` are the two halves, for callers that run them on
    different threads (the video converter). :meth:`update` changes settings between frames.

    When the stabilizer's history is forgotten: the history is of stabilized *outputs*, so
    blending it into frames made under other settings would ghost the old look over the
    new one. It is reset (the next frame passes through unstabilized, then history builds
    up again) when any of these changes: the model (another Stylizer object), the colour
    mode (``preserve_color``), ``max_side`` (the texture's scale), and ``stabilize``
    (switched on or off, or another strength). A change of ``strength`` keeps it: the
    output is then a fade between the frame and the *same* style, the stabilizer already
    drops pixels where the history disagrees strongly with the new frame, and the rest
    converges to the new strength within a few frames; a reset there would switch
    stabilization off for as long as a strength slider is dragged. A change of ``blend``
    keeps it for the same reasons: a mix slider moves the look by small steps within one
    network, and the history follows within a few frames. (A new ``stylizer``, another style
    or file, does reset it, and then runs its own style unless the same update gives a blend.)
    """

    def __init__(self, stylizer: Stylizer, *, blend: str | dict[str, float] | None = None, strength: float = 1.0,
                 preserve_color: bool = False, max_side: int | None = None, stabilize: float | None = None,
                 window: float = 5.0) -> None:
        self.stylizer = stylizer
        self._set_blend(blend)  # self._model: what runs, the stylizer or its copy with this stream's blend
        self.strength = float(strength)
        self.preserve_color = bool(preserve_color)
        self.max_side = max_side
        self.stabilize_strength: float | None = None
        self._stabilizer: Stabilizer | None = None  # while stabilization is on
        self._set_stabilize(stabilize)
        self.timing = FrameTiming(window)

    # ------------------------------------------------------------------ settings

    @property
    def frames(self) -> int:
        """Frames run through ``live(frame)`` so far."""
        return self.timing.frames

    @property
    def stabilizing(self) -> bool:
        """Whether :meth:`stabilize` blends with the history (stabilization is on)."""
        return self._stabilizer is not None

    def update(self, *, stylizer: Stylizer | None = None, blend: str | dict[str, float] | None | EllipsisType = ...,
               strength: float | None = None, preserve_color: bool | None = None,
               max_side: int | None | EllipsisType = ..., stabilize: float | None | EllipsisType = ...) -> bool:
        """Change settings (those not given stay; ``blend``, ``max_side`` and ``stabilize`` take None).

        Returns whether the stabilizer's history was reset (see the class docstring for
        the rule).
        """
        reset = False
        if stylizer is not None and stylizer is not self.stylizer:
            self._set_blend(None if blend is ... else blend, stylizer)
            reset = True
        elif blend is not ... and blend != self.blend:
            self._set_blend(blend)  # keeps the history
        if preserve_color is not None and bool(preserve_color) != self.preserve_color:
            self.preserve_color, reset = bool(preserve_color), True
        if max_side is not ... and max_side != self.max_side:
            self.max_side, reset = max_side, True
        if strength is not None:
            self.strength = float(strength)  # keeps the history
        if stabilize is not ... and (stabilize or None) != self.stabilize_strength:
            self._set_stabilize(stabilize)  # a new Stabilizer: no history
            return True
        if reset and self._stabilizer is not None:
            self._stabilizer.reset()
        return reset

    def _set_blend(self, blend: str | dict[str, float] | None, stylizer: Stylizer | None = None) -> None:
        stylizer = self.stylizer if stylizer is None else stylizer
        model = stylizer if not blend else stylizer.with_style(blend)  # UserError for a style it lacks
        self.stylizer, self._model, self.blend = stylizer, model, blend or None

    def _set_stabilize(self, stabilize: float | None) -> None:
        if not stabilize:
            self.stabilize_strength, self._stabilizer = None, None
            return
        self._stabilizer = Stabilizer(stabilize)  # checks the strength
        self.stabilize_strength = float(stabilize)

    # ------------------------------------------------------------------ frames

    def stylize(self, frame: np.ndarray) -> np.ndarray:
        """The stylized frame: uint8 RGB (H, W, 3) in, uint8 RGB (H, W, 3) of the same size out."""
        return self._model.stylize(frame, strength=self.strength, preserve_color=self.preserve_color,
                                   max_side=self.max_side)

    def stabilize(self, frame: np.ndarray, styled: np.ndarray) -> np.ndarray:
        """``styled`` (:meth:`stylize` of ``frame``) blended with the history; as it is when off.

        Call it in frame order, one frame at a time. Both (H, W, 3) uint8 RGB.
        """
        return styled if self._stabilizer is None else self._stabilizer(frame, styled)

    def __call__(self, frame: np.ndarray, started: float | None = None) -> np.ndarray:
        """:meth:`stylize` then :meth:`stabilize` one uint8 RGB (H, W, 3) frame; records its timing.

        ``started``: the ``time.perf_counter()`` at which the frame's latency began (its
        capture, say); default: now.
        """
        started = time.perf_counter() if started is None else started
        out = self.stabilize(frame, self.stylize(frame))
        self.timing.tick(started)
        return out
