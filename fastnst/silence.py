"""Silencing other libraries' chatter for one block: the one place fastnst does it.

The torch ONNX exporter, onnxruntime's quantization tools and a GPU provider that fails to load
print to stdout and stderr, warn, and (onnxruntime) log through a process-wide logger. None
of it is news to a fastnst user; where it matters (an export that fails), the caller reads
what was printed from the buffer :func:`silence` yields.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator

import onnxruntime as ort

__all__ = ["silence"]

ORT_SILENT = 4  # onnxruntime log severity: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal

# onnxruntime's default logger severity as fastnst last set it. onnxruntime has a setter but no
# getter, so this starts at its default (2: warnings) and is right unless other code sets it too.
_logger_severity = 2


def _set_logger_severity(level: int) -> int:
    """Set onnxruntime's default logger severity; returns the one fastnst recorded before."""
    global _logger_severity
    previous, _logger_severity = _logger_severity, level
    ort.set_default_logger_severity(level)
    return previous


@contextlib.contextmanager
def silence(*, onnxruntime_logger: bool = False) -> Iterator[io.StringIO]:
    """Inside the block: stdout and stderr go to the yielded buffer, Python warnings are ignored.

    ``onnxruntime_logger=True`` also raises onnxruntime's default logger to fatal-only for the
    block (a provider that fails to load logs there, not to ``sys.stderr``) and puts it back after.
    """
    chatter = io.StringIO()
    with contextlib.ExitStack() as stack:
        if onnxruntime_logger:
            stack.callback(_set_logger_severity, _set_logger_severity(ORT_SILENT))
        stack.enter_context(contextlib.redirect_stdout(chatter))
        stack.enter_context(contextlib.redirect_stderr(chatter))
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        yield chatter
