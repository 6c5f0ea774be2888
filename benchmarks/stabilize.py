"""Warping error and time per frame of plain per-frame stylization vs ``--stabilize``.

    python benchmarks/stabilize.py MODEL.onnx [CLIP] [--frames 60] [--strength 0.5] [--png DIR]
    python benchmarks/stabilize.py fastnst/pretrained/arbitrary/wct.onnx --painting PAINTING.jpg  # any painting

Decodes the clip (default ../shared/data/video/bedroom.mp4) at its own resolution, stylizes
every frame with the Stylizer, times the Stylizer alone and the Stabilizer alone, and
prints the warping error (Lai et al. 2018, fastnst.flow.warping_error) of both sequences
(and of the input itself, for scale). ``--png DIR`` saves a few frames side by side
(input | per-frame | stabilized) to look for ghost trails.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from fastnst.flow import Stabilizer, WarpingError
from fastnst.runtime import Stylizer

DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "bedroom.mp4"


def read_frames(path: str, count: int, start: int = 0) -> list[np.ndarray]:
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        sys.exit(f"cannot open {path}")
    frames = []
    index = 0
    while len(frames) < count:
        ok, bgr = cap.read()
        if not ok:
            break
        if index >= start:
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        index += 1
    cap.release()
    return frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("clip", nargs="?", default=str(DEFAULT_CLIP))
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--start", type=int, default=0, help="first frame index")
    ap.add_argument("--strength", type=float, nargs="+", default=[0.5])
    ap.add_argument("--max-side", type=int, default=None, help="stylize at this long side (Stylizer max_side)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--png", default=None, help="folder for side-by-side frames")
    ap.add_argument("--painting", help="the painting an any-painting MODEL runs (default: its sample pattern)")
    ap.add_argument("--style-size", type=int, default=None, help="the painting's long side, px")
    args = ap.parse_args()

    frames = read_frames(args.clip, args.frames, args.start)
    h, w = frames[0].shape[:2]
    painting = {"painting": args.painting, "style_size": args.style_size} if args.painting or args.style_size else {}
    stylizer = Stylizer(args.model, device="cpu", threads=args.threads, **painting)
    print(f"{os.path.basename(args.clip)}: {len(frames)} frames {w}x{h}, model {os.path.basename(args.model)}"
          f"{' with ' + os.path.basename(args.painting) if args.painting else ''}, {stylizer.device}")

    t0 = time.perf_counter()
    styled = [stylizer.stylize(f, max_side=args.max_side) for f in frames]
    t_style = (time.perf_counter() - t0) / len(frames)

    def error(outputs):
        metric = WarpingError()
        for a, b in zip(frames, outputs):
            metric.update(a, b)
        return metric.value

    e_input = error(frames)
    e_plain = error(styled)
    print(f"stylize alone:   {t_style * 1000:7.1f} ms/frame")
    print(f"warping error  input {e_input:.5f}   per-frame stylized {e_plain:.5f}")
    for strength in args.strength:
        stab = Stabilizer(strength)
        t0 = time.perf_counter()
        stable = [stab(f, s) for f, s in zip(frames, styled)]
        t_stab = (time.perf_counter() - t0) / len(frames)
        e_stab = error(stable)
        print(f"stabilize {strength:.2f}: +{t_stab * 1000:6.1f} ms/frame (+{100 * t_stab / t_style:.0f}%), "
              f"warping error {e_stab:.5f} ({e_plain / e_stab:.2f}x lower), cuts {stab.cuts}")
        if args.png:
            os.makedirs(args.png, exist_ok=True)
            for i in (1, len(frames) // 2, len(frames) - 1):
                row = np.concatenate([frames[i], styled[i], stable[i]], axis=1)
                path = os.path.join(args.png, f"s{strength:.2f}_frame{args.start + i:04d}.png")
                cv2.imwrite(path, cv2.cvtColor(row, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
