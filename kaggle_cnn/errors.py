"""The one exception type for bad input.

Anything the user can fix (a missing column, a ragged row, an unknown model name)
raises InputError with a one-line message that names the file, row or column at
fault. The CLI turns it into `Error: <message>` and exit code 2, no traceback.
"""


class InputError(Exception):
    """Bad usage or bad input; the message is one line, shown as is."""
