"""Video files through a Stylizer: probe, read, write, convert (torch-free).

    >>> from fastnst.config import VideoOptions
    >>> from fastnst.runtime import Stylizer
    >>> report = convert_video("in.mp4", "out.mp4", Stylizer("mosaic"), VideoOptions(stabilize=0.5))
    >>> report.frames, report.convert_fps, report.audio

Frames are uint8 RGB arrays of shape (H, W, 3) everywhere in this module; OpenCV's BGR
exists only inside :class:`VideoReader`.

- Decoding: OpenCV ``VideoCapture`` (FFmpeg backend). OpenCV 5 applies the rotation
  metadata itself (``CAP_PROP_ORIENTATION_AUTO`` is on by default), so frames arrive
  upright and the reported width/height are the upright ones; the output is written
  upright, without rotation metadata, so it displays as the input did.
- Encoding: the ffmpeg binary of the ``imageio-ffmpeg`` wheel, fed raw RGB frames on a
  pipe, H.264 (libx264, CRF). OpenCV's own VideoWriter rounds odd sizes down to even;
  here the size is kept exactly: yuv420p (plays everywhere) when width and height are
  even, yuv444p (H.264 High 4:4:4, no chroma subsampling, so any size) otherwise.
  Colours are converted with the BT.601 matrix and tagged so, as OpenCV assumes when it
  decodes.
- Audio: the input's audio streams are copied into the output by a second ffmpeg pass
  (re-encoded to AAC when the container cannot hold them as they are).
- :func:`convert_video` overlaps decoding (a thread), stylizing (the calling thread),
  stabilizing (a thread) and encoding (a thread plus the ffmpeg process) through bounded queues, and writes the
  output atomically: nothing appears at the destination until the file is complete (temp files, locks and
  the removal of a killed run's leftovers: :mod:`fastnst.files`).
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .config import VideoOptions
from .errors import UserError, warn
from .files import atomic_output, check_not_input, locked, remove_stale_temps, scratch
from .image import resize

__all__ = [
    "VIDEO_EXTENSIONS",
    "VideoReader",
    "VideoReport",
    "VideoWriter",
    "capture_fps",
    "check_video_output",
    "convert_video",
    "ffmpeg_exe",
    "open_capture",
    "probe",
    "quiet_ffmpeg_log",
]

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv")  # containers written (H.264 + original/AAC audio)
_DEFAULT_FPS = 30.0  # used when a file or stream reports no usable frame rate
_QUEUE = 8  # frames buffered between the decode, stylize and encode stages


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped by the ``imageio-ffmpeg`` wheel."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise UserError("video needs the imageio-ffmpeg package: pip install imageio-ffmpeg") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


# --------------------------------------------------------------------------- reading


def quiet_ffmpeg_log() -> None:
    """Silence the FFmpeg library's own messages (e.g. "moov atom not found") in this process.

    For programs, not libraries: it sets the environment variable OPENCV_FFMPEG_LOGLEVEL
    (unless it is set), which OpenCV reads once, when it first uses FFmpeg; so call it at
    the start, before any video is opened. The CLI's video commands and the web app do.
    """
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


def open_capture(source):
    """An opened ``cv2.VideoCapture`` for a file path, a stream URL or a camera index (int).

    Raises UserError (one line, saying why) when it cannot be opened. OpenCV's own log
    messages about the failure are silenced (FFmpeg's: see :func:`quiet_ffmpeg_log`).
    """
    import cv2

    if isinstance(source, int):
        with _quiet_opencv():
            cap = cv2.VideoCapture(source)
        what = f"camera {source}"
    else:
        name = os.fspath(source)
        what = f"video '{name}'"
        if "://" not in name:
            if not os.path.exists(name):
                raise UserError(f"cannot read {what}: no such file")
            if os.path.isdir(name):
                raise UserError(f"cannot read {what}: is a directory")
            if os.path.getsize(name) == 0:
                raise UserError(f"cannot read {what}: file is empty")
        with _quiet_opencv():
            cap = cv2.VideoCapture(name, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        reason = "cannot be opened" if isinstance(source, int) else _why_unreadable(name)
        raise UserError(f"cannot read {what}: {reason}")
    return cap


@contextlib.contextmanager
def _quiet_opencv():
    """Silence OpenCV's own log messages (printed on a failed open) while the block runs."""
    import cv2

    logging = cv2.utils.logging
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(level)


def _streams(path: str) -> str | None:
    """ffmpeg's description of the file (its stderr for ``ffmpeg -i``), or None if ffmpeg can't run."""
    try:
        r = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path],
                           capture_output=True, text=True, errors="replace", timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stderr


