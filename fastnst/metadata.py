"""The fastnst metadata of an ONNX file: its keys, and how they are written and read.

An exported style stores string key -> string value pairs in the ONNX model's
``metadata_props``. `KEYS` lists fastnst's keys and what each means; the values of `JSON_KEYS`
are JSON, every other value is a plain string. Everything that writes the metadata goes
through :func:`set_metadata` / :func:`write_metadata` (onnx, on the export side), everything
that reads it through :func:`parse_metadata` (:func:`read_metadata` reads a file with
onnxruntime, without the onnx package, so the torch-free runtime can use it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .errors import UserError
from .ortsession import load_error, open_session
from .silence import ORT_SILENT

if TYPE_CHECKING:
    import onnx  # for the annotations only: the export side's package

__all__ = ["JSON_KEYS", "KEYS", "STYLE_INPUT_NAME", "encode_metadata", "model_metadata", "parse_metadata",
           "read_metadata", "set_metadata", "write_metadata"]

KEYS: dict[str, str] = {
    "fastnst_version": "the fastnst version that wrote the file",
    "preset": "the network's model preset ('' where unknown)",
    "style": "the style's name ('' where unknown)",
    "precision": "'fp32', 'fp16' or 'int8' (absent: fp32)",
    "io": "JSON: the graph's interface (fastnst.export.IO_SPEC, or fastnst.uint8io.UINT8_IO_SPEC)",
    "training": "JSON: the model file's metadata, as training wrote it",
    "model_config": "JSON: the network's configuration (fastnst.models.ModelConfig as a dict)",
    "quantization": "JSON, int8 files only: format, calibration photos, method, op types, nodes kept in float",
    "styles": "JSON, multi-style files only: the style names, in the order of the 'style' input's weights",
    "arbitrary": "JSON, arbitrary-style files only (fastnst.export_arbitrary): role ('frame' or 'painting'), "
                 "transform, levels, each level's strength, the painting-statistics file's name, and each graph's "
                 "inputs and their meaning",
}
JSON_KEYS = ("io", "training", "model_config", "quantization", "styles", "arbitrary")
STYLE_INPUT_NAME = "style"  # a multi-style file's second input: the weights of the styles "styles" names


def encode_metadata(meta: Mapping[str, object]) -> dict[str, str]:
    """``meta`` as ``metadata_props`` strings: the values of `JSON_KEYS` JSON-encoded, others ``str``.

    A string under a JSON key is taken as already encoded and kept as it is (what
    :func:`model_metadata` returns), so a file's own entries survive a rewrite byte for byte.
    """
    return {key: json.dumps(value) if key in JSON_KEYS and not isinstance(value, str) else str(value)
            for key, value in meta.items()}


def parse_metadata(props: Mapping[str, str]) -> dict:
    """``metadata_props`` (key -> string) with the values of `JSON_KEYS` parsed back (left as
    strings where they are not valid JSON, as in a foreign file)."""
    out = dict(props)
    for key in JSON_KEYS:
        if key in out:
            try:
                out[key] = json.loads(out[key])
            except ValueError:
                pass
    return out


def read_metadata(path: str | os.PathLike) -> dict:
    """The metadata of an ONNX file (:func:`parse_metadata`), read with onnxruntime on the CPU.

    A missing file or one that is not ONNX raises UserError; an ONNX file without fastnst
    metadata gives whatever ``metadata_props`` it has.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UserError(f"file not found: {path}")
    try:
        session = open_session(path, log_severity=ORT_SILENT)
    except Exception as e:
        raise load_error(path, e) from None
    return parse_metadata(session.get_modelmeta().custom_metadata_map)


def model_metadata(model: onnx.ModelProto) -> dict[str, str]:
    """The ``metadata_props`` of an onnx ModelProto as key -> string (unparsed: see :func:`parse_metadata`)."""
    return {p.key: p.value for p in model.metadata_props}


def set_metadata(model: onnx.ModelProto, meta: Mapping[str, object]) -> None:
    """Replace the ``metadata_props`` of an onnx ModelProto with ``meta`` (:func:`encode_metadata`), in place."""
    del model.metadata_props[:]
    for key, value in encode_metadata(meta).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def write_metadata(path: str | os.PathLike, meta: Mapping[str, object]) -> None:
    """Rewrite the ONNX file ``path`` with ``meta`` as its metadata (:func:`set_metadata`)."""
    import onnx  # the export side's package (fastnst[train]); reading needs only onnxruntime

    model = onnx.load(os.fspath(path))
    set_metadata(model, meta)
    onnx.save(model, os.fspath(path))
