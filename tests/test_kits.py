"""The kits in export/ (OpenCV DNN, Node.js, Triton) against onnxruntime.

Measured on random-weight lite and johnson models: OpenCV 5.0 DNN vs onnxruntime 1.31 CPU max abs
difference up to 8e-6 (lite) / 2e-5 (johnson) on the [0, 1] scale; onnxruntime-node 1.30 vs Python
onnxruntime: a few pixels differ by one 8-bit level. The tolerances below leave a margin.
"""

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from fastnst.cli import main
from fastnst.errors import UserError
from fastnst.export import IO_SPEC
from fastnst.image import from_nchw, load_image, save_image
from fastnst.quality import natural_image
from fastnst.runtime import Stylizer
from fastnst.triton import write_triton_repo

EXPORT = Path(__file__).resolve().parents[1] / "export"
FLOAT_ATOL = 1e-4  # OpenCV DNN vs onnxruntime, float outputs in [0, 1]


def raw_session(path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_raw(session, x: np.ndarray) -> np.ndarray:
    (y,) = session.run([IO_SPEC["output"]["name"]], {IO_SPEC["input"]["name"]: x})
    return y


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"kit_{name}", EXPORT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_close_8bit(got: np.ndarray, want: np.ndarray) -> None:
    """uint8 images equal up to one level, on less than 1% of the values."""
    assert got.shape == want.shape and got.dtype == want.dtype == np.uint8
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (diff.max(), (diff > 0).mean())


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    """A natural-looking 97x131 (odd) RGB PNG."""
    path = tmp_path_factory.mktemp("kits") / "photo.png"
    save_image(path, from_nchw(natural_image(97, 131, seed=3)))
    return path


# --------------------------------------------------------------------------- OpenCV DNN


@pytest.mark.parametrize("shape", [(1, 3, 97, 131), (1, 3, 256, 256), (2, 3, 33, 45)])
def test_opencv_dnn_matches_onnxruntime(lite_onnx, shape):
    kit = load_script("opencv_dnn")
    net = kit.load(str(lite_onnx))
    x = np.concatenate([natural_image(*shape[2:], seed=i) for i in range(shape[0])])
    got = kit.forward(net, x)
    want = run_raw(raw_session(lite_onnx), x)
    assert got.shape == want.shape == shape and got.dtype == np.float32
    assert np.abs(got - want).max() <= FLOAT_ATOL


def test_opencv_dnn_script_end_to_end(lite_onnx, photo, tmp_path):
    out = tmp_path / "out.png"
    run = subprocess.run([sys.executable, str(EXPORT / "opencv_dnn.py"), str(lite_onnx), str(photo), str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert_close_8bit(load_image(out), Stylizer(lite_onnx, device="cpu").stylize(load_image(photo)))
    assert sorted(os.listdir(tmp_path)) == ["out.png"]  # no temp file left
    again = subprocess.run([sys.executable, str(EXPORT / "opencv_dnn.py"), str(lite_onnx), str(photo), str(photo)],
                           capture_output=True, text=True)
    assert again.returncode != 0 and "overwrite" in again.stderr


def test_opencv4_static_copy(lite_onnx, tmp_path):
    """The fixed-size copy for OpenCV 4.x has no shape arithmetic left and computes the same."""
    static = tmp_path / "static.onnx"
    run = subprocess.run([sys.executable, str(EXPORT / "opencv4_static.py"), str(lite_onnx), str(static),
                          "--size", "131x97"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    graph = onnx.load(str(static)).graph
    assert not {"Shape", "Concat", "Min", "Max"} & {n.op_type for n in graph.node}
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 97, 131]
    x = natural_image(97, 131, seed=1)
    want = run_raw(raw_session(lite_onnx), x)
    assert np.abs(run_raw(raw_session(static), x) - want).max() <= 1e-5
    kit = load_script("opencv_dnn")
    assert np.abs(kit.forward(kit.load(str(static)), x) - want).max() <= FLOAT_ATOL


# --------------------------------------------------------------------------- Node.js

_NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNREFUSED", "ECONNRESET", "network")


@pytest.fixture(scope="module")
def node_kit(request, tmp_path_factory) -> Path:
    """export/node installed from the npm registry into pytest's cache (reused while package.json is unchanged)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("needs node and npm on PATH")
    package = (EXPORT / "node" / "package.json").read_bytes()
    key = hashlib.sha256(package).hexdigest()[:12]
    cache = getattr(request.config, "cache", None)  # None with -p no:cacheprovider: install afresh
    folder = Path(cache.mkdir(f"fastnst-node-kit-{key}") if cache else tmp_path_factory.mktemp("node-kit"))
    shutil.copyfile(EXPORT / "node" / "stylize.js", folder / "stylize.js")
    if not (folder / "node_modules" / "onnxruntime-node").is_dir():
        (folder / "package.json").write_bytes(package)
        # CPU only: do not fetch onnxruntime-node's CUDA libraries from NuGet during install
        env = dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip")
        run = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--omit=dev"], cwd=folder, env=env,
                             capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            if any(e in run.stderr for e in _NETWORK_ERRORS):
                pytest.skip(f"npm registry unreachable: {run.stderr.strip().splitlines()[-1]}")
            pytest.fail(f"npm install failed:\n{run.stderr[-2000:]}")
    return folder


@pytest.mark.slow
def test_node_kit_matches_onnxruntime(node_kit, lite_onnx, photo, tmp_path):
    out = tmp_path / "node.png"
    run = subprocess.run(["node", str(node_kit / "stylize.js"), str(lite_onnx), str(photo), str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert_close_8bit(load_image(out), Stylizer(lite_onnx, device="cpu").stylize(load_image(photo)))
    assert sorted(os.listdir(tmp_path)) == ["node.png"]


@pytest.mark.slow
def test_node_kit_rejects_overwriting_input(node_kit, lite_onnx, photo):
    before = photo.read_bytes()
    run = subprocess.run(["node", str(node_kit / "stylize.js"), str(lite_onnx), str(photo), str(photo)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "overwrite" in run.stderr
    assert photo.read_bytes() == before


# --------------------------------------------------------------------------- Triton


def parse_pbtxt(text: str) -> dict:
    """Protobuf text format (the subset Triton configs use) -> {field: [values]}; messages are dicts."""
    tokens = re.findall(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.sub(r"#[^\n]*", "", text))
    pos = 0

    def scalar(tok: str):
        if tok.startswith('"'):
            return json.loads(tok)
        try:
            return int(tok)
        except ValueError:
            return float(tok) if re.fullmatch(r"[-+.\d eE]+", tok) else tok  # enum names stay strings

    def value():
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok == "{":
            return message("}")
        if tok == "[":
            items = []
            while tokens[pos] != "]":
                items.append(value())
                if tokens[pos] == ",":
                    pos += 1
            pos += 1
            return items
        return scalar(tok)

    def message(end):
        nonlocal pos
        fields: dict = {}
        while pos < len(tokens) and tokens[pos] != end:
            name = tokens[pos]
            pos += 1
            if tokens[pos] == ":":
                pos += 1
            v = value()
            fields.setdefault(name, []).extend(v if isinstance(v, list) else [v])
        pos += 1
        return fields

    return message(None)


_ONNX_TO_TRITON = {onnx.TensorProto.FLOAT: "TYPE_FP32", onnx.TensorProto.FLOAT16: "TYPE_FP16"}


def check_triton_model(folder: Path, onnx_source: Path, max_batch: int) -> dict:
    """Structure, config fields against the ONNX graph, and the copied model running in onnxruntime."""
    assert sorted(p.name for p in folder.iterdir()) == ["1", "config.pbtxt"]
    assert [p.name for p in (folder / "1").iterdir()] == ["model.onnx"]
    model_file = folder / "1" / "model.onnx"
    assert model_file.read_bytes() == onnx_source.read_bytes()
    config = parse_pbtxt((folder / "config.pbtxt").read_text())
    assert config["name"] == [folder.name]
    assert config["platform"] == ["onnxruntime_onnx"]
    assert config["max_batch_size"] == [max_batch]
    assert ("dynamic_batching" in config) == (max_batch > 0)
    graph = onnx.load(str(model_file)).graph
    for key, tensors in (("input", graph.input), ("output", graph.output)):
        assert len(config[key]) == len(tensors)
        for entry, tensor in zip(config[key], tensors):
            assert entry["name"] == [tensor.name]
            assert entry["data_type"] == [_ONNX_TO_TRITON[tensor.type.tensor_type.elem_type]]
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.type.tensor_type.shape.dim]
            assert entry["dims"] == (dims[1:] if max_batch > 0 else dims)
    # Triton feeds the model the names and shapes of the config: a batch of 2 at an odd size
    session = raw_session(model_file)
    x = np.concatenate([natural_image(45, 67, seed=0), natural_image(45, 67, seed=1)])
    feeds = {config["input"][0]["name"][0]: x}
    (y,) = session.run([config["output"][0]["name"][0]], feeds)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_array_equal(y, run_raw(raw_session(onnx_source), x))
    return config


def test_triton_repo_fields_match_the_graph(lite_onnx, tmp_path):
    folder = Path(write_triton_repo(lite_onnx, tmp_path / "repo"))
    assert folder == tmp_path / "repo" / "test_lite"  # <style>_<preset> from the metadata
    config = check_triton_model(folder, lite_onnx, max_batch=8)
    assert config["input"][0]["dims"] == [3, -1, -1] and config["output"][0]["dims"] == [3, -1, -1]
    flat = Path(write_triton_repo(lite_onnx, tmp_path / "repo", name="flat", max_batch_size=0))
    config = check_triton_model(flat, lite_onnx, max_batch=0)
    assert config["input"][0]["dims"] == [-1, 3, -1, -1]
    with pytest.raises(UserError, match="already exists"):
        write_triton_repo(lite_onnx, tmp_path / "repo")
    assert sorted(p.name for p in (tmp_path / "repo").iterdir()) == ["flat", "test_lite"]  # no temp folders


def test_triton_config_parses_with_tritons_schema(lite_onnx, tmp_path):
    model_config = pytest.importorskip("tritonclient.grpc.model_config_pb2",
                                       reason="needs tritonclient[grpc] for Triton's ModelConfig schema")
    from google.protobuf import text_format

    folder = Path(write_triton_repo(lite_onnx, tmp_path / "repo"))
    config = text_format.Parse((folder / "config.pbtxt").read_text(), model_config.ModelConfig())
    assert config.platform == "onnxruntime_onnx" and config.max_batch_size == 8
    assert [tuple(t.dims) for t in config.input] == [(3, -1, -1)]
    assert model_config.DataType.Name(config.output[0].data_type) == "TYPE_FP32"


def test_export_cli_triton(lite_onnx, tmp_path, capsys):
    repo = tmp_path / "repo"
    assert main(["export", str(lite_onnx), "--triton", str(repo), "--triton-name", "wave"]) == 0
    assert f"{repo / 'wave'}" in capsys.readouterr().out
    check_triton_model(repo / "wave", lite_onnx, max_batch=8)
    assert main(["export", str(lite_onnx), "--triton", str(repo), "--triton-name", "wave"]) == 2
    assert main(["export", str(lite_onnx), "-o", str(tmp_path / "x.onnx")]) == 2  # already ONNX
    assert "already" in capsys.readouterr().err
