"""Webcam tab in a real browser: frames/s and camera-to-display latency, WebRTC live video vs Gradio's stream.

    python benchmarks/webcam_latency.py                          # every case, bundled wave (lite), + 60 s soak
    python benchmarks/webcam_latency.py --paths webrtc --sizes 320x240 --clients 1 --soak 0

The server is ``fastnst demo`` in its own process on a free loopback port (CPU). The clients are
pages of headless Chromium (Debian's ``chromium`` through ``playwright``), each in its own
browser context, whose camera plays a 30 fps .y4m clip with a frame counter in its top sixth
(tests/fakecam.py: 8 black/white cells).

Method, per case (path, camera size, clients):

* **frames/s**: at strength 1, the distinct stylized frames each page displays per second,
  over ``--seconds`` after a warm-up: WebRTC counts ``requestVideoFrameCallback`` calls on the
  stylized ``<video>`` (one per new frame presented), Gradio counts new ``src`` values of the
  stylized ``<img>``. The mean over the clients is printed.
* **latency**: stylization destroys the counter, and strength 0 skips the network, so latency
  is measured at strength 0.3: the network runs in full, the result is 30 % style and 70 %
  camera, and the counter's cells stay far from mid-grey. At each displayed frame the page
  decodes the counter from it and from its own camera preview (a ``<video>`` of the same
  camera track); (preview counter - shown counter) / 30 fps is the camera-to-display
  latency. It leaves out the preview's own delay (about a frame), the same for both paths.
  Percentiles are over every displayed frame of every client.

Prints one line per case, ``webrtc 320x240 clients=1 fps=23.4 p50_ms=96 p90_ms=140`` (and
``gradio ...``), with the load average before each; then a soak (``--soak`` s, 2 WebRTC clients
at 320x240): errors and the server's RSS every 10 s.
"""

from __future__ import annotations

import argparse
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
from demo_load import free_port, rss_mb, wait_for_server  # noqa: E402

CLIP_FRAMES, CLIP_FPS = 90, 30
LATENCY_STRENGTH = 0.3

# Installed in a page: at each new stylized frame, its time and the counters of it and of the camera preview.
OBSERVE_JS = """(path) => {
  const frames = window.__shown = [];
  const canvas = document.createElement('canvas');
  canvas.width = 160; canvas.height = 120;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const counter = (source) => {
    ctx.drawImage(source, 0, 0, 160, 120);
    const band = ctx.getImageData(0, 0, 160, 20).data;
    let value = 0;
    for (let bit = 0; bit < 8; bit++) {
      let sum = 0, n = 0;
      for (let y = 5; y < 15; y++) for (let x = bit * 20 + 5; x < bit * 20 + 15; x++) {
        const i = 4 * (y * 160 + x); sum += band[i] + band[i + 1] + band[i + 2]; n += 3;
      }
      if (sum / n > 127.5) value |= 1 << bit;
    }
    return value;
  };
  const checksum = () => {  // of the picture last drawn: tells a new frame from a repeated one
    const data = ctx.getImageData(0, 0, 160, 120).data;
    let sum = 0;
    for (let i = 0; i < data.length; i += 7) sum = (sum * 31 + data[i]) % 1000000007;
    return sum;
  };
  const record = (shown, camera) => {
    const value = counter(shown), sum = checksum();
    frames.push({t: performance.now(), shown: value, sum, camera: counter(camera)});
  };
  if (path === 'webrtc') {
    const live = document.querySelector('#webrtc video.live'), camera = document.querySelector('#webrtc video.camera');
    const tick = () => { if (live.videoWidth) record(live, camera); live.requestVideoFrameCallback(tick); };
    live.requestVideoFrameCallback(tick);
  } else {
    const out = document.querySelector('#webcam-output');
    let last = null;
    new MutationObserver(() => {
      const img = out.querySelector('img');
      if (!img || !img.src || img.src === last) return;
      last = img.src;
      const camera = document.querySelector('#webcam-input video');
      const t = performance.now();
      img.decode().then(() => {
        const c = counter(camera), value = counter(img);
        frames.push({t, shown: value, sum: checksum(), camera: c});
      })
                  .catch(() => {});
    }).observe(out, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
  }
}"""


