"""The style catalog: which model file serves a style, for what use, on which device.

Shipped styles are trained model files in ``fastnst/pretrained/`` named ``<style>_<preset>.pth``
(the self-describing model files of :mod:`fastnst.models`) and ``<style>_<preset>.onnx`` (what
:mod:`fastnst.runtime` runs); the recipes that reproduce them are in the repository's
``training/``. Everything that takes "a style" (the CLI, the runtime, the web app, the
benchmark) names it the same way, through :func:`resolve_styles`:

- a model file: ``my_style.onnx``, ``runs/x/model.onnx``;
- a shipped file's name: ``wave_lite.onnx`` (found in ``pretrained/`` when no such file is here);
- ``<style>_<preset>``: ``wave_lite``, exactly that file;
- a style's name: ``wave``, every preset of it; :func:`pick` then chooses one by :data:`PREFERENCE`.

A shipped file may have copies in other precisions or with uint8 frame I/O beside it,
``<style>_<preset>.<tags>.onnx`` (``wave_lite.int8.onnx``; tags: :data:`VARIANT_TAGS`). They are
one style and preset (``fastnst styles`` lists the plain file); :func:`best_variant` picks the copy
that runs, by the measured table :data:`VARIANT_PREFERENCE`, wherever a style is named by its name
(``wave``, ``wave_lite``) or a catalog entry. A file name or path runs exactly that file.

:func:`choose` is the one choice of what runs: for a style argument, a use and a device
(:data:`fastnst.runtime_devices.DEVICES`, or ``"auto"``), the file (preset and copy) and the device.
Every front end asks it: the CLI's ``stylize``, ``video``, ``webcam``, ``bench`` and ``info``, the
web app and its WebRTC stream, and :class:`fastnst.runtime.Stylizer` given a name. ``"auto"`` becomes a
device first: the GPU where one loads here, else the CPU; there, once the file is chosen, OpenVINO
where it is installed and measured faster for that file on this machine
(:func:`fastnst.runtime_devices.cpu_speeds`, measured once and cached).

Your own styles (the web app's "Add your painting", :mod:`fastnst.userstyles`) live in the user styles
folder, :func:`user_styles_dir` (``$FASTNST_HOME/styles``; default ``~/.local/share/fastnst/styles``):
each a folder ``NAME/`` holding ``NAME_<preset>.onnx`` (or such a file directly in the folder). They are
listed, named and chosen like the shipped ones; a name that a shipped style has is the shipped style.

:class:`Catalog` is the set of styles a front end offers (the web app's dropdowns, the webcam's
n/p keys), grouped by style name.

    >>> pick("wave", "stream", gpu=False).path.name
    'wave_lite.onnx'
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeAlias

from .config import PRESET_NAMES
from .errors import UserError
from .files import home_dir
from .runtime_devices import (
    CPU,
    MEASURE_SIZE,
    OPENVINO,
    RUNTIMES,
    Device,
    cpu_speeds,
    device_named,
    gpu_here,
    openvino_installed,
)

__all__ = ["PRECISIONS", "PREFERENCE", "PRESET_NAMES", "PRETRAINED", "RUNTIMES", "USES", "VARIANT_PREFERENCE",
           "VARIANT_TAGS", "Catalog", "Choice", "StyleFile", "best_of", "best_variant", "choose", "export_source",
           "find_style", "is_file_argument", "list_styles", "painting_styles", "pick", "resolve_styles", "style_file",
           "user_styles_dir", "variants"]

PRETRAINED = Path(__file__).resolve().parent / "pretrained"
# The shipped arbitrary-style files (fastnst.painting): what ``-s painting.jpg`` runs, as two presets of a
# painting that PREFERENCE ranks like johnson and lite. ARBITRARY, preset "wct": three-level WCT (relu3_1,
# relu2_1, relu1_1), the quality; ARBITRARY_FAST, preset "wct_fast": relu3_1 alone, about twice the frames
# on a CPU (benchmarks/painting_speed.py) with a fine 4-px grid at 100%. In a folder of their own, so they
# are no style of the catalog.
ARBITRARY = PRETRAINED / "arbitrary" / "wct.onnx"
ARBITRARY_FAST = PRETRAINED / "arbitrary" / "wct_fast.onnx"
PAINTING_PRESETS = ("wct", "wct_fast")  # the presets of ARBITRARY and ARBITRARY_FAST
# what :func:`choose` (and the Stylizer) take: a style argument, a StyleFile or a Catalog entry
StyleArg: TypeAlias = "str | os.PathLike[str] | StyleFile | list[StyleFile] | tuple[StyleFile, ...]"

# The one table of which preset serves a use, best first, on a CPU and on a GPU (Device.gpu: OpenVINO
# is a CPU runtime). Live frames
# (webcam, web app stream) and video need speed on a CPU; a still image is worth johnson's
# time anywhere. "any" is what a bare name means where no use is known (Stylizer("wave")). A painting's
# presets likewise: live frames on a CPU take wct_fast, everything else the three-level wct.
USES = ("stream", "video", "image", "any")
PREFERENCE: dict[tuple[str, bool], tuple[str, ...]] = {
    # (use, gpu):       presets, best first
    ("stream", False): ("lite", "johnson", "wct_fast", "wct"),
    ("stream", True): ("johnson", "lite", "wct", "wct_fast"),
    ("video", False): ("lite", "johnson", "wct", "wct_fast"),
    ("video", True): ("johnson", "lite", "wct", "wct_fast"),
    ("image", False): ("johnson", "lite", "wct", "wct_fast"),
    ("image", True): ("johnson", "lite", "wct", "wct_fast"),
    ("any", False): ("lite", "johnson", "wct", "wct_fast"),
    ("any", True): ("lite", "johnson", "wct", "wct_fast"),
}


PRECISIONS = ("fp32", "fp16", "int8")
UINT8_IO_TAG = "uint8io"  # the file takes and returns uint8 NHWC frames (fastnst export --uint8-io)
VARIANT_TAGS = ("fp16", "int8", UINT8_IO_TAG)

# Which copy of a shipped style runs, best first, for a preset on a runtime (Device.runtime, one of
# RUNTIMES): "cpu" (onnxruntime's CPU provider), "gpu" (CUDA / TensorRT) or "openvino": (precision,
# uint8 frame I/O). Measured with
# benchmarks/cpu_runtimes.py and 'fastnst bench' on the project's 2-core AVX2 CPU (README "Speed"):
# on onnxruntime's CPU provider the lite int8 copy is slower than fp32 (57-63 ms against 43 ms a
# 640x480 frame) and uint8 I/O too (65 ms: its transposes break the NCHWc convs), so lite runs its
# plain file; OpenVINO runs the uint8-I/O copy fastest. johnson's 128-channel convs do gain from int8
# (onnxruntime 1632 against 3333 ms, OpenVINO 410 against 691 ms at 640x480). A preset without a
# row, or a copy that is not shipped, falls through to the next entry and finally to the plain
# file. On a GPU the uint8 I/O copy moves 6 MB a 1080p frame instead of 25 MB (not measured: no
# GPU so far).
VARIANT_PREFERENCE: dict[tuple[str | None, str], tuple[tuple[str, bool], ...]] = {
    ("lite", "cpu"): (("fp32", False),),
    ("johnson", "cpu"): (("int8", False), ("fp32", False)),
    (None, "cpu"): (("fp32", False),),
    ("johnson", "openvino"): (("int8", False), ("fp32", True), ("fp32", False)),  # int8 410 ms vs fp32 691
    (None, "openvino"): (("fp32", True), ("fp32", False)),
    (None, "gpu"): (("fp16", True), ("fp32", True), ("fp16", False), ("fp32", False)),
}


@dataclass(frozen=True)
class StyleFile:
    name: str  # e.g. "starry_night"
    preset: str | None  # e.g. "lite"; None for a file whose name does not say
    path: Path
    precision: str = "fp32"  # from the file name's tags: "fp32", "fp16" or "int8"
    uint8_io: bool = False  # the file name's "uint8io" tag: uint8 NHWC frames in and out
    blend: str | None = None  # a multi-style file's style or blend that this entry runs (parse_blend); None: plain
    painting: Path | None = None  # the painting an arbitrary-style file runs (-s painting.jpg); None: not one

    @property
    def is_variant(self) -> bool:
        """A tagged copy (``wave_lite.int8.onnx``) rather than the plain fp32 float-I/O file."""
        return self.precision != "fp32" or self.uint8_io

    @property
    def tags(self) -> str:
        """What marks a copy, as in its file name: ``int8``, ``uint8io``, ``fp16.uint8io``; "" for the plain file."""
        return ".".join(t for t in (None if self.precision == "fp32" else self.precision,
                                    UINT8_IO_TAG if self.uint8_io else None) if t)

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size

    @property
    def exact_name(self) -> str:
        """The style argument that names exactly this file: ``wave_lite``, or the path of a file of its own;
        for a style inside a multi-style file, ``STYLE@FILE`` (``wave@gallery_lite``)."""
        if self.blend is not None:
            where = self.path.stem if self.path.parent == PRETRAINED else str(self.path)
            return f"{self.blend}@{where}"
        if self.is_variant:
            return self.path.name if self.path.parent == PRETRAINED else str(self.path)
        return f"{self.name}_{self.preset}" if self.preset else str(self.path)


def style_file(path: str | os.PathLike[str]) -> StyleFile:
    """``<style>_<preset>[.<tags>].<ext>`` -> StyleFile(style, preset, path, precision, uint8_io).

    Tags are :data:`VARIANT_TAGS`, dot-separated, in any order (``wave_lite.int8.uint8io.onnx``);
    any other file name is a style of its own (named by its stem, preset None).
    """
    p = Path(path)
    base, *tags = p.name[:-len(p.suffix)].split(".") if p.suffix else [p.name]
    name, _, preset = base.rpartition("_")
    if name and preset in PRESET_NAMES and len(set(tags)) == len(tags) and set(tags) <= set(VARIANT_TAGS):
        precisions = [t for t in tags if t in PRECISIONS]
        if len(precisions) <= 1:
            return StyleFile(name, preset, p, precisions[0] if precisions else "fp32", UINT8_IO_TAG in tags)
    return StyleFile(p.stem, None, p)


@functools.lru_cache(maxsize=64)
def _onnx_styles(path: str, mtime_ns: int) -> tuple[str, ...]:
    from .metadata import read_metadata  # onnxruntime: only where an .onnx file is listed

    try:
        return tuple(str(n) for n in read_metadata(path).get("styles") or ())
    except UserError:  # not ONNX: a one-style entry, whose own loading says what is wrong
        return ()


def multi_styles(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The styles inside a multi-style ``.onnx`` file (its metadata's ``styles``), in the order of its
    style-weight input; () for a one-style file or another suffix. Read once per file version."""
    path = os.fspath(path)
    if not path.lower().endswith(".onnx") or not os.path.isfile(path):
        return ()
    return _onnx_styles(path, os.stat(path).st_mtime_ns)


