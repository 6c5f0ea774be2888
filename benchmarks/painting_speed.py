"""Speed of any painting as a style (the shipped arbitrary-style file, fastnst.painting): prints figures.

- one image of 1024 px long side, the whole call: the painting's statistics (a new painting, not cached) and
  the frame, on a loaded Stylizer; and the same with the Stylizer's loading (both sessions) included; both at
  full size and at the stills' default working side (``config.STILL_MAX_SIDE``, what ``fastnst stylize`` and
  the web app's Image tab run: stylized smaller for larger strokes, scaled back up);
- webcam-size frames (320x240) with the statistics cached: frames per second.

    python benchmarks/painting_speed.py [--painting PATH] [--photo PATH] [--runs N] [--style-size PX] [--models F...]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from fastnst.config import STILL_MAX_SIDE
from fastnst.image import load_image, resize, resize_long_side, sample_content, sample_style
from fastnst.runtime import Stylizer
from fastnst.styles import ARBITRARY


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--painting", help="painting file (default: the bundled sample pattern)")
    p.add_argument("--photo", help="photo file (default: the bundled sample photo)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--style-size", type=int, default=None)
    p.add_argument("--models", nargs="+", metavar="FILE", default=[str(ARBITRARY)],
                   help="any-painting files ('fastnst export-arbitrary'), timed interleaved (default: the shipped one)")
    args = p.parse_args()
    painting = load_image(args.painting) if args.painting else sample_style(512)
    photo = load_image(args.photo) if args.photo else sample_content()
    big = resize_long_side(photo, 1024)
    small = resize(photo, (320, 240))

    cold, loaded = {}, {}
    for path in args.models:
        t0 = time.perf_counter()
        loaded[path] = Stylizer(path, device="cpu", painting=painting, style_size=args.style_size)
        loaded[path].stylize(big)
        cold[path] = time.perf_counter() - t0
    whole: dict[str, list[float]] = {m: [] for m in args.models}
    default: dict[str, list[float]] = {m: [] for m in args.models}
    stats: dict[str, list[float]] = {m: [] for m in args.models}
    frames: dict[str, list[float]] = {m: [] for m in args.models}
    for i in range(args.runs):  # interleaved: each run times every file in turn
        for path, s in loaded.items():
            fresh = np.roll(painting, 7 * (i + 1), axis=1)  # another painting each run: statistics not cached
            t0 = time.perf_counter()
            s.set_painting(fresh)
            s.stylize(big)
            whole[path].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            s.set_painting(np.roll(painting, 3 * (i + 1), axis=1))
            s.stylize(big, max_side=STILL_MAX_SIDE)
            default[path].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            s.set_painting(np.roll(painting, 5 * (i + 1), axis=0))
            stats[path].append(time.perf_counter() - t0)
            s.stylize(small)
            t0 = time.perf_counter()
            for _ in range(4):
                s.stylize(small)
            frames[path].append(4 / (time.perf_counter() - t0))
    h, w = big.shape[:2]
    print(f"{os.cpu_count()} CPUs; onnxruntime default threads; {args.runs} interleaved runs, medians")
    for path, s in loaded.items():
        print(f"{os.path.relpath(path)} (painting at {s.style_size} px): {w}x{h} image, whole call incl. a new "
              f"painting's statistics {np.median(whole[path]):.2f} s (statistics alone {np.median(stats[path]):.2f} s;"
              f" first call incl. loading both sessions {cold[path]:.2f} s; at the stills' default working side "
              f"{STILL_MAX_SIDE} px {np.median(default[path]):.2f} s); 320x240 frames, statistics cached: "
              f"{np.median(frames[path]):.2f} frames/s")


if __name__ == "__main__":
    main()