def _why_unreadable(path: str) -> str:
    """Why OpenCV could not open a file, in a few words, asking ffmpeg what the file holds."""
    text = _streams(path) or ""
    if re.search(r"^\s*Stream #\d+:\d+.*?: Video:", text, re.MULTILINE):
        return "no video frames that can be decoded"
    if re.search(r"^Input #0", text, re.MULTILINE):
        return "no video stream"
    return "not a video file (or a format FFmpeg cannot read)"


def capture_fps(cap) -> float:
    """The frame rate a ``cv2.VideoCapture`` reports, or 30 when it reports none usable."""
    import cv2

    fps = cap.get(cv2.CAP_PROP_FPS)
    return float(fps) if math.isfinite(fps) and 0 < fps <= 1000 else _DEFAULT_FPS


class VideoReader:
    """Decoded frames of a video file, URL or camera as new uint8 RGB (H, W, 3) arrays, upright.

    ``start`` (s) and ``duration`` (s, None: to the end) select frames
    ``round(start * fps)`` up to ``round((start + duration) * fps)`` (exclusive), by a
    frame-accurate seek. Attributes: ``fps`` (the clip's; 30 when it reports none),
    ``frames`` (frames in the whole clip as the container reports it; 0 if unknown),
    ``first`` (index of the first frame read), ``count`` (frames to read: a reported
    estimate, or None when unknown), ``size`` (width, height of the first frame) and
    ``rotation`` (the rotation metadata in degrees; already applied to the frames).
    Iterating yields the frames; a size change mid-stream is resized to ``size``.
    Raises UserError for a missing, unreadable or frameless input and a start past the end.
    """

    def __init__(self, source, start: float = 0.0, duration: float | None = None):
        import cv2

        self.source = source
        if start < 0 or (duration is not None and duration <= 0):
            raise UserError(f"start must be >= 0 and duration > 0, got start={start}, duration={duration}")
        self._cap = open_capture(source)
        cap = self._cap
        self.fps = capture_fps(cap)
        self.frames = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        rotation = cap.get(cv2.CAP_PROP_ORIENTATION_META)
        self.rotation = int(rotation) % 360 if math.isfinite(rotation) and rotation > 0 else 0
        self.first = round(start * self.fps)
        if self.first and self.frames and self.first >= self.frames:
            self.close()
            raise UserError(f"start {start:g} s is past the end of '{source}' "
                            f"({self.frames} frames, {self.frames / self.fps:.2f} s)")
        if self.first:
            self._seek(self.first)
        last = None if duration is None else round((start + duration) * self.fps)
        if last is not None and self.frames:
            last = min(last, self.frames)
        elif last is None and self.frames:
            last = self.frames
        self.count = None if last is None else max(last - self.first, 0)
        self._next = self._read()
        if self._next is None:
            self.close()
            where = f" from {start:g} s" if self.first else ""
            raise UserError(f"cannot read video '{source}': no video frames{where}")
        self.size = (self._next.shape[1], self._next.shape[0])
        self._limit = None if duration is None else max(last - self.first, 1)

    def _seek(self, index: int) -> None:
        import cv2

        cap = self._cap
        if cap.set(cv2.CAP_PROP_POS_FRAMES, index) and round(cap.get(cv2.CAP_PROP_POS_FRAMES)) == index:
            return
        cap.release()  # no usable seek: decode from the start and drop frames
        self._cap = cap = open_capture(self.source)
        for _ in range(index):
            if not cap.grab():
                break

    def _read(self) -> np.ndarray | None:
        import cv2

        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            return None
        if bgr.ndim == 2:
            return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
        return cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB if bgr.shape[2] == 4 else cv2.COLOR_BGR2RGB)

    def __iter__(self) -> Iterator[np.ndarray]:
        done = 0
        while self._next is not None and (self._limit is None or done < self._limit):
            frame, self._next = self._next, None
            if (frame.shape[1], frame.shape[0]) != self.size:
                frame = resize(frame, self.size)
            yield frame
            done += 1
            if self._limit is None or done < self._limit:
                self._next = self._read()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _has_audio(path: str) -> bool:
    """Whether ffmpeg sees at least one audio stream in the file."""
    text = _streams(os.fspath(path))
    return text is not None and re.search(r"^\s*Stream #\d+:\d+.*?: Audio:", text, re.MULTILINE) is not None


