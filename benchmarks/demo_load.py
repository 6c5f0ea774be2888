"""Load test of the web app: several browser clients stream their cameras to one server at once.

    python benchmarks/demo_load.py                       # 4 clients, 60 s, a random-weight lite model
    python benchmarks/demo_load.py --clients 6 --seconds 120 --style wave_lite.onnx --device cuda

The server is ``fastnst demo`` in its own process on a free loopback port. The clients are
pages of one headless Chromium (Debian's ``chromium``, driven by ``playwright``), each in its
own browser context with a fake camera playing a 640x480 30 fps .y4m clip (tests/fakecam.py),
pressing Record on the Webcam tab like a user. Prints, per client: stylized frames received
per second over the measured window, the server latency the app reports, and errors (page
errors, console errors, error toasts); for the server: RSS memory at start, during and at the
end, and its CPU use.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import fakecam  # noqa: E402
from helpers import free_port  # noqa: E402  (tests/helpers.py; webcam_latency.py imports it from here)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, MB (Linux /proc)."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        return []
    return kids + [g for k in kids for g in _children(k)]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process and its children have used so far, seconds."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def browser_pid(clip: Path) -> int | None:
    """The Chromium main process started with ``clip`` as its camera."""
    flag = f"--use-file-for-fake-video-capture={clip}".encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if flag in args and not any(a.startswith(b"--type=") for a in args):
                return int(entry)
    return None


def random_model(folder: Path) -> Path:
    """A lite ONNX style with seeded random weights (as tests/conftest.py's lite_onnx)."""
    from fastnst.bench import export_presets

    return Path(export_presets(["lite"], folder)[0])


def wait_for_server(url: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with status {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"the server did not answer at {url} within {timeout:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60.0, help="measured streaming time")
    ap.add_argument("--style", help="an .onnx style (default: a random-weight lite model)")
    ap.add_argument("--device", default="cpu", help="the server's --device")
    ap.add_argument("--size", default="640x480", help="camera size WxH")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="fastnst-load-"))
    style = Path(args.style) if args.style else random_model(work)
    width, height = (int(v) for v in args.size.split("x"))
    clip = work / "camera.y4m"
    fakecam.write_y4m(clip, frames=60, width=width, height=height, fps=30)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = open(work / "server.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "fastnst", "demo", "--style", str(style), "--port", str(port),
                               "--device", args.device, "--no-browser", "--max-streams", str(max(8, args.clients))],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_server(url, server)
        rss = [("start", rss_mb(server.pid))]
        print(f"server pid {server.pid} on {url}: RSS {rss[0][1]:.0f} MB; {args.clients} clients, "
              f"camera {width}x{height} 30 fps, {args.seconds:g} s", flush=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=fakecam.CHROMIUM, headless=True,
                                         args=[*fakecam.FLAGS, f"--use-file-for-fake-video-capture={clip}"])
            pages, errors = [], []
            for i in range(args.clients):
                page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
                page.set_default_timeout(120_000)
                errors.append([])
                page.on("pageerror", lambda e, i=i: errors[i].append(f"pageerror: {e}"))
                page.on("console", lambda m, i=i: errors[i].append(f"console: {m.text}") if m.type == "error" else None)
                fakecam.start_webcam(page, url)
                pages.append(page)
            for page in pages:  # warmed up: every client has had a stylized frame
                page.wait_for_function("() => window.__frames.length > 0", timeout=300_000)
            rss.append(("streaming", rss_mb(server.pid)))
            chromium = browser_pid(clip)
            cpu0, wall0 = cpu_seconds(server.pid), time.monotonic()
            browser_cpu0 = cpu_seconds(chromium) if chromium else 0.0
            starts = [(p.evaluate("performance.now()"), len(p.evaluate("window.__frames"))) for p in pages]
            end = wall0 + args.seconds
            while time.monotonic() < end:
                time.sleep(min(10.0, max(0.0, end - time.monotonic())))
                rss.append((f"{time.monotonic() - wall0:.0f} s", rss_mb(server.pid)))
            ends = [(p.evaluate("performance.now()"), len(p.evaluate("window.__frames"))) for p in pages]
            wall = time.monotonic() - wall0
            cpu = (cpu_seconds(server.pid) - cpu0) / wall
            browser_cpu = (cpu_seconds(chromium) - browser_cpu0) / wall if chromium else float("nan")
            rows = []
            for i, page in enumerate(pages):
                toasts = page.locator(".toast-body.error, [data-testid='toast-body'].error").count()
                status = page.input_value("#webcam-status textarea")
                frames = ends[i][1] - starts[i][1]
                fps = frames / ((ends[i][0] - starts[i][0]) / 1000.0)
                latency = re.search(r"(\d+) ms", status)
                rows.append((i, frames, fps, latency.group(1) if latency else "?", len(errors[i]) + toasts, status))
            browser.close()
        rss.append(("end", rss_mb(server.pid)))
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    print(f"\n{'client':>6} {'frames':>7} {'fps':>6} {'server ms':>9} {'errors':>6}  app status")
    for i, frames, fps, latency, errs, status in rows:
        print(f"{i:>6} {frames:>7} {fps:>6.2f} {latency:>9} {errs:>6}  {status}")
    total = sum(r[2] for r in rows)
    print(f"total {total:.2f} stylized frames/s over {args.clients} clients; CPU use, in cores: server "
          f"{cpu:.2f}, browser {browser_cpu:.2f}; {os.cpu_count()} cores here, load average "
          f"{os.getloadavg()[0]:.1f}")
    print("server RSS MB: " + ", ".join(f"{k} {v:.0f}" for k, v in rss))
    tracebacks = (work / "server.log").read_text().count("Traceback")
    print(f"server log tracebacks: {tracebacks}; page errors: {sum(r[4] for r in rows)}")
    for i, errs in enumerate(errors):
        for e in errs[:3]:
            print(f"  client {i}: {e}")


if __name__ == "__main__":
    main()
