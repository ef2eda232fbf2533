"""The official `kaggle` command-line tool as a child process: found, its
credentials looked for where it looks for them, its failures read into one line.

kcnn shells out to the tool instead of importing its package: the tool keeps its
own dependencies and authentication, and whichever version the user installed
(1.6 or later) is the one that talks to kaggle.com.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from kaggle_cnn.errors import InputError, one_line

INSTALL = "pip install 'kaggle_cnn[kaggle]'"
TOKEN_PAGE = "https://www.kaggle.com/settings/api"

# Read from the tool's combined output. A connection failure has no HTTP status,
# so it is looked for first; the status words come from the requests library
# ("403 Client Error: Forbidden for url: ...") and the tool's own hints.
OFFLINE = re.compile(
    r"max retries exceeded|NameResolutionError|failed to resolve|name or service not known|"
    r"temporary failure in name resolution|nodename nor servname|ConnectionError|connection refused|"
    r"ProxyError|network is unreachable|connection aborted|connect timeout",
    re.IGNORECASE,
)
UNAUTHORIZED = re.compile(r"\b401\b|unauthori[sz]ed|authentication required|invalid credentials", re.IGNORECASE)
FORBIDDEN = re.compile(r"\b403\b|forbidden", re.IGNORECASE)
NOT_FOUND = re.compile(r"\b404\b|not found|could not find competition", re.IGNORECASE)
# "TypeError: ..." before the tool's closing advice lines is the line that says what went wrong.
ERROR_LINE = re.compile(r"^\w*(Error|Exception)\b")


def find_tool(command: str) -> str:
    """The path of the `kaggle` executable: on PATH, else beside the running Python
    (a virtual environment's bin/ that was never activated still has it)."""
    search = os.pathsep.join(filter(None, [os.environ.get("PATH", ""), str(Path(sys.executable).parent)]))
    found = shutil.which("kaggle", path=search)
    if found is None:
        raise InputError(f"{command} needs the Kaggle command-line tool: {INSTALL} (or pip install kaggle)")
    return found


def config_dir() -> Path:
    """Where the tool reads kaggle.json: $KAGGLE_CONFIG_DIR, else ~/.kaggle, else on
    Linux (when ~/.kaggle does not exist) $XDG_CONFIG_HOME/kaggle or ~/.config/kaggle."""
    if os.environ.get("KAGGLE_CONFIG_DIR"):
        return Path(os.environ["KAGGLE_CONFIG_DIR"]).expanduser()
    legacy = Path("~/.kaggle").expanduser()
    if sys.platform.startswith("linux") and not legacy.exists():
        return Path(os.environ.get("XDG_CONFIG_HOME") or Path("~/.config").expanduser()) / "kaggle"
    return legacy


def credentials_source() -> str | None:
    """Where the tool will find credentials, named for the messages, in the order it
    tries them; None when there are none."""
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "KAGGLE_API_TOKEN"
    home = Path("~/.kaggle").expanduser()
    for token in (home / "access_token", home / "access_token.txt"):
        if token.is_file():
            return str(token)
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "KAGGLE_USERNAME and KAGGLE_KEY"
    for stored in (config_dir() / "kaggle.json", home / "credentials.json"):  # the second: `kaggle auth login`
        if stored.is_file():
            return str(stored)
    return None


def ready_tool(command: str) -> str:
    """The tool's path, once it is installed and has credentials to use; else a
    one-line InputError saying what is missing and how to set it up."""
    tool = find_tool(command)
    if credentials_source() is None:
        raise InputError(
            f"{command} needs your Kaggle credentials: create an API token at {TOKEN_PAGE} and set "
            f"KAGGLE_API_TOKEN, or save kaggle.json in {config_dir()} (or set KAGGLE_USERNAME and KAGGLE_KEY)"
        )
    return tool


def run_tool(tool: str, args: list[str], competition: str, timeout: float) -> list[str]:
    """Run `kaggle ARGS` (no shell: a message or path is one argument whatever it
    holds); its output lines (each cut to a line's length), or a one-line InputError
    when it fails. Output that is not UTF-8 is read with its bad bytes replaced."""
    try:
        done = subprocess.run([tool, *args], capture_output=True, encoding="utf-8", errors="replace",
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"the Kaggle tool did not finish in {timeout / 60:.0f} minutes: "
                         f"kaggle {' '.join(args[:2])} -c {competition}") from None
    output = f"{done.stdout}\n{done.stderr}"
    # Older versions report a failed upload as a message and exit 0.
    if done.returncode != 0 or "Could not submit to competition" in output:
        raise InputError(failure_line(output, competition, done.returncode, submitting=args[1] == "submit"))
    return [one_line(line) for line in output_lines(done.stdout)]


def failure_line(output: str, competition: str, returncode: int = 1, *, submitting: bool = False) -> str:
    """What a failed run of the tool means for the user, as one line."""
    if OFFLINE.search(output):
        return "cannot reach kaggle.com (offline?): the Kaggle tool could not connect"
    if UNAUTHORIZED.search(output):
        return (f"Kaggle rejected your credentials (read from {credentials_source() or 'nowhere'}): "
                f"create a new API token at {TOKEN_PAGE}")
    if FORBIDDEN.search(output):
        return (f"Kaggle refused access to {competition}: accept the competition's rules at "
                f"https://www.kaggle.com/competitions/{competition}/rules")
    if NOT_FOUND.search(output):
        closed = ", or it no longer takes submissions" if submitting else ""
        return (f"no such competition on Kaggle: {competition} (the name is the last part of the "
                f"competition's URL){closed}")
    return f"the Kaggle tool failed: {one_line(last_line(output), 200) or f'exit code {returncode}, no output'}"


def last_line(output: str) -> str:
    """The tool's error line ("ValueError: ...") when there is one, else its last line."""
    lines = output_lines(output)
    errors = [line for line in lines if ERROR_LINE.match(line)]
    return (errors or lines or [""])[-1]


def output_lines(output: str) -> list[str]:
    """Non-empty lines; a progress bar redrawn with carriage returns counts as its last state."""
    return [line.split("\r")[-1].strip() for line in output.splitlines() if line.split("\r")[-1].strip()]
