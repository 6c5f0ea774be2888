"""Helpers that more than one test file uses (pytest puts tests/ on sys.path, so ``from helpers import ...``)."""

import contextlib
import os
import socket
import subprocess

import numpy as np

from fastnst.video import ffmpeg_exe


def clip_frames(count: int, width: int, height: int, seed: int = 0) -> list[np.ndarray]:
    """A panned texture (2 px right, 1 px down per frame) with a moving bright square: uint8 RGB frames."""
    rng = np.random.default_rng(seed)
    big = rng.random((height // 4 + count, width // 4 + count, 3))
    texture = np.kron(big, np.ones((4, 4, 1)))  # 4x4 blocks: coarse enough to survive the codec
    y, x = np.mgrid[0:texture.shape[0], 0:texture.shape[1]]
    texture = 0.6 * texture + 0.4 * (0.5 + 0.5 * np.sin(x / 5.0 + y / 9.0))[..., None]
    frames = []
    for t in range(count):
        f = texture[t:t + height, 2 * t:2 * t + width]
        f = np.rint(f * 200 + 20).astype(np.uint8)
        s = max(4, height // 6)
        x0, y0 = (3 * t) % max(1, width - s), (t * 2) % max(1, height - s)
        f[y0:y0 + s, x0:x0 + s] = (250, 240, 40)
        frames.append(np.ascontiguousarray(f))
    return frames


def make_clip(path, count=24, size=(97, 61), fps=24, audio=False) -> list[np.ndarray]:
    """Encode clip_frames with the ffmpeg binary directly (not through fastnst); returns the frames."""
    width, height = size
    frames = clip_frames(count, width, height)
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:0"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=22050:duration={count / fps}",
                "-c:a", "aac"]
    pix = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", pix, os.fspath(path)]
    subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), check=True)
    return frames


def one_line_error(result) -> str:
    """The message of a command that failed as a user error: exit status 2, one ``fastnst: error: ...`` line.

    ``result``: a finished run (``subprocess.CompletedProcess``, or anything with ``returncode`` and
    ``stderr``). Asserts that it failed so, with nothing else on stderr (no traceback); returns the line.
    """
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("fastnst: error: "), result.stderr
    return lines[0]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_demo(styles, **options):
    """The web app (``fastnst.webapp.Demo`` on the CPU, ``options`` for its DemoConfig) on a free loopback port."""
    from fastnst.config import DemoConfig
    from fastnst.webapp import Demo

    demo = Demo(styles, device="cpu", options=DemoConfig(**options))
    demo.launch("127.0.0.1", free_port(), block=False, quiet=True)
    try:
        yield demo
    finally:
        demo.blocks.close()


def live_frame_png(page) -> np.ndarray:
    """The web app's stylized live <video> (WebRTC) as shown now in the playwright ``page``: uint8 RGB, its own size."""
    import base64
    import io

    from PIL import Image

    url = page.evaluate("""() => { const v = document.querySelector('#webrtc video.live');
      const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
      c.getContext('2d').drawImage(v, 0, 0); return c.toDataURL('image/png'); }""")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def new_live_frames(page, count: int, timeout: float = 60.0) -> list[np.ndarray]:
    """``count`` pictures from the stylized live <video> (:func:`live_frame_png`), each a newly presented frame."""
    import time

    page.evaluate("""() => { const v = document.querySelector('#webrtc video.live'); window.__presented = 0;
      const tick = () => { window.__presented++; v.requestVideoFrameCallback(tick); };
      v.requestVideoFrameCallback(tick); }""")
    out, deadline = [], time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        seen = page.evaluate("window.__presented")
        page.wait_for_function(f"() => window.__presented > {seen}", timeout=timeout * 1000)
        out.append(live_frame_png(page))
    return out
