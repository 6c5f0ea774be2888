"""Your own painting as a style (fastnst.userstyles) and the user styles folder (fastnst.styles).

$FASTNST_HOME is a temp folder for the whole run (conftest.private_home); each test here gets one of its own.
Most job tests run stand-in commands (a few lines of Python that write what train and export write), so the
job's progress, cancel, failures and install are checked in seconds; one test runs the real training and
export with a tiny budget (3 steps, a random loss net) and runs the style it installed.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fastnst.config import AddStyleConfig
from fastnst.errors import UserError
from fastnst.image import save_image

TINY = dict(steps=3, loss_net="random-vgg16:0", style_layers=("relu1_2", "relu2_2"))  # seconds, not minutes


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("FASTNST_HOME", str(folder))
    return folder


def painting(path, w=160, h=120, seed=0) -> Path:
    """A colourful uint8 RGB picture saved at ``path`` (its format by the suffix)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([np.sin(9 * x), np.cos(7 * y), np.sin(5 * (x + y))], -1) * 0.4 + 0.5
    img = np.clip((img + rng.normal(0, 0.05, img.shape)) * 255, 0, 255).astype(np.uint8)
    save_image(path, img)
    return Path(path)


def leftovers(home: Path) -> list[str]:
    """What a job left in $FASTNST_HOME besides the sample photos and the work folder's lock file."""
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")
                  if p.relative_to(home).parts[0] != "sample_photos" and p.name != ".lock" and p != home / "work"
                  and p != home / "styles")


# ----------------------------------------------------------------------------- the user styles folder


def test_the_user_styles_folder(tmp_path, monkeypatch):
    from fastnst.styles import user_styles_dir

    monkeypatch.delenv("FASTNST_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert user_styles_dir() == tmp_path / "xdg" / "fastnst" / "styles"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert user_styles_dir() == Path.home() / ".local" / "share" / "fastnst" / "styles"
    monkeypatch.setenv("FASTNST_HOME", str(tmp_path / "mine"))
    assert user_styles_dir() == tmp_path / "mine" / "styles"


def test_a_user_style_is_a_style_everywhere(home, lite_onnx):
    """A style in the user styles folder is listed, named, chosen and run like a shipped one; a file whose
    name a shipped style has, and a folder being installed (a dot name), are not styles."""
    from fastnst.runtime import Stylizer
    from fastnst.styles import Catalog, choose, list_styles, resolve_styles

    folder = home / "styles"
    (folder / "mine").mkdir(parents=True)
    shutil.copy(lite_onnx, folder / "mine" / "mine_lite.onnx")
    shutil.copy(lite_onnx, folder / "wave_lite.onnx")  # the shipped wave stays the shipped one
    (folder / ".half.0123abcd.tmp").mkdir()
    shutil.copy(lite_onnx, folder / ".half.0123abcd.tmp" / "half_lite.onnx")
    listed = [s for s in list_styles(".onnx") if folder in s.path.parents]
    assert [(s.name, s.preset, s.exact_name) for s in listed] == [("mine", "lite", "mine_lite")]
    assert all(folder not in s.path.parents for s in resolve_styles("wave"))
    assert resolve_styles("mine")[0].path == folder / "mine" / "mine_lite.onnx"
    assert resolve_styles("mine_lite")[0].path == folder / "mine" / "mine_lite.onnx"
    assert "mine" in Catalog().names and "half" not in Catalog().names
    assert choose("mine", "stream", "cpu").file.path == folder / "mine" / "mine_lite.onnx"
    frame = painting(home / "p.png", 64, 48)
    from fastnst.image import load_image

    out = Stylizer("mine", device="cpu").stylize(load_image(frame))
    expected = Stylizer(lite_onnx, device="cpu").stylize(load_image(frame))
    np.testing.assert_array_equal(out, expected)


def test_fastnst_styles_lists_mine(home, lite_onnx, capsys):
    from fastnst.cli import main

    (home / "styles" / "mine").mkdir(parents=True)
    shutil.copy(lite_onnx, home / "styles" / "mine" / "mine_lite.onnx")
    assert main(["styles"]) == 0
    out = capsys.readouterr().out
    assert "mine_lite " in out and f"your own styles are in {home / 'styles'}" in out


# ----------------------------------------------------------------------------- what the user gives


def test_names(home, lite_onnx):
    from fastnst.userstyles import check_name

    assert check_name("My Painting") == "my_painting"
    assert check_name(" sunset-2 ") == "sunset-2"
    for bad, says in [("", "give the style a name"), ("a+b", "cannot be a style name"),
                      ("x" * 41, "cannot be a style name"), ("wave", "'wave' is a bundled style"),
                      ("Mondrian", "'mondrian' is a bundled style")]:  # mondrian: inside gallery_lite
        with pytest.raises(UserError, match=says):
            check_name(bad)
    (home / "styles" / "mine").mkdir(parents=True)
    shutil.copy(lite_onnx, home / "styles" / "mine" / "mine_lite.onnx")
    with pytest.raises(UserError, match="you have a style named 'mine' already"):
        check_name("mine")


def test_bad_paintings_get_one_line_messages(tmp_path, monkeypatch):
    from PIL import Image

    from fastnst.userstyles import load_painting

    def message(path, **kw) -> str:
        with pytest.raises(UserError) as e:
            load_painting(path, **kw)
        assert "\n" not in str(e.value)
        return str(e.value)

    text = tmp_path / "notes.png"
    text.write_text("not a picture at all")
    assert message(text) == "'notes.png' is not an image: upload a painting as a JPEG, PNG or WebP file"
    truncated = tmp_path / "cut.jpg"
    painting(tmp_path / "whole.jpg", 300, 200)
    truncated.write_bytes((tmp_path / "whole.jpg").read_bytes()[:400])
    assert "is not an image" in message(truncated)
    assert message(painting(tmp_path / "tiny.png", 40, 30)) == \
        "'tiny.png' is only 40x30 pixels: give a painting at least 64 px on each side"

    image, note = load_painting(painting(tmp_path / "ok.png", 300, 200))
    assert image.shape == (200, 300, 3) and note == ""
    image, note = load_painting(painting(tmp_path / "long.jpg", 20_000, 300))  # a 20 000-pixel painting
    assert image.shape[1] == 512 and note == "resized from 20000x300"

    # Beyond Pillow's decompression-bomb limit (made small here): a JPEG is decoded at a reduced scale,
    # another format is refused in one line.
    painting(tmp_path / "huge.jpg", 1600, 1200)
    painting(tmp_path / "huge.png", 1600, 1200)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400_000)
    image, note = load_painting(tmp_path / "huge.jpg")
    assert image.shape == (384, 512, 3) and note == "resized from 1600x1200"
    assert message(tmp_path / "huge.png") == "'huge.png' is 1600x1200, too large to read as PNG: save it as a " \
                                             "JPEG, or smaller"


