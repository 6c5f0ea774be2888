"""Every ``fastnst ...`` command and every Python example in README.md and demo/README.md runs.

The commands run in the order the documents give them, in one temporary folder per document
that holds the files they name: ``photo.jpg`` (the bundled sample photo), ``painting.jpg``,
``clip.mp4`` (a generated 70 s clip at 2 frames/s with audio, so ``--start 1:00`` works) and
``photos/`` (small generated photos), with the repository's folders linked in for paths such
as ``training/recipes/...``. What only makes them quick is appended (argparse takes the last
value of a flag): tiny sizes and two steps for ``train``, ``optimize`` and ``layers`` with a random loss
network, one run for ``bench``, ``--headless`` with the clip and a few frames for ``webcam``.
``demo`` must answer on its port; an example that talks to the web app gets one running.
A command passes when it exits 0 without a traceback.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from helpers import free_port, make_clip

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "demo/README.md")
LINKED = ("fastnst", "training", "docs", "export", "benchmarks")
DEMO_PORT = "7860"  # what the documents say; replaced by a free port

# appended to each subcommand: only what makes it quick (and never a window)
QUICK = {
    "optimize": ["--size", "32", "--iterations", "2", "--loss-net", "random-vgg19", "-q"],
    "train": ["--iterations", "2", "--image-size", "32", "--batch-size", "1", "--workers", "0",
              "--loss-net", "random-vgg19", "--preview-every", "1", "--checkpoint-every", "1", "-q"],
    "bench": ["--runs", "1", "--warmup", "0", "--sizes", "64x48", "-q"],
    "webcam": ["--headless", "--frames", "3"],
    "video": ["-q"],
    "layers": ["--loss-net", "random-vgg19", "--size", "32", "--iterations", "2", "--max-photos", "2",
               "--photo-size", "32", "-q"],
}


def _blocks(text: str):
    """(language, code) of each fenced code block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)


def _lines(code: str):
    """Shell lines with backslash continuations joined."""
    return code.replace("\\\n", " ").splitlines()


def _fastnst_argv(line: str):
    """The fastnst arguments of each command in a shell line (``a && fastnst x``: x)."""
    words = shlex.split(line, comments=True)
    commands, current = [], []
    for w in words + ["&&"]:
        if w in ("&&", ";", "||"):
            commands.append(current)
            current = []
        else:
            current.append(w)
    for cmd in commands:
        if cmd and Path(cmd[0]).name == "fastnst":
            yield cmd[1:]
        elif cmd[:1] == ["torchrun"] and "-m" in cmd and cmd[cmd.index("-m") + 1] == "fastnst":
            yield ["torchrun", *cmd[1:]]


def examples():
    """pytest params: (document, kind, payload) in document order."""
    params = []
    for doc in DOCS:
        for n, (lang, code) in enumerate(_blocks((ROOT / doc).read_text())):
            if lang == "python":
                params.append(pytest.param(doc, "python", code, id=f"{doc}:python{n}"))
            elif lang in ("bash", "sh", ""):
                for line in _lines(code):
                    for argv in _fastnst_argv(line):
                        params.append(pytest.param(doc, "fastnst", argv, id=f"{doc}:{' '.join(argv)[:60]}"))
    return params


def _quick(argv: list[str], clip: str) -> list[str]:
    argv = ["random-vgg19" if "/path/to/" in a else a for a in argv]
    if argv[:1] == ["torchrun"]:
        sub = argv[argv.index("-m") + 2:]
        return argv[:argv.index("-m") + 2] + _quick(sub, clip)
    command = argv[0] if argv else ""
    if command == "train" and "--resume" in argv:  # an extension goes 2 steps past the quick run's 2
        return argv + (["--iterations", "4"] if "--iterations" in argv else []) + ["-q"]
    extra = list(QUICK.get(command, []))
    if command == "webcam" and "--source" not in argv:
        extra += ["--source", clip]
    return argv + extra


def _run(args: list[str], cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _check(result: subprocess.CompletedProcess, what: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Traceback" not in output, \
        f"{what} failed ({result.returncode}):\n{output[-3000:]}"


class _Demo:
    """A ``fastnst demo`` on a free port, started on first need, for examples that talk to it."""

    def __init__(self, cwd: Path, env: dict):
        self.cwd, self.env, self.proc, self.port = cwd, env, None, None

    def start(self, argv: list[str]) -> str:
        self.stop()
        self.port = str(free_port())
        argv = [a.replace(DEMO_PORT, self.port) for a in argv] + ["--no-browser", "--port", self.port]
        self.proc = subprocess.Popen([sys.executable, "-m", "fastnst", *argv], cwd=self.cwd, env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                output = self.proc.stdout.read()
                raise AssertionError(f"fastnst {' '.join(argv)} exited {self.proc.returncode}:\n{output}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2)
                return self.port
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"fastnst {' '.join(argv)} did not answer within 120 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """One prepared working folder per document, and a demo server for each when an example needs it."""
    from fastnst import image as im

    made = {}
    for doc in DOCS:
        work = tmp_path_factory.mktemp(doc.replace("/", "_").replace(".", "_"))
        for name in LINKED:
            (work / name).symlink_to(ROOT / name)
        im.save_image(work / "photo.jpg", im.sample_content())
        im.save_image(work / "painting.jpg", im.sample_style())
        (work / "photos").mkdir()
        for k, frame in enumerate(make_clip(work / "clip.mp4", count=140, size=(48, 32), fps=2, audio=True)[::35]):
            im.save_image(work / "photos" / f"p{k}.png", frame)
        env = {k: v for k, v in os.environ.items() if k != "FASTNST_LOSS_NET"}
        env["PYTHONPATH"] = str(ROOT)
        made[doc] = (work, env, _Demo(work, env))
    yield made
    for _, _, demo in made.values():
        demo.stop()


@pytest.mark.slow
@pytest.mark.parametrize("doc,kind,payload", examples())
def test_documented_example_runs(folders, doc, kind, payload):
    work, env, demo = folders[doc]
    if kind == "python":
        code = payload
        if DEMO_PORT in code:
            if demo.proc is None:
                demo.start(["demo"])
            code = code.replace(DEMO_PORT, demo.port)
        _check(_run([sys.executable, "-c", code], work, env), f"python example in {doc}")
        return
    argv = _quick(payload, str(work / "clip.mp4"))
    if argv[:1] == ["demo"]:
        demo.start(argv)
        return
    args = [str(Path(sys.executable).with_name("torchrun")), *argv[1:]] if argv[0] == "torchrun" else \
        [sys.executable, "-m", "fastnst", *argv]
    _check(_run(args, work, env), f"fastnst {' '.join(argv)}")


def test_the_documents_have_examples():
    kinds = {p.values[1] for p in examples()}
    assert kinds == {"python", "fastnst"}
    assert len(examples()) >= 15
