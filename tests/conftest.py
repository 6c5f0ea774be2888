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
