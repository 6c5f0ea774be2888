"""The layer explorer: what each layer of a loss network sees (``fastnst layers``, the web app's Layers tab).

Three pictures, on any loss network :mod:`fastnst.lossnet` builds:

* **Top patches** (Zeiler and Fergus 2014): for units (channels) of one layer, the photo patches, at
  the layer's receptive field, that excite each most, over a folder of photos (:func:`top_patches`).
  The photos are indexed once per network, layer and photo list (:func:`activation_index`, cached
  under :func:`fastnst.files.cache_dir`), so other units come at once.
* **Reconstructions** (Gatys, Ecker and Bethge 2016, Figure 1): an image made from noise by the
  reference optimiser (:func:`fastnst.optimize.optimize`, L-BFGS) to match one layer's activations of a
  photo (content), or the Gram matrices of the layers {1}, {1, 2}, ... of a painting (style)
  (:func:`reconstruct`).
* **The style representation**: a painting's Gram matrix at one layer as a heat map, beside a texture
  made from the Gram matrices of all style layers weighted per layer (:func:`gram_picture`).

Images are uint8 RGB (H, W, 3) at the edges and float RGB (1, 3, H, W) in [0, 1] inside; each picture
comes with a JSON-ready dict of what it shows. :func:`cached` keeps finished pictures by their inputs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from . import image as im
from .config import LayersConfig, OptimizeConfig, check_layer_weights
from .devices import resolve_device
from .errors import UserError
from .files import atomic_output, cache_dir
from .losses import gram_matrix
from .lossnet import LossNet, build_loss_net, default_spec, portable_spec, weights_sha256
from .userstyles import LOSS_NET_FILE  # the normalised VGG-19's file under DATA_ROOT/weights/, as the demo finds it

__all__ = ["Field", "activation_index", "available_layers", "cached", "figure1", "find_loss_net", "find_photos",
           "gram_heat_map", "gram_picture", "patch_box", "receptive_field", "reconstruct", "save_picture",
           "top_patches"]

# scikit-image's sample photos that are public domain or CC0 (the patches are shown): NASA's astronaut, coffee and
# chelsea (CC0), SpaceX's rocket; fastnst.userstyles trains on these and one more
SAMPLE_PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg")
CELL = 56  # px of one patch in the grid
CACHE_KEEP = 200  # cached pictures kept (cached()); the oldest go first
GREY = 128  # where a patch reaches past the photo

# ----------------------------------------------------------------------------- what is explored


def _data_root(cfg: LayersConfig) -> Path | None:
    root = cfg.data_root or os.environ.get("FASTNST_DATA")
    if not root:
        return None
    path = Path(root).expanduser()
    if not path.is_dir():
        raise UserError(f"data root not found: '{root}' (a folder holding weights/ and content/bsds500/)")
    return path


def find_loss_net(cfg: LayersConfig) -> str:
    """The spec explored: ``cfg.loss_net``; else the normalised VGG-19 in ``DATA_ROOT/weights/`` where there is
    one; else :func:`fastnst.lossnet.default_spec` (``$FASTNST_LOSS_NET``, else ``vgg16``), as every command."""
    if cfg.loss_net:
        return cfg.loss_net
    root = _data_root(cfg)
    if root is not None and (root / "weights" / LOSS_NET_FILE).is_file():
        return f"vgg19-normalised:{root / 'weights' / LOSS_NET_FILE}"
    return default_spec()


def find_photos(cfg: LayersConfig) -> tuple[list[str], str]:
    """The photos searched for top patches and what they are: at most ``cfg.max_photos`` of ``cfg.photos``
    (a folder, searched recursively), else of BSDS500's training photos under the data root, else of
    scikit-image's sample photos; evenly spread over the sorted list. UserError for a missing or empty folder."""
    if cfg.photos:
        if not os.path.isdir(cfg.photos):
            raise UserError(f"photos folder not found: '{cfg.photos}'")
        paths, what = im.walk_images(cfg.photos), f"'{cfg.photos}'"
        if not paths:
            raise UserError(f"no images in '{cfg.photos}' (searched recursively)")
    else:
        root = _data_root(cfg)
        bsds = root / "content" / "bsds500" / "train" if root is not None else None
        if bsds is not None and bsds.is_dir() and im.walk_images(bsds):
            paths, what = im.walk_images(bsds), "BSDS500 train"
        else:
            import skimage.data

            folder = Path(skimage.data.__file__).parent
            paths = [str(folder / n) for n in SAMPLE_PHOTOS if (folder / n).is_file()]
            what = "scikit-image's sample photos"
    if len(paths) > cfg.max_photos:
        paths = [paths[i * len(paths) // cfg.max_photos] for i in range(cfg.max_photos)]
    return paths, f"{len(paths)} photos of {what}"


def _net(spec: str, layers: Sequence[str]) -> LossNet:
    """The loss net ``spec`` truncated after the deepest of ``layers`` (UserError for a layer it lacks)."""
    return build_loss_net(spec, tuple(layers), layers[0])


def default_layers(spec: str) -> tuple[str, ...]:
    """The network's style layers (relu1_1 .. relu5_1 for VGG-19, relu1_2 .. relu4_3 for VGG-16; those its
    weights reach for a truncated file): the explorer's rows and its default layer (the deepest)."""
    return tuple(build_loss_net(spec).style_layers)


def available_layers(spec: str) -> list[str]:
    """The ReLU layers of the network up to its deepest default layer (all that its weights reach for a
    truncated file)."""
    return build_loss_net(spec).layers


# ----------------------------------------------------------------------------- receptive fields


@dataclass(frozen=True)
class Field:
    """Where a layer's units look: unit (row, col) sees the ``size`` x ``size`` input pixels centred on
    (``start + row * stride``, ``start + col * stride``) (half-pixel centres where ``size`` is even)."""

    size: int
    stride: int
    start: float


def receptive_field(net: LossNet, layer: str) -> Field:
    """The receptive field of ``layer`` in ``net``, from its convolutions, paddings and poolings.

    Each layer of kernel k, stride s and padding p maps (size, stride, start) to
    (size + (k - 1) stride, stride s, start + ((k - 1) / 2 - p) stride).
    """
    net.check_layers((layer,))
    size, stride, start = 1, 1, 0.0
    for name, module in zip(net.names, net.features):
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d)):
            k, s, p = (_pair(getattr(module, a)) for a in ("kernel_size", "stride", "padding"))
            start += ((k - 1) / 2 - p) * stride
            size += (k - 1) * stride
            stride *= s
        elif isinstance(module, (nn.ReflectionPad2d, nn.ZeroPad2d, nn.ReplicationPad2d)):
            start -= _pair(module.padding) * stride
        if name == layer:
            break
    return Field(size, stride, start)