def test_what_the_training_needs(home, tmp_path, monkeypatch):
    """The loss net and the photos: from the data root (--data-root, $FASTNST_DATA), else a clear message /
    scikit-image's sample photos."""
    from fastnst.userstyles import LOSS_NET_FILE, find_loss_net, find_photos

    monkeypatch.delenv("FASTNST_DATA", raising=False)
    monkeypatch.delenv("FASTNST_LOSS_NET", raising=False)
    with pytest.raises(UserError, match=r"^no loss-net weights found: put vgg_normalised_conv3_1.pth in DIR/weights/ "
                                        r"and start the demo with --data-root DIR \(or set \$FASTNST_DATA=DIR\)$"):
        find_loss_net(AddStyleConfig())
    with pytest.raises(UserError, match="the loss-net weights are not there"):
        find_loss_net(AddStyleConfig(loss_net=f"vgg16:{tmp_path / 'none.pth'}"))
    root = tmp_path / "data"
    (root / "weights").mkdir(parents=True)
    (root / "weights" / LOSS_NET_FILE).write_bytes(b"weights")
    assert find_loss_net(AddStyleConfig(data_root=str(root))) == \
        f"vgg19-normalised:{root / 'weights' / LOSS_NET_FILE}"
    monkeypatch.setenv("FASTNST_DATA", str(root))
    assert find_loss_net(AddStyleConfig()).startswith("vgg19-normalised:")
    assert find_loss_net(AddStyleConfig(loss_net="random-vgg16:0")) == "random-vgg16:0"

    folder, what = find_photos(AddStyleConfig())  # no BSDS500 there: the sample photos
    assert folder == home / "sample_photos" and len(list(folder.iterdir())) == 5 and "scikit-image" in what
    (root / "content" / "bsds500" / "train").mkdir(parents=True)
    painting(root / "content" / "bsds500" / "train" / "1.jpg")
    assert find_photos(AddStyleConfig())[0] == root / "content" / "bsds500" / "train"


