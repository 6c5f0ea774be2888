"""The live WebRTC picture against a still: PSNR of what the browser shows vs ``fastnst stylize`` of the camera frame.

    python benchmarks/live_quality.py                      # before (384 px, aiortc's encoder) and after, interleaved
    python benchmarks/live_quality.py --cases after --rounds 1 --grabs 4

The same moment, exactly: the camera is a still. Headless Chromium's fake camera plays a clip whose
every frame is one 640x480 picture (``--picture``, default scikit-image's astronaut, squeezed to
4:3), so every camera frame is that picture and any stylized frame may be set beside
``fastnst stylize`` of it. The camera frame is the picture after the 4:2:0 round trip the clip
stores it in (what the camera delivers); ``fastnst stylize`` runs the same .onnx file the live
stream runs (``--style``, default the bundled wave, lite), at full size.

The server is the web app (:class:`fastnst.webapp.Demo`) in this process, so the benchmark can
record, for each frame the server stylizes, the camera frame it decoded (after the browser's
encoder) and the stylized frame before the server's encoder (a wrapper on the peer's
``FrameStylizer.stabilize``, which gets both). Per grab, the page's ``<video>`` frame is drawn to
a canvas at its own size (PNG) and compared with the newest server frames (the best match of the
last 10: the camera is still, so they differ only by the upstream encoder's noise). Printed in dB:

* ``live``: the browser's frame vs ``fastnst stylize`` of the camera frame (the target: >= 30);
* ``encoder``: the browser's frame vs the server's stylized frame (the downstream encoder's loss,
  VP8 and 4:2:0, plus the page's colour conversion);
* ``size``: the server's stylized frame vs ``fastnst stylize`` (the working size, plus the upstream
  camera encoder's loss carried through the network);
* ``camera``: the camera frame the server decoded vs the true camera frame (the upstream loss alone).

``fps``: stylized frames the page presents per second (``requestVideoFrameCallback``), over
``--seconds``; ``server_fps``: the peer's own count. Cases: ``before`` (stream max side 384 px,
aiortc's adaptive encoder: the CPU defaults before issue 22), ``after`` (the current defaults:
full 640 px and ``live_bitrate``), and the two halves ``size_only`` (640 px, aiortc's encoder)
and ``bitrate_only`` (384 px, the fixed bit rate). Cases alternate over ``--rounds`` rounds, so a
machine whose load changes affects each alike; the load average is printed before each.

A loaded CPU stylizes few frames a second, and a few frames a second leave the encoder many bits
for each: the browser cases understate the encoder's loss at an idle machine's frame rate. So
first, without a browser or a clock, the encoder alone at ``--encoder-fps`` (timestamps, not
time, drive libvpx's rate control): the still with sensor-like noise (Gaussian, sigma 2 of 255,
new each frame), and the same panning 1 px a frame (every stylized frame new), stylized at full
size, 2 s of each through :class:`fastnst.webrtc.LiveEncoder` at
aiortc's start and top rates (0.5 and 1.5 Mbit/s, the same rate control as aiortc's encoder) and
at ``live_bitrate``, decoded by libvpx: ``encoder@25fps panning bitrate=1.5 psnr_db=.. mbps=..`` (the
PSNR of the last second's frames; the bit rate the packets took).
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
import fakecam  # noqa: E402
from demo_load import free_port  # noqa: E402

CASES = {  # name: DemoConfig fields (None: the current default)
    "before": {"stream_max_side": 384, "live_bitrate": 0.0},
    "after": {},
    "size_only": {"live_bitrate": 0.0},
    "bitrate_only": {"stream_max_side": 384},
}
KEEP = 10  # newest server frames kept for matching

GRAB_JS = """() => { const v = document.querySelector('#webrtc video.live');
  const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
  c.getContext('2d').drawImage(v, 0, 0); return c.toDataURL('image/png'); }"""
COUNT_JS = """() => { const v = document.querySelector('#webrtc video.live'); window.__presented = [];
  const tick = (now) => { window.__presented.push(now); v.requestVideoFrameCallback(tick); };
  v.requestVideoFrameCallback(tick); }"""


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 arrays of one shape (inf where equal)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def camera_picture(path: str | None, width: int, height: int) -> np.ndarray:
    """The still, uint8 RGB (height, width, 3), after the 4:2:0 round trip of the camera's clip."""
    import cv2

    from fastnst.image import load_image, sample_content

    picture = sample_content() if path is None else load_image(path)
    picture = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(cv2.cvtColor(picture, cv2.COLOR_RGB2YUV_I420), cv2.COLOR_YUV2RGB_I420)


