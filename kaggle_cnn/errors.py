"""The one exception type for bad input.

Anything the user can fix (a missing column, a ragged row, an unknown model name)
raises InputError with a one-line message that names the file, row or column at
fault. The CLI turns it into `Error: <message>` and exit code 2, no traceback. What does
not stop a command but must not pass silently is an InputWarning (`warn`).
"""


import warnings


class InputError(Exception):
    """Bad usage or bad input; the message is one line, shown as is."""


class InputWarning(UserWarning):
    """Something the user should know that does not stop the command (a broken run
    skipped, a member used without its stored predictions); the CLI prints it as one
    `Warning: ...` line."""


class AttemptFailed(RuntimeError):
    """A training attempt failed in a worker process (out of memory, a bug in a
    model): not bad input, so exit 1; its message is one line, the worker's error."""


def warn(message: str) -> None:
    warnings.warn(one_line(message), InputWarning, stacklevel=2)


def one_line(error: object, limit: int | None = None) -> str:
    """An error (or any text) folded onto one line, cut to `limit` characters with
    "..." when longer; an exception with no message gives its type's name."""
    text = " ".join(str(error).split())
    if not text and isinstance(error, BaseException):
        text = type(error).__name__
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."
