"""A fake webcam for browser tests: a YUV4MPEG2 (.y4m) clip with a moving picture and a frame counter.

Chromium plays such a file, looping, as its camera with
``--use-fake-device-for-media-stream --use-file-for-fake-video-capture=CLIP.y4m``.
Each frame carries its index as ``BITS`` black/white cells along the top sixth of the
picture, big enough to survive JPEG and scaling, so a test can tell which camera frame an
(unstylized) output came from.
"""

from __future__ import annotations

import contextlib
import os
import re

import numpy as np

BITS = 8  # frame counter cells: up to 256 frames per loop


def frame(index: int, width: int = 320, height: int = 240, frames: int = 90) -> np.ndarray:
    """Camera frame ``index``: uint8 RGB (height, width, 3), colourful and moving, counter on top."""
    t = index / frames  # one period per loop, so the loop has no jump
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = x / width, y / height
    phase = 2 * np.pi * t
    rgb = np.stack([0.5 + 0.5 * np.sin(2 * np.pi * (u + t) * 2 + 0.0),
                    0.5 + 0.5 * np.sin(2 * np.pi * (v - t) * 3 + 2.0),
                    0.5 + 0.5 * np.sin(2 * np.pi * (u + v) * 2 + phase + 4.0)], axis=-1)
    cx, cy = width * (0.5 + 0.3 * np.cos(phase)), height * (0.6 + 0.2 * np.sin(phase))  # a moving disc
    disc = (x - cx) ** 2 + (y - cy) ** 2 < (0.12 * height) ** 2
    rgb[disc] = (1.0, 1.0, 0.9)
    out = np.rint(rgb * 255).astype(np.uint8)
    band, cell = height // 6, width // BITS
    for bit in range(BITS):
        out[:band, bit * cell:(bit + 1) * cell] = 255 if (index >> bit) & 1 else 0
    return out


def read_counter(image: np.ndarray) -> int:
    """The frame index written by :func:`frame` into a uint8 RGB image of any size."""
    h, w = image.shape[:2]
    band, cell = h / 6, w / BITS
    grey = image[..., :3].astype(np.float32).mean(axis=2)
    value = 0
    for bit in range(BITS):
        patch = grey[int(band * 0.25):int(band * 0.75), int(cell * (bit + 0.25)):int(cell * (bit + 0.75))]
        value |= int(patch.mean() > 127.5) << bit
    return value


def write_y4m(path, frames: int = 90, width: int = 320, height: int = 240, fps: int = 30) -> None:
    """Write a ``frames``-frame clip as YUV4MPEG2, 4:2:0 (I420), ``fps`` frames per second."""
    _write_y4m(path, (frame(i, width, height, frames) for i in range(frames)), width, height, fps)


def write_still_y4m(path, picture: np.ndarray, frames: int = 30, fps: int = 30) -> None:
    """Write a clip that shows the uint8 RGB (H, W, 3) ``picture`` in each of its ``frames`` frames: a still
    camera, so every camera frame is the same picture (4:2:0, as the camera's video is)."""
    height, width = picture.shape[:2]
    _write_y4m(path, (picture for _ in range(frames)), width, height, fps)


def _write_y4m(path, pictures, width: int, height: int, fps: int) -> None:
    import cv2

    if width % 2 or height % 2:
        raise ValueError(f"4:2:0 needs even sizes, got {width}x{height}")
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for picture in pictures:
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(np.ascontiguousarray(picture), cv2.COLOR_RGB2YUV_I420).tobytes())


# Headless Chromium with the clip as its camera, no network chatter, no first-run UI.
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", "--headless", "--no-sandbox",
         "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         # pages of a load test that are not in front must keep their timers running
         "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
         "--disable-backgrounding-occluded-windows"]


LOOPBACK = re.compile(r"(https?|wss?)://(127\.0\.0\.1|localhost)[:/]|data:|blob:")  # what may be requested


@contextlib.contextmanager
def camera_browser(folder, frames: int = 90, fps: int = 30, width: int = 320, height: int = 240, still=None):
    """A headless Chromium context whose camera plays a counter clip written to ``folder`` (or, given
    ``still``, a uint8 RGB picture, a clip of that picture in every frame, at its own size); its
    ``outside`` list collects every request that left loopback. Skips the test (with a reason)
    without Chromium or playwright."""
    import pytest

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"needs Chromium at {CHROMIUM} (Debian: apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (a dev extra)")
    clip = os.path.join(folder, "camera.y4m")
    if still is None:
        write_y4m(clip, frames=frames, width=width, height=height, fps=fps)
    else:
        write_still_y4m(clip, still, frames=frames, fps=fps)
    with sync_api.sync_playwright() as pw:
        context = launch_browser(pw, clip, os.path.join(folder, "profile"))
        context.outside = []
        context.on("request", lambda r: None if LOOPBACK.match(r.url) else context.outside.append(r.url))
        try:
            yield context
        finally:
            context.close()


def launch_browser(playwright, clip, user_data_dir, **kwargs):
    """A persistent Chromium context (fresh profile in ``user_data_dir``) whose camera plays ``clip``."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=CHROMIUM, headless=True,
        args=[*FLAGS, f"--use-file-for-fake-video-capture={clip}"],
        viewport={"width": 1280, "height": 860}, **kwargs)


# Installed in a page: records every new stylized frame's src with the time it appeared and a
# small snapshot of what the camera <video> shows at that moment (for the frame counter).
OBSERVE_JS = """() => {
  window.__frames = [];
  const out = document.querySelector('#webcam-output');
  let last = null;
  const snap = () => {
    const v = document.querySelector('#webcam-input video');
    const c = document.createElement('canvas');
    c.width = 128; c.height = 96;
    c.getContext('2d').drawImage(v, 0, 0, 128, 96);
    return c.toDataURL('image/png');
  };
  const record = () => {
    const img = out.querySelector('img');
    if (img && img.src && img.src !== last) {  // a looping clip can bring an earlier frame back: count it
      last = img.src;
      window.__frames.push({t: performance.now(), src: img.src, camera: snap()});
    }
  };
  new MutationObserver(record).observe(out, {subtree: true, childList: true, attributes: true,
                                             attributeFilter: ['src']});
}"""


def start_webcam(page, url: str, timeout_ms: int = 60_000) -> None:
    """Open the app, grant the camera, install the frame observer and press Record."""
    page.goto(url, wait_until="load")
    page.get_by_text("Click to Access Webcam").click(timeout=timeout_ms)
    page.wait_for_function("() => { const v = document.querySelector('#webcam-input video');"
                           " return v && v.videoWidth > 0; }", timeout=timeout_ms)
    page.evaluate(OBSERVE_JS)
    page.locator("#webcam-input button[aria-label='capture photo']").click(timeout=timeout_ms)
