"""The Gradio web app behind ``fastnst demo``: webcam, image, video and a styles gallery.

    >>> from fastnst.webapp import build_app, launch
    >>> app = build_app(["wave_lite.onnx"])        # a gr.Blocks, not started
    >>> launch(["wave_lite.onnx"], port=7860)      # serve on http://127.0.0.1:7860

Everything runs offline and stays local: analytics are off (``gr.Blocks(analytics_enabled=False)``:
Gradio's telemetry and version check follow that flag), there is no share link, the
server binds 127.0.0.1 unless told otherwise, uploads are size-limited and the only
folder it serves files from besides Gradio's own cache is its private temp folder.

Tabs:

* **Webcam**: live video over WebRTC (:mod:`fastnst.webrtc`; the page's side is
  ``fastnst/live_page/live.js``): the camera's track goes to the server, the stylized track
  comes back into a ``<video>``, signalled by one POST route (``/webrtc/offer``) on this
  app's own server; the controls reach the server over a data channel; the video comes back as VP8
  at ``live_bitrate`` Mbit/s (:class:`fastnst.webrtc.LiveEncoder`). Below it, the
  fallback where WebRTC cannot connect (e.g. behind a proxy): Gradio's image streaming, the
  browser posting camera frames (every ``stream_every`` s) to ``.stream``. Either way frames
  are stylized at most at the stroke size's working side (default ``stream_max_side`` pixels),
  style, strength, colour preservation, stroke size
  and stabilization apply to the next frame while streaming, and each connection or browser
  session keeps its own :class:`fastnst.stream.FrameStylizer` (stabilizer history, when to
  reset it, and timing; Gradio's in a ``gr.State``). Which file serves the stream, the
  image, the video and the gallery, and on which device, is :func:`fastnst.styles.choose`'s, as
  for the CLI (lite for live frames on a CPU, OpenVINO included, johnson on a GPU and for images,
  where both exist; a shipped style's int8 or uint8-I/O copy where the device runs it faster);
  the status lines name it.
* **Stroke size** (Webcam, Image and Video tabs): a slider from 1 (full size, the finest strokes) to
  ``len(STROKE_SIDES)``: the working side of :data:`fastnst.config.STROKE_SIDES` (:meth:`Demo.working_side`);
  it starts at the tab's configured side (``image_max_side``, ``video_max_side``, ``stream_max_side``),
  which an API call without it gets. README "Stroke size".
* **Mixing** (Webcam, Image and Video tabs): "mix with" picks a second style inside the same
  multi-style network as the first (the styles of ``gallery_lite.onnx``) and "mix" its weight;
  the network runs the blend (:meth:`Demo.mixed`). Over WebRTC a new mix goes over the data
  channel and changes the live stream without reconnecting or resetting the stabilizer. Each
  multi-style file is loaded once; a page's mix runs on a copy of that Stylizer with its own
  weights (:meth:`fastnst.runtime.Stylizer.with_style`), so pages never change each other's.
* **Any painting** (Webcam, Image and Video tabs): the style dropdowns' :data:`ANY_PAINTING` runs an uploaded
  painting through the shipped arbitrary-style file, as ``-s painting.jpg`` does on the CLI (:meth:`Demo.painted`:
  a copy of its one Stylizer with the painting, statistics computed once at the upload). The "stroke size" slider
  sets the painting's long side (:func:`fastnst.config.painting_side`), the strength slider its style strength.
  The webcam's settings carry the upload's key (:meth:`Demo.painting_uploaded`), so over WebRTC a new painting
  switches the live stream without reconnecting; a bad upload is one line beside it and the stream keeps its
  painting. The Image and Video tabs (and ``/stylize``, whose eighth argument is the painting file) read the file.
* **Image**: upload (or the bundled example), stylize, download a PNG; a new mix re-runs it. The
  same function is the plain API endpoint ``/stylize`` (``gradio_client.Client(url).predict(
  handle_file(png), "wave", 1.0, False, api_name="/stylize")``; two more arguments, a second style
  and its weight, mix: ``..., False, "mondrian", 0.3, api_name="/stylize"``).
* **Video**: upload a clip (at most ``max_video_seconds`` long and ``max_video_pixels`` a frame),
  get the stylized clip, with a progress bar.
* **Styles**: every style applied to the sample photo, computed once per server; and "Add your
  painting": an upload and a name become a style of the user styles folder
  (:class:`fastnst.userstyles.StyleTrainer`: one training at a time, in a process of its own at a
  lower priority, with a progress bar, the time left and Cancel). When it is installed it joins the
  catalog and every tab's style dropdowns at once (those of this page; other pages on their next
  load), and it is there after a restart.
* **Layers**: what each layer of the loss network sees (:mod:`fastnst.layers`, as ``fastnst layers``): a layer's
  top patches per unit over photos, Gatys et al.'s content and style reconstructions, and a painting's Gram
  matrix with a texture whose per-layer style weights are sliders; on the sample photo and pattern or an
  upload, with a progress bar, each picture cached by its inputs (a second visit is instant). It needs
  PyTorch (``fastnst[train]``); without it the tab says so.

Frames are uint8 RGB (H, W, 3) throughout; all pre- and post-processing is
:meth:`fastnst.runtime.Stylizer.stylize`.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
import time
import webbrowser
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import gradio as gr
import numpy as np

from .config import (
    PAINTING_MAX_SIZE,
    PAINTING_SIZE,
    STROKE_SIDES,
    DemoConfig,
    LayersConfig,
    VideoOptions,
    painting_side,
    stroke_side,
    stroke_size,
)
from .errors import UserError
from .stream import FrameStylizer
from .styles import (
    ARBITRARY,
    Catalog,
    Choice,
    StyleFile,
    blend_name,
    choose,
    multi_styles,
    painting_styles,
    parse_blend,
    style_file,
)
from .userstyles import Progress, StyleTrainer, check_name, load_painting

__all__ = ["Demo", "DemoConfig", "build_app", "launch"]

def _prune(folder: str, keep: str, age: float) -> None:
    """Delete the entries of ``folder`` (but ``keep``) last modified more than ``age`` seconds ago."""
    now = time.time()
    for entry in os.scandir(folder):
        if entry.path == keep or now - entry.stat().st_mtime <= age:
            continue
        if entry.is_dir():
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.remove(entry.path)


def _user_error(message: str) -> gr.Error:
    """A message for the user in the page (no traceback in the server log: it is not a bug)."""
    return gr.Error(message, print_exception=False)


def _label(name: str) -> str:
    return name.replace("_", " ")


def _describe(choice: Choice, blend: dict[str, float] | None) -> str:
    """What runs, for a status line: ``wave (lite) on cpu``, ``wave:0.7,mondrian:0.3 (lite) on cpu``."""
    if blend is not None:
        choice = replace(choice, file=replace(choice.file, name=blend_name(blend)))
    return _label(choice.label)


# The Webcam tab's live video (WebRTC): its markup, style and page module; the controls reach it in the page.
_LIVE_JS = Path(__file__).parent / "live_page" / "live.js"
_LIVE_HTML = """<div class="live-box"><div class="videos">
<video class="camera" autoplay playsinline muted title="camera"></video>
<video class="live" autoplay playsinline muted title="stylized"></video></div>
<div class="bar"><button class="start" disabled>Start live video</button><button class="stop" disabled>Stop</button>
<span class="status">Live video over WebRTC: press Start</span></div></div>"""
_LIVE_CSS = """.videos { display: flex; gap: 8px; align-items: flex-start; }
.camera { width: 22%; background: #222; border-radius: 6px; }
.live { width: 76%; background: #222; border-radius: 6px; }
.bar { display: flex; gap: 8px; align-items: center; margin-top: 6px; }
button { padding: 4px 12px; border-radius: 6px; border: 1px solid #888; cursor: pointer; }"""
_LIVE_UPDATE_JS = """(style, strength, preserve_color, stabilize, mix_style, mix, stroke, painting) => {
  if (window.fastnstLive) window.fastnstLive.update({style, strength, preserve_color, stabilize, mix_style, mix,
                                                     stroke, painting});
  return [];
}"""
_SIDES = ", ".join(f"{k}: {side} px" if side else f"{k}: full size" for k, side in enumerate(STROKE_SIDES, 1))
STROKE_INFO = f"larger: the picture is stylized smaller, then scaled back up ({_SIDES} on the long side)"
PAINTING_STROKE_INFO = "larger: the painting read smaller"
STRENGTH_INFO = "0: the picture itself, 1: all style"
PAINTING_STRENGTH_INFO = "how far toward the painting's statistics"
PAINTING_HELP = ("**Any painting**: its statistics are taken once, then each frame is stylized with them. "
                 f"**Stroke size** sets the painting's long side ({_SIDES}; full size: as uploaded, at most "
                 f"{PAINTING_MAX_SIZE} px): a smaller painting draws larger strokes. **Strength**: how far the "
                 "picture's features move to the painting's (0: the picture itself).")
ANY_PAINTING = "any painting"  # the style dropdowns' value that runs an uploaded painting (fastnst.painting)
PAINTINGS_KEPT = 8  # uploaded paintings the webcam streams find by key; an older one is uploaded again
PAINTED_KEPT = 32  # Stylizer copies with a painting (per painting, size and strength)
LAYER_SLIDERS = 5  # the Layers tab's style-weight sliders: one per style layer (VGG-19 has 5), the rest hidden
NO_MIX = ""  # the "mix with" dropdown's value for no second style
MIX = 0.5  # the mix slider's default: the second style's weight


class Upload(NamedTuple):
    """A painting uploaded to the web app: its file's name, its pixels (uint8 RGB, long side at most
    PAINTING_MAX_SIZE, read-only) and its key (a hash of the pixels), which the webcam's settings carry."""

    name: str
    rgb: np.ndarray
    key: str


def _blend_of(blend: str | None, name: str) -> dict[str, float]:
    """A catalog file's style inside its multi-style network as {style: weight} (``wave``, ``wave+mondrian``)."""
    text = blend or name
    return parse_blend(text) or {text: 1.0}


class Demo:
    """The app's state shared by all sessions: styles, loaded models, temp folder, options.

    ``styles``: style arguments (:class:`fastnst.styles.Catalog`: files named
    ``<style>_<preset>.onnx`` group presets), or None for the bundled styles. ``device``: a
    name of :data:`fastnst.runtime_devices.DEVICE_NAMES`. What serves each tab, file and device, is
    :func:`fastnst.styles.choose`'s for the style's catalog entry and ``device`` (:meth:`choice`);
    ``device`` (the first style's device) and ``gpu`` (whether that is a GPU; OpenVINO is not) set
    the stream settings (:meth:`fastnst.config.DemoConfig.resolve`).
    """

    def __init__(self, styles=None, device: str = "auto", options: DemoConfig | None = None):
        self.options = options or DemoConfig()
        self.catalog = Catalog(styles)
        self._stylizers: dict[tuple[Path, str], object] = {}
        self._lock = threading.Lock()
        self._gallery: list | None = None
        self.asked = device  # what --device said: "auto" is resolved by each choice (the GPU probe once a process)
        first = choose(self.catalog.entry(self.catalog.names[0]), "stream", device)  # a bad device fails here
        self.device = first.device.name  # the first style's stream device: "cpu", "openvino", "cuda" or "tensorrt"
        self.gpu = gpu = first.device.gpu  # OpenVINO runs on the CPU: the CPU stream settings and lite
        self.stylizer(first)  # a style that does not load fails here, not in the page
        resolved = self.options.resolve(gpu)
        self.stream_max_side, self.stream_every = resolved.stream_max_side, resolved.stream_every
        self.video_max_side = resolved.video_max_side
        from .webrtc import LiveServer

        self.live = LiveServer(self.live_settings, max_side=self.stream_max_side, max_peers=self.options.max_live,
                               ice_servers=self.options.ice_servers, bitrate=self.options.live_bitrate * 1e6)
        self.temp_dir = tempfile.mkdtemp(prefix="fastnst-demo-")
        atexit.register(shutil.rmtree, self.temp_dir, True)
        self.example_path = os.path.join(self.temp_dir, "astronaut.png")
        from .image import sample_content, sample_style, save_image

        save_image(self.example_path, sample_content())
        self.pattern_path = os.path.join(self.temp_dir, "pattern.png")  # the Layers tab's default painting
        save_image(self.pattern_path, sample_style())
        self._style_dropdowns: list[gr.Dropdown] = []  # every tab's style dropdown (_style_dropdown), to update
        self._paintings: OrderedDict[str, Upload] = OrderedDict()  # uploaded paintings by key
        self._painted: OrderedDict[tuple, object] = OrderedDict()  # Stylizer copies with a painting (painted)
        self._painting_lock = threading.Lock()  # the two above, and the shared statistics cache
        self.trainer = StyleTrainer(self.options.add_style(), on_done=self._add_user_style)
        self.blocks = self._build()

    # ------------------------------------------------------------------ models

    def stylizer(self, choice: Choice):
        """The loaded :class:`Stylizer` of ``choice`` (:meth:`choice`): its file on its device, loaded once; a style
        inside a multi-style file is a copy of that file's one Stylizer with its own style
        (:meth:`fastnst.runtime.Stylizer.with_style`: the session is shared), made once. Nobody calls ``set_style``
        on these shared objects: a mix runs on a copy of its own (:meth:`mixed`)."""
        from .runtime import Stylizer

        key = (choice.file.path, choice.device.name)
        with self._lock:
            if key not in self._stylizers:
                self._stylizers[key] = Stylizer(choice.file.path, device=choice.device.name)
            if choice.file.blend is None:
                return self._stylizers[key]
            inside = (*key, choice.file.blend)
            if inside not in self._stylizers:
                self._stylizers[inside] = self._stylizers[key].with_style(choice.file.blend)
            return self._stylizers[inside]

    @property
    def models(self) -> dict[str, list[StyleFile]]:
        """Style name -> its model files (every preset offered), in the dropdowns' order."""
        return self.catalog.styles

    def choice(self, style: str, use: str) -> Choice:
        """What serves ``style`` for ``use`` ("stream", "image", "video"): :func:`fastnst.styles.choose` on the
        style's catalog entry and this demo's ``--device``, the choice the CLI makes for the same style."""
        try:
            return choose(self.catalog.entry(style), use, self.asked)
        except UserError as e:
            raise _user_error(str(e)) from None

    def model(self, style: str, use: str) -> StyleFile:
        """The file (preset and copy) serving ``style`` for ``use`` (:meth:`choice`)."""
        return self.choice(style, use).file

    def _multi_files(self, style: str) -> list[StyleFile]:
        """The multi-style files of ``style``'s catalog entry that hold it (``wave`` inside gallery_lite.onnx)."""
        if style not in self.catalog.styles:
            return []
        return [f for f in self.catalog.entry(style)
                if f.blend is not None and set(_blend_of(f.blend, f.name)) <= set(multi_styles(f.path))]

    def mix_styles(self, style: str) -> list[str]:
        """The styles ``style`` mixes with: the others inside a multi-style file that holds it; [] for none."""
        names: list[str] = []
        for f in self._multi_files(style):
            alone = _blend_of(f.blend, f.name)
            names += [n for n in multi_styles(f.path) if n not in names and alone != {n: 1.0}]
        return names

    def mixed(self, style: str, use: str, mix_style: str | None = NO_MIX, mix: float = MIX):
        """What serves ``style`` mixed with ``mix_style`` (weight ``mix`` in [0, 1]) for ``use``: (the choice, the
        blend {style: weight} to run on a copy of its Stylizer, or None). Without a second style, :meth:`choice`
        and None; with one, the multi-style file of ``style``'s catalog entry that also holds ``mix_style``
        (:func:`fastnst.styles.choose` among those), ``style`` weighted ``1 - mix``."""
        if not mix_style:
            return self.choice(style, use), None
        files = [f for f in self._multi_files(style) if mix_style in multi_styles(f.path)]
        if not files:
            raise _user_error(f"{_label(style)} cannot be mixed with {_label(mix_style)}: no network here holds both")
        try:
            choice = choose(files, use, self.asked)
        except UserError as e:
            raise _user_error(str(e)) from None
        weight = min(1.0, max(0.0, float(mix)))
        blend = {n: w * (1.0 - weight) for n, w in _blend_of(choice.file.blend, choice.file.name).items()}
        blend[mix_style] = blend.get(mix_style, 0.0) + weight
        return choice, blend

    def _run_on(self, choice: Choice, blend: dict[str, float] | None):
        """The Stylizer that runs ``choice`` with ``blend`` for one request: the shared one, or a copy of its own."""
        stylizer = self.stylizer(choice)
        return stylizer if blend is None else stylizer.with_style(blend)

    # ------------------------------------------------------------------ handlers

    def stream_frame(self, frame, style, strength, preserve_color, stabilize, session, mix_style=NO_MIX, mix=MIX,
                     stroke=None, painting=None):
        """Webcam handler: one camera frame in, (stylized frame, status text, session) out.

        ``session``: this browser session's :class:`FrameStylizer` (None at first); its
        timing is the server's, decoded frame in to stylized frame out. ``mix_style``, ``mix``:
        a second style and its weight (:meth:`mixed`), a change of which keeps the session's history.
        ``stroke``: the stroke size (:meth:`working_side`; None: ``stream_max_side``). ``painting``: for the style
        :data:`ANY_PAINTING`, the key of an uploaded painting (:meth:`painting_uploaded`).
        """
        started = time.perf_counter()
        if frame is None:
            return None, "waiting for the camera", session
        try:
            settings, described = self._frame_settings(style, strength, preserve_color, stabilize, mix_style, mix,
                                                        stroke, painting)
        except gr.Error as e:  # e.g. "any painting" chosen, none uploaded yet: a running stream keeps its settings
            if not isinstance(session, FrameStylizer):
                raise
            return session(frame, started=started), e.message, session
        if not isinstance(session, FrameStylizer):
            session = FrameStylizer(**settings)
        session.update(**settings)
        out = session(frame, started=started)
        h, w = frame.shape[:2]
        timing = session.timing
        fps = f"{timing.fps:.1f} fps" if timing.fps else "-- fps"
        status = f"{fps} · {timing.latency_ms:.0f} ms server latency · {w}x{h} · {described}"
        return out, status, session

    def _frame_settings(self, style, strength, preserve_color, stabilize, mix_style=NO_MIX,
                        mix=MIX, stroke=None, painting=None) -> tuple[dict, str]:
        """The webcam controls as :meth:`FrameStylizer.update` keywords, and what serves them for a status line.
        The stylizer is the style's shared one; a mix is the ``blend`` the stream runs on a copy of its own. For
        :data:`ANY_PAINTING`, the copy with the uploaded painting ``painting`` (a key) at the stroke size's long side
        and ``strength`` as its style strength (:meth:`painted`); frames at ``stream_max_side``. (Another painting,
        size or style strength is another copy, so the stream's stabilizer starts its history again.)"""
        strength = min(1.0, max(0.0, float(strength)))
        common = {"preserve_color": bool(preserve_color),
                  "stabilize": self.options.stabilize_strength if stabilize else None}
        if style == ANY_PAINTING:
            choice, stylizer = self.painted("stream", self.uploaded(painting), stroke, strength)
            return {"stylizer": stylizer, "blend": None, "strength": 1.0, "max_side": self.stream_max_side,
                    **common}, _describe(choice, None)
        choice, blend = self.mixed(style, "stream", mix_style, mix)
        return {"stylizer": self.stylizer(choice), "blend": blend, "strength": strength,
                "max_side": self.working_side(stroke, self.stream_max_side), **common}, _describe(choice, blend)

    def live_settings(self, settings: dict) -> tuple[dict, str]:
        """The WebRTC page's settings -> (FrameStylizer.update keywords, description); see :mod:`fastnst.webrtc`."""
        return self._frame_settings(settings.get("style") or self.catalog.names[0], settings.get("strength", 1.0),
                                    settings.get("preserve_color"), settings.get("stabilize"),
                                    settings.get("mix_style") or NO_MIX, settings.get("mix", MIX),
                                    settings.get("stroke"), settings.get("painting"))

    @staticmethod
    def working_side(stroke, default: int | None) -> int | None:
        """The working long side of a "stroke size" slider's value (:func:`fastnst.config.stroke_side`), or
        ``default`` (the tab's configured side) where none is given (an API call without it); gr.Error out of range."""
        if stroke is None:
            return default
        try:
            return stroke_side(int(stroke))
        except (UserError, ValueError, TypeError):
            raise _user_error(f"stroke size must be a whole number from 1 to {len(STROKE_SIDES)}, "
                              f"got {stroke}") from None

    def stylize_image(self, image, style, strength=1.0, preserve_color=False, mix_style=NO_MIX, mix=MIX, stroke=None,
                      painting=None):
        """Image tab and the ``/stylize`` API: uint8 RGB image in, stylized uint8 RGB image out; ``mix_style`` and
        ``mix``: a second style and its weight (:meth:`mixed`); ``stroke``: the stroke size (:meth:`working_side`;
        None: ``image_max_side``). The style :data:`ANY_PAINTING` runs the painting file ``painting`` as
        ``fastnst stylize -s PAINTING --style-strength STRENGTH --style-size SIDE`` does (:meth:`painted`: the
        stroke size sets SIDE, None: the CLI's default; the picture at ``image_max_side``)."""
        if image is None:
            raise _user_error("upload an image first")
        if style == ANY_PAINTING:
            _, stylizer = self.painted("image", painting, stroke, strength)
            strength, max_side = 1.0, self.options.image_max_side
        else:
            choice, blend = self.mixed(style, "image", mix_style, mix)
            stylizer, max_side = self._run_on(choice, blend), self.working_side(stroke, self.options.image_max_side)
        try:
            return stylizer.stylize(image, strength=float(strength), preserve_color=bool(preserve_color),
                                    max_side=max_side)
        except UserError as e:
            raise _user_error(str(e)) from None

    def restylize_image(self, image, style, strength=1.0, preserve_color=False, mix_style=NO_MIX, mix=MIX,
                        stroke=None, painting=None):
        """The Image tab when a mix control, the stroke size or the painting changes: :meth:`stylize_image` again,
        or nothing before an upload (of a photo, or of the painting where it runs one)."""
        if image is None or (style == ANY_PAINTING and not painting):
            return gr.skip()
        return self.stylize_image(image, style, strength, preserve_color, mix_style, mix, stroke, painting)

    def mix_controls(self, style, mix_style):
        """The "mix with" dropdown and the mix slider for ``style``: the styles it mixes with (:meth:`mix_styles`),
        the second style kept where it still mixes; both off for a style that mixes with none, and hidden for
        :data:`ANY_PAINTING` (and where no style mixes)."""
        names = self.mix_styles(style)
        keep = mix_style if mix_style in names else NO_MIX
        shown = style != ANY_PAINTING and any(self.mix_styles(n) for n in self.catalog.names)  # none for a painting
        return (gr.update(choices=self._mix_choices(names), value=keep, interactive=bool(names), visible=shown),
                gr.update(interactive=bool(keep), visible=shown))

    @staticmethod
    def _mix_choices(names: list[str]) -> list[tuple[str, str]]:
        return [("none", NO_MIX)] + [(_label(n), n) for n in names]

    def check_video(self, path) -> dict:
        """The clip's :func:`fastnst.video.probe`; gr.Error with a clear message when over a limit."""
        from .video import probe

        if not path:
            raise _user_error("upload a video first")
        try:
            info = probe(path)
        except UserError as e:
            raise _user_error(str(e)) from None
        o = self.options
        duration = info.get("duration") or 0.0
        if duration > o.max_video_seconds:
            raise _user_error(f"this clip is {duration:.1f} s long; the demo converts clips of up to "
                           f"{o.max_video_seconds:g} s (use 'fastnst video' on your own machine for longer ones)")
        w, h = int(info.get("width") or 0), int(info.get("height") or 0)
        if w * h > o.max_video_pixels:
            raise _user_error(f"this clip's frames are {w}x{h}; the demo takes at most {o.max_video_pixels:,} "
                           f"pixels a frame (e.g. 1920x1080)")
        return info

    def stylize_video(self, path, style, strength, preserve_color, stabilize, mix_style=NO_MIX, mix=MIX, stroke=None,
                      painting=None, progress=gr.Progress()):
        """Video tab: convert an uploaded clip (``mix_style``, ``mix``: :meth:`mixed`; ``stroke``: the stroke size,
        :meth:`working_side`, None: ``video_max_side``; ``painting``: the painting file :data:`ANY_PAINTING` runs, as
        in :meth:`stylize_image`); returns (output path, report text)."""
        from .video import convert_video

        self.check_video(path)
        if style == ANY_PAINTING:
            choice, stylizer = self.painted("video", painting, stroke, strength)
            strength, max_side, blend = 1.0, self.video_max_side, None
        else:
            max_side = self.working_side(stroke, self.video_max_side)
            choice, blend = self.mixed(style, "video", mix_style, mix)
            stylizer = self._run_on(choice, blend)
        options = VideoOptions(strength=float(strength), preserve_color=bool(preserve_color),
                               max_side=max_side,
                               stabilize=self.options.stabilize_strength if stabilize else None)
        _prune(self.temp_dir, keep=self.example_path, age=3600.0)  # Gradio serves its own copies
        folder = tempfile.mkdtemp(dir=self.temp_dir)
        dst = os.path.join(folder, f"{Path(path).stem}_{choice.file.name}.mp4")
        progress((0, None), desc="stylizing", unit="frames")
        try:
            report = convert_video(path, dst, stylizer, options,
                                   progress=lambda done, total: progress((done, total), desc="stylizing",
                                                                         unit="frames"),
                                   quiet=True)
        except UserError as e:
            raise _user_error(str(e)) from None
        w, h = report.size
        text = (f"{report.frames} frames, {w}x{h} at {report.fps:.3g} fps, converted in {report.seconds:.1f} s "
                f"({report.convert_fps:.1f} frames/s; the network alone {report.stylize_fps:.1f} frames/s) "
                f"with {_describe(choice, blend)}"
                f"{'' if report.audio else '; no audio'}")
        return report.output, text

    def gallery(self) -> list[tuple[np.ndarray, str]]:
        """Each style applied to the sample photo (at most 384 px), computed once."""
        with self._lock:
            if self._gallery is not None:
                return self._gallery
        from .image import resize_long_side, sample_content

        photo = resize_long_side(sample_content(), 384)
        items = [(photo, "the photo")]
        for name in self.catalog.names:
            choice = self.choice(name, "image")
            items.append((self.stylizer(choice).stylize(photo), f"{_label(name)} ({choice.file.preset or 'model'})"))
        with self._lock:
            self._gallery = items
        return items

    # ------------------------------------------------------------------ any painting

    def painting_choice(self, name: str, use: str) -> Choice:
        """What serves a painting called ``name`` for ``use``: :func:`fastnst.styles.choose` among the shipped
        arbitrary-style files with that painting (:func:`fastnst.styles.painting_styles`), the choice
        ``-s painting.jpg`` makes on the CLI."""
        try:
            return choose(painting_styles(name), use, self.asked)
        except UserError as e:
            raise _user_error(str(e)) from None

    def uploaded(self, key) -> Upload:
        """The painting uploaded under ``key`` (:meth:`painting_uploaded`); gr.Error when there is none, or it is
        no longer kept (the :data:`PAINTINGS_KEPT` newest are)."""
        with self._painting_lock:
            if key and key in self._paintings:
                self._paintings.move_to_end(key)
                return self._paintings[key]
        raise _user_error("upload the painting again: it is no longer kept here" if key else
                          "any painting: upload a painting first (JPEG, PNG or WebP)")

    def painted(self, use: str, painting, stroke=None, alpha=1.0):
        """(the choice, a Stylizer running ``painting``) for ``use``: the shipped arbitrary-style file's shared
        Stylizer (:meth:`stylizer`) copied with the painting (:meth:`fastnst.runtime.Stylizer.with_painting`: its
        statistics computed once, then cached), kept per painting, size and strength, so a stream whose settings
        did not change runs the same copy. ``painting``: a painting file's path (read as ``-s PAINTING`` reads it)
        or an :class:`Upload` (:meth:`uploaded`). ``stroke``: the stroke size, which sets the painting's
        long side (:func:`fastnst.config.painting_side`; None: ``--style-size``'s default); ``alpha``: the style
        strength in [0, 1]. gr.Error with one line for a painting that will not do."""
        if not painting:
            raise _user_error("any painting: upload a painting first (JPEG, PNG or WebP)")
        if isinstance(painting, Upload):
            name, source, ident = painting.name, painting.rgb, ("upload", painting.key)
        else:
            name, source = os.path.basename(os.fspath(painting)), os.fspath(painting)
            ident = ("file", source)
        size = None
        if stroke is not None:
            full = self.working_side(stroke, None) is None  # checks the stroke size
            size = painting_side(int(stroke), self._own_side(source) if full else 0)
        choice = self.painting_choice(name, use)
        base = self.stylizer(choice)
        key = (choice.file.path, choice.device.name, ident, size, float(alpha))
        with self._painting_lock:
            if key in self._painted:
                self._painted.move_to_end(key)
                return choice, self._painted[key]
            try:
                stylizer = base.with_painting(source, size)
                stylizer.set_style_strength(float(alpha))
            except UserError as e:
                raise _user_error(str(e)) from None
            stylizer.style = Path(name).stem
            self._painted[key] = stylizer
            while len(self._painted) > PAINTED_KEPT:
                self._painted.popitem(last=False)
        return choice, stylizer

    @staticmethod
    def _own_side(source) -> int:
        """The long side of a painting (a path or uint8 RGB) as read, at most PAINTING_MAX_SIZE; gr.Error if unread."""
        if not isinstance(source, np.ndarray):
            try:
                source, _ = load_painting(source, PAINTING_MAX_SIZE, 1)
            except UserError as e:
                raise _user_error(str(e)) from None
        return max(source.shape[:2])

    def painting_uploaded(self, path, stroke=None, use: str = "image"):
        """A painting upload (Webcam, Image and Video tabs): (its key, for the webcam's streams; the painting as its
        statistics are taken; a status line). The statistics are computed here, once, for the stroke size. A file
        that will not do (not an image, too small, too elongated) says why in the status line and leaves the key
        as it was, so a stream keeps its painting; a flat colour runs, and the line says what it gives."""
        from .painting import painting_image

        if not path:
            return gr.skip(), None, "upload a painting: any picture runs as a style, no training"
        name = os.path.basename(os.fspath(path))
        try:
            rgb, _ = load_painting(path, PAINTING_MAX_SIZE, 1)
            painting_image(path, painting_side(int(stroke), max(rgb.shape[:2])) if stroke else None)  # the CLI's
            # checks of -s PAINTING, whose one-line messages name the file
            rgb.setflags(write=False)
            key = hashlib.blake2b(rgb.tobytes(), digest_size=12, person=str(rgb.shape).encode()[:16]).hexdigest()
            with self._painting_lock:
                upload = self._paintings.setdefault(key, Upload(name, rgb, key))
                self._paintings.move_to_end(key)
                while len(self._paintings) > PAINTINGS_KEPT:
                    self._paintings.popitem(last=False)
            _, stylizer = self.painted(use, upload, stroke)
            shown = painting_image(upload.rgb, stylizer.style_size)
        except UserError as e:
            return gr.skip(), None, str(e)
        except gr.Error as e:
            return gr.skip(), None, e.message
        h, w = shown.shape[:2]
        flat = float(shown.reshape(-1, 3).std(axis=0).max()) < 1.0
        note = ("; one flat colour: no strokes to take, the picture takes its colour" if flat else
                "; its statistics are ready")
        return key, shown, f"{name}: read at {w}x{h} px (stroke size {stroke or '-'}){note}"

    def painting_resized(self, key, stroke, style, use: str = "image"):
        """The stroke size changed: (the painting as now read, status line) for the painting running in the tab."""
        if style != ANY_PAINTING or not key:
            return gr.skip(), gr.skip()
        from .painting import painting_image

        try:
            upload = self.uploaded(key)
            _, stylizer = self.painted(use, upload, stroke)
        except gr.Error as e:
            return None, e.message
        shown = painting_image(upload.rgb, stylizer.style_size)
        h, w = shown.shape[:2]
        return shown, f"{upload.name}: read at {w}x{h} px (stroke size {stroke}); its statistics are ready"

    def style_controls(self, style, was_painting: bool = False, max_side: int | None = None):
        """The painting row (shown for :data:`ANY_PAINTING`), what the strength and stroke size sliders say, and
        whether ``style`` is a painting (the tab's state, ``was_painting`` before). Crossing between a painting and
        a trained style moves the stroke size to the new kind's default, where the CLI starts: a painting's
        ``--style-size`` (:data:`fastnst.config.PAINTING_SIZE`), or a trained style's working side ``max_side``
        (the tab's); between two trained styles it stays where the visitor put it."""
        painting = style == ANY_PAINTING
        stroke = {"info": PAINTING_STROKE_INFO if painting else STROKE_INFO}
        if painting != bool(was_painting):
            stroke["value"] = stroke_size(PAINTING_SIZE if painting else max_side)
        return (gr.update(visible=painting), gr.update(info=PAINTING_STRENGTH_INFO if painting else STRENGTH_INFO),
                gr.update(**stroke), painting)

    # ------------------------------------------------------------------ add your painting

    def _add_user_style(self, path: Path) -> None:
        """A style just installed in the user styles folder joins the catalog (the trainer's ``on_done``)."""
        f = style_file(path)
        with self._lock:
            styles = dict(self.catalog.styles)  # a new dict: handlers reading the old one meanwhile are not disturbed
            styles[f.name] = [f]
            self.catalog.styles = styles
            self._gallery = None

    def _style_choices(self) -> list[tuple[str, str]]:
        """The style dropdowns' choices: the catalog's styles, then "any painting" where the arbitrary-style file
        is installed."""
        painting = [(ANY_PAINTING, ANY_PAINTING)] if ARBITRARY.is_file() else []
        return [(_label(n), n) for n in self.catalog.names] + painting

    def _dropdown_updates(self) -> list:
        """Every style dropdown's choices as the catalog has them now (the value each page chose is kept)."""
        return [gr.update(choices=self._style_choices()) for _ in self._style_dropdowns]

    @staticmethod
    def _progress_html(p: Progress) -> str:
        """The progress bar of "Add your painting": how much is done, the step and the time left."""
        width = round(100 * p.fraction)
        if p.state == "training":
            text = f"step {p.step} of {p.total}" + (f" · {p.time_left}" if p.time_left else "")
        elif p.state == "starting":
            text = "starting: loading the networks"
        elif p.state in ("exporting", "installing"):
            text = "writing and checking the ONNX file" + (f" · {p.time_left}" if p.time_left else "")
        else:
            text = {"done": "done", "failed": "failed", "cancelled": "cancelled"}.get(p.state, "not started")
        colour = {"failed": "#d9534f", "cancelled": "#999"}.get(p.state, "#f97316")
        return (f'<div class="add-bar" data-state="{p.state}" data-percent="{width}" style="position:relative;'
                'height:26px;border-radius:6px;background:var(--block-background-fill,#eee);'
                'border:1px solid var(--border-color-primary,#ccc);overflow:hidden">'
                f'<div class="add-fill" style="width:{width}%;height:100%;background:{colour};opacity:.55"></div>'
                '<span class="add-text" style="position:absolute;left:10px;top:3px;font-size:14px">'
                f'{text}</span></div>')

    def _painting_controls(self, p: Progress) -> list:
        """(status, progress bar, timer, Start, Cancel) for the trainer's progress ``p``."""
        return [p.message, self._progress_html(p), gr.Timer(active=p.running), gr.update(interactive=not p.running),
                gr.update(interactive=p.running)]

    def preview_painting(self, path, name):
        """The painting upload: (the painting as it will be trained, status line, name box); a file that will
        not do says why in the status line at once."""
        if not path:
            return None, "", gr.skip()
        try:
            image, note = load_painting(path, self.trainer.config.max_side, self.trainer.config.min_side)
        except UserError as e:
            return None, str(e), gr.skip()
        h, w = image.shape[:2]
        status = f"{w}x{h} px" + (f" ({note})" if note else "") + ": give it a name and press Start"
        given = (name or "").strip()
        try:
            check_name(given or Path(path).stem)
        except UserError as e:  # the name it would get is taken, or is no name: say so now
            status = f"{w}x{h} px" + (f" ({note})" if note else "") + f"; {e}"
        return image, status, gr.skip() if given else Path(path).stem

    def start_painting(self, path, name):
        """Start: (status, progress bar, timer, Start, Cancel); a refusal is the status line's one line."""
        try:
            p = self.trainer.start(path, name)
        except UserError as e:
            now = self.trainer.progress()
            return [str(e), self._progress_html(now if now.running else Progress()), gr.Timer(active=now.running),
                    gr.update(interactive=not now.running), gr.update(interactive=now.running)]
        return self._painting_controls(p)

    def poll_painting(self):
        """The timer: the controls, and once the style is in, every style dropdown and the gallery."""
        p = self.trainer.progress()
        done = p.state == "done"
        return (*self._painting_controls(p), self.gallery() if done else gr.skip(),
                *(self._dropdown_updates() if done else [gr.skip()] * len(self._style_dropdowns)))

    def cancel_painting(self):
        """Cancel: stop the training and remove what it made."""
        self.trainer.cancel()
        return self._painting_controls(self.trainer.progress())

    def page_loaded(self):
        """A page (re)loads: the style dropdowns as the catalog has them now, and a training running is shown."""
        p = self.trainer.progress()
        return (*self._painting_controls(p if p.running else Progress()), *self._dropdown_updates())

    # ------------------------------------------------------------------ Layers tab

    def layers_config(self, **settings) -> LayersConfig:
        """The Layers tab's :class:`LayersConfig`: the demo's loss net and data root, and ``settings``."""
        config = LayersConfig(loss_net=self.options.layers_loss_net, data_root=self.options.data_root, **settings)
        try:
            config.validate()
        except UserError as e:
            raise _user_error(str(e)) from None
        return config

    def _explorer(self):
        """:mod:`fastnst.layers`, or a message in the page where PyTorch is missing."""
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            raise _user_error("the Layers tab needs PyTorch: pip install 'fastnst[train]'")
        from . import layers

        return layers

    def layers_loaded(self):
        """On page load: the network's layers in the layer dropdowns and one style-weight slider per style layer."""
        try:
            explorer = self._explorer()
            spec = explorer.find_loss_net(self.layers_config())
            names, style = explorer.available_layers(spec), explorer.default_layers(spec)
        except (UserError, gr.Error) as e:
            message = getattr(e, "message", str(e))
            return (gr.update(), gr.update(), f"Layers: {message}",
                    *[gr.update(visible=False) for _ in range(LAYER_SLIDERS)])
        layers = [gr.update(choices=names, value=style[-1]) for _ in range(2)]  # one update each: Gradio takes it
        sliders = [gr.update(visible=k < len(style), label=f"weight {style[k]}" if k < len(style) else "")
                   for k in range(LAYER_SLIDERS)]
        return *layers, f"Loss network: `{spec}`", *sliders

    def _layers_picture(self, kind: str, config: LayersConfig, images: list, make) -> tuple[np.ndarray, str]:
        start = time.perf_counter()
        try:
            picture, info, hit = self._explorer().cached(kind, config, images, make)
        except UserError as e:
            raise _user_error(str(e)) from None
        took = time.perf_counter() - start
        return picture, f"{'from the cache' if hit else 'computed'} in {took:.1f} s"

    def layers_patches(self, layer, seed, progress=gr.Progress(track_tqdm=True)):  # noqa: B008 (Gradio's way)
        """Top patches of 9 units of ``layer`` (drawn with ``seed``) over the photos: (picture, status)."""
        config = self.layers_config(layer=layer or None, seed=int(seed or 0))
        explorer = self._explorer()
        return self._layers_picture("patches", config, [], lambda: explorer.patches_picture(config))

    def layers_reconstruct(self, photo, painting, size, iterations,
                           progress=gr.Progress(track_tqdm=True)):  # noqa: B008 (Gradio's way)
        """Content reconstructions of ``photo`` and style reconstructions of ``painting`` (None: the samples)."""
        from .image import check_frame, sample_content, sample_style

        photo = check_frame(photo, "photo") if photo is not None else sample_content()
        painting = check_frame(painting, "painting") if painting is not None else sample_style()
        config = self.layers_config(size=int(size), iterations=int(iterations))
        explorer = self._explorer()
        return self._layers_picture("reconstruct", config, [photo, painting],
                                    lambda: explorer.figure1(photo, painting, config))

    def layers_gram(self, painting, layer, size, iterations, *weights,
                    progress=gr.Progress(track_tqdm=True)):  # noqa: B008 (Gradio's way)
        """The Gram heat map of ``painting`` at ``layer`` and a texture with the style-layer ``weights``."""
        from .image import check_frame, sample_style

        painting = check_frame(painting, "painting") if painting is not None else sample_style()
        explorer = self._explorer()
        try:
            count = len(explorer.default_layers(explorer.find_loss_net(self.layers_config())))
        except UserError as e:
            raise _user_error(str(e)) from None
        config = self.layers_config(layer=layer or None, size=int(size), iterations=int(iterations),
                                    style_layer_weights=tuple(float(w) for w in weights[:count]))
        return self._layers_picture("gram", config, [painting], lambda: explorer.gram_picture(painting, config))

    def _layers_tab(self) -> list:
        """The Layers tab's controls; returns what :meth:`layers_loaded` fills in."""
        d = LayersConfig()
        gr.Markdown("What each layer of the loss network sees. **Top patches**: for units of a layer, the photo "
                    "patches that excite each most (Zeiler and Fergus 2014). **Reconstructions**: images made from "
                    "noise to match one layer's activations of the photo, and the Gram matrices of growing sets of "
                    "layers of the painting (Gatys et al. 2016, Figure 1). **Style representation**: the "
                    "painting's Gram matrix at a layer, and a texture from the style layers weighted by the "
                    "sliders. Each picture is kept: the same inputs again show at once.")
        network = gr.Markdown("", elem_id="layers-network")
        with gr.Row():
            photo = gr.Image(value=self.example_path, type="numpy", label="photo", sources=["upload", "clipboard"],
                             height=220, elem_id="layers-photo")
            painting = gr.Image(value=self.pattern_path, type="numpy", label="painting",
                                sources=["upload", "clipboard"], height=220, elem_id="layers-painting")
        with gr.Accordion("Top patches per unit", open=True):
            with gr.Row():
                patch_layer = gr.Dropdown(choices=[], label="layer", elem_id="layers-patch-layer")
                seed = gr.Number(value=d.seed, precision=0, minimum=0, label="units drawn with seed")
                patch_button = gr.Button("Show top patches", variant="primary", elem_id="layers-patches-run")
            patches = gr.Image(type="numpy", format="png", label="top patches", interactive=False,
                               elem_id="layers-patches")
            patch_status = gr.Textbox(label="status", interactive=False, elem_id="layers-patches-status")
        with gr.Accordion("Reconstructions (Gatys et al. Figure 1)", open=True):
            with gr.Row():
                size = gr.Slider(32, 256, value=d.size, step=16, label="size (px)", elem_id="layers-size")
                iterations = gr.Slider(5, 300, value=d.iterations, step=5, label="L-BFGS steps",
                                       elem_id="layers-iterations")
                rec_button = gr.Button("Reconstruct", variant="primary", elem_id="layers-reconstruct-run")
            reconstructions = gr.Image(type="numpy", format="png", label="reconstructions", interactive=False,
                                       elem_id="layers-reconstruct")
            rec_status = gr.Textbox(label="status", interactive=False, elem_id="layers-reconstruct-status")
        with gr.Accordion("Style representation: Gram matrix and per-layer style weights", open=True):
            with gr.Row():
                gram_layer = gr.Dropdown(choices=[], label="Gram matrix of layer", elem_id="layers-gram-layer")
                sliders = [gr.Slider(0.0, 1.0, value=1.0, step=0.05, label=f"weight {k + 1}", visible=False,
                                     elem_id=f"layers-weight-{k}") for k in range(LAYER_SLIDERS)]
                gram_button = gr.Button("Show", variant="primary", elem_id="layers-gram-run")
            gram = gr.Image(type="numpy", format="png", label="Gram matrix and texture", interactive=False,
                            elem_id="layers-gram")
            gram_status = gr.Textbox(label="status", interactive=False, elem_id="layers-gram-status")
        patch_button.click(self.layers_patches, [patch_layer, seed], [patches, patch_status],
                           api_name="layers_patches", concurrency_limit=1, concurrency_id="layers")
        rec_button.click(self.layers_reconstruct, [photo, painting, size, iterations], [reconstructions, rec_status],
                         api_name="layers_reconstruct", concurrency_limit=1, concurrency_id="layers")
        gram_button.click(self.layers_gram, [painting, gram_layer, size, iterations, *sliders], [gram, gram_status],
                          api_name="layers_gram", concurrency_limit=1, concurrency_id="layers")
        return [patch_layer, gram_layer, network, *sliders]

    # ------------------------------------------------------------------ layout

    def _style_dropdown(self, elem_id: str):
        names = self.catalog.names
        dropdown = gr.Dropdown(choices=self._style_choices(), value=names[0], label="style", elem_id=elem_id)
        self._style_dropdowns.append(dropdown)  # "Add your painting" updates it
        return dropdown

    def _add_painting(self, gallery: gr.Gallery) -> list:
        """The Styles tab's "Add your painting"; returns the components a page load updates
        (status, bar, timer, Start, Cancel)."""
        folder = self.trainer.styles_dir
        gr.Markdown(f"### Add your painting\nUpload a painting and name it: the bundled network learns it as a new "
                    f"style in a few minutes ({self.trainer.config.steps} training steps), and it joins the style "
                    f"lists of every tab. It is kept in `{folder}` (`$FASTNST_HOME/styles`), so it is there after a "
                    "restart. Training runs beside the app at a lower priority: **the live stream slows while a "
                    "style trains**.", elem_id="add-note")
        with gr.Group(elem_id="add-painting"):
            with gr.Row(equal_height=False):
                painting = gr.File(label="painting (JPEG, PNG, WebP)", type="filepath", file_count="single",
                                   height=150, elem_id="add-file")
                preview = gr.Image(label="as trained", type="numpy", interactive=False, height=150,
                                   buttons=[], elem_id="add-preview")
                with gr.Column():
                    name = gr.Textbox(label="name", placeholder="my_painting (default: the file's name)",
                                      max_lines=1, elem_id="add-name")
                    with gr.Row():
                        start = gr.Button("Start", variant="primary", elem_id="add-start")
                        cancel = gr.Button("Cancel", variant="secondary", interactive=False, elem_id="add-cancel")
            bar = gr.HTML(self._progress_html(Progress()), elem_id="add-progress", padding=False)
            status = gr.Textbox(show_label=False, interactive=False, max_lines=2, elem_id="add-status",
                                placeholder="upload a painting")
        timer = gr.Timer(1.0, active=False)
        controls = [status, bar, timer, start, cancel]
        painting.upload(self.preview_painting, [painting, name], [preview, status, name], show_progress="hidden",
                        api_visibility="private")
        start.click(self.start_painting, [painting, name], controls, api_name="add_style", api_visibility="private")
        cancel.click(self.cancel_painting, None, controls, api_visibility="private", concurrency_limit=None)
        timer.tick(self.poll_painting, None, [*controls, gallery, *self._style_dropdowns], show_progress="hidden",
                   api_visibility="private", concurrency_limit=None)
        return controls

    def _mix_controls(self, style, prefix: str):
        """The "mix with" dropdown (a second style, default none) and the mix slider (its weight) beside ``style``,
        offered for styles inside a multi-style network (:meth:`mix_styles`) and hidden where no style is;
        returns (dropdown, slider, the event of ``style``'s change that updates them, for ``.then``)."""
        first = self.catalog.names[0]
        names = self.mix_styles(first)
        shown = any(self.mix_styles(n) for n in self.catalog.names)
        mix_style = gr.Dropdown(choices=self._mix_choices(names), value=NO_MIX, label="mix with",
                                interactive=bool(names), visible=shown, elem_id=f"{prefix}-mix-style")
        mix = gr.Slider(0.0, 1.0, value=MIX, step=0.05, label="mix", interactive=False,
                        visible=shown, elem_id=f"{prefix}-mix")
        changed = style.change(self.mix_controls, [style, mix_style], [mix_style, mix], show_progress="hidden",
                               queue=False)
        mix_style.change(lambda m: gr.update(interactive=bool(m)), mix_style, mix, show_progress="hidden",
                         queue=False)
        return mix_style, mix, changed

    @staticmethod
    def _stroke_control(prefix: str, max_side: int | None) -> gr.Slider:
        """The "stroke size" slider, 1 (finest) .. len(STROKE_SIDES) (largest), starting at ``max_side``'s
        (:func:`fastnst.config.stroke_size`): for the bundled styles, the working side of :meth:`working_side`."""
        return gr.Slider(1, len(STROKE_SIDES), value=stroke_size(max_side), step=1, label="stroke size",
                         info=STROKE_INFO, elem_id=f"{prefix}-stroke")

    def _painting_input(self, prefix: str, use: str, style, strength, stroke, max_side: int | None):
        """A tab's painting row, shown while its style is :data:`ANY_PAINTING` (:meth:`style_controls`, which also
        says what the strength and stroke size sliders do for a painting and moves the stroke size to the
        painting's default, or back to the tab's working side ``max_side``): the upload, the painting as its
        statistics are taken, a status line; and the upload's key (hidden), which the webcam's settings carry.
        Returns (upload, key, the upload's event, for ``.then``)."""
        with gr.Row(visible=False, elem_id=f"{prefix}-painting-row") as row:
            upload = gr.File(label="painting (JPEG, PNG or WebP)", type="filepath", file_count="single", height=140,
                             elem_id=f"{prefix}-painting")
            shown = gr.Image(label="as read at the stroke size", type="numpy", interactive=False,
                             height=140, buttons=[], elem_id=f"{prefix}-painting-shown")
            with gr.Column():
                status = gr.Textbox(label="painting", interactive=False, max_lines=2,
                                    elem_id=f"{prefix}-painting-status",
                                    placeholder="upload a painting: any picture runs as a style, no training")
                gr.Markdown(PAINTING_HELP, elem_id=f"{prefix}-painting-help")
        key = gr.Textbox(visible=False, elem_id=f"{prefix}-painting-key")
        is_painting = gr.State(False)  # the tab's style is ANY_PAINTING (a tab starts on a trained style)
        style.change(lambda s, was: self.style_controls(s, was, max_side), [style, is_painting],
                     [row, strength, stroke, is_painting], show_progress="hidden", queue=False)
        uploaded = upload.upload(lambda path, size: self.painting_uploaded(path, size, use), [upload, stroke],
                                 [key, shown, status], api_visibility="private", show_progress="minimal")
        upload.clear(lambda: (None, "upload a painting: the last one keeps running until then"), None,
                     [shown, status], api_visibility="private", queue=False)
        stroke.change(lambda k, size, name: self.painting_resized(k, size, name, use), [key, stroke, style],
                      [shown, status], api_visibility="private", show_progress="hidden", trigger_mode="always_last")
        return upload, key, uploaded

    def _live_video(self) -> gr.HTML:
        """The WebRTC live video: camera and stylized ``<video>``, Start/Stop and a status line (live.js)."""
        return gr.HTML(
            html_template=_LIVE_HTML, css_template=_LIVE_CSS, elem_id="webrtc",
            js_on_load="import(new URL(props.module, document.baseURI).href)"
                       ".then((m) => { window.fastnstLive = m.mount(element, props); });",
            module=f"gradio_api/file={_LIVE_JS}", offer="webrtc/offer", ice_servers=list(self.options.ice_servers),
            mirror=self.options.mirror,
            settings={"style": self.catalog.names[0], "strength": 1.0, "preserve_color": False, "stabilize": False,
                      "mix_style": NO_MIX, "mix": MIX, "stroke": stroke_size(self.stream_max_side), "painting": ""})

    def _build(self) -> gr.Blocks:
        o = self.options
        with gr.Blocks(title="fastnst demo", analytics_enabled=False, delete_cache=(300, 600)) as app:
            gr.Markdown("# fastnst: real-time neural style transfer\n"
                        f"Running on **{self.device}**. Nothing leaves this machine.")
            with gr.Tab("Webcam", id="webcam"):
                self._live_video()
                with gr.Row():
                    style = self._style_dropdown("webcam-style")
                    mix_style, mix, style_changed = self._mix_controls(style, "webcam")
                    strength = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="strength", info=STRENGTH_INFO,
                                         elem_id="webcam-strength")
                    preserve = gr.Checkbox(label="keep the camera's colours", elem_id="webcam-preserve")
                    stabilize = gr.Checkbox(label="stabilize (less flicker)", elem_id="webcam-stabilize")
                    stroke = self._stroke_control("webcam", self.stream_max_side)
                _, painting, uploaded = self._painting_input("webcam", "stream", style, strength, stroke,
                                                             self.stream_max_side)
                live = [style, strength, preserve, stabilize, mix_style, mix, stroke, painting]
                style_changed.then(None, live, None, js=_LIVE_UPDATE_JS)  # once the mix controls fit the style
                uploaded.then(None, live, None, js=_LIVE_UPDATE_JS)  # a new painting: the same connection
                for control in (strength, preserve, stabilize, mix_style, mix, stroke):  # to the live video
                    control.change(None, live, None, js=_LIVE_UPDATE_JS)
                gr.Markdown("**Or through Gradio's stream** (where live video cannot connect, e.g. behind a proxy): "
                            "press Record.")
                with gr.Row():
                    camera = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="camera",
                                      webcam_options=gr.WebcamOptions(
                                          mirror=o.mirror,
                                          constraints={"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}}),
                                      elem_id="webcam-input")
                    streamed = gr.Image(label="stylized", format="jpeg", interactive=False, elem_id="webcam-output")
                status = gr.Textbox(label="speed", interactive=False, elem_id="webcam-status",
                                    value="press Record to start")
                session = gr.State(None)
                camera.stream(self.stream_frame,
                              [camera, style, strength, preserve, stabilize, session, mix_style, mix, stroke,
                               painting],
                              [streamed, status, session], stream_every=self.stream_every,
                              time_limit=o.stream_time_limit, concurrency_limit=o.max_streams,
                              show_progress="hidden", api_name="webcam", api_visibility="private")
            with gr.Tab("Image", id="image"):
                with gr.Row():
                    image_in = gr.Image(sources=["upload", "clipboard"], type="numpy", label="photo", height=420,
                                        elem_id="image-input")
                    image_out = gr.Image(type="numpy", format="png", label="stylized (PNG)", interactive=False,
                                         height=420, buttons=["download", "fullscreen"], elem_id="image-output")
                with gr.Row():
                    image_style = self._style_dropdown("image-style")
                    image_mix_style, image_mix, _ = self._mix_controls(image_style, "image")
                    image_strength = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="strength", info=STRENGTH_INFO)
                    image_preserve = gr.Checkbox(label="keep the photo's colours")
                    image_stroke = self._stroke_control("image", o.image_max_side)
                image_painting, _, image_uploaded = self._painting_input("image", "image", image_style, image_strength,
                                                                         image_stroke, o.image_max_side)
                gr.Examples([[self.example_path]], inputs=[image_in], label="example photo")
                button = gr.Button("Stylize", variant="primary", elem_id="image-run")
                image_args = [image_in, image_style, image_strength, image_preserve, image_mix_style, image_mix,
                              image_stroke, image_painting]
                button.click(self.stylize_image, image_args, image_out, api_name="stylize", concurrency_limit=2)
                for control in (image_mix_style, image_mix, image_stroke):  # a new mix or stroke re-runs the photo
                    control.change(self.restylize_image, image_args, image_out, api_visibility="private",
                                   concurrency_limit=2, trigger_mode="always_last")
                image_uploaded.then(self.restylize_image, image_args, image_out, api_visibility="private",
                                    concurrency_limit=2, trigger_mode="always_last")  # so does a new painting
            with gr.Tab("Video", id="video"):
                gr.Markdown(f"Clips up to {o.max_video_seconds:g} s and {o.max_upload_mb:g} MB; frames are "
                            "stylized at the stroke size's working side, then scaled back up.")
                with gr.Row():
                    video_in = gr.Video(sources=["upload"], label="clip", elem_id="video-input")
                    video_out = gr.Video(label="stylized clip", interactive=False, elem_id="video-output")
                with gr.Row():
                    video_style = self._style_dropdown("video-style")
                    video_mix_style, video_mix, _ = self._mix_controls(video_style, "video")
                    video_strength = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="strength", info=STRENGTH_INFO)
                    video_preserve = gr.Checkbox(label="keep the clip's colours")
                    video_stabilize = gr.Checkbox(value=True, label="stabilize (less flicker)")
                    video_stroke = self._stroke_control("video", self.video_max_side)
                video_painting, _, _ = self._painting_input("video", "video", video_style, video_strength, video_stroke,
                                                            self.video_max_side)
                video_report = gr.Textbox(label="report", interactive=False, elem_id="video-report")
                video_button = gr.Button("Stylize clip", variant="primary", elem_id="video-run")
                video_button.click(self.stylize_video,
                                   [video_in, video_style, video_strength, video_preserve, video_stabilize,
                                    video_mix_style, video_mix, video_stroke, video_painting],
                                   [video_out, video_report], api_name="stylize_video", concurrency_limit=1)
            with gr.Tab("Styles", id="styles"):
                gallery = gr.Gallery(label="styles on the sample photo", columns=4, fit_columns=False, height="auto",
                                     object_fit="contain", format="jpeg", elem_id="styles-gallery", render=False)
                painting_controls = self._add_painting(gallery)
                gallery.render()
            with gr.Tab("Layers", id="layers"):
                layers_controls = self._layers_tab()
            app.load(self.gallery, None, gallery, api_name="gallery", api_visibility="private", show_progress="minimal")
            app.load(self.page_loaded, None, [*painting_controls, *self._style_dropdowns], api_visibility="private",
                     show_progress="hidden")
            app.load(self.layers_loaded, None, layers_controls, api_visibility="private", show_progress="hidden")
        app.queue(default_concurrency_limit=1)
        return app

    # ------------------------------------------------------------------ serving

    def launch(self, host: str | None = None, port: int | None = None, open_browser: bool = False, block: bool = True,
               quiet: bool = False) -> gr.Blocks:
        """Serve the app on http://HOST:PORT (None: the options' ``host`` / ``port``); with ``block``, until Ctrl-C.
        Returns the gr.Blocks.

        Also silences FFmpeg's own log in this process (see :func:`fastnst.video.quiet_ffmpeg_log`):
        an unreadable upload is reported in the page, not in the server log.
        """
        from .video import quiet_ffmpeg_log

        quiet_ffmpeg_log()
        host = self.options.host if host is None else host
        port = self.options.port if port is None else port
        try:
            app, url, _ = self.blocks.launch(
                server_name=host, server_port=port, share=False, inbrowser=False, prevent_thread_lock=True,
                quiet=True, show_error=True, ssr_mode=False, max_file_size=f"{self.options.max_upload_mb:g}mb",
                allowed_paths=[self.temp_dir, str(_LIVE_JS)], enable_monitoring=False, mcp_server=False, pwa=False,
                footer_links=["api"])
        except OSError as e:  # e.g. the port is taken
            raise UserError(f"cannot serve on {host}:{port}: {e}") from None
        self.live.mount(app, "/webrtc/offer")  # the live video's signalling, on the same server and port
        if open_browser:
            webbrowser.open(url)
        if not quiet:
            print(f"fastnst demo: {', '.join(map(_label, self.catalog.names))} on {self.device}; "
                  f"open {self.blocks.local_url} (Ctrl-C to stop)", flush=True)
        if block:
            self.blocks.block_thread()
        return self.blocks


def build_app(styles=None, device: str = "auto", options: DemoConfig | None = None) -> gr.Blocks:
    """The demo as a ``gr.Blocks`` (queued, not launched); see :class:`Demo` for the arguments."""
    return Demo(styles, device, options).blocks


def launch(styles=None, device: str = "auto", host: str | None = None, port: int | None = None,
           options: DemoConfig | None = None, open_browser: bool = False, block: bool = True,
           quiet: bool = False) -> gr.Blocks:
    """Build and serve the demo on http://HOST:PORT (None: ``options``' host and port, by default 127.0.0.1:7860;
    no share link)."""
    return Demo(styles, device, options).launch(host, port, open_browser=open_browser, block=block, quiet=quiet)
