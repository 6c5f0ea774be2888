"""The command line as a user meets it: help, one-line errors, exit codes, outputs."""

import argparse
import subprocess
import sys

import numpy as np
import pytest

from fastnst.cli import build_parser, main
from fastnst.image import load_image, save_image

from helpers import one_line_error


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


def test_bad_flag_value_is_one_line():
    assert "--size" in one_line_error(run("optimize", "--size", "-3"))
    assert "--iterations" in one_line_error(run("optimize", "--iterations", "many"))
    one_line_error(run("optimize", "--optimizer", "sgd"))
    one_line_error(run("no-such-command"))


def test_missing_and_broken_inputs(tmp_path):
    missing = run("optimize", str(tmp_path / "missing.jpg"), "-o", str(tmp_path / "o.png"))
    assert "missing.jpg" in one_line_error(missing)
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


@pytest.mark.parametrize("command,config", [("optimize", "OptimizeConfig"), ("train", "TrainConfig"),
                                            ("bench", "BenchConfig"), ("export m.pth", "ExportConfig"),
                                            ("video in.mp4 -s wave", "VideoOptions"),
                                            ("webcam -s wave", "WebcamOptions"),
                                            ("stylize in.png -s wave", "StylizeOptions"),
                                            ("layers patches", "LayersConfig")])
def test_every_config_field_has_a_flag(command, config):
    from dataclasses import fields

    import fastnst.config

    args = build_parser().parse_args(command.split())
    missing = [f.name for f in fields(getattr(fastnst.config, config)) if not hasattr(args, f.name)]
    assert missing == []


@pytest.mark.parametrize("command", ["stylize in.png -s wave", "video in.mp4 -s wave", "webcam -s wave", "demo",
                                     "bench"])
def test_every_device_of_the_table_is_a_device_flag(command):
    """--device takes "auto" and every device of fastnst.runtime_devices.DEVICES, and nothing else."""
    from fastnst.runtime_devices import DEVICES

    parser = build_parser()
    for name in ("auto", *DEVICES):
        assert parser.parse_args([*command.split(), "--device", name]).device == name
    for name in ("gpu", "tpu", "OpenVINO"):
        with pytest.raises(SystemExit):
            parser.parse_args([*command.split(), "--device", name])


# ----------------------------------------------------------------------------- the base install: no torch

BLOCK_TORCH = ("import sys\n"
               "for m in ('torch', 'torchvision', 'onnx', 'onnxscript'):\n"
               "    sys.modules[m] = None  # 'import torch' now fails, as in an install without [train]\n"
               "from fastnst.cli import main\n")


def run_without_torch(args, cwd):
    code = BLOCK_TORCH + f"status = main({list(map(str, args))!r})\nprint('status', status)\nraise SystemExit(status)"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def photo_and_clip(tmp_path):
    from helpers import make_clip

    save_image(tmp_path / "photo.png", np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8))
    make_clip(tmp_path / "clip.mp4", count=6, size=(48, 32))
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("args", [
    ["styles"], ["styles", "--json"], ["info", "wave_lite"],
    ["stylize", "photo.png", "-s", "wave", "-o", "out.png"],
    ["bench", "wave", "--runs", "1", "--warmup", "0", "--sizes", "32x24", "-q"],
    ["video", "clip.mp4", "-s", "wave", "-o", "out.mp4", "-q", "--stabilize"],
    ["webcam", "-s", "wave", "--source", "clip.mp4", "--headless", "--frames", "2"],
], ids=lambda a: " ".join(a[:2]))
def test_the_base_commands_run_without_torch(photo_and_clip, args):
    r = run_without_torch(args, photo_and_clip)
    assert r.returncode == 0 and "status 0" in r.stdout, r.stderr


def test_the_web_app_builds_without_torch():
    code = BLOCK_TORCH + "from fastnst.webapp import build_app\nbuild_app()\nprint('built')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and "built" in r.stdout, r.stderr


def test_the_layers_tab_without_torch_names_the_install():
    code = BLOCK_TORCH + "from fastnst.webapp import Demo\nprint(Demo().layers_loaded()[2])"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and "Layers: the Layers tab needs PyTorch: pip install 'fastnst[train]'" in r.stdout, \
        r.stderr


@pytest.mark.parametrize("args", [
    ["train", "--style", "s.png", "--data", ".", "-o", "run"], ["optimize"],
    ["export", "model.pth", "-o", "model.onnx"], ["bench", "--preset", "lite"], ["layers", "patches"],
], ids=lambda a: a[0] + (" --preset" if "--preset" in a else ""))
def test_a_torch_command_without_torch_names_the_install(tmp_path, args):
    r = run_without_torch(args, tmp_path)
    assert r.returncode == 2 and "[train]" in one_line_error(r)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- clean errors