def user_styles_dir() -> Path:
    """The user styles folder: ``$FASTNST_HOME/styles`` (:func:`fastnst.files.home_dir`; default
    ``$XDG_DATA_HOME/fastnst/styles``, i.e. ``~/.local/share/fastnst/styles``). It need not exist."""
    return home_dir() / "styles"


def _user_files(suffix: str) -> list[Path]:
    """The user styles folder's model files: ``NAME/NAME_<preset>SUFFIX`` and ``NAME_<preset>SUFFIX``; names
    starting with a dot (a style being installed, :mod:`fastnst.userstyles`) are not styles yet."""
    folder = user_styles_dir()
    return [p for pattern in (f"*{suffix}", f"*/*{suffix}") for p in folder.glob(pattern)
            if not any(part.startswith(".") for part in p.relative_to(folder).parts)]


def list_styles(suffix: str = ".pth", user: bool = True) -> list[StyleFile]:
    """The shipped styles with this suffix, and (with ``user``) the user's (:func:`user_styles_dir`) whose
    names no shipped style has, sorted by name then preset; plain files only, not their copies
    in other precisions or with uint8 I/O (:func:`variants`). A multi-style ``.onnx`` file gives one entry
    per style inside it (``blend`` set); where a one-style file has the same name and preset it comes first."""
    def plain(paths: Iterable[Path]) -> list[StyleFile]:
        found = []
        for p in paths:
            s = style_file(p)
            if not s.preset or s.is_variant:
                continue
            inner = multi_styles(p)
            found += [replace(s, name=n, blend=n) for n in inner] if inner else [s]
        return found

    found = plain(PRETRAINED.glob(f"*{suffix}"))
    if user:
        shipped = {s.name for s in found}
        found += [s for s in plain(_user_files(suffix)) if s.name not in shipped]
    return sorted(found, key=lambda s: (s.name, s.preset, s.blend is not None, s.path.name))