def _pair(value) -> int:
    """One int from a PyTorch int-or-tuple attribute; the explorer's networks are square everywhere."""
    values = (value,) if isinstance(value, int) else tuple(value)
    if len(set(values)) != 1:
        raise ValueError(f"non-square layer parameter {value}")
    return int(values[0])


def patch_box(field: Field, row: int, col: int) -> tuple[int, int, int, int]:
    """The input box ``(x0, y0, x1, y1)`` (x1, y1 exclusive) that unit (row, col) sees; it may reach past
    the image, where the network sees its padding."""
    half = (field.size - 1) / 2
    x0 = math.floor(field.start + col * field.stride - half + 1e-6)
    y0 = math.floor(field.start + row * field.stride - half + 1e-6)
    return x0, y0, x0 + field.size, y0 + field.size


def crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The ``box`` of uint8 (H, W, 3) ``image``, grey where it reaches past the image: (y1 - y0, x1 - x0, 3)."""
    x0, y0, x1, y1 = box
    h, w = image.shape[:2]
    out = np.full((y1 - y0, x1 - x0, 3), GREY, np.uint8)
    ix0, iy0, ix1, iy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if ix1 > ix0 and iy1 > iy0:
        out[iy0 - y0: iy1 - y0, ix0 - x0: ix1 - x0] = image[iy0:iy1, ix0:ix1]
    return out


# ----------------------------------------------------------------------------- top patches


def photo_input(path: str, photo_size: int) -> np.ndarray:
    """The photo at ``path`` as the explorer feeds it: uint8 (h, w, 3), long side ``photo_size``."""
    return im.resize_long_side(im.load_image(path), photo_size)


@torch.no_grad()
def _peaks(act: torch.Tensor, count: int, radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``count`` largest local maxima of each channel.

    Args:
        act: (C, H, W) activations.
        count: maxima kept per channel (fewer positions: -inf values, position 0).
        radius: a maximum is the largest value in its (2 radius + 1)^2 window, so that the patches of one
            photo overlap little.
    Returns:
        values (C, count) float32, descending, and flat positions (C, count) int64 into H x W.
    """
    c, h, w = act.shape
    pooled = F.max_pool2d(act[None], 2 * radius + 1, stride=1, padding=radius)[0]  # (C, H, W)
    peak = torch.where(act >= pooled, act, torch.full_like(act, -math.inf)).reshape(c, h * w)
    k = min(count, h * w)
    values, positions = peak.topk(k, dim=1)  # (C, k)
    if k < count:
        values = F.pad(values, (0, count - k), value=-math.inf)
        positions = F.pad(positions, (0, count - k))
    return values.float(), positions


