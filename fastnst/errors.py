"""The one exception type for mistakes a user can make (bad path, bad value, missing weights).

The CLI prints it as a single line ``fastnst: error: ...`` and exits with status 2;
any other exception is a bug and exits with status 1.
"""


class UserError(Exception):
    """An error caused by the user's input, reported without a traceback."""


def warn(message: str) -> None:
    """Print a one-line warning for the user on stderr: ``fastnst: warning: ...``."""
    import sys

    print(f"fastnst: warning: {message}", file=sys.stderr)


def first_line(error: BaseException) -> str:
    """An exception's message cut to its first non-empty line (onnxruntime's run to several)."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()), "")
