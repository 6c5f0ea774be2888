"""Which CPU runtime runs a style fastest: onnxruntime's settings, int8 and uint8-I/O copies, OpenVINO.

Every case is the whole frame: a uint8 RGB (H, W, 3) frame in, the stylized uint8 frame out,
the host's conversions included (``fastnst.image.to_nchw`` / ``from_nchw`` for float-I/O
graphs; none for uint8-I/O ones). The cases run interleaved, one frame each per round, so a
change of machine load hits them all alike; the medians are printed with the load average.

    python benchmarks/cpu_runtimes.py                              # wave_lite, 640x480
    python benchmarks/cpu_runtimes.py --model fastnst/pretrained/wave_lite.onnx --size 1920x1080 --rounds 8
    python benchmarks/cpu_runtimes.py --host-only --size 1920x1080  # the Stylizer's host-side cost alone

Cases (onnxruntime CPU provider unless named; the ``Stylizer`` ones are the whole
``fastnst.runtime.Stylizer.stylize`` call, as ``fastnst bench`` times it): ``ort default`` (its defaults:
ORT_ENABLE_ALL, threads = cores), ``ort extended`` (ORT_ENABLE_EXTENDED: no layout transforms, i.e. neither the
NCHWc blocking of fp32 convs nor the NHWC transform of int8 ones), ``ort saved-optimized`` (the
graph ORT_ENABLE_ALL produced, saved with ``optimized_model_filepath`` and loaded with
optimisations off), ``ort threads=1`` / ``threads=2``, the int8 copy (``fastnst export --int8``)
and the uint8-I/O copies (``--uint8-io``, made here in a temporary folder), and OpenVINO
(``pip install openvino``; skipped with a line where it is not installed) with the latency hint.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastnst.image import from_nchw, to_nchw  # noqa: E402


def ort_case(path: str, *, level=None, threads: int | None = None, saved: str | None = None):
    """A frame -> frame callable running ``path`` with onnxruntime on the CPU."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if level is not None:
        opts.graph_optimization_level = level
    if threads is not None:
        opts.intra_op_num_threads = threads
    if saved is not None:  # write the optimised graph, then run that file with optimisations off
        opts.optimized_model_filepath = saved
        ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        path = saved
    session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    if session.get_inputs()[0].type == "tensor(uint8)":
        return lambda frame: session.run(None, {name: frame[None]})[0][0]
    return lambda frame: from_nchw(session.run(None, {name: to_nchw(frame)})[0])


def openvino_case(path: str, threads: int | None = None):
    """A frame -> frame callable running ``path`` with OpenVINO on the CPU (latency hint)."""
    import openvino as ov

    config = {"PERFORMANCE_HINT": "LATENCY"}
    if threads is not None:
        config["INFERENCE_NUM_THREADS"] = threads
    compiled = ov.Core().compile_model(path, "CPU", config)
    request = compiled.create_infer_request()
    uint8 = compiled.inputs[0].get_element_type() == ov.Type.u8

    def run(frame):
        if uint8:
            return request.infer({0: frame[None]})[0][0]
        return from_nchw(request.infer({0: to_nchw(frame)})[0])

    return run


class _Echo:
    """A stand-in session whose network is the identity: what is left of a stylize call is host work."""

    def run(self, output_names, feeds):
        return list(feeds.values())


def host_only(frame: np.ndarray, model: str) -> dict[str, float]:
    """Median ms of the host's work per frame in ``Stylizer.stylize``: the float file (to_nchw and
    from_nchw around the network) against its uint8-I/O copy (the frame handed over as it is)."""
    from fastnst.runtime import Stylizer
    from fastnst.uint8io import export_uint8_io

    with tempfile.TemporaryDirectory() as temp:
        u8 = os.path.join(temp, "uint8io.onnx")
        export_uint8_io(model, u8)
        stylizers = {"float I/O (to_nchw + from_nchw)": Stylizer(model, device="cpu"),
                     "uint8 I/O": Stylizer(u8, device="cpu")}
    for s in stylizers.values():
        s.session = _Echo()
    times = {k: [] for k in stylizers}
    for _ in range(15):
        for k, s in stylizers.items():
            t0 = time.perf_counter()
            s.stylize(frame)
            times[k].append((time.perf_counter() - t0) * 1000)
    return {k: float(np.median(v)) for k, v in times.items()}


