"""Shared test fixtures: paths into ../shared (skipped when absent) and small synthetic data."""

import os
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("FASTNST_SHARED", Path(__file__).resolve().parents[1].parent / "shared")) / "data"
NORMALISED_VGG = SHARED / "weights" / "vgg_normalised_conv3_1.pth"


def need_shared(path: Path) -> Path:
    """Return ``path`` or skip the test with a reason if ../shared does not have it."""
    if not path.exists():
        pytest.skip(f"needs {path} (third-party data in ../shared, absent here)")
    return path


@pytest.fixture
def normalised_vgg() -> Path:
    return need_shared(NORMALISED_VGG)


@pytest.fixture(scope="session")
def lite_onnx(tmp_path_factory) -> Path:
    """A lite-preset ONNX style with seeded random weights (style name "test"), made once per run.

    Random weights stylize visibly (the output is far from the input) but mean nothing;
    use it wherever a test needs *a* model, not a trained one.
    """
    from fastnst.export import export_onnx
    from fastnst.models import random_model

    path = tmp_path_factory.mktemp("lite_onnx") / "test_lite.onnx"
    export_onnx(random_model("lite"), path, {"style": "test", "preset": "lite"}, check=False)
    return path


@pytest.fixture(scope="session")
def mix_onnx(tmp_path_factory) -> Path:
    """A two-style lite ONNX file (styles "a" and "b", seeded random weights and norm tables), made once per run:
    a multi-style network whose two styles and their blends look clearly different."""
    import torch

    from fastnst.export import export_onnx
    from fastnst.models import create_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = create_model("lite", num_styles=2)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.1)
    path = tmp_path_factory.mktemp("mix_onnx") / "mix_lite.onnx"
    export_onnx(model.eval(), path, {"styles": ["a", "b"], "preset": "lite"}, check=False)
    return path


@pytest.fixture(scope="session", autouse=True)
def private_home(tmp_path_factory) -> Path:
    """$FASTNST_HOME (the user styles folder, fastnst.userstyles' runs) in a temp folder for the run, commands
    run in subprocesses included: the user's own styles never join the tests' style lists."""
    folder = tmp_path_factory.mktemp("fastnst_home")
    old = os.environ.get("FASTNST_HOME")
    os.environ["FASTNST_HOME"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("FASTNST_HOME", None)
    else:
        os.environ["FASTNST_HOME"] = old


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory) -> Path:
    """fastnst's cache ($FASTNST_CACHE: runtime speed measurements, onnxruntime-web) in a temp folder for the
    run, commands run in subprocesses included, never the user's."""
    folder = tmp_path_factory.mktemp("fastnst_cache")
    old = os.environ.get("FASTNST_CACHE")
    os.environ["FASTNST_CACHE"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("FASTNST_CACHE", None)
    else:
        os.environ["FASTNST_CACHE"] = old
