"""The devices a model file runs on (``--device``), and what this machine makes of them (torch-free).

:data:`DEVICES` is the one table of them: each :class:`Device` has its name (what ``--device``,
``Stylizer(device=...)`` and the web app's status say), what runs it (onnxruntime execution
providers in the order tried, or OpenVINO), whether that is a GPU, and which column of
:data:`fastnst.styles.VARIANT_PREFERENCE` ranks a style's copies for it. OpenVINO runs on the CPU:
it gets the CPU's presets and the demo's CPU settings everywhere. ``"auto"`` (:data:`AUTO`) is no
device but a request that :func:`fastnst.styles.choose` turns into one before it chooses the file,
from two facts about this machine found here:

- :func:`gpu_here`: the GPU device whose provider really loads (onnxruntime-gpu lists its GPU
  providers even where no GPU or CUDA library is present), found once per process;
- :func:`cpu_speeds`: how long a frame takes on onnxruntime's CPU provider and on OpenVINO, for
  a given file, measured once per machine and kept in ``$FASTNST_CACHE/runtime_speed.json``
  (:func:`fastnst.files.cache_dir`), keyed by the file's SHA-256, the CPU model and count and the
  two runtimes' versions.

:func:`open_on` opens a file on a device: never on another one (a device that does not load is a
UserError). Importing this module is cheap (the CLI reads :data:`DEVICE_NAMES` for ``--help``):
onnxruntime, numpy and OpenVINO are imported where something is opened.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import time
from dataclasses import dataclass

from .errors import UserError, first_line
from .files import atomic_output, cache_dir

__all__ = ["AUTO", "CPU", "CUDA", "DEVICES", "DEVICE_NAMES", "MEASURE_SIZE", "OPENVINO", "RUNTIMES", "TENSORRT",
           "Device", "cpu_speeds", "device_named", "gpu_here", "open_on", "openvino_installed"]

_TRT, _CUDA, _CPU, _OPENVINO = "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider", "OpenVINO"


@dataclass(frozen=True)
class Device:
    """One device a model file runs on.

    ``name``: what ``--device`` names; ``providers``: what runs the file, in the order tried
    (onnxruntime execution providers; ``"OpenVINO"``: OpenVINO's CPU plugin, not onnxruntime);
    ``runtime``: the column of :data:`fastnst.styles.VARIANT_PREFERENCE` that ranks a style's
    copies on it ("gpu", "cpu" or "openvino").
    """

    name: str
    providers: tuple[str, ...]
    runtime: str

    @property
    def gpu(self) -> bool:
        """Whether the network runs on a GPU: the GPU rows of :data:`fastnst.styles.PREFERENCE` (johnson for live
        frames), the demo's GPU stream settings, IO binding. OpenVINO is a CPU runtime."""
        return self.runtime == "gpu"

    @property
    def provider(self) -> str:
        """What runs the file when it loads as asked (a Stylizer's ``provider``)."""
        return self.providers[0]


TENSORRT = Device("tensorrt", (_TRT, _CUDA, _CPU), "gpu")
CUDA = Device("cuda", (_CUDA, _CPU), "gpu")
CPU = Device("cpu", (_CPU,), "cpu")
OPENVINO = Device("openvino", (_OPENVINO,), "openvino")
DEVICES: dict[str, Device] = {d.name: d for d in (TENSORRT, CUDA, CPU, OPENVINO)}
AUTO = "auto"  # a request, not a device: the GPU where one loads, else the faster CPU runtime (fastnst.styles.choose)
DEVICE_NAMES = (AUTO, *DEVICES)  # what --device and Stylizer(device=...) accept
RUNTIMES = tuple(dict.fromkeys(d.runtime for d in DEVICES.values()))  # the columns of VARIANT_PREFERENCE

MEASURE_SIZE = (320, 240)  # (width, height) of the frame cpu_speeds times: a quarter of 640x480
_MEASURE_WARMUP, _MEASURE_RUNS = 2, 7  # untimed, then timed runs of each file, interleaved (the median counts)
_SPEED_FILE = "runtime_speed.json"


def device_named(name: str) -> Device | None:
    """The :class:`Device` called ``name``; None for ``"auto"``; a UserError listing the choices otherwise."""
    if name == AUTO:
        return None
    if name not in DEVICES:
        raise UserError(f"unknown device '{name}' (choose from {', '.join(DEVICE_NAMES)})")
    return DEVICES[name]


def openvino_installed() -> bool:
    """Whether the ``openvino`` package is importable here (``pip install "fastnst[openvino]"``)."""
    return importlib.util.find_spec("openvino") is not None


# --------------------------------------------------------------------------- opening a file on a device


class _OpenVINOSession:
    """What the Stylizer uses of an onnxruntime InferenceSession, run by OpenVINO on the CPU.

    ``get_inputs``, ``get_outputs`` and ``get_modelmeta`` come from an onnxruntime session of the same
    file with graph optimisations off (cheap); ``run`` goes through one OpenVINO infer request
    (latency hint) and returns a copy (OpenVINO reuses its output buffer).
    """

    def __init__(self, path: str, threads: int | None):
        from .ortsession import open_session

        try:
            import openvino as ov  # optional (fastnst[openvino], about 180 MB): imported where it runs
        except ImportError:
            raise UserError("device 'openvino' needs the openvino package, which is not installed: "
                            "pip install openvino") from None
        try:
            self._info = open_session(path, [_CPU], optimize=False)
            config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}  # never a lower precision
            if threads is not None:
                config["INFERENCE_NUM_THREADS"] = int(threads)
            self._request = ov.Core().compile_model(path, "CPU", config).create_infer_request()
        except Exception as e:
            raise UserError(f"cannot load style model {path} with OpenVINO: "
                            f"{type(e).__name__}: {first_line(e)}") from None
        self.get_inputs, self.get_outputs = self._info.get_inputs, self._info.get_outputs
        self.get_modelmeta = self._info.get_modelmeta

    def get_providers(self) -> list[str]:
        return [_OPENVINO]

    def get_provider_options(self) -> dict:
        return {}

    def run(self, output_names, feeds: dict) -> list:
        import numpy as np  # imported already by whoever made the feeds

        (x,) = feeds.values()
        return [np.array(self._request.infer({0: x})[0], copy=True)]


