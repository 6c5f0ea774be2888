"""Tests for fastnst.files: the input check, temp names, atomic outputs, locks and stale temps."""

import os
import re
import subprocess
import sys
import time

import pytest

from fastnst.errors import UserError
from fastnst.files import atomic_output, check_not_input, locked, remove_stale_temps, scratch, temp_beside

fcntl = pytest.importorskip("fcntl", reason="locks need POSIX flock")


def age(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


# ----------------------------------------------------------------------------- inputs


def test_check_not_input_catches_other_spellings_of_the_input(tmp_path, monkeypatch):
    src = tmp_path / "x.png"
    src.write_bytes(b"input")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    os.symlink(src, tmp_path / "link.png")
    for out in (src, str(src), "./x.png", "sub/../x.png", "link.png"):
        with pytest.raises(UserError, match="it is the input file"):
            check_not_input(out, ["other.png", None, src])
    with pytest.raises(UserError, match="x.png"):
        check_not_input(src, "./x.png")  # a single path as a string
    check_not_input(tmp_path / "y.png", [src, None])  # another file: fine
    assert src.read_bytes() == b"input"


def test_check_not_input_when_output_missing(tmp_path):
    with pytest.raises(UserError):
        check_not_input(tmp_path / "a" / ".." / "new.png", [tmp_path / "new.png"])


# ----------------------------------------------------------------------------- temp files and atomic outputs


def test_temp_beside_creates_a_new_hidden_file_each_time(tmp_path):
    target = tmp_path / "new" / "out.mp4"  # the folder is made
    first, second = temp_beside(target, ".mp4"), temp_beside(target, ".mp4")
    assert first != second and os.path.getsize(first) == 0 and os.path.getsize(second) == 0
    for temp in (first, second):
        assert os.path.dirname(temp) == str(target.parent)
        assert re.fullmatch(r"\.out\.mp4\.[0-9a-f]{8}\.tmp\.mp4", os.path.basename(temp))
    assert not target.exists()


def test_temp_beside_uses_the_umask_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        temp = temp_beside(tmp_path / "out.png")
    finally:
        os.umask(old)
    assert os.stat(temp).st_mode & 0o777 == 0o644


def test_atomic_output(tmp_path):
    target = tmp_path / "video.mp4"
    with atomic_output(target) as temp:
        assert os.path.dirname(temp) == str(tmp_path)
        assert temp.endswith(".mp4") and os.path.exists(temp) and not target.exists()
        with open(temp, "wb") as f:
            f.write(b"data")
    assert target.read_bytes() == b"data"
    assert os.listdir(tmp_path) == ["video.mp4"]

    with pytest.raises(KeyboardInterrupt):
        with atomic_output(tmp_path / "other.avi", suffix=".xyz") as temp:
            assert temp.endswith(".xyz")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == ["video.mp4"]


def test_atomic_output_keeps_the_old_file_on_error(tmp_path):
    target = tmp_path / "model.pth"
    target.write_bytes(b"old")
    with pytest.raises(OSError):
        with atomic_output(target) as temp:
            with open(temp, "wb") as f:
                f.write(b"half")
            raise OSError("disk full")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["model.pth"]


# ----------------------------------------------------------------------------- locks and stale temps


def lock_is_free(path) -> bool:
    """Whether another process could take ``path``'s lock now (asked from a separate process)."""
    code = ("import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "try: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
            "except OSError: sys.exit(1)")
    return subprocess.run([sys.executable, "-c", code, str(path)]).returncode == 0


def test_locked_holds_the_lock_for_the_block_only(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"")
    with locked(path):
        assert not lock_is_free(path)
    assert lock_is_free(path)


def test_remove_stale_temps_removes_only_old_unlocked_temps_of_that_output(tmp_path):
    dst = tmp_path / "o.mp4"
    stale, fresh, held = (tmp_path / f".o.mp4.{tag}.tmp.mp4" for tag in ("0badc0de", "12345678", "abcdef01"))
    other = tmp_path / ".other.mp4.0badc0de.tmp.mp4"  # another output's temp
    lookalike = tmp_path / ".o.mp4.notatemp.mp4"
    for p in (stale, fresh, held, other, lookalike):
        p.write_bytes(b"partial")
        age(p, 3600)
    age(fresh, 1)
    fd = os.open(held, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a run that is still writing it
    try:
        removed = remove_stale_temps(dst)
    finally:
        os.close(fd)
    assert removed == [str(stale)]
    assert not stale.exists() and all(p.exists() for p in (fresh, held, other, lookalike))
    assert remove_stale_temps(tmp_path / "missing" / "o.mp4") == []  # no folder: nothing to do


def test_a_temp_that_atomic_output_is_writing_is_not_stale(tmp_path):
    dst = tmp_path / "o.mp4"
    with atomic_output(dst) as temp, locked(temp):
        age(temp, 3600)
        assert remove_stale_temps(dst) == [] and os.path.exists(temp)


def test_scratch_is_locked_and_always_removed(tmp_path):
    with scratch(tmp_path / "o.mp4", "-video.mp4") as path:
        assert path.endswith("-video.mp4") and os.path.exists(path) and not lock_is_free(path)
    assert not os.path.exists(path)
    with pytest.raises(RuntimeError):
        with scratch(tmp_path / "o.mp4") as path:
            raise RuntimeError
    assert os.listdir(tmp_path) == []
