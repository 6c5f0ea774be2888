"""The browser kit behind ``fastnst export --web``: a static folder that runs a style with onnxruntime-web.

`write_web_kit(model, out_dir)` writes the page (the package's ``fastnst/kit_page/``: ``index.html``,
``app.js``, ``style.css``, ``serve.py``, a filled-in ``README.md``), its settings from the one config
(``settings.json``, :func:`page_settings`: the max-side choices and defaults, the painting rules), the model
as ``model.onnx`` and onnxruntime-web's ES module and WASM files under ``ort/``, copied from its npm package:
no CDN, so the folder works offline from any static host. An any-painting export (``fastnst export-arbitrary``;
``fastnst export --web DIR --arbitrary`` takes the shipped :data:`fastnst.styles.ARBITRARY`) brings its
painting-statistics graph under the name its metadata gives, and example paintings under ``paintings/``: the
generated :func:`fastnst.image.sample_style` and the files the user names; the shipped pair's kit also brings the
frame graph that :data:`fastnst.styles.PREFERENCE` runs for live frames where it is another one (``wct_fast`` on
a CPU: ``live.onnx``, fed the same painting's statistics; :func:`live_graph`). `ort_web_dist` says where
onnxruntime-web's files come from:

1. ``ort_dist=`` or ``$FASTNST_ORT_WEB``: an existing ``node_modules/onnxruntime-web/dist`` folder;
2. else the cache, ``$FASTNST_CACHE/onnxruntime-web/`` (default ``~/.cache/fastnst``), filled on
   first use by ``npm install onnxruntime-web@ORT_WEB_RANGE`` (needs npm and the npm registry).

Torch-free: the standard library and onnxruntime (through :func:`fastnst.metadata.read_metadata`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .config import (
    LIVE_MAX_SIDE,
    PAINTING_MAX_SIZE,
    PAINTING_MIN_SIDE,
    PAINTING_READ_SIDE,
    PAINTING_SIZE,
    STILL_MAX_SIDE,
    STROKE_SIDES,
    stroke_size,
)
from .errors import UserError
from .files import cache_dir

ORT_WEB_RANGE = "~1.30.0"  # the onnxruntime-web versions the page is tested with (npm semver range)
# The page imports one of onnxruntime-web's two ES modules, each with the WASM build it loads: the CPU
# one (SIMD, threads) and, where the browser has a WebGPU adapter, the WebGPU one. (The package's default
# module, JSEP, also does both, but ran the lite network 3x slower on the CPU in Chromium 156.)
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm",
             "ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm")
PAGE = Path(__file__).resolve().parent / "kit_page"
PAGE_FILES = ("index.html", "app.js", "style.css", "serve.py")
SETTINGS = "settings.json"  # the page's settings (page_settings), beside index.html
PAINTINGS = "paintings"  # an any-painting kit's example paintings, beside index.html
SAMPLE_PAINTING = "sample.png"  # the first example: fastnst.image.sample_style(), generated
LIVE_MODEL = "live.onnx"  # the shipped any-painting kit's frame graph for webcam frames where PREFERENCE says so
BACKENDS = (("wasm", False), ("webgpu", True))  # the page's backends, and whether each is a GPU
_NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNREFUSED", "ECONNRESET", "network", "offline")


def _check_dist(dist: Path, origin: str) -> Path:
    missing = [name for name in ORT_FILES if not (dist / name).is_file()]
    if missing:
        raise UserError(f"{dist} ({origin}) is not an onnxruntime-web dist folder: no {', '.join(missing)} "
                        f"(onnxruntime-web {ORT_WEB_RANGE} has them)")
    return dist


def _npm_install(target: Path) -> None:
    """npm install onnxruntime-web@ORT_WEB_RANGE into ``target`` (a new folder), or a UserError."""
    npm = shutil.which("npm")
    hint = "or set FASTNST_ORT_WEB to an existing node_modules/onnxruntime-web/dist folder"
    if not npm:
        raise UserError(f"--web needs onnxruntime-web's files: npm is not on PATH (install Node.js), {hint}")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = _new_folder_beside(target, ".npm")
    try:
        (temp / "package.json").write_text(json.dumps(
            {"private": True, "description": "onnxruntime-web for fastnst export --web",
             "dependencies": {"onnxruntime-web": ORT_WEB_RANGE}}, indent=1))
        try:
            run = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--omit=dev", "--ignore-scripts"],
                                 cwd=temp, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            raise UserError(f"npm install onnxruntime-web@{ORT_WEB_RANGE} took over 10 minutes; {hint}") from None
        if run.returncode != 0:
            lines = [line for line in run.stderr.strip().splitlines() if line.strip()] or ["no message"]
            why = "offline or registry unreachable" if any(e in run.stderr for e in _NETWORK_ERRORS) else "failed"
            raise UserError(f"npm install onnxruntime-web@{ORT_WEB_RANGE} {why} ({lines[-1].strip()}); {hint}")
        _check_dist(temp / "node_modules" / "onnxruntime-web" / "dist", "npm install")
        os.rename(temp, target)  # another process may have won the race: then use its copy
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def ort_web_dist(ort_dist=None) -> Path:
    """The onnxruntime-web ``dist`` folder to copy from: ``ort_dist``, $FASTNST_ORT_WEB, or the npm cache."""
    given = ort_dist or os.environ.get("FASTNST_ORT_WEB")
    if given:
        origin = "ort_dist" if ort_dist else "FASTNST_ORT_WEB"
        path = Path(given).expanduser()
        if not (path / ORT_FILES[0]).is_file() and (path / "dist" / ORT_FILES[0]).is_file():
            path = path / "dist"  # node_modules/onnxruntime-web itself
        return _check_dist(path, origin)
    slug = re.sub(r"[^0-9A-Za-z.]+", "_", ORT_WEB_RANGE).strip("_")
    folder = cache_dir() / "onnxruntime-web" / slug
    dist = folder / "node_modules" / "onnxruntime-web" / "dist"
    if not dist.is_dir():
        _npm_install(folder)
    return _check_dist(dist, f"cache {folder}")


def ort_web_version(dist: Path) -> str:
    """The version in the package.json above ``dist``, or "unknown"."""
    try:
        return str(json.loads((Path(dist).parent / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"


def page_settings(examples: list[str] | None = None, live: dict | None = None) -> dict:
    """What the page takes from the one config (:mod:`fastnst.config`), written as ``settings.json``.

    ``max_sides``: the "Max side" choices, :data:`fastnst.config.STROKE_SIDES` (None: full size);
    ``image_max_side`` / ``camera_max_side``: its defaults for an image and the webcam (:data:`STILL_MAX_SIDE`,
    :data:`LIVE_MAX_SIDE`, as ``fastnst stylize`` and ``fastnst webcam``); ``painting``: the rules of
    :func:`fastnst.painting.painting_image` and :func:`fastnst.config.painting_side` (the "stroke size" of a
    painting: ``stroke_sides`` with ``stroke`` the default, a painting read at most at ``read_side`` first, no
    side under ``min_side``, full size at most ``max_size``; a frame is padded to ``min_side`` too);
    ``examples``: an any-painting kit's example paintings (paths relative to the page); ``live`` (where given):
    ``{"model": file, "backends": [...]}``, the frame graph the page runs webcam frames with on those backends,
    fed the statistics of the painting it took for ``model.onnx`` (:func:`live_graph`).
    """
    return {"max_sides": list(STROKE_SIDES), "image_max_side": STILL_MAX_SIDE, "camera_max_side": LIVE_MAX_SIDE,
            "painting": {"stroke_sides": list(STROKE_SIDES), "stroke": stroke_size(PAINTING_SIZE),
                         "min_side": PAINTING_MIN_SIDE, "max_size": PAINTING_MAX_SIZE, "read_side": PAINTING_READ_SIDE},
            "examples": list(examples or []), **({"live": live} if live else {})}


def _model_path(model) -> Path:
    """An exported .onnx file, or the ONNX file of a shipped style name (fastest preset first)."""
    from .styles import resolve_styles

    text = os.fspath(model)
    if text.lower().endswith(".pth"):
        raise UserError(f"{text} is a model file: export it first ('fastnst export {text} --web DIR' does both)")
    path = resolve_styles(text, suffix=".onnx")[0].path
    if path.suffix.lower() != ".onnx":
        raise UserError(f"{path} is not an .onnx file")
    return path


def check_out_dir(out_dir, overwrite: bool = False) -> Path:
    """``out_dir`` as a Path if it may be written: missing, an empty folder, or (with overwrite) an earlier kit."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder; choose another --web DIR")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise UserError(f"{out} is not empty; choose another --web DIR or add --overwrite")
        if not all((out / name).is_file() for name in ("index.html", "app.js", "model.onnx")):
            raise UserError(f"{out} is not empty and holds no web kit to overwrite; choose another --web DIR")
    return out


