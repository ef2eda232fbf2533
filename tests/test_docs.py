"""The documentation agrees with the code: docs/commands.md is the commands' own
--help, and every name docs/api.md lists exists (and every public api function is
listed)."""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def generator():
    """docs/generate_commands.py, which is a script beside the page rather than a module of the package."""
    spec = importlib.util.spec_from_file_location("generate_commands", DOCS / "generate_commands.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_command_reference_is_the_commands_help():
    page = (DOCS / "commands.md").read_text(encoding="utf-8")
    assert page == generator().render(), "docs/commands.md is out of date: run python docs/generate_commands.py"


def test_the_command_reference_holds_every_command_and_sub_command():
    page = (DOCS / "commands.md").read_text(encoding="utf-8")
    for heading in ("## kcnn train", "## kcnn vote", "## kcnn download", "### kcnn data split", "### kcnn plot curves"):
        assert f"\n{heading}\n" in page
    assert "## kcnn predict" not in page  # hidden


def test_an_option_added_without_regenerating_makes_the_reference_stale(monkeypatch):
    from kaggle_cnn.cli import cli

    page = generator().render()
    score = cli.commands["score"]
    monkeypatch.setattr(score, "params", [*score.params, click.Option(["--brand-new-option"], help="Just added.")])
    stale = generator().render()
    assert stale != page and "--brand-new-option" in stale and "--brand-new-option" not in page


def test_the_reference_does_not_depend_on_the_terminal(monkeypatch):
    page = generator().render()
    monkeypatch.setenv("COLUMNS", "40")
    assert generator().render() == page


# -- docs/api.md ---------------------------------------------------------------------


def api_page() -> str:
    return (DOCS / "api.md").read_text(encoding="utf-8")


def api_names(page: str) -> set[str]:
    """Every `api.NAME` the page mentions (and dotted attributes: api.TrainConfig.from_settings),
    not the file api.py."""
    return set(re.findall(r"\bapi\.(?!py\b)([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)", page))


def unknown_api_names(page: str) -> set[str]:
    """The names the page mentions that kaggle_cnn.api does not have."""
    from kaggle_cnn import api

    unknown = set()
    for name in api_names(page):
        target = api
        for part in name.split("."):
            if not hasattr(target, part):
                unknown.add(name)
                break
            target = getattr(target, part)
    return unknown


def layout_paths(page: str) -> set[str]:
    """The files and folders the page's package layout names under kaggle_cnn/."""
    block = page[page.index("```\nkaggle_cnn/\n"):]
    block = block[:block.index("\n```", 4)]
    return {match.group(1) for line in block.splitlines()[1:] if (match := re.match(r"  (\S+\.py|\S+/)\s", line))}


def test_every_api_name_the_page_lists_exists():
    page = api_page()
    assert {"train", "vote", "doctor", "resume", "TrainConfig.from_settings"} <= api_names(page)
    assert unknown_api_names(page) == set(), "docs/api.md names what kaggle_cnn.api does not have"


@pytest.mark.parametrize("name", ["no_such_function", "TrainConfig.no_such_method"])
def test_a_name_the_api_lacks_is_found(name):
    assert unknown_api_names(api_page() + f"\n`api.{name}(x)`\n") == {name}


def public_api() -> set[str]:
    """What kaggle_cnn.api offers: its __all__, and any function defined in it."""
    from kaggle_cnn import api

    defined = {name for name, value in vars(api).items()
               if not name.startswith("_") and inspect.isfunction(value) and value.__module__ == api.__name__}
    return set(api.__all__) | defined


def unlisted_api_names(page: str) -> set[str]:
    """What kaggle_cnn.api offers that the page does not mention."""
    return public_api() - {name.split(".")[0] for name in api_names(page)}


def test_every_public_api_name_is_on_the_page():
    assert {"train", "vote", "doctor", "resume", "metrics"} <= public_api()
    assert unlisted_api_names(api_page()) == set(), "kaggle_cnn.api names missing from docs/api.md"


def test_a_public_api_name_left_off_the_page_is_found():
    page = api_page().replace("api.doctor(", "api_doctor(")
    assert unlisted_api_names(page) == {"doctor"}


def test_every_file_of_the_package_layout_exists():
    paths = layout_paths(api_page())
    assert {"api.py", "cli/", "fileio.py", "training/"} <= paths
    missing = {path for path in paths if not (ROOT / "kaggle_cnn" / path).exists()}
    assert missing == set(), "docs/api.md lists files kaggle_cnn/ does not have"
