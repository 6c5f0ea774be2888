"""The one exception type for mistakes a user can make (bad path, bad value, missing weights).

The CLI prints it as a single line ``fastnst: error: ...`` and exits with status 2;
any other exception is a bug and exits with status 1.
"""


class UserError(Exception):
    """An error caused by the user's input, reported without a traceback."""