def set_strength(page, value: float) -> None:
    box = page.locator("#webcam-strength input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def start(page, url: str, path: str) -> None:
    """Open the app in ``page`` and start the ``path`` ("webrtc" or "gradio") stream."""
    if path == "webrtc":
        page.goto(url, wait_until="load")
        page.locator("#webrtc button.start").click()
        try:
            page.wait_for_function("() => document.querySelector('#webrtc video.live').videoWidth > 0",
                                   timeout=120_000)
        except Exception:
            raise SystemExit(f"no live video: {page.locator('#webrtc .status').text_content()}") from None
    else:
        fakecam.start_webcam(page, url)
        page.wait_for_function("() => document.querySelector('#webcam-output img')", timeout=120_000)
    page.evaluate(OBSERVE_JS, path)


def close(contexts, pages) -> None:
    """Press Stop on each page (as a user closing the tab; playwright's close skips pagehide), then close."""
    for page in pages:
        page.evaluate("() => window.fastnstLive && window.fastnstLive.stop()")
    for context in contexts:
        context.close()


def window(pages, seconds: float) -> list[list[dict]]:
    """Each page's frames recorded over the next ``seconds``."""
    marks = [len(p.evaluate("window.__shown")) for p in pages]
    time.sleep(seconds)
    return [p.evaluate("window.__shown")[m:] for p, m in zip(pages, marks)]


def fps_of(frames: list[dict]) -> float:
    """Distinct frames per second: a frame whose picture equals the one before it is not counted."""
    if len(frames) < 2:
        return 0.0
    distinct = sum(a["sum"] != b["sum"] for a, b in zip(frames, frames[1:]))
    return distinct / ((frames[-1]["t"] - frames[0]["t"]) / 1000.0)


def lags_ms(frames: list[dict]) -> list[float]:
    """Camera-to-display latency of each frame, ms (a lag over 1.5 s would be a misread counter)."""
    lags = [((f["camera"] - f["shown"]) % CLIP_FRAMES) * 1000.0 / CLIP_FPS for f in frames]
    return [v for v in lags if v < 1500]


def run_case(browser, url: str, clip: Path, path: str, clients: int, seconds: float, warmup: float):
    contexts, pages, errors = [], [], []
    try:
        for _ in range(clients):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
            contexts.append(context)
            pages.append(page)
            start(page, url, path)
        time.sleep(warmup)
        styled = window(pages, seconds)
        for page in pages:
            set_strength(page, LATENCY_STRENGTH)
        time.sleep(2.0)  # frames in flight were stylized at strength 1
        plain = window(pages, seconds)
        fps = float(np.mean([fps_of(f) for f in styled]))
        lags = [v for f in plain for v in lags_ms(f)]
        p50, p90 = (np.percentile(lags, [50, 90]) if lags else (float("nan"),) * 2)
        return fps, p50, p90, len(lags), errors
    finally:
        close(contexts, pages)


def soak(browser, url: str, server: subprocess.Popen, seconds: float) -> None:
    contexts, pages, errors = [], [], []
    for _ in range(2):
        context = browser.new_context()
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        contexts.append(context)
        pages.append(page)
        start(page, url, "webrtc")
    rss = [("start", rss_mb(server.pid))]
    began, frames0 = time.monotonic(), [len(p.evaluate("window.__shown")) for p in pages]
    while time.monotonic() - began < seconds:
        time.sleep(min(10.0, seconds - (time.monotonic() - began)))
        rss.append((f"{time.monotonic() - began:.0f}s", rss_mb(server.pid)))
    counts = [len(p.evaluate("window.__shown")) - f0 for p, f0 in zip(pages, frames0)]
    statuses = [p.locator("#webrtc .status").text_content() for p in pages]
    close(contexts, pages)
    failed = sum("connection" in s or "no live" in s for s in statuses)
    print(f"soak webrtc 320x240 clients=2 seconds={seconds:g} frames={'+'.join(map(str, counts))} "
          f"errors={len(errors) + failed} rss_mb=" + ",".join(f"{k}:{v:.0f}" for k, v in rss), flush=True)
    for e in errors[:5]:
        print(f"  {e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--style", default="wave", help="a style name or .onnx file (default: the bundled wave, lite)")
    ap.add_argument("--paths", default="webrtc,gradio")
    ap.add_argument("--sizes", default="320x240,640x480")
    ap.add_argument("--clients", default="1,2")
    ap.add_argument("--seconds", type=float, default=8.0, help="each measuring window")
    ap.add_argument("--warmup", type=float, default=4.0)
    ap.add_argument("--soak", type=float, default=60.0, help="seconds of the 2-client WebRTC soak (0: none)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="fastnst-latency-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = open(work / "server.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "fastnst", "demo", "--style", args.style, "--port", str(port),
                               "--device", "cpu", "--no-browser"], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_server(url, server)
        with sync_playwright() as pw:
            for size in args.sizes.split(","):
                width, height = (int(v) for v in size.split("x"))
                clip = work / f"camera_{size}.y4m"
                fakecam.write_y4m(clip, frames=CLIP_FRAMES, width=width, height=height, fps=CLIP_FPS)
                browser = pw.chromium.launch(executable_path=fakecam.CHROMIUM, headless=True,
                                             args=[*fakecam.FLAGS, f"--use-file-for-fake-video-capture={clip}"])
                for path in args.paths.split(","):
                    for clients in (int(c) for c in args.clients.split(",")):
                        print(f"# load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
                        fps, p50, p90, n, errors = run_case(browser, url, clip, path, clients, args.seconds,
                                                            args.warmup)
                        print(f"{path} {size} clients={clients} fps={fps:.1f} p50_ms={p50:.0f} p90_ms={p90:.0f}",
                              flush=True)
                        for e in errors[:3]:
                            print(f"  ({n} latency samples) {e}")
                if size == "320x240" and args.soak > 0:
                    print(f"# load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
                    soak(browser, url, server, args.soak)
                browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    print(f"# server log tracebacks: {(work / 'server.log').read_text().count('Traceback')}; "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