def activation_index(spec: str, layer: str, paths: Sequence[str], photo_size: int, count: int,
                     device: str = "cpu", progress: bool = True, cache: bool = True) -> dict:
    """Each photo's strongest activations of every unit of ``layer``: the index top patches are read from.

    Args:
        spec: loss-network spec; layer: one of its layers.
        paths: the photos; each is fed at ``photo_size`` px on the long side (:func:`photo_input`).
        count: local maxima kept per photo and unit.
        cache: read and write the index under ``cache_dir()/layers/`` (keyed by the network, its weights'
            SHA-256, the layer, the photos' paths, sizes and times, ``photo_size`` and ``count``).
    Returns:
        dict with ``values`` (P, C, count) float32 (descending per photo and unit), ``positions``
        (P, C, count) int64 flat into each photo's map, ``shapes`` (P, 2) its map's (H_l, W_l), ``paths``.
    """
    from tqdm import tqdm

    stamp = [(p, *_file_stamp(p)) for p in paths]
    key = _key({"spec": portable_spec(spec), "sha": weights_sha256(spec), "layer": layer, "photos": stamp,
                "photo_size": photo_size, "count": count, "version": 1})
    where = cache_dir() / "layers" / f"index-{key}.npz"
    if cache and where.is_file():
        with np.load(where) as f:
            return {"values": f["values"], "positions": f["positions"], "shapes": f["shapes"], "paths": list(paths)}
    net = _net(spec, (layer,)).to(device)
    field = receptive_field(net, layer)
    radius = max(1, round(field.size / field.stride / 4))
    values, positions, shapes = [], [], []
    for path in tqdm(paths, desc=f"index {layer}", unit="photo", disable=not progress, dynamic_ncols=True):
        act = net(im.to_tensor(photo_input(path, photo_size), device), (layer,))[layer][0]  # (C, H_l, W_l)
        v, p = _peaks(act, count, radius)
        values.append(v.cpu().numpy())
        positions.append(p.cpu().numpy())
        shapes.append(act.shape[1:])
    index = {"values": np.stack(values), "positions": np.stack(positions), "shapes": np.array(shapes, np.int64)}
    if cache:
        where.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(where, suffix=".npz") as tmp:
            np.savez(tmp, **index)
    return {**index, "paths": list(paths)}


