"""Live stylization of a camera, a stream URL or a video file (torch-free).

    >>> from fastnst.config import WebcamOptions
    >>> stats = run_webcam(["wave", "starry_night"], WebcamOptions(camera=0))
    >>> stats = run_webcam(["wave"], WebcamOptions(source="clip.mp4", headless=True, frames=100,
    ...                                            record="live.mp4"))

Three threads: a capture thread reads frames as they come (a file source is paced at its
own frame rate, like a camera) into a one-slot mailbox, so a new frame replaces one not
yet taken; the inference thread always takes the newest frame, stylizes and stabilizes it
(a :class:`fastnst.stream.FrameStylizer`, which also decides when the stabilizer's history
is reset) and records it; the main thread shows the result in an OpenCV window with an
fps/latency overlay and handles the keys (or, with ``headless``, just waits). Stale frames
are dropped, never queued, so the latency stays about one capture interval plus one
inference. Frames are uint8 RGB (H, W, 3); BGR only at the OpenCV window.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from .config import STABILIZE_STRENGTH, STROKE_SIDES, WebcamOptions, stroke_side, stroke_size
from .errors import UserError
from .files import atomic_output

# Lazy imports: what a run needs (OpenCV, onnxruntime, and the modules that load them) is imported
# inside the functions that use it, because the CLI imports this module on every command (KEYS).

__all__ = ["KEYS", "WebcamStats", "run_webcam"]


class _Key(NamedTuple):
    keys: str  # as shown, "/" between alternatives
    action: str  # what they do, for ``fastnst webcam --help``
    hint: str  # their word on the window's hint line


_KEY_TABLE = (
    _Key("n / p", "next / previous style", "style"),
    _Key("s", "stabilization on / off", "stab"),
    _Key("c", "colour preservation on / off", "colour"),
    _Key("+ / -", "strength up / down by 0.1", "strength"),
    _Key("] / [", "stroke size up / down: the frame stylized smaller / larger (the web app's stroke size)", "stroke"),
    _Key("space", "save a snapshot (PNG) of the stylized frame", "snap"),
    _Key("q / Esc", "quit", "quit"),
)
KEYS = tuple((k.keys, k.action) for k in _KEY_TABLE)  # (keys, action) pairs, as --help lists them
_HINT = "  ".join(f"{k.keys.replace(' / ', '/')} {k.hint}" for k in _KEY_TABLE)  # the window's last line
_WINDOW = "fastnst webcam"


@dataclass
class WebcamStats:
    """What a session did: stylized ``frames`` in ``seconds`` (``fps``), the mean and max
    capture-to-result ``latency_ms``, the ``dropped`` stale frames, the ``recorded``
    frames written to ``record`` (None: no recording) and the ``snapshots`` saved."""

    frames: int = 0
    seconds: float = 0.0
    fps: float = 0.0
    latency_ms: float = float("nan")
    max_latency_ms: float = float("nan")
    dropped: int = 0
    recorded: int = 0
    record: str | None = None
    snapshots: list[str] = field(default_factory=list)


class _Controls:
    """What the keys change; read by the inference thread at each frame."""

    def __init__(self, styles: list[str], options: WebcamOptions):
        self.styles = styles
        self.index = 0
        self.strength = float(options.strength)
        self.preserve_color = bool(options.preserve_color)
        self.stabilize_strength = options.stabilize or STABILIZE_STRENGTH  # what the s key switches on
        self.stabilize = bool(options.stabilize)
        self.max_side = options.max_side  # the working side; the ] / [ keys step it through STROKE_SIDES
        self.quit = threading.Event()

    @property
    def style_settings(self) -> dict:
        """The settings of :meth:`fastnst.stream.FrameStylizer.update` the keys change (but the style)."""
        return {"strength": self.strength, "preserve_color": self.preserve_color, "max_side": self.max_side,
                "stabilize": self.stabilize_strength if self.stabilize else None}

    @property
    def stroke(self) -> int:
        """The stroke size (1 .. len(STROKE_SIDES)) nearest the working side."""
        return stroke_size(self.max_side)

    def key(self, code: int) -> str | None:
        """Apply one key press (``cv2.waitKey`` code); returns "snapshot" for the space key."""
        if code < 0:
            return None
        ch = chr(code & 0xFF).lower()
        if ch in ("q", "\x1b"):
            self.quit.set()
        elif ch == "n":
            self.index = (self.index + 1) % len(self.styles)
        elif ch == "p":
            self.index = (self.index - 1) % len(self.styles)
        elif ch == "s":
            self.stabilize = not self.stabilize
        elif ch == "c":
            self.preserve_color = not self.preserve_color
        elif ch in ("+", "="):
            self.strength = round(min(1.0, self.strength + 0.1), 2)
        elif ch in ("-", "_"):
            self.strength = round(max(0.0, self.strength - 0.1), 2)
        elif ch in ("]", "["):
            step = 1 if ch == "]" else -1
            self.max_side = stroke_side(min(len(STROKE_SIDES), max(1, self.stroke + step)))
        elif ch == " ":
            return "snapshot"
        return None


def _check_display() -> None:
    """UserError when there is no screen for a window (Qt would abort the process)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError("no display found (DISPLAY is not set): use --headless")