def _multi_file_with(blend: dict[str, float], suffix: str) -> StyleFile:
    """The shipped multi-style file that holds every style of ``blend``; UserError if none does."""
    for p in sorted(PRETRAINED.glob(f"*{suffix}")):
        s = style_file(p)
        if s.preset and not s.is_variant and set(blend) <= set(multi_styles(p)):
            return replace(s, name=blend_name(blend), blend=blend_name(blend))
    raise UserError(f"no shipped multi-style network holds {', '.join(blend)} (multi-style styles: "
                    f"{', '.join(sorted({s.name for s in list_styles(suffix) if s.blend})) or 'none'})")


def variants(plain: StyleFile) -> list[StyleFile]:
    """``plain`` and every tagged copy of it in its folder (same style, preset and suffix), ``plain`` first."""
    if plain.blend is not None:  # a style inside a multi-style file: that file alone
        return [plain]
    suffix = plain.path.suffix
    found = (style_file(p) for p in plain.path.parent.glob(f"{plain.name}_{plain.preset}.*{suffix}"))
    copies = sorted((s for s in found if s.is_variant and (s.name, s.preset) == (plain.name, plain.preset)),
                    key=lambda s: s.path.name)
    return [plain] + copies if plain.preset else [plain]


def best_variant(plain: StyleFile, runtime: str) -> StyleFile:
    """The copy of ``plain`` (:func:`variants`) that :data:`VARIANT_PREFERENCE` ranks first on ``runtime``
    (one of :data:`RUNTIMES`)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime '{runtime}' (one of {', '.join(RUNTIMES)})")
    order = VARIANT_PREFERENCE.get((plain.preset, runtime), VARIANT_PREFERENCE[(None, runtime)])
    have = {(v.precision, v.uint8_io): v for v in variants(plain)}
    return next((have[key] for key in order if key in have), plain)


def is_file_argument(item: str | os.PathLike[str]) -> bool:
    """Whether a style argument names a file (a path, or a name ending in a file suffix) rather than a style."""
    item = os.fspath(item)
    return os.path.isfile(item) or os.sep in item or "/" in item or item.lower().endswith((".onnx", ".pth"))


def _shipped_names(suffix: str) -> str:
    return ", ".join(sorted({s.name for s in list_styles(suffix)})) or "none"


def painting_styles(painting: str | os.PathLike[str]) -> list[StyleFile]:
    """The files that can run the painting ``painting`` as a style: one StyleFile per shipped any-painting preset
    (:data:`PAINTING_PRESETS`: ``wct``, ``wct_fast``) whose file is here, for :func:`choose` to pick from by use,
    as for any style. A UserError where this install has no arbitrary-style model."""
    if not ARBITRARY.is_file():
        raise UserError(f"'{os.fspath(painting)}' is a painting, and this install has no arbitrary-style model "
                        f"({ARBITRARY})")
    files = [(p, f) for p, f in zip(PAINTING_PRESETS, (ARBITRARY, ARBITRARY_FAST)) if f.is_file()]
    return [StyleFile(Path(painting).stem, preset, path, painting=Path(painting)) for preset, path in files]


def resolve_styles(item: str | os.PathLike[str], suffix: str = ".onnx") -> list[StyleFile]:
    """What a user's style argument names (see the module docstring): a list of model files,
    fastest preset first.

    A UserError names a missing file, or lists the shipped styles when no name matches.
    """
    item = os.fspath(item)
    if "@" in item and not os.path.isfile(item):  # wave@gallery_lite, a+b@runs/x/model.onnx
        inner, _, where = item.rpartition("@")
        f = resolve_styles(where, suffix)[0]
        names = multi_styles(f.path)
        if not names:
            raise UserError(f"'{where}' is not a multi-style network: '{inner}@' picks a style inside one")
        mix = parse_blend(inner) or {inner: 1.0}
        blend_weights(mix, list(names))  # UserError for a style it lacks
        return [replace(f, name=blend_name(mix), blend=inner)]
    from .image import image_extensions  # OpenCV and Pillow: only once a style is resolved

    if os.path.isfile(item) and Path(item).suffix.lower() in image_extensions():  # a painting: any style at all
        return painting_styles(item)
    if os.path.isfile(item):
        return [style_file(item)]
    if os.sep in item or "/" in item:
        raise UserError(f"style model not found: {item}")
    if item.lower().endswith(suffix):
        if (PRETRAINED / item).is_file():  # a shipped file's name: wave_lite.onnx
            return [style_file(PRETRAINED / item)]
        raise UserError(f"style model not found: {item} (shipped styles: {_shipped_names(suffix)})")
    blend = parse_blend(item)
    if blend is not None:  # wave+starry_night: a blend inside one multi-style file
        return [_multi_file_with(blend, suffix)]
    shipped = list_styles(suffix)
    found = [s for s in shipped if item == s.name or (s.blend is None and item == f"{s.name}_{s.preset}")]
    if not found and multi_styles(PRETRAINED / f"{item}{suffix}"):  # a multi-style file's own name: gallery_lite
        return [style_file(PRETRAINED / f"{item}{suffix}")]
    if not found:
        raise UserError(f"no style file or shipped style '{item}' (shipped: {_shipped_names(suffix)})")
    return sorted(found, key=lambda s: (PRESET_NAMES.index(s.preset), s.blend is not None))


def best_of(files: list[StyleFile], use: str, gpu: bool) -> StyleFile:
    """The file of ``files`` (one style's presets) that :data:`PREFERENCE` ranks first for (use, gpu)."""
    if use not in USES:
        raise ValueError(f"unknown use '{use}' (one of {', '.join(USES)})")
    order = PREFERENCE[(use, bool(gpu))]
    return min(files, key=lambda s: order.index(s.preset) if s.preset in order else len(order))


def pick(item: str | os.PathLike[str], use: str = "any", gpu: bool = False, suffix: str = ".onnx") -> StyleFile:
    """The one model file that serves the style argument ``item`` for ``use`` on a CPU or GPU."""
    return best_of(resolve_styles(item, suffix), use, gpu)


def find_style(name: str, preset: str | None = None, suffix: str = ".pth") -> StyleFile:
    """One model for ``name`` (as in :func:`resolve_styles`): ``preset``'s, or with None the fastest.

    A UserError lists the shipped styles when there is no match.
    """
    matches = [s for s in resolve_styles(name, suffix) if preset in (None, s.preset)]
    if not matches:
        raise UserError(f"no shipped style '{name}' for preset {preset}; shipped: {_shipped_names(suffix)}")
    return matches[0]


def export_source(model: str, output: str | None, int8: bool = False, uint8_io: bool = False,
                  arbitrary: bool = False) -> str:
    """The file ``fastnst export`` starts from for its ``model`` argument: a file as given; a bundled style's
    name (``wave``, ``wave_lite``) its shipped .pth where a new ONNX file is exported from it (``output``
    without ``int8`` or ``uint8_io``), else its shipped .onnx (no torch needed); none with ``arbitrary``
    (``--arbitrary``) the shipped any-painting pair's frame graph, :data:`ARBITRARY`. A UserError lists the
    shipped styles for an unknown name."""
    if not model and arbitrary:
        return str(ARBITRARY)
    if not model or is_file_argument(model):
        return model
    exported = bool(output) and not (int8 or uint8_io)
    return str(find_style(model, suffix=".pth" if exported else ".onnx").path)


@dataclass(frozen=True)
class Choice:
    """What runs a style: ``file`` (the preset's file, or the copy of it that runs) on ``device``.

    ``measured``: where ``"auto"`` compared the CPU runtimes, (device name, milliseconds a
    :data:`fastnst.runtime_devices.MEASURE_SIZE` frame took, None where it did not run) for each;
    else empty.
    """

    file: StyleFile
    device: Device
    measured: tuple[tuple[str, float | None], ...] = ()

    @property
    def label(self) -> str:
        """What runs, for a status line: ``wave (lite) on cpu``, ``wave (lite, uint8io) on openvino``."""
        if self.file.painting is not None:
            return f"{self.file.name} (any painting) on {self.device.name}"
        what = ", ".join(t for t in (self.file.preset or "model", self.file.tags) if t)
        return f"{self.file.name} ({what}) on {self.device.name}"

    @property
    def why(self) -> str:
        """Why ``auto`` took this device (its measurement), or "" where nothing was compared."""
        if not self.measured:
            return ""
        w, h = MEASURE_SIZE
        times = ", ".join(f"{name} {'-' if ms is None else f'{ms:.1f} ms'}" for name, ms in self.measured)
        return f"auto: {self.device.name}, measured faster here for {self.file.path.name} ({times} a {w}x{h} frame)"


def _runs_copies(f: StyleFile) -> bool:
    """Whether ``f``, named by a style name or a catalog entry, may run one of its copies: a shipped plain file."""
    return not f.is_variant and bool(f.preset) and f.path.parent == PRETRAINED


def choose(style: StyleArg, use: str = "any", device: str = "auto") -> Choice:
    """The one choice of what runs: for the style argument ``style``, ``use`` (:data:`USES`) and ``device``
    (a name of :data:`fastnst.runtime_devices.DEVICE_NAMES`), which file and on which device.

    ``style``: a style argument (:func:`resolve_styles`), a :class:`StyleFile` or a list of one style's
    StyleFiles (a :class:`Catalog` entry). In that order:

    1. the device: as named, or for ``"auto"`` the GPU where one loads here
       (:func:`fastnst.runtime_devices.gpu_here`), else the CPU;
    2. the preset: :data:`PREFERENCE`'s first for ``use`` on a GPU or not (OpenVINO is a CPU runtime);
    3. for ``"auto"`` on a CPU where OpenVINO is installed: OpenVINO if its copy of the file (step 4)
       measured faster than onnxruntime's (:func:`fastnst.runtime_devices.cpu_speeds`, once per
       machine), else onnxruntime's CPU provider;
    4. the copy: a file named by its file name or path runs as it is; a shipped style named by its name
       (``wave``, ``wave_lite``) or a catalog entry runs the copy :func:`best_variant` ranks first for
       the device.

    A UserError for an unknown style or device; a device that does not load is the Stylizer's error.
    """
    if use not in USES:
        raise ValueError(f"unknown use '{use}' (one of {', '.join(USES)})")
    asked = device_named(device)  # None: auto
    if isinstance(style, StyleFile):
        files, exact = [style], False
    elif isinstance(style, (list, tuple)):
        files, exact = list(style), False
        if not files:
            raise UserError("no style files to choose from")
    else:
        files, exact = resolve_styles(style), is_file_argument(style)
    on = asked or gpu_here(files[0].path) or CPU
    plain = best_of(files, use, on.gpu)

    def copy_on(d: Device) -> StyleFile:
        return best_variant(plain, d.runtime) if not exact and _runs_copies(plain) else plain

    measured: tuple[tuple[str, float | None], ...] = ()
    if asked is None and not on.gpu and openvino_installed() and plain.painting is None:  # (a painting's file
        # takes the painting's statistics as inputs, which cpu_speeds does not feed: onnxruntime's CPU provider)
        pair = (CPU, OPENVINO)
        times = cpu_speeds([(copy_on(d).path, d) for d in pair])
        measured = tuple((d.name, ms) for d, ms in zip(pair, times))
        cpu_ms, openvino_ms = times
        if openvino_ms is not None and (cpu_ms is None or openvino_ms < cpu_ms):
            on = OPENVINO
    return Choice(copy_on(on), on, measured)


def _each_style(f: StyleFile) -> list[StyleFile]:
    """``f``, or for a whole multi-style file one entry per style inside it."""
    inner = multi_styles(f.path) if f.blend is None else ()
    return [replace(f, name=n, blend=n) for n in inner] if inner else [f]


class Catalog:
    """The styles a front end offers, by name: ``{style name: [its model files]}``, in the given order.

    ``items``: style arguments (:func:`resolve_styles`); None: every shipped style. Every item is
    resolved here, so a style that does not exist is an error before anything runs. Two
    arguments for one style name (``wave_lite`` and ``wave_johnson``) are one style with two presets.
    A multi-style file given as a whole (``gallery_lite``, a path) offers each style inside it.
    """

    def __init__(self, items: Iterable[str | os.PathLike[str]] | None = None, suffix: str = ".onnx") -> None:
        if items is None:
            files = list_styles(suffix)
            if not files:
                raise UserError(f"no styles are bundled with this installation: give a style model ({suffix})")
        else:
            files = [inner for item in items for f in resolve_styles(item, suffix) for inner in _each_style(f)]
            if not files:
                raise UserError(f"give at least one style model ({suffix})")
        self.styles: dict[str, list[StyleFile]] = {}
        for f in files:
            same = self.styles.setdefault(f.name, [])
            if f not in same:
                same.append(f)

    @property
    def names(self) -> list[str]:
        return list(self.styles)

    def entry(self, name: str) -> list[StyleFile]:
        """Style ``name``'s files (every preset offered), for :func:`choose`; UserError if it is not offered."""
        if name not in self.styles:
            raise UserError(f"unknown style '{name}' (choose from {', '.join(self.styles)})")
        return self.styles[name]


# ----------------------------------------------------------------------------- blends of a multi-style network


def parse_blend(item: str) -> dict[str, float] | None:
    """A blend of styles named in one style argument, as {style name: weight} with weights summing to 1;
    None when ``item`` names no blend (a file, or one name).

    ``wave+starry_night`` is an equal mix; ``wave:0.7,starry_night:0.3`` gives the weights (any
    non-negative numbers, scaled to sum to 1). A UserError says what is wrong with a malformed one.
    """
    if os.path.isfile(item) or not any(c in item for c in "+,:"):
        return None
    parts = [p.strip() for p in item.replace(",", "+").split("+")]
    blend: dict[str, float] = {}
    for part in parts:
        name, sep, value = part.partition(":")
        if not name:
            raise UserError(f"style blend '{item}': an empty style name")
        try:
            weight = float(value) if sep else 1.0
        except ValueError:
            raise UserError(f"style blend '{item}': '{value}' is not a number") from None
        if not 0 <= weight < float("inf"):
            raise UserError(f"style blend '{item}': weights must be numbers >= 0, got {value}")
        if name in blend:
            raise UserError(f"style blend '{item}': '{name}' is named twice")
        blend[name] = weight
    total = sum(blend.values())
    if not total > 0:
        raise UserError(f"style blend '{item}': the weights sum to 0")
    return {name: w / total for name, w in blend.items()}


def blend_weights(blend: dict[str, float], names: list[str]) -> list[float]:
    """The style-weight vector (one weight per style of a multi-style network, in ``names``' order) of a
    blend from :func:`parse_blend` (or ``{name: 1.0}`` for one style); UserError for a style it lacks."""
    unknown = [n for n in blend if n not in names]
    if unknown:
        raise UserError(f"no style '{unknown[0]}' in this network (its styles: {', '.join(names) or 'none'})")
    return [float(blend.get(n, 0.0)) for n in names]


def blend_name(blend: dict[str, float]) -> str:
    """A blend's display name: ``wave`` for one style, ``wave+starry_night`` for equal parts,
    else ``wave:0.7,starry_night:0.3`` (what :func:`parse_blend` reads back)."""
    if len(blend) == 1:
        return next(iter(blend))
    if len(set(round(w, 6) for w in blend.values())) == 1:
        return "+".join(blend)
    return ",".join(f"{n}:{w:.3g}" for n, w in blend.items())
