"""Speed of any painting as a style (the shipped arbitrary-style file, fastnst.painting): prints figures.

- one image of 1024 px long side, the whole call: the painting's statistics (a new painting, not cached) and
  the frame, on a loaded Stylizer; and the same with the Stylizer's loading (both sessions) included;
- webcam-size frames (320x240) with the statistics cached: frames per second.

    python benchmarks/painting_speed.py [--painting PATH] [--photo PATH] [--runs N] [--style-size PX]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from fastnst.image import load_image, resize, resize_long_side, sample_content, sample_style
from fastnst.runtime import Stylizer
from fastnst.styles import ARBITRARY


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--painting", help="painting file (default: the bundled sample pattern)")
    p.add_argument("--photo", help="photo file (default: the bundled sample photo)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--style-size", type=int, default=None)
    args = p.parse_args()
    painting = load_image(args.painting) if args.painting else sample_style(512)
    photo = load_image(args.photo) if args.photo else sample_content()
    big = resize_long_side(photo, 1024)
    small = resize(photo, (320, 240))

    t0 = time.perf_counter()
    s = Stylizer(ARBITRARY, device="cpu", painting=painting, style_size=args.style_size)
    s.stylize(big)
    cold = time.perf_counter() - t0

    whole = []
    for i in range(args.runs):
        fresh = np.roll(painting, 7 * (i + 1), axis=1)  # another painting each run: statistics not cached
        t0 = time.perf_counter()
        s.set_painting(fresh)
        s.stylize(big)
        whole.append(time.perf_counter() - t0)
    stats = []
    for i in range(args.runs):
        fresh = np.roll(painting, 5 * (i + 1), axis=0)
        t0 = time.perf_counter()
        s.set_painting(fresh)
        stats.append(time.perf_counter() - t0)
    s.stylize(small)
    t0 = time.perf_counter()
    n = 4 * args.runs
    for _ in range(n):
        s.stylize(small)
    fps = n / (time.perf_counter() - t0)
    h, w = big.shape[:2]
    print(f"file {os.path.relpath(ARBITRARY)}; painting at {s.style_size} px; {os.cpu_count()} CPUs; "
          f"onnxruntime default threads")
    print(f"{w}x{h} image, whole call incl. a new painting's statistics: median {np.median(whole):.2f} s "
          f"(statistics alone {np.median(stats):.2f} s); first call incl. loading both sessions {cold:.2f} s")
    print(f"320x240 frames, statistics cached: {fps:.2f} frames/s")


if __name__ == "__main__":
    main()