def open_on(path, device: Device, threads: int | None = None, spin: bool = True):
    """A session of the model file ``path`` on ``device`` (an onnxruntime InferenceSession, or for OpenVINO
    an object with the parts of one that :class:`fastnst.runtime.Stylizer` uses).

    ``threads``: intra-op threads (None: the runtime's default); ``spin=False``: onnxruntime's idle
    threads sleep between runs. A PyTorch file is a UserError naming the export command on every device
    (:func:`fastnst.ortsession.pytorch_file_error`). A device that is not usable here is a UserError naming
    why, never a session on another device: a GPU provider that onnxruntime lists but cannot load
    (onnxruntime-gpu without a GPU or its CUDA libraries), or OpenVINO where it is not installed.
    """
    import onnxruntime as ort

    from .ortsession import load_error, open_session, pytorch_file_error

    path = os.fspath(path)
    if device.name not in DEVICES or DEVICES[device.name] != device:
        raise ValueError(f"not a device of the table: {device}")
    if (wrong := pytorch_file_error(path)) is not None:  # on any device: the export command, not a load error
        raise wrong
    if device == OPENVINO:
        return _OpenVINOSession(path, threads)
    if device == CPU:
        try:
            return open_session(path, [_CPU], threads=threads, spin=spin)
        except Exception as e:
            raise load_error(path, e) from None
    available = ort.get_available_providers()
    if device.provider not in available:
        raise UserError(f"device '{device.name}' is not available: this onnxruntime has no {device.provider} "
                        f"(available: {', '.join(available)})")
    try:
        session = open_session(path, [p for p in device.providers if p in available], threads=threads, spin=spin,
                               quiet=True)
    except Exception as e:
        raise UserError(f"device '{device.name}' is not usable: {type(e).__name__}: {first_line(e)}") from None
    if session.get_providers()[0] != device.provider:
        raise UserError(f"device '{device.name}' is not usable here: {device.provider} failed to load "
                        "(missing GPU, driver, CUDA/cuDNN or TensorRT libraries?)")
    return session


# --------------------------------------------------------------------------- what this machine has

_gpu_found: list[Device | None] = []  # [the answer of gpu_here] once it is known


def gpu_here(probe) -> Device | None:
    """The GPU device that loads on this machine: TensorRT where its provider loads, else CUDA, else None.

    Found once per process: where onnxruntime lists a GPU provider, the model file ``probe`` (any
    model; the first one a front end is asked to run) is opened with the GPU providers, quietly, and
    the provider that loaded says. Where it lists none, nothing is opened. A ``probe`` that does not
    load at all answers None and is not remembered (the file's own error comes when it is run).
    """
    if _gpu_found:
        return _gpu_found[0]
    import onnxruntime as ort

    from .ortsession import open_session

    gpus = [d for d in (TENSORRT, CUDA) if d.provider in ort.get_available_providers()]
    if gpus:
        try:
            session = open_session(os.fspath(probe), [d.provider for d in gpus] + [_CPU], quiet=True)
        except Exception:
            return None
        loaded = session.get_providers()[0]
        found = next((d for d in gpus if d.provider == loaded), None)
    else:
        found = None
    _gpu_found.append(found)
    return found


