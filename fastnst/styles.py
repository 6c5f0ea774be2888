"""The styles shipped with fastnst: trained model files in ``fastnst/pretrained/``.

File names are ``<style>_<preset>.pth`` (the self-describing model files of
:mod:`fastnst.models`); the recipes that reproduce them are in the repository's ``training/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

PRETRAINED = Path(__file__).resolve().parent / "pretrained"


@dataclass(frozen=True)
class StyleFile:
    name: str  # e.g. "starry_night"
    preset: str  # e.g. "lite"
    path: Path

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


def list_styles(suffix: str = ".pth") -> list[StyleFile]:
    """The shipped style files with this suffix, sorted by name then preset."""
    out = []
    for p in sorted(PRETRAINED.glob(f"*{suffix}")):
        name, _, preset = p.stem.rpartition("_")
        if name and preset:
            out.append(StyleFile(name, preset, p))
    return out


def find_style(name: str, preset: str | None = None, suffix: str = ".pth") -> StyleFile:
    """The shipped style ``name`` (``name`` or ``name_preset``); ``preset`` None prefers lite.

    A UserError lists the shipped styles when there is no match.
    """
    styles = list_styles(suffix)
    matches = [s for s in styles if f"{s.name}_{s.preset}" == name] or \
              [s for s in styles if s.name == name and preset in (None, s.preset)]
    if not matches:
        known = ", ".join(sorted({s.name for s in styles})) or "none"
        raise UserError(f"no shipped style '{name}'{f' for preset {preset}' if preset else ''}; shipped: {known}")
    return sorted(matches, key=lambda s: s.preset != "lite")[0]
