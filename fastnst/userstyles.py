"""Your own painting as a style, in minutes: one add-style training at a time, in a process of its own.

:class:`StyleTrainer` turns a painting into a style of the user styles folder
(:func:`fastnst.styles.user_styles_dir`, ``$FASTNST_HOME/styles``) that every front end then offers:

1. the painting is checked and read here (:func:`load_painting`: not an image, too small, resized to
   :attr:`fastnst.config.AddStyleConfig.max_side` when larger), its name too (:func:`check_name`: not a
   bundled style's, not one of the user's);
2. ``python -m fastnst train --add-style PAINTING --base gallery_lite.pth`` runs in a process of its own
   at a lower priority (nice 10), so a live stream served by this process keeps most of the CPU: only
   the new style's instance-norm rows train (:func:`fastnst.train.train_new_rows_only`);
3. ``python -m fastnst export RUN/model.pth --style NAME`` writes the new style alone as a checked
   one-input ONNX file;
4. the model file (the base network with the new style added) and the ONNX file are installed in one
   rename, as the folder ``NAME/`` of the user styles folder.

Progress (steps done of the total, the time left) is read from the run's ``log.csv``. :meth:`StyleTrainer.cancel`
kills the process; a cancelled, failed or killed training leaves nothing behind: the run lives in
``$FASTNST_HOME/work/`` (removed when the job ends, and by the next job when a killed server left one) and
the style appears only by the final rename. Every refusal is a :class:`fastnst.errors.UserError` of one line.

Torch-free (the web app imports it); the training process needs PyTorch, ``pip install 'fastnst[train]'``.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .config import AddStyleConfig, loss_net_file
from .errors import UserError
from .files import home_dir, locked
from .styles import PRETRAINED, list_styles, style_file, user_styles_dir

__all__ = ["BASE_NAME", "LOSS_NET_FILE", "NICENESS", "Progress", "StyleTrainer", "check_name", "find_loss_net",
           "find_photos", "load_painting"]

BASE_NAME = "gallery_lite.pth"  # the bundled network a painting is added to
LOSS_NET_FILE = "vgg_normalised_conv3_1.pth"  # under DATA_ROOT/weights/: the base's loss net (vgg19-normalised)
NICENESS = 10  # the training process's nice increment: the live stream goes first
SAMPLE_PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")  # scikit-image's
MAX_PIXELS = 20_000 * 20_000  # the largest painting read (a JPEG is decoded at a reduced scale)
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
RUNNING = ("starting", "training", "exporting", "installing")


# ----------------------------------------------------------------------------- checks of what the user gives


def check_name(name: str) -> str:
    """The style name ``name`` as stored (lower case, spaces as ``_``); a UserError for one that is not a name
    (letters, digits, ``_`` and ``-``, at most 40), a bundled style's, or one of the user's styles already."""
    clean = re.sub(r"[\s.]+", "_", (name or "").strip().lower())
    if not clean:
        raise UserError("give the style a name")
    if not NAME_RE.fullmatch(clean):
        raise UserError(f"'{name}' cannot be a style name: use letters, digits, _ and - (at most 40)")
    if clean in {s.name for s in list_styles(".onnx", user=False)}:
        raise UserError(f"'{clean}' is a bundled style: choose another name")
    mine = {s.name: s for s in list_styles(".onnx") if user_styles_dir() in s.path.parents}
    if clean in mine or (user_styles_dir() / clean).exists():
        raise UserError(f"you have a style named '{clean}' already ({user_styles_dir() / clean}): "
                        "choose another name, or delete that folder")
    return clean


@contextlib.contextmanager
def _pixels_allowed(limit: int) -> Iterator[None]:
    """Pillow's decompression-bomb limit raised to ``limit`` while the block opens a file (a header read)."""
    from PIL import Image

    with _PIL_LIMIT:
        old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = limit // 2  # Pillow refuses above twice the limit
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = old


_PIL_LIMIT = threading.Lock()


