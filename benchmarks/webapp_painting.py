"""The web app's webcam stream with "any painting": milliseconds a frame through its handler; prints figures.

Frames of the test camera (tests/fakecam.py, a moving picture with a frame counter) go through
``Demo.stream_frame``, the handler of the Webcam tab's Gradio stream and the same settings-to-FrameStylizer
path as its WebRTC view (``Demo.live_settings``), once with an uploaded painting and once with a trained style
(lite), alternating, at 320x240 and 640x480. The painting's statistics are computed at the upload, before the
timing, as in the app. Without a browser, an encoder or the network: what the server's side costs.

    python benchmarks/webapp_painting.py [--painting PATH] [--style wave] [--frames N] [--stroke K]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fastnst.image import sample_style, save_image
from fastnst.webapp import ANY_PAINTING, MIX, NO_MIX, Demo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import fakecam  # noqa: E402 (the tests' camera)


def ms_a_frame(demo: Demo, frames: list[np.ndarray], style: str, stroke: int, key: str | None) -> float:
    """Median milliseconds a frame after two warm-up frames, one stream session."""
    session, times = None, []
    for i, frame in enumerate(frames):
        start = time.perf_counter()
        _, _, session = demo.stream_frame(frame, style, 1.0, False, False, session, NO_MIX, MIX, stroke, key)
        if i >= 2:
            times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--painting", help="painting file (default: the bundled sample pattern)")
    p.add_argument("--style", default="wave", help="the trained style beside it (default: wave)")
    p.add_argument("--frames", type=int, default=12, help="frames a case, two of them warm-up")
    p.add_argument("--stroke", type=int, default=4, help="stroke size: the painting's long side (default 4: 640 px)")
    args = p.parse_args()
    demo = Demo([args.style], device="cpu")
    painting = args.painting
    if painting is None:
        painting = os.path.join(tempfile.mkdtemp(), "pattern.png")
        save_image(painting, sample_style(512))
    t0 = time.perf_counter()
    key, _, status = demo.painting_uploaded(painting, args.stroke, "stream")
    print(f"upload: {status} ({time.perf_counter() - t0:.2f} s)")
    if not isinstance(key, str):
        raise SystemExit(1)
    print(f"load average before: {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs")
    for w, h in ((320, 240), (640, 480)):
        frames = [fakecam.frame(i, w, h, 90) for i in range(args.frames)]
        painted = ms_a_frame(demo, frames, ANY_PAINTING, args.stroke, key)
        trained = ms_a_frame(demo, frames, args.style, args.stroke, None)
        print(f"{w}x{h}: any painting {painted:.0f} ms a frame ({1000 / painted:.2f} frames/s); "
              f"{args.style} {trained:.0f} ms ({1000 / trained:.1f} frames/s)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    demo.blocks.close()


if __name__ == "__main__":
    main()