def test_refusals_before_anything_starts(home, tmp_path, monkeypatch):
    import importlib.util

    from fastnst.userstyles import StyleTrainer

    trainer = StyleTrainer(AddStyleConfig(**TINY))
    good = painting(tmp_path / "sunset.png")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else
                        real_find_spec(name, *a))
    with pytest.raises(UserError, match=r"^training a style needs PyTorch, which is not installed: "
                                        r"pip install 'fastnst\[train\]'$"):
        trainer.start(good)
    monkeypatch.undo()
    monkeypatch.setenv("FASTNST_HOME", str(home))
    with pytest.raises(UserError, match="upload a painting first"):
        trainer.start(None)
    with pytest.raises(UserError, match="'wave' is a bundled style"):
        trainer.start(good, "wave")

    import fastnst.image

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fastnst.image, "save_image", full)
    with pytest.raises(UserError, match=r"^the disk is full: free some space in .*work and try again$"):
        trainer.start(good)
    assert trainer.progress().state == "idle" and leftovers(home) == []


# ----------------------------------------------------------------------------- the job, with stand-in commands

# Stands in for `fastnst train`: log.csv rows as train writes them, a step every DELAY s, then run/model.pth.
FAKE_TRAIN = """
import csv, os, sys, time
run, steps, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
os.makedirs(run, exist_ok=True)
with open(os.path.join(run, "log.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["step", "total", "content", "style", "tv", "lr", "images_per_s", "elapsed_s", "temporal"])
    for step in range(1, steps + 1):
        time.sleep(delay)
        w.writerow([step, 1, 1, 1, 1, 0.01, 4, f"{step * 2.0:.1f}", 0])
        f.flush()
open(os.path.join(run, "model.pth"), "wb").write(b"model")
"""


def fake_trainer(home, lite_onnx, monkeypatch, steps=4, delay=0.05, train_fails: str | None = None, **kw):
    """A StyleTrainer whose train and export steps are stand-ins (no torch): the pipeline around them is real."""
    from fastnst.userstyles import StyleTrainer

    script = home.parent / "fake_train.py"
    script.write_text(FAKE_TRAIN)

    def commands(self, job):
        run = job["work"] / "run"
        train = [sys.executable, str(script), str(run), str(steps), str(delay)]
        if train_fails:
            train = [sys.executable, "-c", f"import sys; print({train_fails!r}); sys.exit(1)"]
        export = [sys.executable, "-c", f"import shutil; shutil.copy({str(lite_onnx)!r}, "
                                        f"{str(job['work'] / (job['name'] + '_lite.onnx'))!r})"]
        return train, export

    monkeypatch.setattr(StyleTrainer, "_commands", commands)
    done = []
    trainer = StyleTrainer(AddStyleConfig(**{**TINY, "steps": steps}), on_done=done.append, **kw)
    trainer.done = done
    return trainer


def test_a_job_installs_its_style_in_one_folder(home, tmp_path, lite_onnx, monkeypatch):
    from fastnst.styles import list_styles

    trainer = fake_trainer(home, lite_onnx, monkeypatch, steps=6, delay=0.4)
    p = trainer.start(painting(tmp_path / "Sea Side.png", 700, 300))
    assert p.state == "starting" and p.name == "sea_side" and "resized from 700x300" in p.message
    with pytest.raises(UserError, match=r"^a style is training already \('sea_side', step \d of 6\): wait for it "
                                        r"to finish, or cancel it$"):
        trainer.start(painting(tmp_path / "other.png"))
    seen = []
    while trainer.running:
        seen.append(trainer.progress())
        time.sleep(0.1)
    training = [s for s in seen if s.state == "training"]
    assert training and all(s.total == 6 and 0 < s.step <= 6 for s in training)
    mid = next((s for s in training if s.step == 3), None)
    if mid is not None:  # 2 s a step in the stand-in's log: 3 steps of 6 leave 6 s of training, and the export
        assert mid.seconds_left == pytest.approx(6.0 + trainer.EXPORT_SECONDS) and "left" in mid.time_left
    p = trainer.progress()
    assert p.state == "done", p
    folder = home / "styles" / "sea_side"
    assert p.path == folder / "sea_side_lite.onnx" and trainer.done == [p.path]
    assert sorted(f.name for f in folder.iterdir()) == ["painting.png", "sea_side_lite.onnx", "sea_side_lite.pth"]
    assert "sea_side" in [s.name for s in list_styles(".onnx")]
    assert leftovers(home) == ["styles/sea_side", "styles/sea_side/painting.png", "styles/sea_side/sea_side_lite.onnx",
                               "styles/sea_side/sea_side_lite.pth"]  # the run is gone
    with pytest.raises(UserError, match="you have a style named 'sea_side' already"):
        trainer.start(painting(tmp_path / "sea side.png"))


