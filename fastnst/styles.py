"""The styles shipped with fastnst: trained model files in ``fastnst/pretrained/``.

File names are ``<style>_<preset>.pth`` (the self-describing model files of
:mod:`fastnst.models`) and ``<style>_<preset>.onnx`` (what :mod:`fastnst.runtime` runs); the
recipes that reproduce them are in the repository's ``training/``. Everything that takes "a
style" (the CLI, the runtime, the web app) names it the same way, through :func:`resolve_styles`:
a model file, a shipped style's name, or ``<style>_<preset>``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

PRETRAINED = Path(__file__).resolve().parent / "pretrained"
PRESET_NAMES = ("lite", "johnson")  # fastest first; fastnst.models.PRESETS' names, kept free of torch here


@dataclass(frozen=True)
class StyleFile:
    name: str  # e.g. "starry_night"
    preset: str | None  # e.g. "lite"; None for a file whose name does not say
    path: Path

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


def style_file(path) -> StyleFile:
    """``<style>_<preset>.<ext>`` -> StyleFile(style, preset, path); any other file name is a style of its own."""
    p = Path(path)
    name, _, preset = p.stem.rpartition("_")
    if name and preset in PRESET_NAMES:
        return StyleFile(name, preset, p)
    return StyleFile(p.stem, None, p)


def list_styles(suffix: str = ".pth") -> list[StyleFile]:
    """The shipped style files with this suffix, sorted by name then preset."""
    found = (style_file(p) for p in PRETRAINED.glob(f"*{suffix}"))
    return sorted((s for s in found if s.preset), key=lambda s: (s.name, s.preset))


def resolve_styles(item, suffix: str = ".onnx") -> list[StyleFile]:
    """What a user's style argument names: a model file (itself), ``<style>_<preset>`` (that shipped
    file) or a shipped style's name (its files of every preset, fastest first).

    A UserError names a missing file, or lists the shipped styles when no name matches.
    """
    item = os.fspath(item)
    if os.path.isfile(item):
        return [style_file(item)]
    if item.lower().endswith(suffix) or os.sep in item or "/" in item:
        raise UserError(f"style model not found: {item}")
    shipped = list_styles(suffix)
    found = [s for s in shipped if item in (s.name, f"{s.name}_{s.preset}")]
    if not found:
        known = ", ".join(sorted({s.name for s in shipped})) or "none"
        raise UserError(f"no style file or shipped style '{item}' (shipped: {known})")
    return sorted(found, key=lambda s: PRESET_NAMES.index(s.preset))


def find_style(name, preset: str | None = None, suffix: str = ".pth") -> StyleFile:
    """One model for ``name`` (as in :func:`resolve_styles`): ``preset``'s, or with None the fastest.

    A UserError lists the shipped styles when there is no match.
    """
    matches = [s for s in resolve_styles(name, suffix) if preset in (None, s.preset)]
    if not matches:
        known = ", ".join(sorted({s.name for s in list_styles(suffix)})) or "none"
        raise UserError(f"no shipped style '{name}' for preset {preset}; shipped: {known}")
    return matches[0]
