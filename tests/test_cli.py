"""The command line as a user meets it: help, one-line errors, exit codes, outputs."""

import subprocess
import sys

import numpy as np
import pytest

from fastnst.cli import build_parser, main
from fastnst.image import load_image, save_image


def run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "fastnst.cli", *args], capture_output=True, text=True, **kw)


def subcommands():
    return sorted(build_parser().commands)


def test_help_is_instant_and_imports_no_torch():
    code = ("import sys, contextlib, io\nfrom fastnst.cli import main\n"
            "for cmd in ([], " + ", ".join(f"['{c}']" for c in subcommands()) + "):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try: main([*cmd, '--help'])\n"
            "        except SystemExit: pass\n"
            "heavy = [m for m in ('torch', 'onnxruntime', 'cv2', 'gradio') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("cmd", subcommands())
def test_every_subcommand_explains_itself(cmd):
    r = run(cmd, "--help")
    assert r.returncode == 0 and "usage: fastnst " + cmd in r.stdout and len(r.stdout) > 200


def one_line_error(r):
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and lines[0].startswith("fastnst: error: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


def test_bad_flag_value_is_one_line():
    assert "--size" in one_line_error(run("optimize", "--size", "-3"))
    assert "--iterations" in one_line_error(run("optimize", "--iterations", "many"))
    one_line_error(run("optimize", "--optimizer", "sgd"))
    one_line_error(run("no-such-command"))


def test_missing_and_broken_inputs(tmp_path):
    assert "missing.jpg" in one_line_error(run("optimize", str(tmp_path / "missing.jpg"), "-o", str(tmp_path / "o.png")))
    bad = tmp_path / "bad.png"
    bad.write_text("this is not an image")
    one_line_error(run("optimize", str(bad), "-o", str(tmp_path / "o.png")))
    assert not (tmp_path / "o.png").exists()


def test_missing_weights_is_one_line(tmp_path):
    img = tmp_path / "in.png"
    save_image(img, np.zeros((16, 16, 3), np.uint8))
    msg = one_line_error(run("optimize", str(img), "--loss-net", f"vgg16:{tmp_path / 'none.pth'}",
                             "-o", str(tmp_path / "o.png")))
    assert "none.pth" in msg


def test_refuses_to_overwrite_input(tmp_path):
    img = tmp_path / "in.png"
    pixels = (np.random.default_rng(0).random((20, 20, 3)) * 255).astype(np.uint8)
    save_image(img, pixels)
    one_line_error(run("optimize", str(img), str(img), "-o", str(img), "--loss-net", "random-vgg16"))
    np.testing.assert_array_equal(load_image(img), pixels)


def test_optimize_end_to_end(tmp_path, capsys):
    rng = np.random.default_rng(0)
    content = np.clip(rng.normal(128, 30, (40, 52, 3)), 0, 255).astype(np.uint8)
    y, x = np.mgrid[:48, :48]
    style = np.where(((x // 6 + y // 6) % 2)[..., None] == 1, (230, 40, 40), (30, 30, 200)).astype(np.uint8)
    save_image(tmp_path / "c.png", content)
    save_image(tmp_path / "s.png", style)
    rc = main(["optimize", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(tmp_path / "out.jpg"),
               "--size", "40", "--iterations", "15", "--loss-net", "random-vgg19:0", "--device", "cpu",
               "--style-layers", "relu1_1,relu2_1", "--content-layer", "relu2_1", "-q"])
    assert rc == 0
    out = load_image(tmp_path / "out.jpg")
    assert out.shape == (31, 40, 3)
    text = capsys.readouterr().out
    before, after = text.split("style distance ")[1].split(";")[0].split(" -> ")
    assert float(after) < float(before) / 2


@pytest.mark.parametrize("command,config", [("optimize", "OptimizeConfig"), ("train", "TrainConfig")])
def test_every_config_field_has_a_flag(command, config):
    from dataclasses import fields

    import fastnst.config

    args = build_parser().parse_args([command])
    missing = [f.name for f in fields(getattr(fastnst.config, config)) if not hasattr(args, f.name)]
    assert missing == []


def test_runtime_device_flags_match_the_runtime():
    from fastnst.cli import RUNTIME_DEVICES
    from fastnst.runtime import DEVICES

    assert sorted(RUNTIME_DEVICES) == sorted(DEVICES)
