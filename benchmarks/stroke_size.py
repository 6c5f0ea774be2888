"""Stroke size of the fixed styles: what the working size (`--max-side`) does to a 1280-px frame.

The bundled networks learned their strokes on 128-px crops (the painting at 256 px), so their
strokes have a fixed size in *pixels*: the larger the frame, the finer the texture looks. Stylizing
at a smaller working size and scaling back up (`--max-side`, `Stylizer.stylize(max_side=...)`)
makes the strokes larger by the same factor, and the photo's detail softer. For every working size
(default 1280 = full, 960, 720, 512, 384), on frames with a 1280-px long side (frames of the clip in
DATA/video and BSDS500 test photos, scaled up), this prints medians over frames and styles of:

- **stroke period** (px, `fastnst.quality.stroke_period`): the median wavelength of the output's
  edge energy, at 100% of the 1280-px frame (the photo's own is printed too);
- **style distance** to the painting and **content distance** to the frame (`fastnst.quality`, as
  benchmarks/quality.py; loss net: the normalised VGG-19 in DATA/weights), judged with the output,
  the frame and the painting at a `--judge-side` long side (default 640: the 1280-px frame seen at
  50%; a judgement at 1280 costs about 60 s a picture on a loaded 2-core CPU);
- **periodicity score** of the network's own output, at the working size (the network's 8-px grid:
  scaled back up, it would repeat every 8 x 1280 / W px, which the score does not look for);
- **ms/frame** of `Stylizer.stylize(frame, max_side=W)` (resize, network, resize back) on the CPU,
  median of `--rounds` rounds that take the sizes in turn (interleaved, so a loaded machine slows
  every size alike).

It writes a contact sheet at 100% (`--sheet`): one row per style, a 256-px crop of a public-domain
scikit-image photo scaled to 1280 px, then the same crop of the output at each working size.

    python benchmarks/stroke_size.py                                  # 5 styles, 4 frames, 5 sizes
    python benchmarks/stroke_size.py --sizes 1280,720,512 --frames 2 --sheet docs/stroke_size.jpg
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FRAME_SIDE = 1280  # the long side of a 720p frame


def _frames(data: Path, count: int) -> list[np.ndarray]:
    """``count`` frames with a 1280-px long side: half from the clip (evenly spaced), half BSDS500 test photos."""
    import cv2

    from fastnst import image as im

    clips = sorted((data / "video").glob("*.mp4"))
    photos = [Path(p) for p in im.walk_images(data / "content" / "bsds500" / "test")] if (
        data / "content" / "bsds500" / "test").is_dir() else []
    if not clips or not photos:
        sys.exit(f"stroke_size.py: error: need DATA/video/*.mp4 and DATA/content/bsds500/test in {data} (give --data)")
    out = []
    cap = cv2.VideoCapture(str(clips[0]))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    for k in range(count - count // 2):
        cap.set(cv2.CAP_PROP_POS_FRAMES, (k + 1) * n // (count - count // 2 + 1))
        ok, bgr = cap.read()
        if ok:
            out.append(im.resize_long_side(np.ascontiguousarray(bgr[..., ::-1]), FRAME_SIDE))
    cap.release()
    out += [im.resize_long_side(im.load_image(p), FRAME_SIDE) for p in photos[:count // 2]]
    return out


def _time_sizes(stylizer, frame: np.ndarray, sizes: list[int], rounds: int) -> dict[int, float]:
    """Median ms of ``stylizer.stylize(frame, max_side=s)`` per size, the sizes interleaved in each round."""
    times: dict[int, list[float]] = {s: [] for s in sizes}
    for s in sizes:  # warm-up: each size's shapes once
        stylizer.stylize(frame, max_side=s)
    for r in range(rounds):
        for s in (sizes if r % 2 == 0 else sizes[::-1]):
            t = time.perf_counter()
            stylizer.stylize(frame, max_side=s)
            times[s].append((time.perf_counter() - t) * 1e3)
    return {s: statistics.median(v) for s, v in times.items()}


def _crop(image: np.ndarray, size: int, at: tuple[float, float]) -> np.ndarray:
    """The ``size`` x ``size`` piece of ``image`` whose centre is at the fractions ``at`` (y, x) of its sides."""
    h, w = image.shape[:2]
    y = min(max(0, round(at[0] * h) - size // 2), h - size)
    x = min(max(0, round(at[1] * w) - size // 2), w - size)
    return image[y:y + size, x:x + size]


def _sheet(rows: list[list[np.ndarray]], path: str) -> None:
    """Tiles at 100% with 4-px white gaps, written as ``path``."""
    from fastnst import image as im

    gap, t = 4, rows[0][0].shape[0]
    sheet = np.full((len(rows) * (t + gap) - gap, len(rows[0]) * (t + gap) - gap, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            sheet[i * (t + gap):i * (t + gap) + t, j * (t + gap):j * (t + gap) + t] = tile
    im.save_image(path, sheet)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--data", type=Path, default=Path(os.environ.get("FASTNST_DATA", ROOT.parent / "shared" / "data")),
                   help="folder with video/, content/bsds500/, styles/ and weights/ (default: $FASTNST_DATA or "
                        "../shared/data)")
    p.add_argument("--sizes", default="1280,960,720,640,512,384", help="working sizes (long side, px), comma-separated")
    p.add_argument("--styles", default="wave,starry_night,the_scream",
                   help="bundled one-style networks (the lite files) to judge, comma-separated")
    p.add_argument("--sheet-styles", default="wave,starry_night,the_scream,shipwreck,composition_vii",
                   help="the sheet's rows: bundled one-style networks, comma-separated")
    p.add_argument("--frames", type=int, default=4, help="frames to judge: half from the clip, half BSDS500 photos")
    p.add_argument("--rounds", type=int, default=5, help="timing rounds (each takes every size once)")
    p.add_argument("--no-judge", action="store_true", help="skip the style and content distances (no torch)")
    p.add_argument("--judge-side", type=int, default=640, help="long side the distances are taken at, px")
    p.add_argument("--sheet", help="write the contact sheet here (e.g. docs/stroke_size.jpg)")
    p.add_argument("--sheet-photo", default="coffee", help="the scikit-image photo (skimage.data name) of the sheet")
    p.add_argument("--crop", default="0.45,0.5", help="the sheet's crop centre, fractions of height,width")
    args = p.parse_args()

    from fastnst import image as im
    from fastnst.quality import periodicity_score, stroke_period
    from fastnst.runtime import Stylizer
    from fastnst.styles import PRETRAINED

    sizes = [int(s) for s in args.sizes.split(",")]
    styles = [s for s in args.styles.split(",") if s]
    frames = _frames(args.data, args.frames)
    spec = f"vgg19-normalised:{args.data / 'weights' / 'vgg_normalised_conv3_1.pth'}"
    loss_net = None
    if not args.no_judge:
        from fastnst.lossnet import build_loss_net

        loss_net = build_loss_net(spec)
    print(f"{len(frames)} frames ({', '.join(f'{f.shape[1]}x{f.shape[0]}' for f in frames)}), styles {styles}, "
          f"sizes {sizes}; photo stroke period (px): "
          f"{statistics.median(stroke_period(f) for f in frames):.2f}", flush=True)

    rows = {s: {k: [] for k in ("period", "style", "content", "periodicity")} for s in sizes}
    stylizers = {name: Stylizer(PRETRAINED / f"{name}_lite.onnx", device="cpu")
                 for name in dict.fromkeys(styles + args.sheet_styles.split(",")) if name}
    for name in styles:
        stylizer = stylizers[name]
        judge = None
        if loss_net is not None:
            from fastnst.quality import QualityJudge

            painting = im.load_image(args.data / "styles" / f"{name}.jpg")
            judge = QualityJudge(loss_net, im.resize_long_side(painting, args.judge_side))
        for frame in frames:
            seen = im.resize_long_side(frame, args.judge_side)
            for s in sizes:
                raw = stylizer.stylize(im.resize_long_side(frame, s, enlarge=False))  # the network's own output
                out = im.resize(raw, (frame.shape[1], frame.shape[0]))  # = stylizer.stylize(frame, max_side=s)
                rows[s]["period"].append(stroke_period(out))
                rows[s]["periodicity"].append(periodicity_score(raw))
                if judge is not None:
                    small = im.resize_long_side(out, args.judge_side)
                    rows[s]["style"].append(judge.style_distance(small))
                    rows[s]["content"].append(judge.content_distance(small, seen))
        print(f"  {name}: judged", flush=True)

    timing = _time_sizes(stylizers[styles[0]], frames[0], sizes, args.rounds)

    def med(v: list[float], digits: int = 3) -> str:
        return f"{statistics.median(v):.{digits}f}" if v else "-"

    print(f"\nmedians over {len(frames)} frames x {len(styles)} styles (distances at {args.judge_side} px); "
          f"ms: {styles[0]}_lite on a {frames[0].shape[1]}x{frames[0].shape[0]} frame, CPU, {os.cpu_count()} cores, "
          f"median of {args.rounds} interleaved rounds")
    print("| working side | strokes x | stroke period px | style dist | content dist | periodicity | ms/frame | fps |")
    print("|---|---|---|---|---|---|---|---|")
    for s in sizes:
        r = rows[s]
        print(f"| {s} | {FRAME_SIDE / s:.2f} | {med(r['period'], 2)} | {med(r['style'])} | {med(r['content'])} | "
              f"{med(r['periodicity'], 1)} | {timing[s]:.0f} | {1e3 / timing[s]:.1f} |")

    if args.sheet:
        from skimage import data as skdata

        photo = im.resize_long_side(getattr(skdata, args.sheet_photo)(), FRAME_SIDE)
        at = tuple(float(v) for v in args.crop.split(","))
        sheet_rows = []
        for name in args.sheet_styles.split(","):
            stylizer = stylizers[name]
            sheet_rows.append([_crop(photo, 256, at)] + [_crop(stylizer.stylize(photo, max_side=s), 256, at)
                                                         for s in sizes])
        _sheet(sheet_rows, args.sheet)
        print(f"\nwrote {args.sheet}: rows {args.sheet_styles.split(',')}; columns: the photo ({args.sheet_photo}, "
              f"{photo.shape[1]}x{photo.shape[0]}), then working sides {sizes}; 256-px crops at 100%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