@dataclass(frozen=True)
class WebKitReport:
    """What :func:`write_web_kit` wrote: the kit folder, its source .onnx, the style and preset it
    runs, the onnxruntime-web version copied and the kit's size in bytes."""

    path: str
    model: str
    style: str
    preset: str | None
    ort_version: str
    bytes: int

    def line(self) -> str:
        """What ``fastnst export --web`` prints of it."""
        return (f"wrote web kit {self.path} ({self.style}, onnxruntime-web {self.ort_version}, "
                f"{self.bytes / 1e6:.0f} MB); serve it: python {os.path.join(self.path, 'serve.py')}")


def _painting_graph(source: Path, meta: dict) -> Path | None:
    """The painting-statistics graph of an any-painting frame graph ``source`` (its metadata ``arbitrary`` names
    it, beside it), or None for a trained style. UserError for the statistics graph itself or a missing one."""
    info = meta.get("arbitrary")
    if not isinstance(info, dict):
        return None
    if info.get("role") != "frame":
        raise UserError(f"{source} is the painting-statistics graph of an any-painting style: give its frame graph "
                        f"(the .onnx beside it without '.painting')")
    from .painting import painting_graph  # OpenCV: only an any-painting kit needs it

    return painting_graph(source, meta)


def live_graph(source: Path, meta: dict) -> tuple[Path, list[str]] | None:
    """For the shipped any-painting frame graph ``source``: the frame graph that :data:`fastnst.styles.PREFERENCE`
    runs for live frames ("stream") where that is another file, and the page's backends (:data:`BACKENDS`) it
    runs on: ``wct_fast`` on WASM, a CPU. None for any other file, or where the other graph would need statistics
    that ``source``'s statistics graph does not compute (the page feeds it those)."""
    from .metadata import read_metadata
    from .styles import ARBITRARY, best_of, painting_styles

    if not ARBITRARY.is_file() or source.resolve() != ARBITRARY.resolve():
        return None
    presets = painting_styles(SAMPLE_PAINTING)  # the shipped any-painting files, as -s painting.jpg sees them
    live = {backend: best_of(presets, "stream", gpu).path for backend, gpu in BACKENDS}
    others = {path.resolve() for path in live.values()} - {source.resolve()}
    if len(others) != 1:
        return None
    (other,) = others
    needs = set(read_metadata(other)["arbitrary"]["frame"]["inputs"])  # the frame, alpha and the statistics
    if not needs <= set(meta["arbitrary"]["frame"]["inputs"]):
        return None
    return other, [backend for backend, path in live.items() if path.resolve() == other]


