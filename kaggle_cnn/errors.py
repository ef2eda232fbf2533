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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised wherever the command is (kaggle_cnn.cli installs the handler),
    so that it unwinds exactly as Ctrl-C does: every cleanup runs (a download's
    temporary folder, the workers), and runs already kept stay as they are."""


# How a command stopped by Ctrl-C or SIGTERM ends: this line on stderr and the
# exit code a shell gives a program the signal ended (128 + the signal's number).
INTERRUPTED = "Interrupted; runs kept so far are saved, nothing half-written is left."
EXIT_INTERRUPTED = 130  # SIGINT
EXIT_TERMINATED = 143  # SIGTERM


def warn(message: str) -> None:
    warnings.warn(one_line(message), InputWarning, stacklevel=2)


# No message line is longer: a value that arrived megabytes long (a runaway YAML
# alias, a tool's output) is shown by its start and end, not printed whole.
MESSAGE_LIMIT = 1000


def one_line(error: object, limit: int | None = MESSAGE_LIMIT) -> str:
    """An error (or any text) folded onto one line; longer than `limit` characters,
    its middle is cut to "..." (the start names the file, the end says what is
    wrong); an exception with no message gives its type's name."""
    text = str(error)
    if limit is not None and len(text) > 4 * limit:  # fold only what can be shown
        text = text[: 2 * limit] + " ... " + text[-2 * limit:]
    text = " ".join(text.split())
    if not text and isinstance(error, BaseException):
        text = type(error).__name__
    if limit is None or len(text) <= limit:
        return text
    tail = (limit - 3) // 3
    return text[: limit - 3 - tail] + "..." + text[len(text) - tail:]