def _file_stamp(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def choose_units(channels: int, cfg: LayersConfig) -> list[int]:
    """``cfg.units`` (UserError past ``channels``), else ``cfg.num_units`` distinct units drawn with ``cfg.seed``."""
    if cfg.units is not None:
        bad = [u for u in cfg.units if u >= channels]
        if bad:
            raise UserError(f"--units: the layer has units 0..{channels - 1}, not {','.join(map(str, bad))}")
        return list(cfg.units)
    return sorted(random.Random(cfg.seed).sample(range(channels), min(cfg.num_units, channels)))


def top_patches(index: dict, units: Sequence[int], top: int, field: Field) -> list[dict]:
    """The ``top`` strongest activations of each unit over the index's photos, strongest first.

    A photo gives at most ceil(top / photos) of a unit's patches (one each where there are enough photos),
    as Zeiler and Fergus show patches from different images.
    Returns, per unit: ``{"unit": u, "patches": [{"photo", "activation", "row", "col", "box"}, ...]}`` with
    ``box`` the (x0, y0, x1, y1) the unit sees in the photo as fed (:func:`photo_input`).
    """
    values, positions, shapes = index["values"], index["positions"], index["shapes"]
    per_photo = math.ceil(top / len(index["paths"]))
    out = []
    for u in units:
        v = values[:, u, :per_photo]  # (P, per_photo)
        order = np.argsort(-v, axis=None, kind="stable")[:top]
        patches = []
        for flat in order:
            p, j = divmod(int(flat), v.shape[1])
            if not np.isfinite(v[p, j]):
                continue
            row, col = divmod(int(positions[p, u, j]), int(shapes[p][1]))
            patches.append({"photo": index["paths"][p], "activation": float(v[p, j]), "row": row, "col": col,
                            "box": list(patch_box(field, row, col))})
        out.append({"unit": int(u), "patches": patches})
    return out


def patches_picture(cfg: LayersConfig, progress: bool = True) -> tuple[np.ndarray, dict]:
    """Picture 1: the top patches of units of ``cfg.layer`` as a grid, one block per unit (its patches
    strongest first, row by row), and the JSON-ready dict of where each patch came from."""
    spec = find_loss_net(cfg)
    layer = cfg.layer or default_layers(spec)[-1]
    net = _net(spec, (layer,))
    field = receptive_field(net, layer)
    paths, what = find_photos(cfg)
    index = activation_index(spec, layer, paths, cfg.photo_size, cfg.top, str(resolve_device(cfg.device)), progress)
    units = choose_units(index["values"].shape[1], cfg)
    found = top_patches(index, units, cfg.top, field)
    photos: dict[str, np.ndarray] = {}
    blocks = []
    side = math.ceil(math.sqrt(cfg.top))
    for entry in found:
        cells = []
        for patch in entry["patches"]:
            if patch["photo"] not in photos:
                photos[patch["photo"]] = photo_input(patch["photo"], cfg.photo_size)
            cells.append(_cell(crop(photos[patch["photo"]], tuple(patch["box"]))))
        blocks.append(_labelled(_grid(cells, side, side, CELL, 1), f"unit {entry['unit']}"))
    cols = math.ceil(math.sqrt(len(blocks)))
    picture = _grid(blocks, cols, math.ceil(len(blocks) / cols), None, 6)
    title = f"{layer} of {portable_spec(spec)}: top {cfg.top} patches ({field.size} px) of {len(units)} units"
    info = {"picture": "patches", "loss_net": portable_spec(spec), "layer": layer, "photos": what,
            "photo_size": cfg.photo_size, "receptive_field": asdict(field), "units": found}
    return _titled(picture, title), info


def _cell(patch: np.ndarray) -> np.ndarray:
    """A patch scaled to CELL x CELL: nearest-neighbour where it grows (small fields stay pixels)."""
    interpolation = cv2.INTER_NEAREST if patch.shape[0] < CELL else cv2.INTER_AREA
    return cv2.resize(patch, (CELL, CELL), interpolation=interpolation)


# ----------------------------------------------------------------------------- reconstructions


def content_config(cfg: LayersConfig, spec: str, layer: str) -> OptimizeConfig:
    """The reference optimiser's settings of a content reconstruction from ``layer``: from noise, content loss
    only, no smoothness term."""
    return OptimizeConfig(size=cfg.size, iterations=cfg.iterations, init="noise", content_weight=1.0,
                          style_weight=0.0, tv_weight=0.0, style_layers=(layer,), content_layer=layer,
                          loss_net=spec, seed=cfg.seed, device=cfg.device)


def style_config(cfg: LayersConfig, spec: str, layers: Sequence[str],
                 weights: Sequence[float] | None = None) -> OptimizeConfig:
    """The reference optimiser's settings of a style reconstruction from the Gram matrices of ``layers``
    (weighted by ``weights``): from noise, style loss only, no smoothness term."""
    return OptimizeConfig(size=cfg.size, iterations=cfg.iterations, init="noise", content_weight=0.0,
                          style_weight=1e5, tv_weight=0.0, style_layers=tuple(layers), content_layer=layers[0],
                          loss_net=spec, seed=cfg.seed, device=cfg.device,
                          style_layer_weights=tuple(weights) if weights is not None else None)


def reconstruct(kind: str, image: np.ndarray, cfg: LayersConfig, progress: bool = True) -> tuple[np.ndarray, dict]:
    """Picture 2, one row of Gatys et al.'s Figure 1: ``image`` (uint8 (H, W, 3)) then its reconstructions.

    ``kind`` "content": from each of the layers alone (a photo); "style": from the Gram matrices of the first
    1, 2, ... layers (a painting). The layers are ``cfg.layers``, else the network's style layers; each image
    is made by :func:`fastnst.optimize.optimize` at ``cfg.size`` px. Returns the labelled row and a dict with
    each reconstruction's layers and final loss.
    """
    from .optimize import optimize

    if kind not in ("content", "style"):
        raise ValueError(f"kind must be 'content' or 'style', got {kind!r}")
    spec = find_loss_net(cfg)
    layers = cfg.layers or default_layers(spec)
    _net(spec, layers)  # a layer the network lacks: one line before any work
    target = im.resize_long_side(image, cfg.size)
    images, labels, rows = [target], ["photo" if kind == "content" else "painting"], []
    for k, layer in enumerate(layers):
        used = (layer,) if kind == "content" else tuple(layers[: k + 1])
        opt = content_config(cfg, spec, layer) if kind == "content" else style_config(cfg, spec, used)
        result, stats = optimize(target, target, opt, progress=progress)
        images.append(result)
        labels.append(layer if kind == "content" else _short(used))
        rows.append({"layers": list(used), "loss": stats["loss"][kind]})
    title = f"{kind} reconstructions from {portable_spec(spec)} ({cfg.size} px, {cfg.iterations} L-BFGS steps)"
    info = {"picture": f"reconstruct-{kind}", "loss_net": portable_spec(spec), "size": cfg.size,
            "iterations": cfg.iterations, "reconstructions": rows}
    return _titled(_row(images, labels), title), info


def figure1(photo: np.ndarray, painting: np.ndarray, cfg: LayersConfig,
            progress: bool = True) -> tuple[np.ndarray, dict]:
    """Picture 2 whole: the content row of ``photo`` above the style row of ``painting`` (:func:`reconstruct`)."""
    content, content_info = reconstruct("content", photo, cfg, progress)
    style, style_info = reconstruct("style", painting, cfg, progress)
    width = max(content.shape[1], style.shape[1])
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in (content, style)]
    return np.concatenate(rows), {"picture": "reconstruct", "content": content_info, "style": style_info}


