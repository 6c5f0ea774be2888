"""Frames/s of a style in the browser kit (headless Chromium, onnxruntime-web WASM) beside native onnxruntime.

    python benchmarks/web_speed.py [--model fastnst/pretrained/wave_lite.onnx] [--threads 2] [--frames 20]

Writes the ``fastnst export --web`` kit for the model into a temporary folder, serves it with the kit's
serve.py (cross-origin isolated, so WASM threads work) on a free loopback port, and times the page's
whole pipeline (``window.fastnst.stylize``: pre-processing, the network, post-processing; canvas drawing
excluded) on a natural-looking image at 320x240 and 640x480, after one warm-up frame. Beside it, the same
image through fastnst.runtime.Stylizer on the CPU with the same number of threads and with onnxruntime's
default. Prints one line per case. Needs Chromium at /usr/bin/chromium, playwright and onnxruntime-web
(``$FASTNST_ORT_WEB`` or npm, as ``--web`` finds it).

An any-painting file (``--model fastnst/pretrained/arbitrary/wct.onnx``, the ``--arbitrary`` kit) runs with the
page's first example painting, the generated sample, at the default stroke size (512 px), as the Stylizer's
default painting; the painting's statistics are also timed (a second run, after the page's first), in the
page and natively.
"""

from __future__ import annotations

import argparse
import base64
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fastnst.image import from_nchw
from fastnst.quality import natural_image
from fastnst.runtime import Stylizer
from fastnst.webkit import write_web_kit

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SIZES = ((320, 240), (640, 480))  # (width, height)

TIME_JS = """async ([b64, width, height, frames]) => {
  const rgb = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const image = new ImageData(width, height);
  for (let i = 0; i < width * height; i++) image.data.set(rgb.subarray(3 * i, 3 * i + 3), 4 * i);
  await window.fastnst.stylize(image, {});  // warm-up
  const t0 = performance.now();
  for (let i = 0; i < frames; i++) await window.fastnst.stylize(image, {});
  return (1000 * frames) / (performance.now() - t0);
}"""


def native_fps(model: str, image: np.ndarray, threads: int | None, frames: int) -> float:
    stylizer = Stylizer(model, device="cpu", threads=threads)
    stylizer.stylize(image)
    t0 = time.perf_counter()
    for _ in range(frames):
        stylizer.stylize(image)
    return frames / (time.perf_counter() - t0)


def painting_stats_s(model: str, threads: int | None) -> float | None:
    """Seconds of a new painting's statistics (the sample pattern at the default size), after one warm-up; None
    for a trained style."""
    from fastnst.image import sample_style
    from fastnst.painting import painting_image

    stylizer = Stylizer(model, device="cpu", threads=threads)
    if stylizer.painting_stats is None:
        return None
    painting = painting_image(sample_style())
    stylizer.painting_stats(painting[::-1].copy())  # warm-up on other pixels (the cache is by pixels)
    t0 = time.perf_counter()
    stylizer.painting_stats(painting[:, ::-1].copy())
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(ROOT / "fastnst" / "pretrained" / "wave_lite.onnx"))
    parser.add_argument("--threads", type=int, default=2, help="WASM threads (and the native comparison's)")
    parser.add_argument("--frames", type=int, default=20, help="timed frames per case")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    images = {size: from_nchw(natural_image(size[1], size[0], seed=0)) for size in SIZES}
    with tempfile.TemporaryDirectory() as temp:
        kit = Path(temp) / "kit"
        report = write_web_kit(args.model, kit)
        server = subprocess.Popen([sys.executable, "serve.py", "--port", "0"], cwd=kit, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        try:
            url = re.search(r"http://\S+/", server.stdout.readline()).group(0)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page()
                page.goto(f"{url}?backend=wasm&threads={args.threads}")
                page.wait_for_function("window.fastnst && window.fastnst.ready", timeout=60_000)
                if page.evaluate("window.fastnst.error"):
                    sys.exit(f"the page failed: {page.evaluate('window.fastnst.error')}")
                backend = page.inner_text("#status").split(" · ")[0]
                if page.evaluate("window.fastnst.painting"):  # an any-painting kit: its statistics again
                    page.evaluate("() => { const s = document.getElementById('stroke'); window.fastnst.painting = null;"
                                  " s.dispatchEvent(new Event('change')); }")
                    page.wait_for_function("window.fastnst.painting || window.fastnst.error", timeout=300_000)
                    painting = page.evaluate("window.fastnst.painting")
                    print(f"browser  painting statistics {painting['width']}x{painting['height']}  "
                          f"{painting['ms'] / 1000:6.2f} s  {backend}", flush=True)
                for (w, h), image in images.items():
                    b64 = base64.b64encode(image.tobytes()).decode()
                    fps = page.evaluate(TIME_JS, [b64, w, h, args.frames])
                    print(f"browser  {w}x{h}  {fps:6.2f} frames/s  {backend}, onnxruntime-web "
                          f"{report.ort_version}, {Path(args.model).name}", flush=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(10)
    import onnxruntime

    if painting_stats_s(args.model, args.threads) is not None:
        for threads in (args.threads, None):
            label = f"{threads} thread{'s' if threads > 1 else ''}" if threads else "default threads"
            print(f"native   painting statistics  {painting_stats_s(args.model, threads):6.2f} s  onnxruntime "
                  f"{onnxruntime.__version__} CPU, {label}", flush=True)
    for (w, h), image in images.items():
        for threads in (args.threads, None):
            fps = native_fps(args.model, image, threads, args.frames)
            label = f"{threads} thread{'s' if threads > 1 else ''}" if threads else "default threads"
            print(f"native   {w}x{h}  {fps:6.2f} frames/s  onnxruntime {onnxruntime.__version__} CPU, {label}",
                  flush=True)


if __name__ == "__main__":
    main()