def _machine() -> str:
    """What a speed measurement depends on besides the file: the CPU model and count, the runtimes' versions."""
    import onnxruntime as ort

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    try:
        openvino = importlib.metadata.version("openvino")
    except importlib.metadata.PackageNotFoundError:
        openvino = "none"
    return f"{model}; {os.cpu_count()} CPUs; onnxruntime {ort.__version__}; openvino {openvino}"


_digests: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> SHA-256, this process


def _digest(path: str) -> str:
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _digests:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _digests[key] = h.hexdigest()
    return _digests[key]


def _feed(session, width: int, height: int) -> dict:
    """A seeded random input for ``session``'s one input: uint8 (1, H, W, 3) for a uint8-I/O file, else
    float (1, 3, H, W) in [0, 1]; a fixed-size model's own H and W."""
    import numpy as np

    (spec,) = session.get_inputs()
    uint8 = spec.type == "tensor(uint8)"
    shape = list(spec.shape) if len(spec.shape) == 4 else [1, 3, height, width]
    wanted = [1, height, width, 3] if uint8 else [1, 3, height, width]
    shape = [d if isinstance(d, int) and d > 0 else w for d, w in zip(shape, wanted)]
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    if uint8:
        return {spec.name: (x * 255).astype(np.uint8)}
    return {spec.name: x.astype(np.float16 if spec.type == "tensor(float16)" else np.float32)}


def _measure(candidates: list[tuple[str, Device]]) -> list[float | None]:
    """Milliseconds a :data:`MEASURE_SIZE` frame takes for each (file, device), runs interleaved so that a
    change of load hits all alike; None where the file does not load or run there."""
    sessions, feeds = [], []
    for path, device in candidates:
        try:
            session = open_on(path, device)
            feed = _feed(session, *MEASURE_SIZE)
            session.run(None, feed)
        except Exception:
            session = feed = None
        sessions.append(session)
        feeds.append(feed)
    times: list[list[float]] = [[] for _ in candidates]
    for run in range(_MEASURE_WARMUP + _MEASURE_RUNS):
        for i, (session, feed) in enumerate(zip(sessions, feeds)):
            if session is None:
                continue
            t0 = time.perf_counter()
            session.run(None, feed)
            if run >= _MEASURE_WARMUP:
                times[i].append((time.perf_counter() - t0) * 1000.0)
    return [sorted(t)[len(t) // 2] if t else None for t in times]


def cpu_speeds(candidates: list[tuple[str | os.PathLike[str], Device]]) -> list[float | None]:
    """Milliseconds a :data:`MEASURE_SIZE` frame of each (model file, CPU device) takes on this machine:
    the session's run alone, the median of a few runs; None where the file does not load or run there.

    Measured once per machine: the results are kept in ``cache_dir() / "runtime_speed.json"``
    (:func:`fastnst.files.cache_dir`) under this machine's key (CPU model and count, onnxruntime and
    OpenVINO versions), each by the file's SHA-256 and the device; only what is missing is measured, and
    then all ``candidates`` together, their runs interleaved. Failures are not kept.
    """
    if any(d.gpu for _, d in candidates):
        raise ValueError("cpu_speeds measures CPU runtimes only")
    machine, where = _machine(), cache_dir() / _SPEED_FILE
    keys = [f"{_digest(os.fspath(p))} {d.name} {MEASURE_SIZE[0]}x{MEASURE_SIZE[1]}" for p, d in candidates]

    def stored() -> dict:
        try:
            data = json.loads(where.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    known = stored().get(machine, {})
    if all(isinstance(known.get(k), (int, float)) for k in keys):
        return [float(known[k]) for k in keys]
    measured = _measure([(os.fspath(p), d) for p, d in candidates])
    data = stored()  # again: another process may have added to it meanwhile
    entry = data.setdefault(machine, {})
    entry.update({k: round(ms, 3) for k, ms in zip(keys, measured) if ms is not None})
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(where) as temp, open(temp, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
    except OSError:
        pass  # a read-only cache: measured again next time, never an error
    return measured