def load_painting(path: str | os.PathLike[str], max_side: int = AddStyleConfig.max_side,
                  min_side: int = AddStyleConfig.min_side) -> tuple[np.ndarray, str]:
    """The painting at ``path`` as uint8 RGB (H, W, 3), its long side at most ``max_side``, and a note on
    what was done (``""``, or ``"resized from 20000x15000"``). A UserError of one line for a file that is not
    an image, a painting under ``min_side`` px on its short side, or one too large to read.

    A JPEG larger than Pillow's decompression-bomb limit is decoded at a reduced scale (up to
    :data:`MAX_PIXELS`); other formats are read by :func:`fastnst.image.load_image`.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    from .image import load_image, resize_long_side

    name = os.path.basename(os.fspath(path))
    not_image = UserError(f"'{name}' is not an image: upload a painting as a JPEG, PNG or WebP file")
    try:
        with _pixels_allowed(MAX_PIXELS):
            header = Image.open(path)
    except UnidentifiedImageError:
        header = None  # not a format Pillow knows: load_image tries OpenCV
    except Image.DecompressionBombError:
        raise UserError(f"'{name}' is too large to read (over {MAX_PIXELS / 1e6:.0f} megapixels): "
                        "save a smaller copy") from None
    except (OSError, ValueError, SyntaxError):
        raise not_image from None
    if header is not None:
        with header:
            w, h = header.size
            big = w * h > (Image.MAX_IMAGE_PIXELS or MAX_PIXELS)
            if min(w, h) >= min_side and big:
                if header.format != "JPEG":
                    raise UserError(f"'{name}' is {w}x{h}, too large to read as {header.format}: "
                                    "save it as a JPEG, or smaller")
                try:
                    header.draft("RGB", (max_side, max_side))  # decoded at 1/2 .. 1/8 scale
                    img = ImageOps.exif_transpose(header).convert("RGB")
                except (OSError, ValueError, SyntaxError):
                    raise not_image from None
                return resize_long_side(np.asarray(img), max_side), f"resized from {w}x{h}"
    try:
        image = load_image(path)
    except UserError:
        raise not_image from None
    h, w = image.shape[:2]
    if min(w, h) < min_side:
        raise UserError(f"'{name}' is only {w}x{h} pixels: give a painting at least {min_side} px on each side")
    if max(w, h) > max_side:
        return resize_long_side(image, max_side), f"resized from {w}x{h}"
    return image, ""


# ----------------------------------------------------------------------------- what the training needs


def _data_root(config: AddStyleConfig) -> Path | None:
    root = config.data_root or os.environ.get("FASTNST_DATA")
    return Path(root).expanduser() if root else None


def find_loss_net(config: AddStyleConfig) -> str:
    """The ``--loss-net`` spec of the training: ``config.loss_net``; else ``vgg19-normalised`` on
    ``DATA_ROOT/weights/vgg_normalised_conv3_1.pth`` (the base network's loss net); else ``$FASTNST_LOSS_NET``.
    A UserError says where to put the weights when there are none."""
    spec = config.loss_net
    root = _data_root(config)
    if not spec and root is not None and (root / "weights" / LOSS_NET_FILE).is_file():
        spec = f"vgg19-normalised:{root / 'weights' / LOSS_NET_FILE}"
    spec = spec or os.environ.get("FASTNST_LOSS_NET")
    if not spec:
        raise UserError(f"no loss-net weights found: put {LOSS_NET_FILE} in DIR/weights/ and start the demo with "
                        "--data-root DIR (or set $FASTNST_DATA=DIR)")
    weights = loss_net_file(spec)
    if weights and not os.path.isfile(weights):
        raise UserError(f"the loss-net weights are not there: {weights}")
    return spec


def find_photos(config: AddStyleConfig) -> tuple[Path, str]:
    """The folder of content photos to train on, and what they are: BSDS500's training photos under the data
    root (``DATA_ROOT/content/bsds500/train``), else a few sample photos that scikit-image ships, copied once
    into ``$FASTNST_HOME/sample_photos``."""
    root = _data_root(config)
    if root is not None:
        bsds = root / "content" / "bsds500" / "train"
        if bsds.is_dir() and any(bsds.glob("*.jpg")):
            return bsds, f"BSDS500 ({bsds})"
    import skimage.data

    folder = home_dir() / "sample_photos"
    source = Path(skimage.data.__file__).parent
    folder.mkdir(parents=True, exist_ok=True)
    for name in SAMPLE_PHOTOS:
        if not (folder / name).is_file() and (source / name).is_file():
            from .files import atomic_output

            with atomic_output(folder / name) as tmp:
                shutil.copyfile(source / name, tmp)
    if not any(folder.iterdir()):
        raise UserError("no photos to train on: give the demo --data-root DIR with content/bsds500/train/")
    return folder, f"scikit-image's {len(SAMPLE_PHOTOS)} sample photos (no BSDS500 under --data-root)"


def _base(config: AddStyleConfig) -> Path:
    base = Path(config.base) if config.base else PRETRAINED / BASE_NAME
    if not base.is_file():
        raise UserError(f"the network to add a style to is missing: {base}")
    return base


def _need_torch() -> None:
    if importlib.util.find_spec("torch") is None:
        raise UserError("training a style needs PyTorch, which is not installed: pip install 'fastnst[train]'")


def _disk_message(error: OSError, where: Path) -> str:
    import errno

    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full: free some space in {where} and try again"
    return f"could not write the style in {where}: {error.strerror or error}"


# ----------------------------------------------------------------------------- the job


@dataclass(frozen=True)
class Progress:
    """Where the training stands. ``state``: ``idle``, ``starting``, ``training``, ``exporting``,
    ``installing`` (running), ``done``, ``failed`` or ``cancelled``. ``step`` of ``total`` training steps;
    ``seconds_left``: the time the training still needs (None until it is known); ``message``: one line for
    the user; ``path``: the installed style's ONNX file when ``done``."""

    state: str = "idle"
    name: str = ""
    step: int = 0
    total: int = 0
    seconds_left: float | None = None
    message: str = ""
    path: Path | None = None

    @property
    def running(self) -> bool:
        return self.state in RUNNING

    @property
    def fraction(self) -> float:
        """How much is done, 0 .. 1 (the export counts as the last 5%)."""
        if self.state == "done":
            return 1.0
        if self.state in ("exporting", "installing"):
            return 0.95
        return 0.95 * self.step / self.total if self.total else 0.0

    @property
    def time_left(self) -> str:
        """``about 2 min 10 s left``, or "" where not known."""
        if self.seconds_left is None or not self.running:
            return ""
        s = max(0, round(self.seconds_left))
        return f"about {s // 60} min {s % 60:02d} s left" if s >= 60 else f"about {s} s left"


class _Cancelled(Exception):
    pass


class StyleTrainer:
    """Adds paintings to the user styles folder, one at a time (see the module docstring).

    ``config``: the training's settings (:class:`fastnst.config.AddStyleConfig`). ``on_done``: called with
    the installed style's ONNX file, in the job's thread, once it is in place (the web app adds it to its
    dropdowns there). :meth:`start` returns at once; :meth:`progress` says where the job stands;
    :meth:`cancel` stops it and removes what it made; :meth:`wait` waits for its end.
    """

    # What the export and its check take, counted in the time left: about 40 s measured on the project's 2-core
    # CPU while another training ran beside it (most of it importing torch.export and tracing the network).
    EXPORT_SECONDS = 30.0

    def __init__(self, config: AddStyleConfig | None = None, on_done: Callable[[Path], None] | None = None):
        self.config = config or AddStyleConfig()
        self.config.validate()
        self.on_done = on_done
        self._lock = threading.Lock()
        self._progress = Progress()
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen | None = None
        self._cancel = threading.Event()
        self._exit_hook = False

    @property
    def styles_dir(self) -> Path:
        return user_styles_dir()

    @property
    def work_dir(self) -> Path:
        """Where runs live while they train: ``$FASTNST_HOME/work`` (never the styles folder)."""
        return home_dir() / "work"

    def progress(self) -> Progress:
        """Where the job stands now (the training's steps read from its log)."""
        with self._lock:
            return self._progress

    @property
    def running(self) -> bool:
        return self.progress().running

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._progress = replace(self._progress, **changes)

    # ------------------------------------------------------------------ start

    def start(self, painting: str | os.PathLike[str] | None, name: str | None = None) -> Progress:
        """Start training ``painting`` (an image file) as the style ``name`` (default: the file's name).

        Everything that can be checked is checked before anything starts, each a one-line UserError: a
        training running already (here or in another process on the same ``$FASTNST_HOME``), no PyTorch, the
        painting, the name, the loss net's weights, the base network, and the disk.
        """
        with self._lock:
            if self._progress.running:
                p = self._progress
                raise UserError(f"a style is training already ('{p.name}', step {p.step} of {p.total}): "
                                "wait for it to finish, or cancel it")
            _need_torch()
            if not painting or not os.path.isfile(painting):
                raise UserError("upload a painting first")
            image, note = load_painting(painting, self.config.max_side, self.config.min_side)
            name = check_name(name if name and name.strip() else Path(os.fspath(painting)).stem)
            base, loss_net = _base(self.config), find_loss_net(self.config)
            photos, photos_what = find_photos(self.config)
            stack = contextlib.ExitStack()
            work = None
            try:
                self.work_dir.mkdir(parents=True, exist_ok=True)
                lock = self.work_dir / ".lock"
                lock.touch()
                try:
                    stack.enter_context(locked(lock))
                except OSError:
                    raise UserError("another fastnst is training a style: wait for it to finish") from None
                self._remove_leftovers()  # the lock is ours: what is there, a killed job left
                work = self.work_dir / f"{name}.{secrets.token_hex(4)}"
                work.mkdir()
                from .image import save_image

                save_image(work / "painting.png", image)
            except OSError as e:
                stack.close()
                if work is not None:
                    shutil.rmtree(work, ignore_errors=True)
                raise UserError(_disk_message(e, self.work_dir)) from None
            except BaseException:
                stack.close()
                raise
            self._cancel.clear()
            what = f"{name}: {note}; " if note else f"{name}: "
            self._progress = Progress("starting", name, 0, self.config.steps, None,
                                      f"{what}starting (photos: {photos_what})")
            job = dict(name=name, work=work, base=base, loss_net=loss_net, photos=photos, stack=stack)
            self._thread = threading.Thread(target=self._run, args=(job,), name=f"fastnst-add-style-{name}",
                                            daemon=True)
            if not self._exit_hook:
                import atexit

                atexit.register(self.cancel)  # a server that stops kills its training and removes the run
                self._exit_hook = True
            self._thread.start()
            return self._progress

    def _remove_leftovers(self) -> None:
        """Runs and half-installed styles that a killed job left (only while holding the work lock)."""
        for entry in self.work_dir.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
        if self.styles_dir.is_dir():
            for entry in self.styles_dir.glob(".*.tmp"):
                shutil.rmtree(entry, ignore_errors=True)

    # ------------------------------------------------------------------ the job's thread

    def _commands(self, job: dict) -> tuple[list[str], list[str]]:
        c, run, name = self.config, job["work"] / "run", job["name"]
        train = [sys.executable, "-m", "fastnst", "train", "--add-style", str(job["work"] / "painting.png"),
                 "--style-name", name, "--base", str(job["base"]), "--data", str(job["photos"]),
                 "--loss-net", job["loss_net"], "--image-size", str(c.image_size), "--style-size", str(c.style_size),
                 "--batch-size", str(c.batch_size), "--iterations", str(c.steps), "--lr", str(c.lr),
                 "--style-weight", str(c.style_weight), "--log-every", str(max(1, c.steps // 100)),
                 "--preview-every", str(c.steps), "--checkpoint-every", str(c.steps), "--keep", "1", "-o", str(run)]
        if c.style_layers:
            train += ["--style-layers", ",".join(c.style_layers)]
        if c.content_layer:
            train += ["--content-layer", c.content_layer]
        preset = style_file(job["base"]).preset or "lite"
        export = [sys.executable, "-m", "fastnst", "export", str(run / "model.pth"), "--style", name,
                  "-o", str(job["work"] / f"{name}_{preset}.onnx")]
        return train, export

    def _run(self, job: dict) -> None:
        name, work = job["name"], job["work"]
        try:
            train, export = self._commands(job)
            self._call(train, job, "training")
            self._set(state="exporting", step=self.config.steps, seconds_left=None,
                      message=f"{name}: writing and checking the ONNX file")
            self._call(export, job, "exporting")
            self._set(state="installing", message=f"{name}: installing")
            path = self._install(job)
            self._set(state="done", path=path, seconds_left=None,
                      message=f"{name} is ready: it is in every style list now ({path.parent})")
            if self.on_done is not None:
                self.on_done(path)
        except _Cancelled:
            self._set(state="cancelled", seconds_left=None, message=f"{name}: cancelled; nothing was kept")
        except UserError as e:
            self._set(state="failed", seconds_left=None, message=f"{name}: {e}")
        except OSError as e:
            self._set(state="failed", seconds_left=None, message=f"{name}: {_disk_message(e, self.styles_dir)}")
        except Exception as e:  # a bug: say so in one line, keep nothing
            self._set(state="failed", seconds_left=None,
                      message=f"{name}: training failed ({type(e).__name__}: {e})")
        finally:
            self._process = None
            shutil.rmtree(work, ignore_errors=True)
            job["stack"].close()

    def _call(self, command: list[str], job: dict, state: str) -> None:
        """Run one step's process at a lower priority, following its progress; _Cancelled or a UserError."""
        if self._cancel.is_set():
            raise _Cancelled
        output = job["work"] / f"{state}.txt"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        root = Path(__file__).resolve().parents[1]  # a source checkout's root: `-m fastnst` finds this fastnst
        if root.name not in ("site-packages", "dist-packages"):
            env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(root), env.get("PYTHONPATH"))))
        with open(output, "wb") as out:
            kwargs: dict = {"start_new_session": True} if os.name == "posix" else \
                {"creationflags": getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0)}
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                       env=env, **kwargs)
        self._process = process
        if os.name == "posix":
            with contextlib.suppress(OSError):  # before it starts its threads: they inherit it
                os.setpriority(os.PRIO_PROCESS, process.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICENESS))
        if self._cancel.is_set():  # cancelled while it started
            self._kill(process)
        started = time.monotonic()
        while process.poll() is None:
            if state == "training":
                self._read_log(job)
            else:
                self._set(seconds_left=max(3.0, self.EXPORT_SECONDS - (time.monotonic() - started)))
            self._cancel.wait(0.25)
            if self._cancel.is_set():
                self._kill(process)
        if self._cancel.is_set():
            raise _Cancelled
        if process.returncode != 0:
            raise UserError(_failure(output, state, process.returncode))
        if state == "training":
            self._read_log(job)

    def _read_log(self, job: dict) -> None:
        """The training's progress from its log.csv: the last complete row's step and elapsed seconds."""
        log = job["work"] / "run" / "log.csv"
        try:
            with open(log, newline="") as f:
                rows = [r for r in csv.DictReader(f) if r.get("elapsed_s")]
        except (OSError, csv.Error):
            return
        if not rows:
            return
        try:
            step, elapsed = int(rows[-1]["step"]), float(rows[-1]["elapsed_s"])
        except (KeyError, ValueError):
            return
        total = self.config.steps
        left = elapsed / step * (total - step) + self.EXPORT_SECONDS if step else None
        self._set(state="training", step=step, seconds_left=left,
                  message=f"{job['name']}: step {step} of {total}")

    @staticmethod
    def _kill(process: subprocess.Popen) -> None:
        with contextlib.suppress(OSError):
            if os.name == "posix":
                os.killpg(process.pid, signal.SIGKILL)  # the process and any data-loading workers
            else:
                process.kill()
        process.wait()

    def _install(self, job: dict) -> Path:
        """Put the model file and its ONNX export in the user styles folder as ``NAME/``, in one rename."""
        name, work = job["name"], job["work"]
        onnx = next(work.glob(f"{name}_*.onnx"))
        folder = self.styles_dir
        folder.mkdir(parents=True, exist_ok=True)
        stage = folder / f".{name}.{secrets.token_hex(4)}.tmp"  # not a style (its name starts with a dot)
        try:
            stage.mkdir()
            shutil.copyfile(onnx, stage / onnx.name)
            shutil.copyfile(work / "run" / "model.pth", stage / f"{onnx.stem}.pth")
            shutil.copyfile(work / "painting.png", stage / "painting.png")
            if self._cancel.is_set():
                raise _Cancelled
            if (folder / name).exists():
                raise UserError(f"a style named '{name}' appeared meanwhile in {folder}: nothing was kept")
            os.rename(stage, folder / name)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        return folder / name / onnx.name

    # ------------------------------------------------------------------ cancel and wait

    def cancel(self, timeout: float = 60.0) -> bool:
        """Stop the running job, if any: kill its process and remove its run (nothing is installed).
        Returns whether a job was running; it has ended when this returns (up to ``timeout`` s)."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return False
        self._cancel.set()
        process = self._process
        if process is not None and process.poll() is None:
            self._kill(process)
        thread.join(timeout)
        return True

    def wait(self, timeout: float | None = None) -> Progress:
        """Wait for the job to end (or ``timeout`` s); its progress then."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.progress()


def _failure(output: Path, state: str, code: int) -> str:
    """One line for a step's process that failed: its own ``fastnst: error:`` line, or its last line."""
    try:
        lines = [ln.strip() for ln in output.read_text(errors="replace").replace("\r", "\n").splitlines()
                 if ln.strip()]
    except OSError:
        lines = []
    errors = [ln for ln in lines if ln.startswith("fastnst: ")]
    last = (errors or lines or [f"exit status {code}"])[-1]
    last = last.removeprefix("fastnst: error: ").removeprefix("fastnst: ")
    if "No space left" in last or "Disk quota" in last:
        return "the disk is full: free some space and try again"
    return f"{state} failed: {last}"