def _short(layers: Sequence[str]) -> str:
    """``relu1_1, relu2_1, relu3_1`` as ``relu{1_1,2_1,3_1}`` for a label."""
    if len(layers) == 1:
        return layers[0]
    prefix = os.path.commonprefix(list(layers))
    prefix = prefix[: len(prefix.rstrip("0123456789_"))] if prefix else ""
    return f"{prefix}{{{','.join(layer.removeprefix(prefix) for layer in layers)}}}"


# ----------------------------------------------------------------------------- the style representation


@torch.no_grad()
def gram_of(spec: str, image: np.ndarray, layer: str, device: str = "cpu") -> np.ndarray:
    """The Gram matrix (C, C) float32 of uint8 (H, W, 3) ``image`` at ``layer``, as the style loss takes it
    (:func:`fastnst.losses.gram_matrix`, normalised by C H W)."""
    net = _net(spec, (layer,)).to(device)
    return gram_matrix(net(im.to_tensor(image, device), (layer,))[layer])[0].float().cpu().numpy()


def gram_heat_map(gram: np.ndarray, side: int = 256) -> np.ndarray:
    """A (C, C) Gram matrix as a uint8 (side, side, 3) heat map (viridis, dark 0 to yellow 1).

    Shown as channel correlations, ``G_ij / sqrt(G_ii G_jj)`` (cosines of the channels' maps, in [0, 1] for
    ReLU features), with the channels ordered by their energy ``G_ii``, strongest top left; silent channels
    (``G_ii = 0``) are 0.
    """
    order = np.argsort(-np.diag(gram), kind="stable")
    g = gram[np.ix_(order, order)].astype(np.float64)
    norm = np.sqrt(np.clip(np.diag(g), 0, None))
    corr = np.divide(g, np.outer(norm, norm), out=np.zeros_like(g), where=np.outer(norm, norm) > 0)
    grey = np.round(np.clip(corr, 0, 1) * 255).astype(np.uint8)
    heat = cv2.cvtColor(cv2.applyColorMap(grey, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)
    interpolation = cv2.INTER_NEAREST if gram.shape[0] <= side else cv2.INTER_AREA
    return cv2.resize(heat, (side, side), interpolation=interpolation)


def gram_picture(painting: np.ndarray, cfg: LayersConfig, progress: bool = True) -> tuple[np.ndarray, dict]:
    """Picture 3: the painting, its Gram matrix at ``cfg.layer`` (default: the deepest style layer) as a heat
    map, and a texture reconstructed from the Gram matrices of ``cfg.layers`` weighted by
    ``cfg.style_layer_weights`` (the per-layer style weights: moving weight to deeper layers grows the pattern)."""
    from .optimize import optimize

    spec = find_loss_net(cfg)
    layers = cfg.layers or default_layers(spec)
    layer = cfg.layer or layers[-1]
    _net(spec, (*layers, layer))
    weights = cfg.style_layer_weights or (1.0,) * len(layers)
    check_layer_weights(weights, layers)
    target = im.resize_long_side(painting, cfg.size)
    gram = gram_of(spec, target, layer, str(resolve_device(cfg.device)))
    side = max(target.shape[:2])
    texture, stats = optimize(target, target, style_config(cfg, spec, layers, weights), progress=progress)
    label = ", ".join(f"{w:g}" for w in weights)
    picture = _row([target, gram_heat_map(gram, side), texture],
                   ["painting", f"Gram {layer}, {gram.shape[0]} channels", f"texture, weights {label}"])
    title = f"style representation in {portable_spec(spec)} ({cfg.size} px)"
    info = {"picture": "gram", "loss_net": portable_spec(spec), "layer": layer, "channels": int(gram.shape[0]),
            "gram_max": float(np.abs(gram).max()), "layers": list(layers), "style_layer_weights": list(weights),
            "size": cfg.size, "iterations": cfg.iterations, "style_loss": stats["loss"]["style"]}
    return _titled(picture, title), info


# ----------------------------------------------------------------------------- cached pictures


def _key(d: dict) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:20]


