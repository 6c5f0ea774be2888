"""Training: data robustness, loss going down, exact resume after SIGKILL, torchrun with 2 processes."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from fastnst.config import TrainConfig
from fastnst.image import save_image
from fastnst.models import load_model_file
from fastnst.train import CropDataset, StepSampler, find_images, train


def make_data(root, n=6):
    """Synthetic photos in nested folders, plus a broken image and a non-image."""
    rng = np.random.default_rng(0)
    for i in range(n):
        y, x = np.mgrid[: 50 + i, :70] / 70.0
        img = np.stack([x, y, 0.5 + 0.5 * np.sin(7 * x * (i + 1))], -1) * 200 + rng.normal(0, 10, (50 + i, 70, 3))
        sub = root / ("a/b" if i % 3 == 0 else "c" if i % 3 == 1 else "")
        save_image(sub / f"img{i}.{['jpg', 'png', 'webp'][i % 3]}", np.clip(img, 0, 255).astype(np.uint8))
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff junk")
    (root / "notes.txt").write_text("not an image")
    (root / "fake.png").write_text("text in disguise")
    return root


def make_style(path):
    y, x = np.mgrid[:64, :64]
    save_image(path, np.where(((x // 8 + y // 8) % 2)[..., None] == 1, (230, 40, 40), (30, 30, 200)).astype(np.uint8))
    return path


@pytest.fixture
def setup(tmp_path):
    return make_data(tmp_path / "data"), make_style(tmp_path / "style.png"), tmp_path


def small_cfg(data, style, out, **kw):
    base = dict(style=style if isinstance(style, tuple) else str(style), data=str(data), output=str(out), preset="lite",
                image_size=48, batch_size=2, iterations=12, loss_net="random-vgg16:0",
                style_layers=("relu1_2", "relu2_2"), content_layer="relu2_2", workers=0, device="cpu",
                checkpoint_every=4, log_every=2, preview_every=6, seed=3, lr=5e-3)
    base.update(kw)
    return TrainConfig(**base)


def test_find_images_is_recursive_and_skips_broken(setup):
    data, _, _ = setup
    good, bad = find_images(str(data))
    assert len(good) == 6
    assert sorted(os.path.basename(b) for b in bad) == ["broken.jpg", "fake.png"]


def test_image_that_fails_to_decode_later_is_replaced(setup, tmp_path, capsys):
    data, _, _ = setup
    files, _ = find_images(str(data))
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes((data / "c" / "img1.png").read_bytes()[:200])  # valid header, cut data
    ds = CropDataset([str(truncated), *files], 32, seed=0)
    crops = [ds[k] for k in range(len(ds))]  # every sample still comes back
    assert all(c.shape == (3, 32, 32) for c in crops)
    assert capsys.readouterr().err.count("truncated.png") == 1  # one warning per file


def test_batches_are_a_function_of_the_step(setup):
    data, _, _ = setup
    files, _ = find_images(str(data))
    ds = CropDataset(files, 32, seed=1)
    a = [ds[k] for k in StepSampler(3, 5, batch=2)]
    b = [CropDataset(files, 32, seed=1)[k] for k in StepSampler(3, 5, batch=2)]
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert a[0].shape == (3, 32, 32) and 0 <= a[0].min() and a[0].max() <= 1
    # two processes split each global batch: ranks 0 and 1 with batch 1 == one process with batch 2
    split = [k for r in (0, 1) for k in StepSampler(0, 1, batch=1, rank=r, world=2)]
    assert sorted(split) == list(StepSampler(0, 1, batch=2))
    # each epoch visits every file once
    seen = {int(ds._permutation(0)[k]) for k in range(len(files))}
    assert seen == set(range(len(files)))


def test_training_lowers_the_loss_and_writes_a_run(setup, capsys):
    data, style, tmp = setup
    out = train(small_cfg(data, style, tmp / "run", iterations=30), progress=False)
    rows = (tmp / "run" / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,total,content,style,tv,lr")
    totals = [float(r.split(",")[1]) for r in rows[1:]]
    assert len(totals) == 15 and totals[-1] < totals[0]
    previews = sorted(p.name for p in (tmp / "run" / "previews").iterdir())
    assert previews == [f"step_{s:06d}.png" for s in (6, 12, 18, 24, 30)]
    assert len(list((tmp / "run" / "checkpoints").iterdir())) == 3  # --keep
    model, meta = load_model_file(out)
    assert meta["style"] == "style" and meta["loss_net"] == "random-vgg16:0" and meta["image_size"] == 48
    assert meta["style_layers"] == ["relu1_2", "relu2_2"] and meta["iterations"] == 30
    assert model.preset == "lite"
    assert "skipped 2 unreadable" in capsys.readouterr().err


def test_multiscale_training_lowers_its_loss_and_records_it(setup):
    data, style, tmp = setup
    cfg = small_cfg(data, style, tmp / "run", iterations=30, style_scales=3, style_weight=1e4, image_size=64,
                    crop_min=0.5, crop_max=0.8)
    out = train(cfg, progress=False)
    rows = (tmp / "run" / "log.csv").read_text().splitlines()[1:]
    style_terms = [float(r.split(",")[3]) for r in rows]
    assert np.median(style_terms[-3:]) < 0.5 * np.median(style_terms[:3])
    meta = load_model_file(out)[1]
    assert meta["style_scales"] == 3 and meta["crop"] == [0.5, 0.8]


def test_crop_fraction_sets_the_scale_of_the_crops(tmp_path):
    y, x = np.mgrid[:100, :100]
    save_image(tmp_path / "stripes.png", np.repeat((((x // 5) % 2) * 255).astype(np.uint8)[..., None], 3, axis=2))
    zoomed = CropDataset([str(tmp_path / "stripes.png")], 40, seed=0, crop=(0.2, 0.2))[0]  # 20 px -> 40 px
    whole = CropDataset([str(tmp_path / "stripes.png")], 40, seed=0, crop=(1.0, 1.0))[0]  # 100 px -> 40 px
    def edges(t):
        return int((t[0, 20].diff().abs() > 0.25).sum())
    assert edges(zoomed) in (3, 4, 5) and edges(whole) > 12  # 2x vs 0.4x the photo's scale


def _weights(path):
    return load_model_file(path)[0].state_dict()


@pytest.mark.slow
def test_exact_resume_after_sigkill(setup):
    data, style, tmp = setup
    cfg = small_cfg(data, style, tmp / "ref", iterations=16, checkpoint_every=3)
    ref = _weights(train(cfg, progress=False))

    args = [sys.executable, "-m", "fastnst", "train", "--style", str(style), "--data", str(data),
            "-o", str(tmp / "killed"), "--preset", "lite", "--image-size", "48", "--batch-size", "2",
            "--iterations", "16", "--loss-net", "random-vgg16:0", "--style-layers", "relu1_2,relu2_2",
            "--content-layer", "relu2_2", "--workers", "0", "--device", "cpu", "--checkpoint-every", "3",
            "--log-every", "2", "--preview-every", "6", "--seed", "3", "--lr", "5e-3", "-q"]
    proc = subprocess.Popen(args, stderr=subprocess.DEVNULL)
    ckdir = tmp / "killed" / "checkpoints"
    deadline = time.time() + 120
    while not (ckdir.exists() and any(p.suffix == ".pt" for p in ckdir.iterdir())):
        assert proc.poll() is None and time.time() < deadline, "training ended before its first checkpoint"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp / "killed" / "model.pth").exists()
    assert not [p for p in ckdir.iterdir() if p.suffix != ".pt"]  # no half-written checkpoint survives

    r = subprocess.run([sys.executable, "-m", "fastnst", "train", "--resume", str(tmp / "killed"), "-q"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = _weights(tmp / "killed" / "model.pth")
    for k in ref:
        assert torch.equal(ref[k], got[k]), k
    steps = [int(line.split(",")[0]) for line in (tmp / "killed" / "log.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps))  # resumed log has no repeated rows


@pytest.mark.slow
def test_torchrun_two_processes_match_one(setup):
    data, style, tmp = setup
    common = ["--style", str(style), "--data", str(data), "--preset", "lite", "--image-size", "48",
              "--iterations", "3", "--loss-net", "random-vgg16:0", "--style-layers", "relu1_2,relu2_2",
              "--content-layer", "relu2_2", "--workers", "0", "--device", "cpu", "--seed", "3", "--lr", "5e-3",
              "--log-every", "1", "-q"]
    single = train(small_cfg(data, style, tmp / "one", iterations=3, batch_size=2, log_every=1), progress=False)
    assert single.exists()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                        "-m", "fastnst", "train", *common, "--batch-size", "1", "-o", str(tmp / "two")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    # Adam turns float-rounding noise in near-zero gradients into full-size steps, so the weights
    # of the two runs differ in such elements; the losses of the global batch match step by step.
    def losses(run):
        rows = (tmp / run / "log.csv").read_text().splitlines()[1:]
        return np.array([[float(v) for v in r.split(",")[1:5]] for r in rows])

    one, two = losses("one"), losses("two")
    assert one.shape == two.shape == (3, 4)
    np.testing.assert_allclose(two[0], one[0], rtol=1e-5)  # step 1: same weights, same global batch
    # total, content, style (tv is tiny and noisier): after one step the runs agree to ~1e-4 (an unsynced
    # step would differ by a good part of the 4-5% the loss moves in two steps); the noise then grows
    np.testing.assert_allclose(two[1, :3], one[1, :3], rtol=1e-3)
    np.testing.assert_allclose(two[2, :3], one[2, :3], rtol=1e-2)
    assert abs(one[-1, 0] - one[0, 0]) > 0.03 * one[0, 0]  # training moved: unsynced ranks would drift apart
    _, meta = load_model_file(tmp / "two" / "model.pth")
    assert meta["batch_size"] == 2


@pytest.mark.slow
def test_temporal_loss_trains_and_resumes_exactly(setup):
    import csv
    import shutil

    data, style, tmp = setup
    cfg = small_cfg(data, style, tmp / "temporal", iterations=8, checkpoint_every=4, temporal_weight=50.0)
    ref = _weights(train(cfg, progress=False))
    with open(tmp / "temporal" / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["total"]) < float(rows[0]["total"])
    assert all(float(r["temporal"]) > 0 for r in rows)
    assert load_model_file(tmp / "temporal" / "model.pth")[1]["temporal_weight"] == 50.0
    # Resume from the step-4 checkpoint: the random flows of steps 5..8 are drawn again, identically.
    shutil.copytree(tmp / "temporal", tmp / "resumed")
    (tmp / "resumed" / "model.pth").unlink()
    train(resume=str(tmp / "resumed"), progress=False)
    got = _weights(tmp / "resumed" / "model.pth")
    for k in ref:
        assert torch.equal(ref[k], got[k]), k


def test_recipe_values_yield_to_flags_given_even_at_their_default(setup):
    """A recipe fills in what the command line leaves out; a flag given wins, even one equal to its default."""
    import json

    from fastnst.cli import main

    data, style, tmp = setup
    recipe = tmp / "recipe.json"
    recipe.write_text(json.dumps({"comment": "test", "style": "style.png", "data": "data", "preset": "lite",
                                  "image_size": 40, "batch_size": 2, "iterations": 3, "lr": 0.005, "log_every": 3,
                                  "loss_net": "random-vgg16:0", "workers": 0, "device": "cpu"}))
    # --preset johnson and --log-every 10 are the flags' defaults, --iterations 2 is not
    assert main(["train", "--recipe", str(recipe), "-o", str(tmp / "run"), "--preset", "johnson",
                 "--log-every", "10", "--iterations", "2", "-q"]) == 0
    cfg = json.loads((tmp / "run" / "config.json").read_text())
    assert (cfg["preset"], cfg["log_every"], cfg["iterations"]) == ("johnson", 10, 2)
    assert (cfg["image_size"], cfg["lr"], cfg["style"]) == (40, 0.005, str(tmp / "style.png"))


def make_second_style(path):
    y, x = np.mgrid[:64, :64]
    save_image(path, np.stack([x * 4, 255 - y * 4, (x * y) % 256], -1).astype(np.uint8))
    return path


def test_style_of_step_visits_every_style_once_per_cycle():
    from fastnst.train import style_of_step

    seq = [style_of_step(5, t, 4) for t in range(40)]
    assert all(sorted(seq[i:i + 4]) == [0, 1, 2, 3] for i in range(0, 40, 4))
    assert seq == [style_of_step(5, t, 4) for t in range(40)]  # a function of (seed, step)
    assert seq != [style_of_step(6, t, 4) for t in range(40)]
    assert len({tuple(seq[i:i + 4]) for i in range(0, 40, 4)}) > 1  # the order changes between cycles


@pytest.mark.slow
def test_multi_style_training_resumes_exactly_and_records_its_styles(setup):
    import shutil

    data, style, tmp = setup
    second = make_second_style(tmp / "stripes.png")
    styles = tmp / "styles"
    styles.mkdir()
    shutil.copy(style, styles / "check.png")
    shutil.copy(second, styles / "stripes.png")
    cfg = small_cfg(data, (str(styles),), tmp / "multi", iterations=8, checkpoint_every=4)
    ref = _weights(train(cfg, progress=False))
    model, meta = load_model_file(tmp / "multi" / "model.pth")
    assert model.num_styles == 2 and meta["styles"] == ["check", "stripes"]
    shutil.copytree(tmp / "multi", tmp / "resumed")
    (tmp / "resumed" / "model.pth").unlink()
    train(resume=str(tmp / "resumed"), progress=False)
    got = _weights(tmp / "resumed" / "model.pth")
    for k in ref:
        assert torch.equal(ref[k], got[k]), k


def test_style_images_errors_are_one_line(setup, tmp_path):
    from fastnst.errors import UserError
    from fastnst.train import style_images

    data, style, _ = setup
    (tmp_path / "empty").mkdir()
    for bad in [(str(tmp_path / "missing.png"),), (str(tmp_path / "empty"),), (str(style), str(style))]:
        with pytest.raises(UserError) as e:
            style_images(small_cfg(data, bad, tmp_path / "x"))
        assert "\n" not in str(e.value)


@pytest.mark.slow
def test_add_style_trains_only_the_new_rows_and_lowers_its_loss(setup):
    data, style, tmp = setup
    second = make_second_style(tmp / "stripes.png")
    base = train(small_cfg(data, style, tmp / "base", iterations=4), progress=False)  # a one-style base
    added = train(small_cfg(data, str(second), tmp / "added", iterations=12, base=str(base), lr=5e-2), progress=False)
    old, _ = load_model_file(base)
    new, meta = load_model_file(added)
    assert new.num_styles == 2 and meta["styles"] == ["style", "stripes"]
    changed = 0
    for key, before in old.state_dict().items():
        after = new.state_dict()[key]
        if before.shape == after.shape:
            assert torch.equal(before, after), key  # every shared weight untouched
        else:
            assert torch.equal(before, after[0]), key  # the base style's row untouched
            changed += not torch.equal(after[1], before)
    assert changed > 0  # the new row did train
    # the new style's loss on fixed photos: the grown network before training (its new row the mean of
    # the base's) against after
    from fastnst import image as im
    from fastnst.losses import PerceptualLoss
    from fastnst.lossnet import build_loss_net
    from fastnst.train import grow_styles

    net = build_loss_net("random-vgg16:0", ("relu1_2", "relu2_2"), "relu2_2")
    crit = PerceptualLoss(net, im.to_tensor(im.resize_long_side(im.load_image(str(second)), 48)),
                          style_weight=1.0, content_weight=0.0)
    photos = torch.cat([im.to_tensor(im.resize(im.load_image(p), (48, 48))) for p in find_images(str(data))[0][:4]])
    start, _ = grow_styles(old)
    w = torch.tensor([0.0, 1.0])
    with torch.no_grad():
        before = crit(start.eval()(photos, w), crit.content_target(photos))["style"]
        after = crit(new(photos, w), crit.content_target(photos))["style"]
    assert after < 0.95 * before  # 12 steps of the new row alone: 8% lower here
    x = torch.rand(1, 3, 40, 40)
    with torch.no_grad():  # style 0 of the grown network is the base network
        assert torch.equal(new(x, torch.tensor([1.0, 0.0])), old(x)) or \
            torch.allclose(new(x, torch.tensor([1.0, 0.0])), old(x), atol=1e-6)


def test_add_style_refuses_a_name_the_base_has(setup):
    from fastnst.errors import UserError

    data, style, tmp = setup
    base = train(small_cfg(data, style, tmp / "base", iterations=2), progress=False)
    with pytest.raises(UserError, match="already has a style named 'style'"):
        train(small_cfg(data, style, tmp / "again", iterations=2, base=str(base)), progress=False)


def test_resume_with_more_iterations_extends_the_run_on_a_replanned_schedule(setup):
    import csv
    import shutil

    from fastnst.errors import UserError
    from fastnst.train import cosine_lr

    data, style, tmp = setup
    cfg = small_cfg(data, style, tmp / "short", iterations=8, checkpoint_every=4, log_every=1)
    train(cfg, progress=False)
    shutil.copytree(tmp / "short", tmp / "long")
    with pytest.raises(UserError):  # not past the newest checkpoint (step 4)
        train(resume=str(tmp / "long"), progress=False, iterations=4)
    train(resume=str(tmp / "long"), progress=False, iterations=14)
    with open(tmp / "long" / "log.csv", newline="") as f:
        rows = {int(r["step"]): float(r["lr"]) for r in csv.DictReader(f)}
    assert sorted(rows) == list(range(1, 15))  # steps 5-8 of the old plan replaced, then on to 14
    for s in range(5, 15):  # the schedule a 14-step run would have had, from the checkpoint on
        assert rows[s] == pytest.approx(cosine_lr(cfg, s, 14), rel=1e-4), s
    assert rows[4] == pytest.approx(cosine_lr(cfg, 4, 8), rel=1e-4)  # before: the old plan's
    assert rows[14] == pytest.approx(cfg.lr / 10, rel=1e-4)
    assert load_model_file(tmp / "long" / "model.pth")[1]["iterations"] == 14
