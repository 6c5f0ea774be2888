"""fastnst bench: structure and sanity of its results (no timing asserts), size parsing, errors."""

import json
import subprocess
import sys

import pytest

import fastnst.styles
from fastnst.bench import BenchConfig, bench_models, format_table, parse_sizes
from fastnst.cli import main
from fastnst.errors import UserError


def test_bench_json(lite_onnx, capsys):
    rc = main(["bench", str(lite_onnx), "--sizes", "40x30,17x9", "--runs", "2", "--warmup", "1",
               "--device", "cpu", "--threads", "1", "--json", "-q"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["device"] == "cpu" and report["runs"] == 2 and report["warmup"] == 1 and report["threads"] == 1
    assert [(r["width"], r["height"]) for r in report["results"]] == [(40, 30), (17, 9)]
    for r in report["results"]:
        assert (r["style"], r["preset"], r["precision"]) == ("test", "lite", "fp32")
        assert r["provider"] == "CPUExecutionProvider"
        assert r["runs"] == len(r["times_ms"]) == 2 and all(t > 0 for t in r["times_ms"])
        assert min(r["times_ms"]) == r["min_ms"] <= r["median_ms"] <= r["p90_ms"] <= max(r["times_ms"])
        assert r["fps"] == pytest.approx(1000.0 / r["median_ms"])


def test_bench_table(lite_onnx):
    results = bench_models([lite_onnx], BenchConfig(sizes=((24, 16),), runs=1, warmup=0, device="cpu"))
    assert len(results) == 1 and results[0].runs == 1
    table = format_table(results).splitlines()
    assert len(table) == 3 and "fps" in table[0] and "24x16" in table[2] and "lite" in table[2]


def test_parse_sizes():
    assert parse_sizes("256x256, 640X480") == ((256, 256), (640, 480))
    for bad in ("", "640", "640x", "axb", "-1x5"):
        with pytest.raises(ValueError):
            parse_sizes(bad)
    with pytest.raises(UserError, match="--sizes"):  # a size, but not a frame: the config's bound
        BenchConfig(sizes=parse_sizes("0x10")).validate()


def test_errors(tmp_path, monkeypatch, capsys, lite_onnx):
    monkeypatch.setattr(fastnst.styles, "PRETRAINED", tmp_path)  # an installation without bundled styles
    assert main(["bench", "-q"]) == 2
    assert "no styles are bundled" in capsys.readouterr().err
    assert main(["bench", str(lite_onnx), "--fp16"]) == 2
    assert main(["bench", "--preset", "nope"]) == 2
    assert main(["bench", str(tmp_path / "missing.onnx")]) == 2
    assert "not found" in capsys.readouterr().err
    for flags in (["--runs", "0"], ["--warmup", "-1"], ["--sizes", "0x5"]):  # BenchConfig.validate's bounds
        assert main(["bench", str(lite_onnx), *flags]) == 2
        assert flags[0] in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:  # not a size at all: argparse
        main(["bench", str(lite_onnx), "--sizes", "12"])
    assert e.value.code == 2


def test_bench_imports_no_torch(lite_onnx):
    code = ("import sys; from fastnst.cli import main; "
            f"main(['bench', {str(lite_onnx)!r}, '--sizes', '16x16', '--runs', '1', '--json', '-q']); "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["results"][0]["width"] == 16



def test_bench_shows_each_shipped_copy_and_its_io(capsys):
    """A bundled style's name times each shipped copy (fp32, int8, uint8 I/O), one row each."""
    from fastnst.styles import pick, variants

    copies = variants(pick("wave"))
    assert main(["bench", "wave", "--device", "cpu", "--sizes", "32x24", "--runs", "1", "--warmup", "0", "-q",
                 "--json"]) == 0
    results = __import__("json").loads(capsys.readouterr().out)["results"]
    assert [r["model"] for r in results] == [str(v.path) for v in copies]
    assert {(r["precision"], r["io"]) for r in results} == {(v.precision, "uint8" if v.uint8_io else "float")
                                                             for v in copies}
    assert main(["bench", "wave", "--int8"]) == 2  # --int8 is for --preset


def test_bench_times_the_blend_it_is_given(mix_onnx, capsys):
    """A blend or a style inside a multi-style file is timed as that blend (its row names it), not as the
    file's first style; the whole file is timed once."""
    args = ["--device", "cpu", "--sizes", "32x24", "--runs", "1", "--warmup", "0", "-q", "--json"]
    assert main(["bench", f"b@{mix_onnx}", f"a+b@{mix_onnx}", str(mix_onnx), str(mix_onnx), *args]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["style"] for r in results] == ["b", "a+b", "a"]  # the whole file: its first style


def test_export_presets_int8(tmp_path):
    from fastnst.bench import export_presets
    from fastnst.runtime import read_metadata

    paths = export_presets(["lite"], tmp_path, int8=True)
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["random_lite.onnx", "random_lite.int8.onnx"]
    assert read_metadata(paths[1])["precision"] == "int8"


def test_bench_auto_reports_the_device_it_picked_and_why(capsys):
    """--device auto: each file runs where fastnst.styles.choose puts it (on a CPU with OpenVINO installed, the
    runtime measured faster for that file), and the output says which and, where it compared, why."""
    from fastnst.styles import PRETRAINED, choose

    lite = str(PRETRAINED / "wave_lite.onnx")
    args = ["bench", lite, "--device", "auto", "--sizes", "32x24", "--runs", "1", "--warmup", "0", "-q"]
    assert main(args) == 0
    table = capsys.readouterr().out
    picked = choose(lite)  # the same choice: the measurement is kept
    assert picked.device.provider.replace("ExecutionProvider", "") in table
    if picked.measured:  # OpenVINO is installed: both CPU runtimes were timed, the faster one runs
        assert picked.why in table
        times = {name: ms for name, ms in picked.measured if ms is not None}
        assert times[picked.device.name] == min(times.values())
    assert main([*args, "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert (result["device"], result["provider"], result["picked"]) == \
        (picked.device.name, picked.device.provider, picked.why)


def test_bench_a_painting_times_each_of_its_presets(tmp_path):
    from fastnst.image import sample_style, save_image
    from fastnst.styles import ARBITRARY, ARBITRARY_FAST

    if not (ARBITRARY.is_file() and ARBITRARY_FAST.is_file()):
        pytest.skip("the any-painting pair is not in this install")
    painting = tmp_path / "mine.png"
    save_image(str(painting), sample_style(64))
    results = bench_models([str(painting)], BenchConfig(sizes=((32, 24),), runs=1, warmup=0, device="cpu"))
    assert [(r.preset, r.model) for r in results] == [("wct", str(ARBITRARY)), ("wct_fast", str(ARBITRARY_FAST))]
    assert all(r.style == "mine" for r in results)
    assert "wct_fast" in format_table(results)  # the preset column holds the whole name