def cached(kind: str, cfg: LayersConfig, images: Sequence[np.ndarray],
           make: Callable[[], tuple[np.ndarray, dict]]) -> tuple[np.ndarray, dict, bool]:
    """``make()``'s picture and dict, kept under ``cache_dir()/layers/`` by ``kind``, the settings, the
    network's weights and the pixels of ``images`` (the inputs ``make`` reads): the same inputs again are read
    back at once. Returns (picture, info, whether it came from the cache)."""
    spec = find_loss_net(cfg)
    key = _key({"kind": kind, "cfg": asdict(replace(cfg, loss_net=portable_spec(spec), data_root=None, device="")),
                "sha": weights_sha256(spec), "photos": find_photos(cfg)[0] if kind == "patches" else None,
                "images": [[hashlib.sha256(np.ascontiguousarray(i)).hexdigest(), list(i.shape)] for i in images],
                "version": 1})
    folder = cache_dir() / "layers"
    png, meta = folder / f"{kind}-{key}.png", folder / f"{kind}-{key}.json"
    if png.is_file() and meta.is_file():
        return im.load_image(png), json.loads(meta.read_text()), True
    picture, info = make()
    save_picture(str(png), picture, info)
    _prune(folder, CACHE_KEEP)
    return picture, info, False


def _prune(folder: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest cached pictures (and their JSON) in ``folder``: uploads add new ones."""
    pictures = sorted(folder.glob("*-*.png"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in pictures[keep:]:
        old.unlink(missing_ok=True)
        old.with_suffix(".json").unlink(missing_ok=True)


def save_picture(path: str, picture: np.ndarray, info: dict, inputs: Sequence[str] = ()) -> str:
    """Write ``picture`` to ``path`` and ``info`` as JSON beside it (same name, ``.json``), each atomically;
    returns the JSON's path."""
    meta = os.path.splitext(path)[0] + ".json"
    im.save_image(path, picture, inputs=inputs)
    with atomic_output(meta, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(info, indent=1) + "\n")
    return meta


# ----------------------------------------------------------------------------- layout


def _font(size: int = 13) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _text_strip(text: str, width: int, height: int = 20) -> np.ndarray:
    """A white (height, width, 3) strip with ``text`` in black, centred."""
    strip = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(strip)
    font = _font()
    w = draw.textlength(text, font=font)
    draw.text((max(0, (width - w) / 2), 3), text, fill="black", font=font)
    return np.asarray(strip)


def _labelled(image: np.ndarray, label: str) -> np.ndarray:
    """``image`` with ``label`` above it (on a white margin where the label is the wider)."""
    width = max(image.shape[1], int(_font().getlength(label)) + 6)
    body = np.full((image.shape[0], width, 3), 255, np.uint8)
    x = (width - image.shape[1]) // 2
    body[:, x: x + image.shape[1]] = image
    return np.concatenate([_text_strip(label, width), body])


def _titled(image: np.ndarray, title: str, pad: int = 8) -> np.ndarray:
    """``image`` on a white margin with a title line above, wide enough for the title."""
    width = max(image.shape[1] + 2 * pad, int(_font().getlength(title)) + 2 * pad)
    body = np.full((image.shape[0] + pad, width, 3), 255, np.uint8)
    x = (width - image.shape[1]) // 2
    body[:image.shape[0], x: x + image.shape[1]] = image
    return np.concatenate([_text_strip(title, width, 26), body])


def _grid(images: Sequence[np.ndarray], cols: int, rows: int, cell: int | None, gap: int) -> np.ndarray:
    """Images placed row by row on a white canvas, each in a cell of the largest image's size (or ``cell``)."""
    ch = cell or max(i.shape[0] for i in images)
    cw = cell or max(i.shape[1] for i in images)
    out = np.full((rows * ch + (rows - 1) * gap, cols * cw + (cols - 1) * gap, 3), 255, np.uint8)
    for n, image in enumerate(images):
        r, c = divmod(n, cols)
        out[r * (ch + gap): r * (ch + gap) + image.shape[0], c * (cw + gap): c * (cw + gap) + image.shape[1]] = image
    return out


def _row(images: Sequence[np.ndarray], labels: Sequence[str]) -> np.ndarray:
    """Labelled images side by side, each label above its image."""
    cells = [_labelled(image, label) for image, label in zip(images, labels, strict=True)]
    return _grid(cells, len(cells), 1, None, 6)
