"""How close ``fastnst video`` comes to the Stylizer's own speed.

    python benchmarks/video_speed.py [CLIP] [--style MODEL.onnx] [--frames 120] [--device cpu]
                                     [--max-side N] [--stabilize 0.5] [--report]

Prints, for the clip (default ../shared/data/video/bedroom.mp4 when present, else a synthetic
960x540 clip made here): the OpenCV decode rate alone, the Stylizer alone on decoded frames
(one after another, nothing else running), and convert_video end to end (decode, stylize and
encode overlapped, audio mux included) plain and with --stabilize; with --report also the
warping error of both outputs (measured in a separate pass, so it does not slow the timed
runs). Without --style a lite network with random weights is exported (speed does not
depend on the weights).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fastnst.config import VideoOptions
from fastnst.runtime import Stylizer
from fastnst.video import VideoReader, VideoWriter, convert_video

DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "bedroom.mp4"


def random_lite_model(folder: str) -> str:
    from fastnst.bench import export_presets

    return export_presets(["lite"], folder)[0]


def synthetic_clip(path: str, frames: int, size=(960, 540), fps=30) -> None:
    """A panned noise texture with a moving square (stands in for real footage when it is absent)."""
    w, h = size
    rng = np.random.default_rng(0)
    texture = (np.kron(rng.random((h // 8 + frames, w // 8 + frames, 3)), np.ones((8, 8, 1))) * 255).astype(np.uint8)
    with VideoWriter(path, size, fps) as writer:
        for t in range(frames):
            f = texture[t:t + h, 3 * t:3 * t + w].copy()
            f[100:200, (5 * t) % (w - 100):(5 * t) % (w - 100) + 100] = (250, 240, 40)
            writer.write(f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", nargs="?", default=None)
    ap.add_argument("--style", help="ONNX model (default: a random-weight lite network)")
    ap.add_argument("--frames", type=int, default=120, help="frames to convert from the start of the clip")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    ap.add_argument("--max-side", type=int, default=None)
    ap.add_argument("--stabilize", type=float, default=0.5)
    ap.add_argument("--report", action="store_true", help="also measure the warping errors (slow)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="time each mode this many times, interleaved, and keep the best (for busy machines)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip or (str(DEFAULT_CLIP) if DEFAULT_CLIP.exists() else None)
        if clip is None:
            clip = os.path.join(tmp, "synthetic.mp4")
            synthetic_clip(clip, args.frames)
        style = args.style or random_lite_model(tmp)
        stylizer = Stylizer(style, device=args.device, threads=args.threads)

        t = time.perf_counter()
        with VideoReader(clip) as reader:
            fps = reader.fps
            frames = [f for _, f in zip(range(args.frames), reader)]
        decode_s = time.perf_counter() - t
        n = len(frames)
        h, w = frames[0].shape[:2]
        duration = n / fps
        print(f"clip: {clip} ({w}x{h}, {fps:g} fps, {n} frames); model {stylizer.style} ({stylizer.preset}) "
              f"on {stylizer.device}; max_side {args.max_side}; {os.cpu_count()} CPUs")
        print(f"decode alone (OpenCV):          {n / decode_s:7.2f} fps")

        stylizer.stylize(frames[0], max_side=args.max_side)  # warm up at this size
        modes = (("plain", None), ("stabilize", args.stabilize))
        alone, runs = 0.0, {}
        for _ in range(args.repeat):
            t = time.perf_counter()
            for f in frames:
                stylizer.stylize(f, max_side=args.max_side)
            alone = max(alone, n / (time.perf_counter() - t))
            for name, stabilize in modes:
                out = os.path.join(tmp, f"{name}.mp4")
                opts = VideoOptions(max_side=args.max_side, stabilize=stabilize, duration=duration)
                r = convert_video(clip, out, stylizer, opts, quiet=True)
                if name not in runs or r.convert_fps > runs[name].convert_fps:
                    runs[name] = r
        print(f"Stylizer alone:                 {alone:7.2f} fps")
        for name, stabilize in modes:
            r = runs[name]
            label = f"convert_video {name}" + (f" {stabilize:g}" if stabilize else "")
            print(f"{label + ':':<32}{r.convert_fps:7.2f} fps end to end ({r.convert_fps / alone:.0%} of the "
                  f"Stylizer alone; its calls inside ran at {r.stylize_fps:.2f} fps; {r.frames} frames, "
                  f"audio {'yes' if r.audio else 'no'})")
        if args.report:
            from fastnst.flow import warping_error

            inputs = frames
            for name in runs:
                with VideoReader(runs[name].output) as reader:
                    outputs = list(reader)
                print(f"warping error {name + ':':<18}{warping_error(inputs, outputs):.6f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
