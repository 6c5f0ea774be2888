"""File-system safety for every output fastnst writes (torch-free, standard library only).

This module owns:

- temp names: :func:`temp_beside` creates ``.NAME.XXXXXXXX.tmpSUFFIX`` next to an output;
- atomic outputs: :func:`atomic_output` yields such a temp file and renames it onto the
  output only when the block succeeds, so no half-written file is ever left behind;
- the never-overwrite-an-input check: :func:`check_not_input`;
- default output names never replace a file the user did not name: :func:`free_default`
  (a batch of images applies it in :mod:`fastnst.batch`);
- temp files of long writes (video): :func:`locked` holds an advisory lock on a temp file
  while a run writes it, :func:`remove_stale_temps` deletes the temps that a killed run
  (no lock, older than a minute) left beside an output, and :func:`scratch` is a locked,
  always-deleted temp file for intermediate results;
- :func:`sigterm_as_exit`: SIGTERM as SystemExit while a long write runs, so that its temp
  files are removed as on Ctrl-C;
- :func:`cache_dir`: where fastnst keeps what it fetched or measured once (onnxruntime-web's
  files, the runtime speed measurements of :mod:`fastnst.runtime_devices`).
- :func:`home_dir`: where fastnst keeps what the user made (``$FASTNST_HOME``: their own styles).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import UserError

__all__ = ["HOME_ENV", "STALE_AFTER_S", "atomic_output", "cache_dir", "check_not_input", "free_default", "home_dir",
           "locked", "remove_stale_temps", "scratch", "sigterm_as_exit", "temp_beside"]

STALE_AFTER_S = 60.0  # a temp file this old whose lock is free belongs to a killed run
_TEMP = re.compile(r"\.[0-9a-f]{8}\.tmp")  # what temp_beside adds after ".NAME"


def cache_dir() -> Path:
    """fastnst's cache: $FASTNST_CACHE, else $XDG_CACHE_HOME/fastnst, else ~/.cache/fastnst."""
    if os.environ.get("FASTNST_CACHE"):
        return Path(os.environ["FASTNST_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "fastnst"


HOME_ENV = "FASTNST_HOME"  # overrides where fastnst keeps what the user made (home_dir)


def home_dir() -> Path:
    """Where fastnst keeps what the user made (their styles, :func:`fastnst.styles.user_styles_dir`):
    $FASTNST_HOME, else $XDG_DATA_HOME/fastnst, else ~/.local/share/fastnst (on Windows %LOCALAPPDATA%\\fastnst).
    Unlike :func:`cache_dir`, nothing here can be made again by fastnst: it is not a cache."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "fastnst"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share").expanduser() / "fastnst"


# --------------------------------------------------------------------------- inputs


def check_not_input(out_path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None]) -> None:
    """Raise UserError if ``out_path`` names the same file as any path in ``inputs``.

    Uses os.path.samefile when both exist (catches symlinks, hard links, ``./x``),
    else compares normalised real paths. ``None`` entries are skipped; a single path
    may be given as ``inputs``.
    """
    if isinstance(inputs, (str, bytes, os.PathLike)):
        inputs = (inputs,)
    out = os.fspath(out_path)
    for source in inputs:
        if source is None:
            continue
        src = os.fspath(source)
        if os.path.exists(out) and os.path.exists(src):
            same = os.path.samefile(out, src)
        else:
            same = _normalised(out) == _normalised(src)
        if same:
            raise UserError(f"refusing to write '{out}': it is the input file '{src}'")


def free_default(path: str, overwrite: bool = False) -> str:
    """``path``, a default output name the user did not give: UserError if a file is there already."""
    if os.path.lexists(path) and not overwrite:
        raise UserError(f"{path} exists: name the output with -o, or pass --overwrite to replace it")
    return path


def _normalised(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


# --------------------------------------------------------------------------- temp files and atomic outputs


def temp_beside(path: str | os.PathLike, suffix: str = "") -> str:
    """Create a new empty file ``.NAME.XXXXXXXX.tmpSUFFIX`` in ``path``'s folder (made if missing); its path.

    Created with O_EXCL (never an existing file) and umask-based permissions (not
    mkstemp's 0600); the caller renames or removes it.
    """
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    while True:
        temp = os.path.join(folder, f".{os.path.basename(target)}.{secrets.token_hex(4)}.tmp{suffix}")
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return temp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, suffix: str | None = None) -> Iterator[str]:
    """Write a file atomically: yield a temporary path next to ``path``, then rename.

    The temporary file is created (empty) in the target's folder, which is created
    if missing, with ``suffix`` (default: the target's extension) so that writers
    that pick a format by extension work. When the block succeeds it is moved onto
    ``path`` with os.replace; when it raises, it is removed and the error propagates,
    so no partial output is ever left behind. New files get the usual umask-based
    permissions (not mkstemp's 0600).
    """
    target = os.fspath(path)
    temp = temp_beside(target, os.path.splitext(target)[1] if suffix is None else suffix)
    try:
        yield temp
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)
        raise


# --------------------------------------------------------------------------- locks and stale temps


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive advisory lock on the existing file ``path`` while the block runs.

    POSIX ``flock``; a no-op where there is none. The kernel drops the lock when the
    process dies, however it dies, which is how :func:`remove_stale_temps` tells a killed
    run's leftovers from a live run's temp files. Raises OSError if another process
    holds the lock.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(os.fspath(path), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


def remove_stale_temps(dst: str | os.PathLike, older_than: float = STALE_AFTER_S) -> list[str]:
    """Delete the temp files (:func:`temp_beside` names) of ``dst`` that a killed run left behind.

    A temp file is stale when it was last modified more than ``older_than`` seconds ago
    and nobody holds its lock (see :func:`locked`). Only on POSIX (elsewhere nothing is
    removed, as a live run cannot be told apart). Returns the paths removed.
    """
    try:
        import fcntl
    except ImportError:
        return []
    target = os.fspath(dst)
    folder = os.path.dirname(os.path.abspath(target))
    prefix = "." + os.path.basename(target)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for name in names:
        if not (name.startswith(prefix) and _TEMP.match(name, len(prefix))):
            continue
        path = os.path.join(folder, name)
        try:
            if time.time() - os.path.getmtime(path) < older_than:
                continue
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.remove(path)
            removed.append(path)
        except OSError:
            pass  # locked: a run that is still writing it
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def scratch(dst: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """A locked temp file beside ``dst`` (named like :func:`atomic_output`'s), deleted when the block ends."""
    path = temp_beside(dst, suffix)
    try:
        with locked(path):
            yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """While the block runs, SIGTERM raises SystemExit (143) so that cleanup code runs (main thread only)."""
    import signal

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