def _example_names(paintings) -> list[tuple[Path, str]]:
    """(file, name in ``paintings/``) of the user's example paintings, each checked to be one (UserError)."""
    from .painting import painting_image  # OpenCV and Pillow: only a kit with paintings needs them

    seen, out = {SAMPLE_PAINTING}, []
    for painting in paintings:
        path = Path(painting)
        if not path.is_file():
            raise UserError(f"--painting {path}: no such file")
        painting_image(path)  # a one-line UserError for a file that is not a painting the page can take
        if path.name in seen:
            raise UserError(f"two example paintings are named {path.name}: rename one")
        seen.add(path.name)
        out.append((path, path.name))
    return out


def write_web_kit(model, out_dir, *, ort_dist=None, overwrite: bool = False, paintings=(),
                  arbitrary: bool = False) -> WebKitReport:
    """Write the browser kit for ``model`` (an exported .onnx file or a shipped style name) into ``out_dir``.

    The folder is built beside ``out_dir`` and renamed into place, so a failure leaves nothing
    half-written; an existing non-empty ``out_dir`` is a UserError unless ``overwrite``, which
    replaces it whole. A model without fastnst metadata is a UserError too. ``ort_dist``: an
    onnxruntime-web ``dist`` folder (see :func:`ort_web_dist`). An any-painting frame graph (metadata
    ``arbitrary``) brings its painting-statistics graph and example paintings: the generated sample and
    ``paintings`` (image files, copied as they are). ``arbitrary``: ``model`` must be one (else a UserError).
    Returns a :class:`WebKitReport`.
    """
    from .metadata import read_metadata  # onnxruntime: only a kit being written needs it

    out = check_out_dir(out_dir, overwrite)
    source = _model_path(model)
    meta = read_metadata(source)
    if "io" not in meta:
        raise UserError(f"{source} has no fastnst metadata: export it with 'fastnst export MODEL.pth -o MODEL.onnx'")
    graph = _painting_graph(source, meta)
    if arbitrary and graph is None:
        raise UserError(f"{source} is a trained style, not an any-painting export (OUT.onnx of 'fastnst "
                        "export-arbitrary'): drop --arbitrary, or give that")
    if paintings and graph is None:
        raise UserError(f"example paintings are for an any-painting kit (--arbitrary); {source} is a trained style")
    examples = _example_names(paintings) if graph is not None else []
    live = live_graph(source, meta) if graph is not None else None
    dist = ort_web_dist(ort_dist)
    version = ort_web_version(dist)
    style = str(meta.get("style") or ("any painting" if graph else source.stem))
    preset = str(meta.get("preset") or "")
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = _new_folder_beside(out, ".tmp")
    try:
        for name in PAGE_FILES:
            shutil.copyfile(PAGE / name, temp / name)
        shutil.copyfile(source, temp / "model.onnx")
        names = []
        if graph is not None:
            from .image import sample_style, save_image  # OpenCV: only an any-painting kit needs it

            shutil.copyfile(graph, temp / graph.name)
            (temp / PAINTINGS).mkdir()
            save_image(temp / PAINTINGS / SAMPLE_PAINTING, sample_style())
            for path, name in examples:
                shutil.copyfile(path, temp / PAINTINGS / name)
            names = [f"{PAINTINGS}/{n}" for n in [SAMPLE_PAINTING, *(n for _, n in examples)]]
            if live is not None:
                shutil.copyfile(live[0], temp / LIVE_MODEL)
        settings = page_settings(names, {"model": LIVE_MODEL, "backends": live[1]} if live else None)
        (temp / SETTINGS).write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
        (temp / "ort").mkdir()
        for name in ORT_FILES:
            shutil.copyfile(dist / name, temp / "ort" / name)
        if (dist.parent / "package.json").is_file():  # version and licence of what was copied
            shutil.copyfile(dist.parent / "package.json", temp / "ort" / "package.json")
        size = (temp / "model.onnx").stat().st_size + (graph.stat().st_size if graph else 0)
        readme = (PAGE / "README.md").read_text(encoding="utf-8")
        for key, value in {"STYLE": f"{style} ({preset})" if preset else style, "ORT_VERSION": version,
                           "MODEL_SIZE": f"{size / 1e6:.2f} MB"}.items():
            readme = readme.replace("{{" + key + "}}", value)
        (temp / "README.md").write_text(readme, encoding="utf-8")
        total = sum(p.stat().st_size for p in temp.rglob("*") if p.is_file())
        _move_into_place(temp, out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return WebKitReport(path=str(out), model=str(source), style=style, preset=preset or None,
                        ort_version=version, bytes=total)


def _new_folder_beside(path: Path, suffix: str) -> Path:
    """A new empty folder ``.NAME.XXXXXXXX<suffix>`` beside ``path``, with umask-based permissions
    (not mkdtemp's 0700)."""
    while True:
        folder = path.parent / f".{path.name}.{secrets.token_hex(4)}{suffix}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue


def _move_into_place(temp: Path, out: Path) -> None:
    """Rename the finished folder onto ``out``; an existing ``out`` (checked before) is replaced whole."""
    if not out.exists():
        os.rename(temp, out)
        return
    old = _new_folder_beside(out, ".old")
    os.rmdir(old)
    os.rename(out, old)  # an empty folder or, with overwrite, the previous kit
    try:
        os.rename(temp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
