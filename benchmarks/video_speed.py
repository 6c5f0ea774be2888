"""How close ``fastnst video`` comes to the Stylizer's own speed.

    python benchmarks/video_speed.py [CLIP] [--style MODEL.onnx] [--frames 120] [--device cpu]
                                     [--max-side 0 480] [--x264-preset ultrafast veryfast]
                                     [--encode-threads 1] [--stabilize 0.5] [--repeat 3] [--report]

For the clip (default ../shared/data/video/bedroom.mp4 when present, else a synthetic 960x540
clip made here) and each ``--max-side`` (0: full size) it times, interleaved ``--repeat``
times: the Stylizer alone on decoded frames (one after another, nothing else running), and
convert_video end to end (decode, stylize and encode overlapped, audio mux included) with
each ``--x264-preset``, plain and with ``--stabilize`` (0: plain only). As ``fastnst video``
does, the process keeps freed memory for reuse (``fastnst.allocator``) and the conversions run a
Stylizer whose idle threads do not spin (``Stylizer(spin=False)``), while the Stylizer alone keeps
onnxruntime's spinning default, its fastest; ``--system-malloc`` and ``--spin`` undo each. It
prints the median of each, the ratio convert fps / Stylizer fps (the median of each conversion's
ratio to the Stylizer-alone run just before it, and the ratio of the medians), the output's size,
and the ``fastnst video`` command that does the same conversion; with ``--report`` also the warping
error of each output (measured afterwards, so it does not slow the timed runs). Without
``--style`` a lite network with random weights is exported (speed does not depend on the
weights). Run it on an otherwise idle machine: the stages share the CPU cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
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


def stylizer_alone(stylizer: Stylizer, frames: list[np.ndarray], max_side: int | None) -> float:
    """Frames per second of ``stylizer.stylize`` on uint8 RGB (H, W, 3) frames, one after another."""
    t = time.perf_counter()
    for f in frames:
        stylizer.stylize(f, max_side=max_side)
    return len(frames) / (time.perf_counter() - t)


def command(args, clip: str, max_side: int | None, x264_preset: str, stabilize: float | None, seconds: float) -> str:
    """The ``fastnst video`` command line that makes the same conversion."""
    parts = ["fastnst video", clip, "-o out.mp4", f"-s {args.style or 'lite.onnx'}", f"--duration {seconds:g}",
             f"--x264-preset {x264_preset}", f"--encode-threads {args.encode_threads}"]
    parts.append(f"--max-side {max_side}" if max_side else "--full-size")  # the default is a working side
    if stabilize:
        parts.append(f"--stabilize {stabilize:g}")
    return " ".join(parts)


def run_case(args, clip: str, stylizer: Stylizer, converter: Stylizer, frames: list[np.ndarray], fps: float,
             max_side: int | None, tmp: str) -> None:
    """Time one frame size: ``stylizer`` alone and every (x264 preset, stabilize) conversion with ``converter``,
    interleaved."""
    n = len(frames)
    seconds = n / fps
    stylizer.stylize(frames[0], max_side=max_side)  # warm up at this size
    converter.stylize(frames[0], max_side=max_side)
    modes = [(p, s) for p in args.x264_preset for s in dict.fromkeys((None, args.stabilize or None))]
    alone: list[float] = []
    runs: dict[tuple, list] = {m: [] for m in modes}
    for _ in range(args.repeat):
        alone.append(stylizer_alone(stylizer, frames, max_side))
        for x264_preset, stabilize in modes:
            out = os.path.join(tmp, f"{x264_preset}-{stabilize}.mp4")
            opts = VideoOptions(max_side=max_side, stabilize=stabilize, duration=seconds, x264_preset=x264_preset,
                                encode_threads=args.encode_threads)
            r = convert_video(clip, out, converter, opts, quiet=True)
            runs[(x264_preset, stabilize)].append((r, os.path.getsize(out)))
    base = statistics.median(alone)
    h, w = frames[0].shape[:2]
    size = f"max_side {max_side}" if max_side else f"full size ({w}x{h})"
    print(f"\n{size}: Stylizer alone {base:.2f} fps (median of {[round(a, 1) for a in alone]})")
    for x264_preset, stabilize in modes:
        results = runs[(x264_preset, stabilize)]
        fps_end = statistics.median(r.convert_fps for r, _ in results)
        # The ratio of each conversion to the Stylizer-alone run just before it, then the median:
        # on a shared machine whose speed drifts, neighbours in time are what compares.
        paired = statistics.median(r.convert_fps / a for (r, _), a in zip(results, alone))
        r, nbytes = results[-1]
        line = (f"  {x264_preset:<9} {f'stabilize {stabilize:g}' if stabilize else 'plain':<13} {fps_end:6.2f} fps, "
                f"ratio {paired:.2f} (median of paired runs; of medians {fps_end / base:.2f}); "
                f"{nbytes / 1e6:.2f} MB; {r.frames} frames")
        if args.report:
            from fastnst.flow import warping_error

            with VideoReader(r.output) as reader:
                line += f"; warping error {warping_error(frames, list(reader)):.5f}"
        print(line)
        print(f"    {command(args, clip, max_side, x264_preset, stabilize, seconds)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", nargs="?", default=None)
    ap.add_argument("--style", help="ONNX model (default: a random-weight lite network)")
    ap.add_argument("--frames", type=int, default=120, help="frames to convert from the start of the clip")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    ap.add_argument("--max-side", type=int, nargs="+", default=[0, 480], help="cases; 0: full size")
    ap.add_argument("--x264-preset", nargs="+", default=[VideoOptions.x264_preset])
    ap.add_argument("--encode-threads", type=int, default=VideoOptions.encode_threads)
    ap.add_argument("--stabilize", type=float, default=0.5, help="0: plain conversions only")
    ap.add_argument("--report", action="store_true", help="also measure the warping errors (slow)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved repeats; medians are printed")
    ap.add_argument("--spin", action="store_true", help="convert with onnxruntime's spinning threads, as before")
    ap.add_argument("--system-malloc", action="store_true", help="leave glibc's malloc as it is, as before")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip or (str(DEFAULT_CLIP) if DEFAULT_CLIP.exists() else None)
        if clip is None:
            clip = os.path.join(tmp, "synthetic.mp4")
            synthetic_clip(clip, args.frames)
        style = args.style or random_lite_model(tmp)
        if not args.system_malloc:
            from fastnst.allocator import reuse_freed_memory

            reuse_freed_memory()
        stylizer = Stylizer(style, device=args.device, threads=args.threads)  # alone: onnxruntime's defaults
        converter = stylizer if args.spin else Stylizer(style, device=args.device, threads=args.threads, spin=False)

        t = time.perf_counter()
        with VideoReader(clip) as reader:
            fps = reader.fps
            frames = [f for _, f in zip(range(args.frames), reader)]
        decode_s = time.perf_counter() - t
        n = len(frames)
        h, w = frames[0].shape[:2]
        print(f"clip: {clip} ({w}x{h}, {fps:g} fps, {n} frames); model {stylizer.style} ({stylizer.preset}) "
              f"on {stylizer.device}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
        print(f"decode alone (OpenCV): {n / decode_s:.2f} fps")
        for max_side in args.max_side:
            run_case(args, clip, stylizer, converter, frames, fps, max_side or None, tmp)
        print(f"\nload average {os.getloadavg()[0]:.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