def main() -> None:
    import onnxruntime as ort

    from fastnst.uint8io import export_uint8_io

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "fastnst" / "pretrained" / "wave_lite.onnx"), help="fp32 .onnx")
    p.add_argument("--int8", help="its int8 copy (default: MODEL with .int8.onnx beside it, where it exists)")
    p.add_argument("--size", default="640x480", help="frame WxH")
    p.add_argument("--rounds", type=int, default=15, help="timed rounds (one frame per case each)")
    p.add_argument("--host-only", action="store_true", help="time only the host-side conversions")
    p.add_argument("--skip", default="", help="comma-separated case names to leave out")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; {os.cpu_count()} CPUs; "
          f"onnxruntime {ort.__version__}; {w}x{h}")
    if args.host_only:
        for k, v in host_only(frame, args.model).items():
            print(f"{k:<36} {v:7.2f} ms")
        print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        return
    int8 = args.int8 or args.model.replace(".onnx", ".int8.onnx")
    L = ort.GraphOptimizationLevel
    with tempfile.TemporaryDirectory() as temp:
        fp32_u8 = os.path.join(temp, "fp32.uint8io.onnx")
        export_uint8_io(args.model, fp32_u8)
        cases = {
            "ort default": lambda: ort_case(args.model),
            "ort extended (no layout)": lambda: ort_case(args.model, level=L.ORT_ENABLE_EXTENDED),
            "ort saved-optimized": lambda: ort_case(args.model, saved=os.path.join(temp, "opt.onnx")),
            "ort threads=1": lambda: ort_case(args.model, threads=1),
            "ort threads=2": lambda: ort_case(args.model, threads=2),
            "ort uint8 I/O": lambda: ort_case(fp32_u8),
        }
        if os.path.isfile(int8):
            int8_u8 = os.path.join(temp, "int8.uint8io.onnx")
            export_uint8_io(int8, int8_u8)
            cases.update({
                "ort int8": lambda: ort_case(int8),
                "ort int8 extended (no NHWC)": lambda: ort_case(int8, level=L.ORT_ENABLE_EXTENDED),
                "ort int8 threads=1": lambda: ort_case(int8, threads=1),
                "ort int8 uint8 I/O": lambda: ort_case(int8_u8),
            })
        try:
            import openvino  # noqa: F401

            cases.update({"openvino": lambda: openvino_case(args.model),
                          "openvino threads=1": lambda: openvino_case(args.model, threads=1),
                          "openvino uint8 I/O": lambda: openvino_case(fp32_u8)})
            if os.path.isfile(int8):
                cases["openvino int8"] = lambda: openvino_case(int8)
                cases["openvino int8 uint8 I/O"] = lambda: openvino_case(int8_u8)
        except ImportError:
            print("openvino: not installed (pip install openvino), skipped")
        from fastnst.runtime import Stylizer

        cases["Stylizer cpu (float file)"] = lambda: Stylizer(args.model, device="cpu").stylize
        cases["Stylizer cpu (uint8 I/O copy)"] = lambda: Stylizer(fp32_u8, device="cpu").stylize
        if "openvino" in cases:
            cases["Stylizer openvino (float file)"] = lambda: Stylizer(args.model, device="openvino").stylize
            cases["Stylizer openvino (uint8 I/O copy)"] = lambda: Stylizer(fp32_u8, device="openvino").stylize
        skip = {s.strip() for s in args.skip.split(",") if s.strip()}
        runs = {k: make() for k, make in cases.items() if k not in skip}
        for run in runs.values():  # warm-up
            run(frame)
            run(frame)
        times = {k: [] for k in runs}
        for _ in range(args.rounds):
            for k, run in runs.items():
                t0 = time.perf_counter()
                run(frame)
                times[k].append((time.perf_counter() - t0) * 1000)
    base = float(np.median(times["ort default"])) if "ort default" in times else None
    for k, v in times.items():
        med = float(np.median(v))
        rel = f"  x{base / med:.2f} vs ort default" if base else ""
        print(f"{k:<30} {1000 / med:6.1f} fps  median {med:7.1f} ms  p90 {np.percentile(v, 90):7.1f}{rel}")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
