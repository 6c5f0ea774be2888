"""Speed of `lite` design variants: whole `Stylizer.stylize` calls at 640x480 on the CPU.

Each variant is the `lite` preset with some `ModelConfig` fields replaced, exported with
random weights (speed does not depend on them) and timed with `fastnst.bench`, interleaved:
every round times every variant once (`--runs` calls after a warm-up), and the figures are
medians over all rounds. Quality is `benchmarks/quality.py`'s business; this is the other
half of the trade.

    python benchmarks/lite_designs.py [--rounds 5] [--runs 10] [--size 640x480]
"""

import argparse
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

from fastnst.bench import BenchConfig, bench_models, parse_sizes
from fastnst.export import export_onnx
from fastnst.models import PRESETS, TransformerNet, flops_per_pixel, random_model

VARIANTS = {  # name -> ModelConfig fields replaced in `lite`
    "lite (nearest)": {},
    "lite + skips": {"skips": True},
    "lite + bilinear": {"upsample": "bilinear"},
    "lite + skips + bilinear": {"skips": True, "upsample": "bilinear"},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=10, help="timed calls per variant and round")
    p.add_argument("--size", default="640x480", help="WIDTHxHEIGHT")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: its own)")
    args = p.parse_args()
    size = parse_sizes(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for name, fields in VARIANTS.items():
            config = replace(PRESETS["lite"], **fields)
            model = random_model("lite")
            net = TransformerNet(config, preset="lite")
            net.load_state_dict(model.state_dict())
            files[name] = Path(tmp) / f"v{len(files)}_lite.onnx"
            export_onnx(net.eval(), files[name], {"style": name, "preset": "lite"}, check=False)
        times = {name: [] for name in VARIANTS}
        cfg = BenchConfig(sizes=size, runs=args.runs, warmup=1, device="cpu", threads=args.threads)
        for _ in range(args.rounds):
            for name, f in files.items():
                times[name] += bench_models([str(f)], cfg)[0].times_ms
    w, h = size[0]
    print(f"whole Stylizer.stylize at {w}x{h}, CPU, medians of {args.rounds} interleaved rounds x {args.runs} calls")
    print(f"{'design':<26} {'GFLOPs':>7} {'median ms':>10} {'fps':>6}")
    for name, fields in VARIANTS.items():
        med = statistics.median(times[name])
        gflops = flops_per_pixel(replace(PRESETS["lite"], **fields)) * w * h / 1e9
        print(f"{name:<26} {gflops:>7.2f} {med:>10.1f} {1000 / med:>6.1f}")


if __name__ == "__main__":
    main()
