"""`kcnn`: one short module per command, each a few lines of options over the
`kaggle_cnn.api` function of the same name; all printing is in render.py.

No TensorFlow (nor pandas) at import time: `kcnn --help` starts in well under a
second, and `vote`, `metrics`, `check`, `score` and `data` never import it.
Bad input of any kind ends with one line, `Error: ...`, and exit code 2; Ctrl-C
and SIGTERM end with one line, `Interrupted; ...`, and exit code 130 or 143.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

import click

from kaggle_cnn.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    INTERRUPTED,
    AttemptFailed,
    InputError,
    InputWarning,
    Terminated,
    one_line,
)

EXIT_BAD_INPUT = 2


class KcnnGroup(click.Group):
    """Every usage or input error prints as a single line and exits 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            with interrupts_delivered(), warnings_as_lines():
                return super().main(args, prog_name, complete_var, standalone_mode=False, **extra) or 0
        except click.exceptions.NoArgsIsHelpError as bare:  # plain `kcnn`: show the help
            click.echo(bare.format_message())
            sys.exit(0)
        except (InputError, click.ClickException) as error:
            click.echo(f"Error: {error_line(error)}", err=True)
            usage = not isinstance(error, click.ClickException) or isinstance(error, click.UsageError)
            sys.exit(EXIT_BAD_INPUT if usage else error.exit_code)
        except OSError as error:
            # A read-only workspace, a full disk, a folder where a file was named:
            # the atomic writes leave nothing half-written, so one line is enough.
            click.echo(f"Error: {os_error_line(error)}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except AttemptFailed as error:
            click.echo(f"Error: {one_line(error)}", err=True)
            sys.exit(1)
        except (click.exceptions.Abort, KeyboardInterrupt) as stop:
            # Ctrl-C or SIGTERM: every run kept so far is already complete on disk, and
            # a download's temporary folder is removed. Click turns an interrupt in the
            # command into Abort; one in between (while its modules load, while a
            # warning prints) arrives here as it is.
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C while the line prints
                click.echo(INTERRUPTED, err=True)
            terminated = isinstance(stop, Terminated) or isinstance(stop.__cause__, Terminated)
            sys.exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)


@contextlib.contextmanager
def interrupts_delivered():
    """While the command runs, SIGTERM raises Terminated as Ctrl-C raises
    KeyboardInterrupt. Either can land in a garbage-collection callback, where
    Python swallows it (printing "Exception ignored"): it is sent again, so that
    one signal always stops the command."""
    if threading.current_thread() is not threading.main_thread():  # Python runs handlers there only
        yield
        return

    def terminate(signum, frame):
        raise Terminated()

    def send_again(unraisable):
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            return original_hook(unraisable)
        number = signal.SIGTERM if isinstance(unraisable.exc_value, Terminated) else signal.SIGINT
        threading.Timer(0.05, os.kill, (os.getpid(), number)).start()  # once out of the callback

    previous = signal.signal(signal.SIGTERM, terminate)
    original_hook, sys.unraisablehook = sys.unraisablehook, send_again
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.unraisablehook = original_hook


@contextlib.contextmanager
def warnings_as_lines():
    """The library's InputWarnings as `Warning: ...` lines on stderr, each message
    once (a command may read the same damaged run twice)."""
    shown: set[str] = set()

    def show(message, category, *rest, **kw):
        if not issubclass(category, InputWarning):
            original(message, category, *rest, **kw)
        elif (line := one_line(message)) not in shown:
            shown.add(line)
            click.echo(f"Warning: {line}", err=True)

    with warnings.catch_warnings():
        original = warnings.showwarning
        warnings.simplefilter("always", InputWarning)
        warnings.showwarning = show
        yield


def os_error_line(error: OSError) -> str:
    """"path: permission denied" (or the system's reason), naming the path."""
    reason = (error.strerror or type(error).__name__).lower()
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason += " (is the workspace read-only?)"
    # os.replace(temporary, target) names both: the target is the one the user knows.
    where = error.filename2 if error.filename2 is not None else error.filename
    where = "" if where is None else where
    return one_line(f"{where}: {reason}" if where else reason)


def error_line(error: Exception) -> str:
    """An error as one line; a usage error also says where the help is."""
    if not isinstance(error, click.ClickException):
        return one_line(error)
    message = one_line(error.format_message())
    ctx = getattr(error, "ctx", None)
    if isinstance(error, click.UsageError) and ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message


@click.group(cls=KcnnGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--workspace", "-w", type=click.Path(file_okay=False, path_type=Path), default=".", show_default=True,
              help="Folder holding models/, submissions/ and reports/.")
@click.version_option(package_name="kaggle_cnn")
@click.pass_context
def cli(ctx: click.Context, workspace: Path) -> None:
    """Train CNNs again and again, keep the good runs, vote them into a submission.

    \b
      kcnn train --repeat 30 --keep-above 0.91
      kcnn vote submissions/
      kcnn metrics
    """
    ctx.obj = {"workspace": workspace}


def main() -> None:
    cli(prog_name="kcnn")


# The commands register themselves on `cli` (imported last: they import `cli`).
from kaggle_cnn.cli import (  # noqa: E402,F401
    check,
    data,
    distill,
    doctor,
    kaggle,
    metrics,
    models,
    plot,
    report,
    search,
    train,
    tta,
    vote,
)
