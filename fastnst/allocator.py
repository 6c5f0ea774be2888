"""The process's memory allocator: keep freed memory for reuse (glibc only).

A training step on the CPU allocates and frees the same activations every step, many of them
large: one (4, 64, 256, 256) float map is 64 MB. glibc's malloc serves every block over its mmap
threshold (at most 32 MB) with a fresh ``mmap`` and unmaps it on free, so each step pays again
for the kernel to fault in and zero every page it touches. On the project's 2-core CPU that was
35-55% of a training step at 256 px (``benchmarks/train_speed.py``). PyTorch's CPU tuning guides
prescribe jemalloc or tcmalloc (``LD_PRELOAD``) for the same reason; this does it in-process.

``fastnst train``, ``fastnst optimize`` and ``fastnst video`` (whose float frames are 6-25 MB each)
call :func:`reuse_freed_memory` for their own process.
The library never calls it: it changes the whole process, so a program embedding fastnst opts in.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1  # <malloc.h>: keep this much free memory at the top of the heap
_M_MMAP_MAX = -4  # <malloc.h>: at most this many blocks served by mmap at once
_KEEP_BYTES = 2**31 - 1  # the largest value mallopt takes (an int)


def reuse_freed_memory() -> bool:
    """Make glibc serve large blocks from its heap and keep freed memory there for reuse.

    Sets ``M_MMAP_MAX`` to 0 (no block gets its own mapping) and ``M_TRIM_THRESHOLD`` to 2 GB
    (freed memory stays mapped). The process's peak memory stays about what it was; it is simply
    not handed back to the system between steps.

    Returns:
        True where applied; False (and nothing changed) where the C library is not glibc
        (macOS, Windows, musl), which only means the speed-up is not had.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # no libc found, or one without mallopt (musl)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(_M_MMAP_MAX, 0) == 1 and mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES) == 1
