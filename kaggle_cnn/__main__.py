"""`python -m kaggle_cnn` and the `kcnn` command.

Ctrl-C while the command's own modules load (before the command can catch it)
ends as it does later: the "Interrupted" line and exit code 130, no traceback.
"""

import sys


def run() -> None:
    try:
        from kaggle_cnn.cli import main
    except KeyboardInterrupt:
        from kaggle_cnn.errors import EXIT_INTERRUPTED, INTERRUPTED

        print(INTERRUPTED, file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    main()


if __name__ == "__main__":
    run()
