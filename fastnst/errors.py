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