def _overlay(bgr, lines: list[str]):
    """Draw text lines (white on a dark band) at the top left of a BGR frame, in place."""
    import cv2  # lazily, see the top

    scale = max(0.35, min(0.8, bgr.shape[1] / 1280))
    (_, h), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    step = h + base + 6
    for i, text in enumerate(lines):
        y = 4 + step * i + h + 3  # baseline of line i
        (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        cv2.rectangle(bgr, (2, y - h - 3), (10 + w, y + base + 2), (0, 0, 0), -1)
        cv2.putText(bgr, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return bgr


def run_webcam(styles, options: WebcamOptions | None = None, out=sys.stdout, painting=None) -> WebcamStats:
    """Stylize a live source until quit, ``options.frames`` frames or the end of a file source.

    ``styles``: one or more style names or .onnx paths (the n/p keys cycle through them;
    each is loaded when first shown). ``out``: where snapshot messages go. Returns
    :class:`WebcamStats`. Raises UserError for a source that cannot be opened, a bad
    style or setting (:meth:`fastnst.config.WebcamOptions.validate`), or no display without
    ``headless``. ``options`` None: the defaults (camera 0). ``painting``: the
    :class:`fastnst.config.PaintingOptions` of a painting given as a style (None: the defaults). A recording
    is written atomically and kept
    when the session ends normally (q/Esc, Ctrl-C, SIGTERM in the CLI, ``frames``, the end
    of a file source); it is discarded on an error.
    """
    options = WebcamOptions() if options is None else options
    styles = [os.fspath(s) for s in (styles if isinstance(styles, (list, tuple)) else [styles])]
    if not styles:
        raise UserError("give at least one style")
    from .styles import Catalog  # lazily, see the top

    catalog = Catalog(styles)  # an unknown style fails now, not when its key is pressed
    options.validate()
    if options.record:
        from .video import check_video_output  # lazily, see the top

        check_video_output(options.record, options.source or "")
    if not options.headless:
        _check_display()
    return _WebcamRun(catalog, options, out, painting).run()


class _WebcamRun:
    """One webcam run: the capture and inference threads and what they share."""

    def __init__(self, catalog, options: WebcamOptions, out, painting=None):
        from .stream import FrameStylizer, LatestFrame  # lazily, see the top

        self.options, self.catalog, self.styles, self.out = options, catalog, catalog.names, out
        self.painting = painting  # PaintingOptions of a painting given as a style
        self.source = options.source if options.source is not None else int(options.camera)
        self.loaded = {0: self._load(0, options.device)}  # a bad first style fails early
        self.device = self.loaded[0].device  # the device the first style runs on
        self.controls = _Controls(self.styles, options)
        # Used by the inference thread only (the window reads its timing).
        self.live = FrameStylizer(self.loaded[0], **self.controls.style_settings)
        self.frames, self.results = LatestFrame(), LatestFrame()
        self.stop = threading.Event()
        self.opened = threading.Event()
        self.fps = 30.0
        self.errors: list[BaseException] = []
        self.stats = WebcamStats(record=options.record)
        self.record_temp: str | None = None  # the recording's temp file, while it is written
        self.writer = None

    # ------------------------------------------------------------------ threads

    def _load(self, index: int, device: str):
        """The Stylizer of style ``index``: what :func:`fastnst.styles.choose` picks for live frames on ``device``
        (``--device``; "auto" per file, as the CLI and the web app do)."""
        from .runtime import load_style  # lazily, see the top

        return load_style(self.catalog.styles[self.styles[index]], "stream", device=device, painting=self.painting)

    def _capture(self) -> None:
        """Read frames into ``self.frames`` as (rgb, capture_time, index) until the end or ``stop``."""
        import cv2  # lazily, see the top

        from .video import capture_fps, open_capture

        try:
            cap = open_capture(self.source)
        except BaseException as e:
            self.errors.append(e)
            self.opened.set()
            self.frames.close()
            return
        try:
            self.fps = capture_fps(cap)
            self.opened.set()
            pace = isinstance(self.source, str) and os.path.isfile(self.source)  # a file plays like a camera
            t0 = time.perf_counter()
            index = failures = 0
            while not self.stop.is_set():
                if pace:
                    delay = t0 + index / self.fps - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    failures += 1
                    if pace or failures > 50:  # the end of the file, or a camera that stopped
                        break
                    time.sleep(0.02)
                    continue
                failures = 0
                rgb = cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB if bgr.ndim == 2 else cv2.COLOR_BGR2RGB)
                self.frames.put((rgb, time.perf_counter(), index))
                index += 1
        finally:
            cap.release()
            self.frames.close()

    def _infer(self) -> None:
        """Stylize the newest frame, again and again; results go to ``self.results``."""
        try:
            self._infer_loop()
        except BaseException as e:
            self.errors.append(e)
        finally:
            self.results.close()

    def _infer_loop(self) -> None:
        from .video import VideoWriter  # lazily, see the top

        controls, stats, live = self.controls, self.stats, self.live
        first_index, written = None, 0
        while not self.stop.is_set():
            item = self.frames.get(timeout=0.1)
            if item is None:
                if self.frames.closed:
                    return
                continue
            rgb, captured, index = item
            style = controls.index
            if style not in self.loaded:
                self.loaded[style] = self._load(style, self.options.device)
            live.update(stylizer=self.loaded[style], **controls.style_settings)
            result = live(rgb, started=captured)
            latency = time.perf_counter() - captured
            if self.record_temp is not None:
                if self.writer is None:  # the recording has the first frame's size
                    self.writer = VideoWriter(self.record_temp, (rgb.shape[1], rgb.shape[0]), self.fps)
                # Keep the recording in real time: this frame also stands in for the stale ones dropped before it.
                first_index = index if first_index is None else first_index
                for _ in range(index - first_index + 1 - written):
                    self.writer.write(result)
                    written += 1
                stats.recorded = written
            self.results.put((result, latency, style))
            if self.options.frames is not None and live.frames >= self.options.frames:
                return

    # ------------------------------------------------------------------ main thread

    def run(self) -> WebcamStats:
        capturer = threading.Thread(target=self._capture, name="fastnst-capture", daemon=True)
        worker = threading.Thread(target=self._infer, name="fastnst-infer", daemon=True)
        capturer.start()
        self.opened.wait()
        began = time.perf_counter()
        try:
            if self.errors:
                raise self.errors[0]
            with atomic_output(self.options.record) if self.options.record else contextlib.nullcontext() as temp:
                self.record_temp = temp
                began = time.perf_counter()
                worker.start()
                try:
                    if self.options.headless:
                        while worker.is_alive():
                            worker.join(timeout=0.2)  # wakes up for Ctrl-C
                    else:
                        self._window_loop(worker)
                except (KeyboardInterrupt, SystemExit):
                    pass  # Ctrl-C (or SIGTERM in the CLI) ends a session normally: the recording is kept
                finally:
                    self.stop.set()
                    if worker.is_alive():
                        worker.join()
                if self.errors:
                    raise self.errors[0]
                if temp is not None:
                    if self.writer is None:
                        raise UserError(f"nothing to record: no frames came from {self._name()}")
                    self.writer.close()
        except BaseException:
            if self.writer is not None:
                self.writer.abort()
            raise
        finally:
            self.stop.set()
            self.frames.close()
            capturer.join(timeout=5)
            if not self.options.headless:
                import cv2  # lazily, see the top

                with contextlib.suppress(cv2.error):
                    cv2.destroyAllWindows()
        stats, timing = self.stats, self.live.timing
        stats.frames = timing.frames
        stats.seconds = time.perf_counter() - began
        stats.fps = stats.frames / stats.seconds if stats.seconds > 0 else 0.0
        stats.dropped = self.frames.dropped
        stats.latency_ms, stats.max_latency_ms = timing.mean_latency_ms, timing.max_latency_ms
        return stats

    def _name(self) -> str:
        return f"camera {self.source}" if isinstance(self.source, int) else f"'{self.source}'"

    def _window_loop(self, worker: threading.Thread) -> None:
        """Show results with the overlay and handle keys until quit or the worker ends."""
        import cv2  # lazily, see the top

        from .image import save_image  # lazily, see the top

        controls, styles = self.controls, self.styles
        cv2.namedWindow(_WINDOW, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        shown = None
        while worker.is_alive() and not controls.quit.is_set():
            item = self.results.get(timeout=0.01)
            if item is not None:
                shown, latency, index = item
                name, fps = self.loaded[index].style, self.live.timing.fps
                bgr = cv2.cvtColor(shown, cv2.COLOR_RGB2BGR)
                _overlay(bgr, [f"{fps:4.1f} fps  {1000 * latency:4.0f} ms  {name} ({index + 1}/{len(styles)})",
                               f"strength {controls.strength:.1f}  stabilize {'on' if controls.stabilize else 'off'}"
                               f"  colour {'kept' if controls.preserve_color else 'styled'}  stroke {controls.stroke}"
                               f" ({controls.max_side or 'full'} px)",
                               _HINT])
                cv2.imshow(_WINDOW, bgr)
            if controls.key(cv2.waitKey(1)) == "snapshot" and shown is not None:
                stamp = time.strftime("%Y%m%d-%H%M%S")
                path = os.path.join(self.options.snapshot_dir, f"fastnst_{stamp}_{len(self.stats.snapshots)}.png")
                save_image(path, shown)
                self.stats.snapshots.append(path)
                print(f"saved {path}", file=self.out)
            with contextlib.suppress(cv2.error):
                if cv2.getWindowProperty(_WINDOW, cv2.WND_PROP_VISIBLE) < 1:  # closed with the mouse
                    controls.quit.set()