def stylize_cli(style: str, picture: np.ndarray, work: Path) -> np.ndarray:
    """``fastnst stylize -s STYLE`` of ``picture`` (a PNG in ``work``), at full size on the CPU."""
    from fastnst.image import load_image, save_image

    src, out = work / "camera.png", work / "camera_stylized.png"
    save_image(str(src), picture)
    subprocess.run([sys.executable, "-m", "fastnst", "stylize", "-s", style, str(src), "-o", str(out),
                    "--overwrite", "--device", "cpu", "-q"], check=True)
    return load_image(str(out))


def encoder_alone(style: str, truth: np.ndarray, fps: int, bitrates: list[float]) -> None:
    """Print the VP8 loss of stylized noisy stills at ``fps`` for each bit rate (Mbit/s): see the module docstring."""
    from fractions import Fraction

    import av

    from fastnst.runtime import Stylizer
    from fastnst.webrtc import LiveEncoder

    rng = np.random.default_rng(0)
    stylizer = Stylizer(style, device="cpu")

    def camera(i: int, moving: bool) -> np.ndarray:  # the still, or panned i px to the right, with new noise
        picture = np.roll(truth, i, axis=1) if moving else truth
        return np.clip(picture + rng.normal(0, 2, truth.shape), 0, 255).astype(np.uint8)

    still = stylizer.stylize(truth)
    chroma = av.VideoFrame.from_ndarray(still, format="rgb24").reformat(format="yuv420p").to_ndarray(format="rgb24")
    print(f"4:2:0 alone (no encoder): psnr_db={psnr(chroma, still):.1f}", flush=True)
    for moving in (False, True):
        styled = [stylizer.stylize(camera(i, moving)) for i in range(2 * fps)]
        for mbps in bitrates:
            encoder, decoder = LiveEncoder(mbps * 1e6), av.CodecContext.create("libvpx", "r")
            scores, size = [], 0
            for i, picture in enumerate(styled):
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts, frame.time_base = i * 3000, Fraction(1, 3000 * fps)
                packet = encoder.encode(frame)
                size += packet.size
                for shown in decoder.decode(packet):
                    scores.append(psnr(shown.to_ndarray(format="rgb24"), picture))
            print(f"encoder@{fps}fps {'panning' if moving else 'still'} bitrate={mbps:g} "
                  f"psnr_db={np.mean(scores[-fps:]):.1f} mbps={size * 8 / 2 / 1e6:.2f}", flush=True)


def record_server_frames(peer, kept: list) -> None:
    """Keep (camera frame, stylized frame) of each frame the peer stylizes, newest last, ``KEEP`` at most."""
    live = peer.live
    stabilize = live.stabilize

    def recording(frame, styled):
        kept.append((frame.copy(), styled.copy()))
        del kept[:-KEEP]
        return stabilize(frame, styled)

    live.stabilize = recording  # an instance attribute: FrameStylizer.__call__ looks it up on the instance