def test_cancel_leaves_nothing_behind(home, tmp_path, lite_onnx, monkeypatch):
    trainer = fake_trainer(home, lite_onnx, monkeypatch, steps=1000, delay=0.05)
    trainer.start(painting(tmp_path / "slow.png"))
    deadline = time.monotonic() + 30
    while trainer.progress().step < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    process = trainer._process
    assert trainer.cancel() is True
    p = trainer.progress()
    assert p.state == "cancelled" and p.message == "slow: cancelled; nothing was kept"
    assert process.poll() is not None  # killed
    assert leftovers(home) == [] and trainer.done == []
    assert trainer.cancel() is False  # nothing runs now


def test_a_killed_or_failed_training_ships_nothing(home, tmp_path, lite_onnx, monkeypatch):
    import signal

    trainer = fake_trainer(home, lite_onnx, monkeypatch, steps=1000, delay=0.05)
    trainer.start(painting(tmp_path / "killed.png"))
    while trainer.progress().step < 2:
        time.sleep(0.05)
    os.kill(trainer._process.pid, signal.SIGKILL)  # killed from outside (out of memory, a user's kill)
    p = trainer.wait(30)
    assert p.state == "failed" and p.message.startswith("killed: training failed") and "\n" not in p.message
    assert leftovers(home) == []

    trainer = fake_trainer(home, lite_onnx, monkeypatch,
                           train_fails="fastnst: internal error: OSError: [Errno 28] No space left on device")
    trainer.start(painting(tmp_path / "full.png"))
    assert trainer.wait(30).message == "full: the disk is full: free some space and try again"
    assert leftovers(home) == []

    trainer = fake_trainer(home, lite_onnx, monkeypatch, train_fails="fastnst: error: no readable images in 'x'")
    trainer.start(painting(tmp_path / "bad.png"))
    assert trainer.wait(30).message == "bad: training failed: no readable images in 'x'"


def test_a_full_disk_while_installing_ships_nothing(home, tmp_path, lite_onnx, monkeypatch):
    import fastnst.userstyles

    trainer = fake_trainer(home, lite_onnx, monkeypatch)
    real = shutil.copyfile

    def copyfile(src, dst, *a, **kw):
        if Path(dst).suffix == ".pth":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst, *a, **kw)

    monkeypatch.setattr(fastnst.userstyles.shutil, "copyfile", copyfile)
    trainer.start(painting(tmp_path / "late.png"))
    p = trainer.wait(30)
    assert p.state == "failed" and p.message == f"late: the disk is full: free some space in {home / 'styles'} and " \
                                                "try again"
    assert leftovers(home) == []


def test_a_killed_server_leaves_nothing_that_counts(home, tmp_path, lite_onnx, monkeypatch):
    """What a server killed mid-job left (a run, a half-installed folder) is no style, and the next job removes it."""
    from fastnst.styles import list_styles

    (home / "work" / "old.0123abcd" / "run").mkdir(parents=True)
    (home / "styles" / ".old.0123abcd.tmp").mkdir(parents=True)
    shutil.copy(lite_onnx, home / "styles" / ".old.0123abcd.tmp" / "old_lite.onnx")
    assert "old" not in [s.name for s in list_styles(".onnx")]
    trainer = fake_trainer(home, lite_onnx, monkeypatch)
    trainer.start(painting(tmp_path / "next.png"))
    assert trainer.wait(30).state == "done"
    assert leftovers(home) == ["styles/next", "styles/next/next_lite.onnx", "styles/next/next_lite.pth",
                               "styles/next/painting.png"]


# ----------------------------------------------------------------------------- the real thing, tiny


@pytest.mark.slow
def test_a_painting_trains_exports_and_runs(home, tmp_path):
    """fastnst train --add-style on the bundled network, then export, for 3 steps: the style it installs is
    listed, runs in the Stylizer, and differs from every bundled style."""
    pytest.importorskip("torch")
    from fastnst.runtime import Stylizer
    from fastnst.styles import list_styles
    from fastnst.userstyles import StyleTrainer

    trainer = StyleTrainer(AddStyleConfig(**TINY))
    trainer.start(painting(tmp_path / "stripes.png", 256, 192), "my stripes")
    p = trainer.wait(600)
    assert p.state == "done", p.message
    assert p.path == home / "styles" / "my_stripes" / "my_stripes_lite.onnx"
    assert [s.path for s in list_styles(".onnx") if s.name == "my_stripes"] == [p.path]
    photo = painting(tmp_path / "photo.png", 96, 64, seed=3)
    from fastnst.image import load_image

    frame = load_image(photo)
    out = Stylizer("my_stripes", device="cpu").stylize(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    wave = Stylizer("wave@gallery_lite", device="cpu").stylize(frame)
    assert np.abs(out.astype(int) - wave).mean() > 1  # its own style row, not another one
    assert leftovers(home)[:1] == ["styles/my_stripes"] and not list((home / "work").glob("my_stripes*"))