def tiny_onnx(path, in_shape, out_shape, op="Relu", scale=None):
    """A one-node ONNX model (not a fastnst export): ``op`` on x, or ``scale - x`` when ``scale`` is given."""
    import onnx
    from onnx import TensorProto, helper

    if scale is None:
        nodes, inits = [helper.make_node(op, ["x"], ["y"])], []
    else:  # an image "inverter" working in [0, scale]
        inits = [helper.make_tensor("c", TensorProto.FLOAT, [], [float(scale)])]
        nodes = [helper.make_node("Sub", ["c", "x"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9  # what every onnxruntime since 1.15 reads
    onnx.save(model, path)
    return path


def test_a_foreign_onnx_model_is_one_line_and_writes_nothing(tmp_path):
    save_image(tmp_path / "photo.png", np.zeros((20, 30, 3), np.uint8))
    other = tiny_onnx(tmp_path / "other.onnx", [1, 10], [1, 10])
    r = run("stylize", str(tmp_path / "photo.png"), "-s", str(other), "-o", str(tmp_path / "out.png"))
    assert r.returncode == 2 and "is not a style model" in one_line_error(r) and "(N, 3, H, W)" in r.stderr
    assert not (tmp_path / "out.png").exists()


def test_a_zero_to_255_model_runs_with_value_range(tmp_path):
    """A model that inverts in [0, 255] at a fixed 224x224 (the ONNX Model Zoo's layout) gives 255 - x."""
    from fastnst.runtime import Stylizer

    model = tiny_onnx(tmp_path / "zoo.onnx", [1, 3, 224, 224], [1, 3, 224, 224], scale=255)
    flat = np.full((50, 70, 3), (10, 100, 200), np.uint8)
    out = Stylizer(model, device="cpu", value_range=255).stylize(flat)
    assert out.shape == flat.shape and np.abs(out.astype(int) - (255 - flat.astype(int))).max() <= 1
    clipped = Stylizer(model, device="cpu").stylize(flat)  # taken as [0, 1]: far off
    assert np.abs(clipped.astype(int) - (255 - flat.astype(int))).max() > 50


def test_default_outputs_never_replace_a_file(tmp_path):
    rng = np.random.default_rng(0)  # textured: instance norm makes every flat photo look the same
    save_image(tmp_path / "photo.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    assert run("stylize", "photo.png", "-s", "wave", cwd=tmp_path).returncode == 0
    first = (tmp_path / "photo_wave.png").read_bytes()
    save_image(tmp_path / "photo.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    r = run("stylize", "photo.png", "-s", "wave", cwd=tmp_path)
    assert r.returncode == 2 and "--overwrite" in one_line_error(r)
    assert (tmp_path / "photo_wave.png").read_bytes() == first
    assert run("stylize", "photo.png", "-s", "wave", "--overwrite", cwd=tmp_path).returncode == 0
    assert (tmp_path / "photo_wave.png").read_bytes() != first


def test_a_glob_run_skips_its_own_earlier_outputs(tmp_path):
    for name in ("a.png", "b.png"):
        save_image(tmp_path / name, np.full((24, 32, 3), 90, np.uint8))
    assert run("stylize", "a.png", "-s", "wave", cwd=tmp_path).returncode == 0  # a_wave.png
    r = run("stylize", "*.png", "-s", "wave", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    import json

    summary = json.loads(r.stdout)
    assert [f["input"] for f in summary["files"]] == ["a.png", "b.png"] and summary["skipped"] == ["a_wave.png"]


def test_unknown_style_is_one_line_everywhere(tmp_path):
    save_image(tmp_path / "photo.png", np.zeros((20, 30, 3), np.uint8))
    for args in (["stylize", "photo.png", "-s", "candy"], ["info", "candy"], ["bench", "candy"],
                 ["webcam", "-s", "wave", "-s", "candy", "--source", "nothing.mp4", "--headless", "--frames", "1"]):
        r = run(*args, cwd=tmp_path)
        assert r.returncode == 2 and "candy" in one_line_error(r), (args, r.stderr)


def test_a_closed_stdout_pipe_is_quiet():
    code = ("import os, sys\nr, w = os.pipe()\nos.close(r)\nos.dup2(w, sys.stdout.fileno())\n"
            "from fastnst.cli import main\nraise SystemExit(main(['styles', '--json']))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.stderr == "" and p.returncode == 141


def test_styles_lists_the_exact_name_to_pass(capsys):
    from fastnst.styles import list_styles, resolve_styles

    assert main(["styles"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert len(rows) == len(list_styles(".onnx"))
    for row in rows:
        arg, file = row.split()[0], row.split()[4]
        assert [s.path.name for s in resolve_styles(arg)] == [file]  # the first column names exactly that file
        assert [s.path.name for s in resolve_styles(file)] == [file]  # and so does the file's name


def test_train_flags_beat_the_recipe_and_defaults_come_from_the_dataclass(tmp_path):
    import json

    from fastnst.cli import given_flags
    from fastnst.config import TrainConfig, load_recipe, train_config

    recipe_file = tmp_path / "r.json"
    recipe_file.write_text(json.dumps({"style": "s.jpg", "data": "photos", "iterations": 1600, "lr": 0.005,
                                       "channels_last": True, "comment": "ignored"}))
    args = build_parser().parse_args(["train", "--recipe", str(recipe_file), "-o", "run", "--lr", "0.001"])
    flags = given_flags(TrainConfig, args)
    assert flags == {"output": "run", "lr": 0.001}  # only what was given, even where it equals the default
    cfg = train_config(load_recipe(str(recipe_file)), flags)
    assert cfg.lr == 0.001 and cfg.iterations == 1600 and cfg.channels_last is True  # flag > recipe > default
    assert cfg.style == str(tmp_path / "s.jpg") and cfg.batch_size == TrainConfig().batch_size
    r = run("train", "--recipe", str(recipe_file), "-o", str(tmp_path / "run"), "--preset", "tiny")
    assert "unknown preset 'tiny'" in one_line_error(r) and not (tmp_path / "run").exists()  # before any work


# ----------------------------------------------------------------------------- flag values: every bound, at its edge

# (command line before the flag, flag, a value just out of range, the value at the bound). The bounds are the config
# dataclasses' validate(); the CLI only parses numbers. Several bounds of a flag are several rows.
BOUNDS = [
    *[(["optimize"], *row) for row in [
        ("--size", "15", "16"), ("--iterations", "0", "1"), ("--lr", "0", "1e-9"), ("--lr", "nan", "1e-9"),
        ("--style-scale", "0", "1e-9"), ("--content-weight", "-1e-9", "0"), ("--style-weight", "-1", "0"),
        ("--tv-weight", "-1", "0"), ("--tv-weight", "inf", "0"), ("--style-scales", "0", "1"),
        ("--style-scales", "6", "5"),  # 384 px halved 5 times is 12 px, below the loss net's 16 (4 times: 24)
        ("--seed", "-1", "0"), ("--seed", str(2**32), str(2**32 - 1))]],
    *[(["train", "--style", "s.png", "--data", "photos", "-o", "run"], *row) for row in [
        ("--image-size", "31", "32"), ("--style-size", "15", "16"), ("--crop-min", "0", "1e-9"),
        ("--crop-max", "1.01", "1"), ("--batch-size", "0", "1"), ("--iterations", "0", "1"), ("--epochs", "0", "1e-9"),
        ("--lr", "0", "1e-9"), ("--content-weight", "-1", "0"), ("--style-weight", "-1", "0"),
        ("--tv-weight", "-1", "0"), ("--temporal-weight", "-1", "0"), ("--style-scales", "0", "1"),
        ("--style-scales", "6", "5"),  # 256 px: 16 px after 4 halvings, 8 after 5
        ("--preview-every", "0", "1"), ("--log-every", "0", "1"), ("--checkpoint-every", "0", "1"),
        ("--keep", "0", "1"), ("--workers", "-1", "0"), ("--seed", "-1", "0"), ("--seed", str(2**32), str(2**32 - 1))]],
    (["train", "--resume", "run"], "--iterations", "0", "1"),  # the one setting --resume takes
    *[(["stylize", "photo.png", "-s", "wave"], *row) for row in [
        ("--strength", "-0.01", "0"), ("--strength", "1.01", "1"), ("--strength", "nan", "1"), ("--max-side", "0", "1"),
        ("--tile", "15", "16"), ("--value-range", "0", "1e-9")]],
    *[(["video", "in.mp4", "-s", "wave"], *row) for row in [
        ("--strength", "-0.01", "0"), ("--strength", "1.01", "1"), ("--max-side", "0", "1"),
        ("--stabilize", "-0.1", "0"), ("--stabilize", "1.1", "1"), ("--start", "-1", "0"), ("--duration", "0", "0.001"),
        ("--crf", "-1", "0"),
        ("--crf", "52", "51"), ("--encode-threads", "-1", "0")]],
    *[(["webcam", "-s", "wave", "--headless"], *row) for row in [
        ("--camera", "-1", "0"), ("--frames", "0", "1"), ("--strength", "-0.01", "0"), ("--strength", "1.01", "1"),
        ("--max-side", "0", "1"), ("--stabilize", "-0.1", "0"), ("--stabilize", "1.1", "1")]],
    *[(["demo"], *row) for row in [
        ("--port", "0", "1"), ("--port", "65536", "65535"), ("--max-upload-mb", "0", "0.001"),
        ("--max-upload-mb", "inf", "0.001"), ("--max-video-seconds", "0", "0.001"), ("--max-streams", "0", "1"),
        ("--stream-max-side", "0", "1"), ("--max-live", "0", "1"), ("--add-style-steps", "0", "1"),
        ("--live-bitrate", "-0.1", "0"), ("--live-bitrate", "51", "50")]],
    *[(["bench", "wave"], *row) for row in [
        ("--runs", "0", "1"), ("--warmup", "-1", "0"), ("--threads", "0", "1"), ("--sizes", "0x5", "1x1"),
        ("--sizes", "5x0", "1x1")]],
    *[(["train-decoder", "--data", "photos", "-o", "run"], *row) for row in [
        ("--width", "0.1", "0.125"), ("--width", "4.5", "4"), ("--image-size", "31", "32"), ("--crop-min", "0", "1e-9"),
        ("--crop-max", "1.01", "1"), ("--batch-size", "0", "1"), ("--iterations", "0", "1"), ("--lr", "0", "1e-9"),
        ("--pixel-weight", "-1", "0"), ("--feature-weight", "-1", "0"), ("--val-every", "0", "1"),
        ("--val-images", "0", "1"), ("--val-size", "31", "32"), ("--log-every", "0", "1"),
        ("--checkpoint-every", "0", "1"), ("--keep", "0", "1"), ("--seed", "-1", "0"), ("--init-batches", "0", "1"),
        ("--transfer", "-0.01", "0"), ("--transfer", "1.01", "1")]],
    *[(["train-decoder", "--level", "relu1_1", "--init", "lstsq", "--data", "photos", "-o", "run"], *row)
      for row in [("--iterations", "-1", "0")]],  # the least-squares decoder as is: 0 steps
    *[(["layers", "gram"], *row) for row in [
        ("--num-units", "0", "1"), ("--num-units", "65", "64"), ("--top", "0", "1"), ("--top", "65", "64"),
        ("--max-photos", "0", "1"), ("--photo-size", "15", "16"), ("--size", "15", "16"), ("--iterations", "0", "1"),
        ("--seed", "-1", "0"), ("--seed", str(2**32), str(2**32 - 1))]],
    *[(before, *row) for before in (["stylize", "photo.png", "-s", "wave"], ["video", "in.mp4", "-s", "wave"],
                                    ["webcam", "-s", "wave", "--headless"], ["bench", "wave"])
      for row in [("--style-strength", "-0.01", "0"), ("--style-strength", "1.01", "1"),
                  ("--style-strength", "nan", "1"), ("--style-size", "15", "16"), ("--style-size", "2049", "2048")]],
]
CONFIGS = {"optimize": "OptimizeConfig", "train": "TrainConfig", "stylize": "StylizeOptions", "video": "VideoOptions",
           "webcam": "WebcamOptions", "demo": "DemoConfig", "bench": "BenchConfig", "train-decoder": "DecoderConfig",
           "layers": "LayersConfig"}
FLAG_CONFIGS = {"--style-strength": "PaintingOptions", "--style-size": "PaintingOptions"}  # flags of every command


def run_here(capsys, argv):
    """``main(argv)`` in this process, as a CompletedProcess (status and output) for one_line_error."""
    try:
        status = main(argv)
    except SystemExit as e:
        status = e.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(argv, status, out, err)


@pytest.mark.parametrize("before,flag,bad,edge", BOUNDS, ids=lambda v: v if isinstance(v, str) else v[0])
def test_a_flag_value_out_of_range_is_one_line_before_any_work(tmp_path, monkeypatch, capsys, before, flag, bad, edge):
    monkeypatch.chdir(tmp_path)  # no input exists here: the value is refused before any file is looked at
    assert flag in one_line_error(run_here(capsys, [*before, flag, bad]))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("before,flag,bad,edge", BOUNDS, ids=lambda v: v if isinstance(v, str) else v[0])
def test_a_flag_value_at_its_bound_is_accepted(before, flag, bad, edge):
    import fastnst.config
    from fastnst.cli import config_from_args

    args = build_parser().parse_args([*before, flag, edge])
    config_from_args(getattr(fastnst.config, FLAG_CONFIGS.get(flag, CONFIGS[before[0]])), args).validate()


def test_every_numeric_flag_has_its_bounds_tested():
    from fastnst.cli import _sizes, seconds

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    numeric = {(name, a.option_strings[-1]) for name, p in commands.items() for a in p._actions
               if a.type in (int, float, seconds, _sizes)}
    tested = {(before[0], flag) for before, flag, _, _ in BOUNDS}
    assert numeric - tested == set() and tested - numeric == set()


def test_demo_host_and_port_are_the_config_defaults(monkeypatch):
    import fastnst.webapp
    from fastnst.config import DemoConfig

    served = []
    monkeypatch.setattr(fastnst.webapp, "launch", lambda *args, options, **kw: served.append(options))
    assert main(["demo", "--no-browser"]) == 0 and main(["demo", "--no-browser", "--port", "8123"]) == 0
    assert [(o.host, o.port) for o in served] == [(DemoConfig.host, DemoConfig.port), (DemoConfig.host, 8123)]


def test_from_dict_makes_tuples_where_the_field_holds_one():
    from dataclasses import dataclass

    from fastnst.config import BenchConfig, OptimizeConfig, from_dict

    @dataclass
    class Fields:
        either: str | tuple[str, ...] = ""
        sizes: tuple[tuple[int, int], ...] = ()
        items: list | None = None
        pairs: list[tuple[int, int]] | None = None  # a list: "tuple" in the annotation's text made it one

    assert from_dict(OptimizeConfig, {"style_layers": ["relu1_1"], "loss_net": "vgg16"}).style_layers == ("relu1_1",)
    assert from_dict(BenchConfig, {"sizes": [[64, 48]]}).sizes == ([64, 48],)  # the outer list only, as before
    got = from_dict(Fields, {"either": ["a", "b"], "sizes": [[1, 2]], "items": [1], "pairs": [(1, 2)]})
    assert got == Fields(either=("a", "b"), sizes=([1, 2],), items=[1], pairs=[(1, 2)])
    assert from_dict(Fields, {"either": "a"}).either == "a"


def test_a_pytorch_model_file_where_onnx_is_needed_points_to_export(tmp_path, capsys):
    """A training's model.pth given to `info` or as a style: the one-line error names the export command;
    a file that is neither says what onnxruntime found. Nothing is written."""
    from fastnst.styles import PRETRAINED

    model = tmp_path / "model.pth"
    model.write_bytes((PRETRAINED / "wave_lite.pth").read_bytes())
    junk = tmp_path / "junk.onnx"
    junk.write_text("not a model")
    photo = tmp_path / "in.png"
    save_image(photo, np.zeros((16, 16, 3), np.uint8))
    stylize = ["stylize", str(photo), "-s", str(model), "-o", str(tmp_path / "o.png")]
    for argv in (["info", str(model)], stylize, *([*stylize, "--device", d] for d in ("openvino", "cuda"))):
        assert f"fastnst export {model}" in one_line_error(run_here(capsys, argv)), argv  # on every device
    for argv in (["info", str(junk)], ["stylize", str(photo), "-s", str(junk), "-o", str(tmp_path / "o.png")]):
        msg = one_line_error(run_here(capsys, argv))
        assert "not an ONNX model" in msg and "fastnst export" not in msg
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("command", ["train", "train-decoder"])
def test_resume_refuses_settings_it_would_ignore(tmp_path, monkeypatch, capsys, command):
    """--resume runs on the run's own settings: any other setting given is a one-line error naming it, before
    the run folder is looked at (it does not exist here); --iterations alone passes that check."""
    monkeypatch.chdir(tmp_path)
    msg = one_line_error(run_here(capsys, [command, "--resume", "run", "--lr", "0.01", "--seed", "3"]))
    assert "--lr" in msg and "--seed" in msg and "--iterations" in msg
    msg = one_line_error(run_here(capsys, [command, "--resume", "run", "--recipe", "r.json"]))
    assert "--recipe" in msg
    resumed = run_here(capsys, [command, "--resume", "run", "--iterations", "9"])
    assert "--resume continues" not in one_line_error(resumed)
