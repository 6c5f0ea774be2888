"""A batch of image files (``fastnst stylize``): which inputs, where their results go, and the loop.

Inputs are files, folders (searched recursively for image extensions) and glob patterns; a
folder or glob leaves out the earlier default outputs of the same style (``NAME_STYLE.*`` and
anything in ``stylized_STYLE/``), a file named as such is always taken. Outputs never replace
an input (:func:`fastnst.files.check_not_input`) nor a file the user did not name
(:func:`fastnst.files.free_default`), and each is written atomically. Torch-free.

    >>> files, skipped = expand_inputs(["photos/", "*.jpg"], "wave")
    >>> targets = batch_outputs(files, None, "wave")
    >>> for src, dst, error in stylize_files(Stylizer("wave"), files, targets, strength=0.8): ...
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from .errors import UserError
from .files import check_not_input, free_default

__all__ = ["batch_outputs", "expand_inputs", "own_output", "stylize_files"]


def own_output(path: str, style: str) -> bool:
    """Whether ``path`` looks like an earlier default output of ``style``: NAME_STYLE.* or in stylized_STYLE/."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return stem.endswith(f"_{style}") or f"stylized_{style}" in os.path.normpath(path).split(os.sep)[:-1]


def expand_inputs(items: Iterable[str], style: str) -> tuple[list[str], list[str]]:
    """Files, folders (recursively, image extensions only) and glob patterns -> (sorted unique files,
    the skipped earlier outputs of ``style``). A file named as such is always taken."""
    import glob

    from .image import walk_images

    taken: list[str] = []
    skipped: list[str] = []
    for item in items:
        if os.path.isdir(item):
            found = walk_images(item)
        elif os.path.exists(item):
            taken.append(item)
            continue
        else:
            found = [m for m in sorted(glob.glob(item, recursive=True)) if os.path.isfile(m)]
            if not found:
                raise UserError(f"no such file, folder or matching files: '{item}'")
        skipped += [f for f in found if own_output(f, style)]
        taken += [f for f in found if not own_output(f, style)]
    return list(dict.fromkeys(taken)), skipped


def batch_outputs(files: list[str], output: str | None, style: str, ext: str = ".png",
                  overwrite: bool = False) -> list[str]:
    """Where each input's result goes. One input: ``output`` (a file, replaced if it exists: the user
    named it) or ``NAME_STYLE.EXT`` beside it; several, or ``output`` an existing folder: one file per
    input in ``output`` (default ``stylized_STYLE``). UserError before anything is written where a
    result would replace a file the user did not name (unless ``overwrite``)."""
    if len(files) == 1 and not (output and os.path.isdir(output)):
        return [output or free_default(f"{os.path.splitext(files[0])[0]}_{style}{ext}", overwrite)]
    folder = output or f"stylized_{style}"
    targets = [os.path.join(folder, os.path.splitext(os.path.basename(f))[0] + ext) for f in files]
    seen: set[str] = set()
    for n, t in enumerate(targets):  # two inputs with one name: number the later ones
        if t in seen:
            root, e = os.path.splitext(t)
            targets[n] = f"{root}_{n}{e}"
        seen.add(targets[n])
    existing = [t for t in targets if os.path.lexists(t)]
    if existing and not overwrite:
        raise UserError(f"{len(existing)} of the outputs exist already (e.g. {existing[0]}): give another -o "
                        "folder, or --overwrite to replace them")
    return targets


def stylize_files(stylizer, files: list[str], targets: list[str], **options) -> Iterator[tuple[str, str, str | None]]:
    """Stylize each of ``files`` into its target (``options``: as for ``Stylizer.stylize``); yields
    (input, output, None) for each written file and (input, output, error message) for each that failed
    with a UserError (unreadable, would replace an input), the rest going on."""
    from . import image as im

    for src, dst in zip(files, targets):
        try:
            check_not_input(dst, files)
            im.save_image(dst, stylizer.stylize(im.load_image(src), **options), inputs=files)
            yield src, dst, None
        except UserError as e:
            yield src, dst, str(e)
