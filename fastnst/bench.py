"""Benchmark exported styles: frames/s and latency of `Stylizer.stylize` at several frame sizes.

Each model is loaded once per device; at each size a seeded random uint8 RGB frame is
stylized ``warmup`` times untimed, then ``runs`` times timed one by one. A run is the whole
`Stylizer.stylize` call (uint8 in, conversion, network, uint8 out), i.e. what a video or
webcam frame costs. Reported: median and 90th-percentile latency and frames/s = 1 / median.

Importing this module is cheap (no numpy, onnxruntime or torch until something runs); it
never imports torch, except `export_presets` (random-weight models of the
presets for ``fastnst bench --preset``), which needs it.

    >>> results = bench_models(["wave.onnx"], BenchConfig(sizes=((640, 480),), runs=20))
    >>> print(format_table(results))
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

from .config import BenchConfig, PaintingOptions

__all__ = ["BenchConfig", "BenchResult", "bench_models", "export_presets", "format_table", "model_files",
           "parse_sizes", "results_json"]


@dataclass
class BenchResult:
    """One model at one frame size. Times in milliseconds; ``fps`` = 1000 / ``median_ms``."""

    model: str  # the model's path
    style: str
    preset: str | None
    precision: str  # "fp32", "fp16" or "int8" (from the file's metadata)
    provider: str  # the onnxruntime execution provider that ran it, or "OpenVINO"
    width: int
    height: int
    runs: int
    median_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    fps: float
    times_ms: list[float] = field(repr=False, default_factory=list)
    io: str = "float"  # "float" (float32 NCHW, converted on the host) or "uint8" (frames as they are)
    device: str = ""  # the device it ran on ("cpu", "openvino", "cuda", "tensorrt"): --device, or what auto picked
    picked: str = ""  # with --device auto on a CPU: why that device (fastnst.styles.Choice.why), else ""


def model_files(items, every_shipped: bool = True) -> list[str]:
    """What to time for style arguments ``items``: a file itself; a style inside a multi-style file or a blend,
    as ``STYLE@FILE`` (its blend kept); a bundled style's name, each
    shipped copy of it (fp32, int8, uint8 I/O). No items: every shipped style and copy (if ``every_shipped``).
    A style that does not exist is a UserError, before anything is timed."""
    from .errors import UserError
    from .styles import is_file_argument, list_styles, pick, variants

    def arg(v) -> str:  # a style inside a multi-style file keeps its blend: STYLE@FILE; a painting is itself
        if v.painting is not None:
            return str(v.painting)
        return str(v.path) if v.blend is None else v.exact_name

    files = [arg(v) for m in items for v in ([pick(m)] if is_file_argument(m) else variants(pick(m)))]
    if not items and every_shipped:
        files = [str(v.path) for s in list_styles(".onnx") for v in variants(s)]  # a multi-style file: once
        if not files:
            raise UserError("no styles are bundled with this installation: give .onnx files, or time "
                            "random-weight models with --preset lite,johnson")
    return list(dict.fromkeys(files))  # each timed once


def parse_sizes(text: str) -> tuple[tuple[int, int], ...]:
    """``"256x256,640x480"`` -> ((256, 256), (640, 480)); width x height, whole numbers (``BenchConfig.validate``
    checks that they are >= 1)."""
    sizes = []
    for item in (s.strip().lower() for s in text.split(",")):
        if not item:
            continue
        w, sep, h = item.partition("x")
        if not sep or not w.isdigit() or not h.isdigit():
            raise ValueError(f"'{item}' is not a size like 640x480 (width x height)")
        sizes.append((int(w), int(h)))
    if not sizes:
        raise ValueError("give at least one size, e.g. 640x480")
    return tuple(sizes)


def _time_size(stylizer, width: int, height: int, runs: int, warmup: int) -> list[float]:
    import numpy as np

    frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    for _ in range(warmup):
        stylizer.stylize(frame)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        stylizer.stylize(frame)
        times.append((time.perf_counter() - t0) * 1000.0)
    return times


def bench_models(models, config: BenchConfig | None = None, progress=None, painting=None) -> list[BenchResult]:
    """Time each model (an .onnx path or a shipped style name) at each of ``config.sizes`` (None: ``BenchConfig()``).

    Each runs what :func:`fastnst.styles.choose` picks for it on ``config.device`` (``auto``: the GPU
    where one loads, else the CPU runtime measured faster for the file; ``picked`` says which and why); a
    painting runs each shipped preset of one (``wct``, ``wct_fast``: which is for stills and which for live
    frames is :data:`fastnst.styles.PREFERENCE`'s), as a style's name times each shipped copy.
    ``progress(done, total)``, if given, is called after each (model, size). Returns one
    `BenchResult` per model and size, in that order. ``painting``: the :class:`fastnst.config.PaintingOptions`
    of paintings given as styles (their statistics are computed once, before the timing).
    """
    import numpy as np

    from .runtime import Stylizer
    from .styles import choose, resolve_styles

    config = config or BenchConfig()
    config.validate()  # a UserError naming the setting, before any model loads
    choices = []
    for model in models:
        files = resolve_styles(model)
        if files[0].painting is not None:  # a painting: every preset of it, each on its device
            choices += [choose(f, "any", config.device) for f in files]
        else:
            choices.append(choose(model, "any", config.device))
    total, done = len(choices) * len(config.sizes), 0
    results = []
    for choice in choices:
        p = painting or PaintingOptions()
        stylizer = Stylizer(choice.file.path, device=choice.device.name, threads=config.threads,
                            blend=choice.file.blend, painting=choice.file.painting, style_strength=p.style_strength,
                            style_size=p.style_size)
        for width, height in config.sizes:
            times = _time_size(stylizer, width, height, int(config.runs), int(config.warmup))
            median = float(np.median(times))
            results.append(BenchResult(
                model=stylizer.path, style=stylizer.style, preset=choice.file.preset or stylizer.preset,
                precision=str(stylizer.metadata.get("precision") or "fp32"), provider=stylizer.provider,
                width=width, height=height, runs=len(times), median_ms=median,
                p90_ms=float(np.percentile(times, 90)), mean_ms=float(np.mean(times)),
                min_ms=float(np.min(times)), fps=1000.0 / median, times_ms=times,
                io="uint8" if stylizer.uint8_io else "float", device=stylizer.device, picked=choice.why))
            done += 1
            if progress is not None:
                progress(done, total)
        del stylizer
    return results


def export_presets(presets, folder, fp16: bool = False, int8: bool = False) -> list[str]:
    """Export seeded random-weight models of ``presets`` to ``folder``; returns the .onnx paths.

    The same network, and so the same speed, as a trained style of that preset. With
    ``fp16`` each preset is also exported in half precision, with ``int8`` also quantized
    (:func:`fastnst.quantize.quantize_int8`, calibrated as for a real style but not checked:
    random weights). Needs torch.
    """
    from .export import export_onnx
    from .models import random_model

    paths = []
    for preset in presets:
        model = random_model(preset)
        fp32 = os.path.join(os.fspath(folder), f"random_{preset}.onnx")
        for half in (False, True) if fp16 else (False,):
            path = os.path.join(os.fspath(folder), f"random_{preset}{'_fp16' if half else ''}.onnx")
            export_onnx(model, path, {"style": "random", "preset": preset}, fp16=half, check=False)
            paths.append(path)
        if int8:
            from .quantize import quantize_int8

            path = os.path.join(os.fspath(folder), f"random_{preset}.int8.onnx")
            quantize_int8(fp32, path, check=False)
            paths.append(path)
    return paths


def format_table(results: list[BenchResult]) -> str:
    """A plain-text table: one row per model and size."""
    head = (f"{'style':<16} {'preset':<8} {'prec':<5} {'io':<5} {'provider':<10} {'size':>10} {'fps':>8} "
            f"{'median ms':>10} {'p90 ms':>9}")
    rows = [head, "-" * len(head)]
    for r in results:
        provider = r.provider.replace("ExecutionProvider", "")
        rows.append(f"{r.style[:16]:<16} {(r.preset or '-')[:8]:<8} {r.precision:<5} {r.io:<5} {provider[:10]:<10} "
                    f"{f'{r.width}x{r.height}':>10} {r.fps:>8.2f} {r.median_ms:>10.1f} {r.p90_ms:>9.1f}")
    rows += list(dict.fromkeys(r.picked for r in results if r.picked))  # --device auto: what it took, and why
    return "\n".join(rows)


def results_json(results: list[BenchResult], config: BenchConfig) -> dict:
    """The JSON form printed by ``fastnst bench --json``: environment, settings and one object per result."""
    import platform

    import onnxruntime as ort

    from . import __version__

    return {
        "fastnst_version": __version__, "onnxruntime_version": ort.__version__,
        "machine": platform.machine(), "cpu_count": os.cpu_count(),
        "device": config.device, "threads": config.threads, "runs": config.runs, "warmup": config.warmup,
        "results": [asdict(r) for r in results],
    }