def grab(page) -> np.ndarray:
    from PIL import Image

    url = page.evaluate(GRAB_JS)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def run_case(pw, name: str, args, clip: Path, truth: np.ndarray, reference: np.ndarray, work: Path) -> dict:
    from fastnst.config import DemoConfig
    from fastnst.webapp import Demo

    demo = Demo([args.style], device="cpu", options=DemoConfig(**CASES[name]))
    demo.launch("127.0.0.1", free_port(), block=False, quiet=True)
    context = fakecam.launch_browser(pw, clip, work / f"profile-{name}-{time.monotonic_ns()}")
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(demo.blocks.local_url, wait_until="load")
        page.locator("#webrtc button.start").click()
        page.wait_for_function("() => document.querySelector('#webrtc video.live').videoWidth > 0")
        deadline = time.monotonic() + 60
        while not (demo.live.peers and next(iter(demo.live.peers)).live) and time.monotonic() < deadline:
            time.sleep(0.1)
        (peer,) = demo.live.peers
        kept: list = []
        record_server_frames(peer, kept)
        time.sleep(args.warmup)
        page.evaluate(COUNT_JS)
        time.sleep(args.seconds)
        shown = page.evaluate("window.__presented")
        fps = (len(shown) - 1) * 1000.0 / (shown[-1] - shown[0]) if len(shown) > 1 else 0.0
        server_fps = peer.live.timing.fps
        rows = []
        for _ in range(args.grabs):
            time.sleep(0.5)
            frames = list(kept)
            shown_frame = grab(page)
            if shown_frame.shape != truth.shape:
                raise SystemExit(f"{name}: the page shows {shown_frame.shape[1]}x{shown_frame.shape[0]}, "
                                 f"the camera is {truth.shape[1]}x{truth.shape[0]}")
            camera, styled = max(frames, key=lambda f: psnr(shown_frame, f[1]))
            rows.append((psnr(shown_frame, reference), psnr(shown_frame, styled), psnr(styled, reference),
                         psnr(camera, truth)))
        live, encoder, size, cam = np.median(np.array(rows), axis=0)
        return {"live": live, "encoder": encoder, "size": size, "camera": cam, "fps": fps, "server_fps": server_fps,
                "max_side": demo.stream_max_side, "bitrate": demo.options.live_bitrate}
    finally:
        context.close()
        demo.blocks.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--style", default=str(ROOT / "fastnst" / "pretrained" / "wave_lite.onnx"),
                    help="the .onnx file both the live stream and fastnst stylize run (default: bundled wave, lite)")
    ap.add_argument("--picture", help="the camera's still (default: scikit-image's astronaut)")
    ap.add_argument("--size", default="640x480", help="the camera's size")
    ap.add_argument("--cases", default="before,after", help=f"comma-separated, of {', '.join(CASES)}")
    ap.add_argument("--rounds", type=int, default=2, help="times each case runs, alternating")
    ap.add_argument("--warmup", type=float, default=8.0, help="seconds before measuring (the encoders settle)")
    ap.add_argument("--seconds", type=float, default=8.0, help="the frame-rate window")
    ap.add_argument("--grabs", type=int, default=6, help="frames grabbed per case (the median is printed)")
    ap.add_argument("--encoder-fps", type=int, default=25, help="frame rate of the encoder-alone figures (0: none)")
    args = ap.parse_args()
    cases = args.cases.split(",")
    if unknown := [c for c in cases if c not in CASES]:
        raise SystemExit(f"unknown case {unknown[0]} (one of {', '.join(CASES)})")
    from playwright.sync_api import sync_playwright

    width, height = (int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="fastnst-live-quality-"))
    truth = camera_picture(args.picture, width, height)
    clip = work / "still.y4m"
    fakecam.write_still_y4m(clip, truth, frames=30)
    reference = stylize_cli(args.style, truth, work)
    print(f"# camera {width}x{height} still; style {Path(args.style).name}; {os.cpu_count()} CPUs", flush=True)
    if args.encoder_fps > 0:
        from fastnst.config import DemoConfig

        encoder_alone(args.style, truth, args.encoder_fps, [0.5, 1.5, DemoConfig().live_bitrate])
    if args.rounds < 1:
        return
    with sync_playwright() as pw:
        for _ in range(args.rounds):
            for name in cases:
                print(f"# load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
                r = run_case(pw, name, args, clip, truth, reference, work)
                print(f"{name} max_side={r['max_side']} bitrate={r['bitrate'] or 'aiortc'} "
                      f"live_db={r['live']:.1f} encoder_db={r['encoder']:.1f} size_db={r['size']:.1f} "
                      f"camera_db={r['camera']:.1f} fps={r['fps']:.1f} server_fps={r['server_fps']:.1f}", flush=True)


if __name__ == "__main__":
    main()
