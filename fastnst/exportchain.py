"""``fastnst export`` as a chain of checked steps: model file -> ONNX -> int8 -> uint8 I/O -> where it goes.

:func:`export_file` runs the conversions, each checked before the next: the torch export
(:func:`fastnst.export.export_onnx`), int8 quantization (:func:`fastnst.quantize.quantize_int8`) and
uint8 frame I/O (:func:`fastnst.uint8io.export_uint8_io`). :func:`run_export` is the command:
it checks every destination first, then writes the ONNX file, the Triton entry
(:func:`fastnst.triton.write_triton_repo`) and the web kit (:func:`fastnst.webkit.write_web_kit`).

This module sits above export and quantize; neither imports it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import replace

from .errors import UserError
from .export import export_onnx
from .files import check_not_input
from .quantize import find_data_root, quantize_int8
from .styles import export_source, parse_blend
from .triton import write_triton_repo
from .uint8io import export_uint8_io
from .webkit import check_out_dir, write_web_kit

__all__ = ["export_file", "run_export"]


def export_file(model_path, output, *, fp16: bool = False, int8: bool = False, uint8_io: bool = False,
                check: bool = True, data_root=None, style: str | None = None) -> Iterator[str]:
    """A model file (.pth) or a float ONNX export -> the checked ``output``; yields report lines as it goes.

    A .pth is exported first (:func:`export_onnx`, fp32 or ``fp16``); ``int8`` then quantizes it
    (:func:`fastnst.quantize.quantize_int8`) and ``uint8_io`` gives it uint8 NHWC frames
    (:func:`export_uint8_io`). Each step is checked before the next; only ``output`` is written,
    and nothing where a check fails. ``style`` (a name or blend of a multi-style model file,
    :func:`fastnst.styles.parse_blend`) exports that style alone, as a one-input file.
    """
    model_path, output = os.fspath(model_path), os.fspath(output)
    with tempfile.TemporaryDirectory(prefix="fastnst-export-") as temp:
        source = model_path
        if not source.lower().endswith(".onnx"):  # a model file: the checked ONNX export first
            from .models import load_model_file  # torch: only a model file needs it

            model, meta = load_model_file(source)
            blend = None
            if style:
                if model.num_styles == 1:
                    raise UserError(f"--style picks a style of a multi-style network; {model_path} has one style")
                blend = parse_blend(style) or {style: 1.0}
            elif model.num_styles > 1 and (int8 or uint8_io):
                raise UserError("--int8 and --uint8-io take one style: add --style NAME (or a blend) for a "
                                "multi-style network")
            source = output if not (int8 or uint8_io) else os.path.join(temp, "float.onnx")
            yield from export_onnx(model, source, meta, fp16=fp16, check=check, blend=blend).lines()
        if int8:
            target = output if not uint8_io else os.path.join(temp, "int8.onnx")
            yield from quantize_int8(source, target, check=check, data_root=data_root).lines()
            source = target
        if uint8_io:
            yield from export_uint8_io(source, output, check=check).lines()


def run_export(cfg) -> Iterator[str]:
    """``fastnst export`` (a :class:`fastnst.config.ExportConfig`): the ONNX file, then the Triton entry and
    the web kit made from it; yields what to print. Every destination is checked before any work."""
    cfg = replace(cfg, model=export_source(cfg.model, cfg.output, cfg.int8, cfg.uint8_io, cfg.arbitrary))
    cfg.validate()
    if cfg.data_root:
        find_data_root(cfg.data_root)  # a folder without the photos fails before any work
    if cfg.web:
        check_out_dir(cfg.web, cfg.overwrite)
    with tempfile.TemporaryDirectory(prefix="fastnst-export-") as temp:
        onnx_path = cfg.model
        if cfg.converts:  # without -o the ONNX file lives only in the repository or the web kit
            onnx_path = cfg.output or os.path.join(temp, os.path.splitext(os.path.basename(cfg.model))[0] + ".onnx")
            check_not_input(onnx_path, [cfg.model])
            yield from export_file(cfg.model, onnx_path, fp16=cfg.fp16, int8=cfg.int8, uint8_io=cfg.uint8_io,
                                   check=not cfg.no_check, data_root=cfg.data_root, style=cfg.style)
            if cfg.output:
                yield f"wrote {cfg.output}"
        if cfg.triton:
            folder = write_triton_repo(onnx_path, cfg.triton, name=cfg.triton_name)
            yield f"wrote Triton model {folder} (config.pbtxt, 1/model.onnx)"
        if cfg.web:
            yield write_web_kit(onnx_path, cfg.web, overwrite=cfg.overwrite, paintings=cfg.painting,
                                arbitrary=cfg.arbitrary).line()