def probe(path) -> dict:
    """Describe a video file without converting it.

    Returns ``{"frames", "fps", "width", "height", "rotation", "has_audio", "duration"}``:
    frames as the container reports them (0 if unknown), fps (30 if none is reported),
    the upright frame size in pixels, the rotation metadata in degrees (already applied
    by the decoder), whether there is an audio stream, and frames / fps in seconds.
    Raises UserError for a missing, unreadable or frameless file.
    """
    with VideoReader(path) as reader:
        width, height = reader.size
        info = {"frames": reader.frames, "fps": reader.fps, "width": width, "height": height,
                "rotation": reader.rotation}
    info["has_audio"] = _has_audio(os.fspath(path))
    info["duration"] = info["frames"] / info["fps"]
    return info


# --------------------------------------------------------------------------- writing


def _rate(fps: float) -> str:
    """A frame rate as ffmpeg's exact rational, e.g. 29.97002997 -> '30000/1001'."""
    from fractions import Fraction

    return str(Fraction(fps).limit_denominator(1001))


class VideoWriter:
    """Encode uint8 RGB (H, W, 3) frames of one size into an H.264 file, size kept exactly.

    ``path``: the file to write (its extension picks the container; mp4/mov get
    ``+faststart``); ``size``: (width, height); ``fps``: constant frame rate. Frames of
    another size are resized to ``size``. ``crf``: x264 quality (lower: better, bigger;
    18 is visually near-lossless); ``x264_preset``: x264 speed preset; ``threads``: x264
    threads (0: x264's choice, about 1.5 per core). yuv420p for even
    sizes, yuv444p for odd ones (see the module docstring). ``close()`` finishes the
    file (UserError if ffmpeg failed); ``abort()`` kills the encoder, leaving a partial
    file for the caller to delete. Use as a context manager: an exception aborts.
    """

    def __init__(self, path, size: tuple[int, int], fps: float, *, crf: int = VideoOptions.crf,
                 x264_preset: str = VideoOptions.x264_preset, threads: int = VideoOptions.encode_threads):
        self.path = os.fspath(path)
        self.size = (int(size[0]), int(size[1]))
        self.fps = float(fps)
        self.frames = 0
        width, height = self.size
        if width < 1 or height < 1:
            raise ValueError(f"VideoWriter needs a positive size, got {size}")
        pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", _rate(self.fps),
               "-i", "pipe:0", "-an",
               "-vf", "scale=out_color_matrix=bt601:out_range=tv", "-c:v", "libx264",
               "-preset", x264_preset, "-crf", str(int(crf)), "-pix_fmt", pix_fmt,
               "-threads", str(int(threads)),
               "-colorspace", "smpte170m", "-color_range", "tv"]
        if os.path.splitext(self.path)[1].lower() in (".mp4", ".m4v", ".mov"):
            cmd += ["-movflags", "+faststart"]
        self._log = tempfile.TemporaryFile()
        # Its own session: a Ctrl-C in the terminal reaches only us, and we stop ffmpeg.
        self._proc = subprocess.Popen(cmd + [self.path], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=self._log, start_new_session=os.name == "posix")

    def _error(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"ffmpeg exited with status {self._proc.returncode}"

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 RGB (H, W, 3) frame (not modified)."""
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"VideoWriter.write expects uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = resize(frame, self.size)
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).data)
        except (BrokenPipeError, OSError):
            self._proc.wait()
            raise UserError(f"cannot write video '{self.path}': {self._error()}") from None
        self.frames += 1

    def close(self) -> None:
        """Flush and finish the file; UserError if ffmpeg failed."""
        if self._proc.stdin and not self._proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError, OSError):
                self._proc.stdin.close()
        if self._proc.wait() != 0:
            raise UserError(f"cannot write video '{self.path}': {self._error()}")
        self._log.close()

    def abort(self) -> None:
        """Stop the encoder now (the file it leaves is incomplete)."""
        if self._proc.poll() is None:
            self._proc.kill()
        with contextlib.suppress(BrokenPipeError, OSError):
            self._proc.stdin.close()
        self._proc.wait()
        self._log.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def _mux_audio(video: str, src: str, out: str, start: float, seconds: float) -> bool:
    """Write ``out``: the video stream of ``video`` plus the audio of ``src`` from ``start`` for ``seconds``.

    Audio is copied as it is when the span starts at 0, or re-encoded to AAC when copying
    fails or the span starts later (a copy would start at the packet before ``start``
    and shift the streams against each other). False (with a warning) when neither works.
    """
    base = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", video,
            "-ss", f"{start:.6f}", "-t", f"{seconds:.6f}", "-i", src,
            "-map", "0:v:0", "-map", "1:a?", "-c:v", "copy"]
    if os.path.splitext(out)[1].lower() in (".mp4", ".m4v", ".mov"):
        base += ["-movflags", "+faststart"]
    error = ""
    codecs = [["-c:a", "aac", "-b:a", "192k"]]
    if start == 0:
        codecs.insert(0, ["-c:a", "copy"])
    for audio in codecs:
        r = subprocess.run(base + audio + [out], capture_output=True, text=True, errors="replace")
        if r.returncode == 0:
            return True
        error = (r.stderr.strip().splitlines() or [f"status {r.returncode}"])[-1]
    warn(f"could not keep the audio of '{src}' ({error}); writing the video without it")
    return False


# --------------------------------------------------------------------------- converting


@dataclass
class VideoReport:
    """What :func:`convert_video` did. ``size`` is (width, height); ``seconds`` wall time;
    ``convert_fps`` frames per second end to end (decode, stylize, encode, mux);
    ``stylize_fps`` frames per second of the Stylizer calls alone; ``warping_error``
    the result's warping error (None unless ``report``; nan for a single frame);
    ``audio`` whether the output has the input's audio."""

    output: str
    frames: int
    fps: float
    size: tuple[int, int]
    seconds: float
    convert_fps: float
    stylize_fps: float
    warping_error: float | None
    audio: bool


_END = object()  # end-of-stream marker in the queues


class _Stage(threading.Thread):
    """A daemon thread that records the exception it dies of and then sets ``stop``."""

    def __init__(self, target, name: str, stop: threading.Event):
        super().__init__(target=self._guard, args=(target,), name=name, daemon=True)
        self.error: BaseException | None = None
        self.stop = stop

    def _guard(self, target) -> None:
        try:
            target()
        except BaseException as e:  # re-raised in the calling thread
            self.error = e
            self.stop.set()


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put ``item``, waiting while the queue is full; False if ``stop`` was set meanwhile."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, stop: threading.Event):
    """The next item, waiting while the queue is empty; _END if ``stop`` was set meanwhile."""
    while not stop.is_set():
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue
    return _END


def check_video_output(dst: str, src: str) -> None:
    """UserError unless ``dst`` is a writable video path (supported extension, not a folder, not ``src``)."""
    ext = os.path.splitext(dst)[1].lower()
    if ext not in VIDEO_EXTENSIONS:
        shown = f"'{ext}'" if ext else "none"
        raise UserError(f"cannot write video '{dst}': unsupported extension {shown} "
                        f"(supported: {', '.join(VIDEO_EXTENSIONS)})")
    if os.path.isdir(dst):
        raise UserError(f"cannot write video '{dst}': is a directory")
    check_not_input(dst, [src])


def convert_video(src, dst, stylizer, options: VideoOptions | None = None,
                  progress: Callable[[int, int], None] | None = None, quiet: bool = False) -> VideoReport:
    """Stylize the video file ``src`` into ``dst`` (mp4, m4v, mov or mkv) with ``stylizer``.

    ``stylizer``: a :class:`fastnst.runtime.Stylizer`; ``options``: a
    :class:`fastnst.config.VideoOptions` (None: the defaults). Frame rate, frame count, frame size
    (odd too) and display orientation are kept; the audio of the converted span is kept.
    ``progress(done, total)`` is called after each frame (total: an estimate, 0 if
    unknown); ``quiet=False`` also shows a tqdm bar on stderr. ``dst`` appears only when
    complete; on an error or interrupt nothing is left behind (temp files of a run
    killed outright are removed by the next run to the same ``dst``). Raises UserError
    for an unreadable or frameless input, a bad ``dst`` or ``dst`` == ``src``, and bad
    options (:meth:`fastnst.config.VideoOptions.validate`).
    """
    options = VideoOptions() if options is None else options
    options.validate()
    src, dst = os.fspath(src), os.fspath(dst)
    check_video_output(dst, src)
    began = time.perf_counter()
    reader = VideoReader(src, options.start, options.duration)
    try:
        has_audio = _has_audio(src)
        remove_stale_temps(dst)
        ext = os.path.splitext(dst)[1]
        with atomic_output(dst) as final, locked(final):
            if has_audio:
                with scratch(dst, "-video" + ext) as video_only:
                    stats = _pipeline(reader, video_only, stylizer, options, progress, quiet)
                    seconds = stats["frames"] / reader.fps
                    audio = _mux_audio(video_only, src, final, reader.first / reader.fps, seconds)
                    if not audio:
                        os.replace(video_only, final)
            else:
                stats = _pipeline(reader, final, stylizer, options, progress, quiet)
                audio = False
    finally:
        reader.close()
    wall = time.perf_counter() - began
    frames = stats["frames"]
    return VideoReport(output=dst, frames=frames, fps=reader.fps, size=reader.size, seconds=wall,
                       convert_fps=frames / wall if wall > 0 else float("nan"),
                       stylize_fps=frames / stats["stylize_s"] if stats["stylize_s"] > 0 else float("nan"),
                       warping_error=stats["warping_error"], audio=audio)


def _pipeline(reader: VideoReader, path: str, stylizer, options: VideoOptions, progress, quiet: bool) -> dict:
    """Decode (thread) -> stylize (this thread) -> stabilize (thread) -> encode (thread) into ``path``.

    The stages overlap through bounded queues: on a GPU the CPU-side decoding, optical flow
    and encoding run while the network does; on a CPU they share its cores. Stylizing and
    stabilizing are the two halves of one :class:`fastnst.stream.FrameStylizer`.
    """
    from tqdm import tqdm

    from .stream import FrameStylizer

    per_frame = FrameStylizer(stylizer, strength=options.strength, preserve_color=options.preserve_color,
                              max_side=options.max_side, stabilize=options.stabilize)
    meter = None
    if options.report:
        from .flow import WarpingError

        meter = WarpingError()
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(_QUEUE)
    styled: queue.Queue = queue.Queue(_QUEUE)
    steady: queue.Queue = queue.Queue(_QUEUE) if per_frame.stabilizing else styled
    writer: VideoWriter | None = None

    def decode() -> None:
        for frame in reader:
            if not _put(decoded, frame, stop):
                return
        _put(decoded, _END, stop)

    def stabilize() -> None:
        while (item := _get(styled, stop)) is not _END:
            frame, out = item
            if not _put(steady, (frame, per_frame.stabilize(frame, out)), stop):
                return
        _put(steady, _END, stop)

    def encode() -> None:
        while (item := _get(steady, stop)) is not _END:
            frame, out = item
            writer.write(out)
            if meter is not None:
                meter.update(frame, out)

    stages = [_Stage(decode, "fastnst-decode", stop), _Stage(encode, "fastnst-encode", stop)]
    if per_frame.stabilizing:
        stages.append(_Stage(stabilize, "fastnst-stabilize", stop))
    total = reader.count or 0
    bar = tqdm(total=total or None, unit="frame", desc=f"video {getattr(stylizer, 'style', '')}".strip(),
               disable=quiet, dynamic_ncols=True, leave=False)
    done, stylize_s = 0, 0.0
    try:
        # Inside the try: an interrupt right after ffmpeg starts must still stop it (ffmpeg creates
        # its output lazily, so one left running would recreate the temp file after its removal).
        writer = VideoWriter(path, reader.size, reader.fps, crf=options.crf, x264_preset=options.x264_preset,
                             threads=options.encode_threads)
        for stage in stages:
            stage.start()
        while (frame := _get(decoded, stop)) is not _END:
            t = time.perf_counter()
            out = per_frame.stylize(frame)
            stylize_s += time.perf_counter() - t
            if not _put(styled, (frame, out), stop):
                break
            done += 1
            bar.update(1)
            if progress is not None:
                progress(done, max(total, done))
        _put(styled, _END, stop)
        for stage in stages:
            stage.join()
        for stage in stages:
            if stage.error is not None:
                raise stage.error
        writer.close()
    except BaseException:
        stop.set()
        if writer is not None:
            writer.abort()
        raise
    finally:
        stop.set()
        for stage in stages:
            if stage.is_alive():
                stage.join(timeout=5)
        bar.close()
    return {"frames": done, "stylize_s": stylize_s, "warping_error": None if meter is None else meter.value}
