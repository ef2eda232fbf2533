"""`kcnn download` and `kcnn submit` against a fake `kaggle` executable that records
its arguments, and once against the real one, offline. No TensorFlow."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from kaggle_cnn.competition import kaggle_cli

FAKE_KAGGLE = """#!{python}
import json, os, shutil, sys, time
args = sys.argv[1:]
watch = os.environ.get("FAKE_KAGGLE_WATCH", "")
with open(os.environ["FAKE_KAGGLE_LOG"], "a") as log:
    log.write(json.dumps({{"argv": args, "target_existed": bool(watch) and os.path.exists(watch)}}) + "\\n")
if os.environ.get("FAKE_KAGGLE_HANG"):  # until the test stops kcnn
    time.sleep(60)
if os.environ.get("FAKE_KAGGLE_OUTPUT"):  # bytes as they are, e.g. not UTF-8
    sys.stdout.buffer.write(open(os.environ["FAKE_KAGGLE_OUTPUT"], "rb").read())
    sys.stdout.flush()
    sys.exit(int(os.environ.get("FAKE_KAGGLE_EXIT", "0")))
if os.environ.get("FAKE_KAGGLE_FAIL"):
    print(os.environ["FAKE_KAGGLE_FAIL"], file=sys.stderr)
    sys.exit(1)
if args[:2] == ["competitions", "download"]:
    name, folder = args[args.index("-c") + 1], args[args.index("-p") + 1]
    shutil.copy(os.environ["FAKE_KAGGLE_PAYLOAD"], os.path.join(folder, name + ".zip"))
    print("Downloading " + name + ".zip to " + folder)
elif args[:2] == ["competitions", "submit"]:
    print("Successfully submitted to Fake Competition")
"""

PNG_A, PNG_B, PNG_1 = b"\x89PNG fake a", b"\x89PNG fake b", b"\x89PNG fake 1"
FORBIDDEN = ("403 Client Error: Forbidden for url: "
             "https://api.kaggle.com/v1/competitions.CompetitionApiService/DownloadDataFiles")
PROXY = "http://127.0.0.1:9"  # nothing listens there: the real tool fails at once, online or not


def zipped(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def competition_zip(**extra: bytes) -> bytes:
    """What Kaggle ships: CSVs at the top, train.zip holding train/..., test.zip holding loose images."""
    return zipped({
        "sample_submission.csv": "id,label\n1,cat\n",
        "train.csv": "id,label\na,cat\nb,dog\n",
        "train.zip": zipped({"train/": b"", "train/a.png": PNG_A, "train/b.png": PNG_B}),
        "test.zip": zipped({"1.png": PNG_1}),
        **extra,
    })


class FakeKaggle:
    """The fake tool on PATH, fake credentials, and what the tool was asked to do."""

    def __init__(self, tmp_path: Path, monkeypatch):
        self.bin, self.log, self.payload = tmp_path / "bin", tmp_path / "kaggle-calls.jsonl", tmp_path / "payload.zip"
        self.bin.mkdir()
        tool = self.bin / "kaggle"
        tool.write_text(FAKE_KAGGLE.format(python=sys.executable))
        tool.chmod(0o755)
        self.payload.write_bytes(competition_zip())
        monkeypatch.setenv("PATH", f"{self.bin}:/usr/bin:/bin")
        monkeypatch.setenv("FAKE_KAGGLE_LOG", str(self.log))
        monkeypatch.setenv("FAKE_KAGGLE_PAYLOAD", str(self.payload))
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        for name in ("KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME", "FAKE_KAGGLE_FAIL", "FAKE_KAGGLE_HANG",
                     "FAKE_KAGGLE_OUTPUT", "FAKE_KAGGLE_EXIT"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("KAGGLE_USERNAME", "someone")
        monkeypatch.setenv("KAGGLE_KEY", "0123456789abcdef")

    def calls(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []


@pytest.fixture
def fake(tmp_path, monkeypatch) -> FakeKaggle:
    return FakeKaggle(tmp_path, monkeypatch)


@pytest.fixture
def work(tmp_path) -> Path:
    """The folder the competition folders go into: nothing else is ever written there."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


# -- kcnn download --------------------------------------------------------------------


def test_download_unzips_everything_marks_the_folder_and_shows_it_only_complete(kcnn, fake, work, monkeypatch):
    target = work / "comp"
    monkeypatch.setenv("FAKE_KAGGLE_WATCH", str(target))
    result = kcnn("download", "fake-comp", target)
    assert result.exit_code == 0, result.output
    [call] = fake.calls()
    staging = Path(call["argv"][-1])
    assert call["argv"] == ["competitions", "download", "-c", "fake-comp", "-p", str(staging)]
    assert staging.parent == work and staging.name.startswith(".kcnn-tmp-comp.")
    assert call["target_existed"] is False  # the target appears only once complete
    files = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert files == {".kaggle-competition", "sample_submission.csv", "train.csv",
                     "train/a.png", "train/b.png", "test/1.png"}  # nested zips extracted, then removed
    assert (target / "train" / "b.png").read_bytes() == PNG_B and (target / "test" / "1.png").read_bytes() == PNG_1
    assert (target / "train.csv").read_text() == "id,label\na,cat\nb,dog\n"
    assert (target / ".kaggle-competition").read_text() == "fake-comp\n"
    assert [p.name for p in work.iterdir()] == ["comp"]  # no temporary folder left
    assert f"Downloaded fake-comp into {target}/: 5 files" in result.output
    assert "  train/" in result.output.splitlines()


def test_download_defaults_to_a_folder_named_after_the_competition(kcnn, fake, work, monkeypatch):
    monkeypatch.chdir(work)
    result = kcnn("download", "fake-comp")
    assert result.exit_code == 0, result.output
    assert (work / "fake-comp" / ".kaggle-competition").read_text() == "fake-comp\n"
    assert Path(fake.calls()[0]["argv"][-1]).name.startswith(".kcnn-tmp-fake-comp.")


def test_dry_run_prints_the_commands_and_writes_nothing(kcnn, fake, work, tmp_path):
    before = sorted(p.name for p in tmp_path.iterdir())
    result = kcnn("download", "fake-comp", work / "comp", "--dry-run")
    assert result.exit_code == 0, result.output
    staging = work / ".kcnn-tmp-comp.XXXXXXXX"
    lines = result.output.splitlines()
    assert lines[:2] == ["Would run:", f"  kaggle competitions download -c fake-comp -p {staging}"]
    assert f"  rename {staging} to {work / 'comp'}" in lines
    assert fake.calls() == [] and list(work.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_non_empty_folder_is_refused(kcnn, assert_refused, fake, work):
    (work / "comp").mkdir()
    (work / "comp" / "notes.txt").write_text("mine")
    assert_refused(kcnn("download", "fake-comp", work / "comp"), "comp: exists and is not empty")
    assert fake.calls() == [] and [p.name for p in (work / "comp").iterdir()] == ["notes.txt"]


def test_a_name_that_is_not_a_competition_is_refused(kcnn, assert_refused, fake, work):
    assert_refused(kcnn("download", "../up", work / "comp"), "'../up' is not a competition name")
    assert fake.calls() == []


@pytest.mark.parametrize("where", ["top", "nested"])
def test_a_zip_slip_member_is_refused_and_nothing_is_left(kcnn, assert_refused, fake, work, tmp_path, where):
    escape = "../escaped.txt" if where == "top" else "../../escaped.txt"  # both land in work/
    payload = (zipped({"train.csv": "id,label\n", escape: "owned"}) if where == "top"
               else competition_zip(**{"extra.zip": zipped({"x.png": PNG_A, escape: "owned"})}))
    fake.payload.write_bytes(payload)
    result = kcnn("download", "fake-comp", work / "comp")
    assert_refused(result, f"its member '{escape}' would be written outside the competition folder")
    assert len(fake.calls()) == 1
    assert list(work.iterdir()) == []  # neither the target, nor the temporary folder, nor the escaped file
    assert not list(tmp_path.rglob("escaped.txt"))


def test_sigterm_mid_download_removes_the_staging_folder(fake, work, monkeypatch):
    """kcnn stopped by SIGTERM while the tool downloads: the same cleanup as Ctrl-C."""
    import signal
    import time

    monkeypatch.setenv("FAKE_KAGGLE_HANG", "1")
    proc = subprocess.Popen([sys.executable, "-m", "kaggle_cnn", "download", "fake-comp", str(work / "comp")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not fake.calls() and proc.poll() is None:
        time.sleep(0.05)
    assert [p.name.startswith(".") for p in work.iterdir()] == [True]  # the hidden staging folder, mid-download
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith("Interrupted; ")
    assert list(work.iterdir()) == []


def test_no_kaggle_tool_names_the_install(kcnn, assert_refused, fake, work, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "elsewhere" / "python"))  # not beside it either
    result = kcnn("download", "fake-comp", work / "comp")
    assert_refused(result, "kcnn download needs the Kaggle command-line tool: pip install 'kaggle_cnn[kaggle]'")
    assert fake.calls() == [] and list(work.iterdir()) == []


def test_no_credentials_say_how_to_set_them_up(kcnn, assert_refused, fake, work, tmp_path, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    config = tmp_path / "kaggle-config"
    config.mkdir()
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(config))
    result = kcnn("download", "fake-comp", work / "comp")
    assert_refused(result, "kcnn download needs your Kaggle credentials", "KAGGLE_API_TOKEN",
                   f"save kaggle.json in {config}")
    assert fake.calls() == [] and list(work.iterdir()) == []


@pytest.mark.parametrize("found", ["env pair", "token", "config dir", "~/.kaggle", "~/.config/kaggle"])
def test_credentials_are_found_where_the_kaggle_tool_looks(fake, tmp_path, monkeypatch, found):
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    home = tmp_path / "home"
    assert kaggle_cli.credentials_source() is None
    stored = {"config dir": tmp_path / "config" / "kaggle.json", "~/.kaggle": home / ".kaggle" / "kaggle.json",
              "~/.config/kaggle": home / ".config" / "kaggle" / "kaggle.json"}.get(found)
    if found == "env pair":
        monkeypatch.setenv("KAGGLE_USERNAME", "someone")
        monkeypatch.setenv("KAGGLE_KEY", "key")
    elif found == "token":
        monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_token")
    else:
        stored.parent.mkdir(parents=True)
        stored.write_text('{"username": "someone", "key": "key"}')
        if found == "config dir":
            monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(stored.parent))
    expected = {"env pair": "KAGGLE_USERNAME and KAGGLE_KEY", "token": "KAGGLE_API_TOKEN"}.get(found, str(stored))
    assert kaggle_cli.credentials_source() == expected


def test_forbidden_means_accept_the_rules(kcnn, assert_refused, fake, work, monkeypatch):
    monkeypatch.setenv("FAKE_KAGGLE_FAIL", FORBIDDEN)
    result = kcnn("download", "fake-comp", work / "comp")
    assert_refused(result, "accept the competition's rules at https://www.kaggle.com/competitions/fake-comp/rules")
    assert len(fake.calls()) == 1 and list(work.iterdir()) == []


@pytest.mark.parametrize("output, expected", [
    ("401 Client Error: Unauthorized for url: https://api.kaggle.com/v1/x", "Kaggle rejected your credentials"),
    ("Authentication required to call the Kaggle API.\n\nFirst, ...", "Kaggle rejected your credentials"),
    (FORBIDDEN + "\n\nYou don't have access to this resource.", "Kaggle refused access to some-comp: accept"),
    ("404 Client Error: Not Found for url: https://api.kaggle.com/v1/x\n\nThe resource was not found.",
     "no such competition on Kaggle: some-comp"),
    (("HTTPSConnectionPool(host='api.kaggle.com', port=443): Max retries exceeded with url: /v1/x "
      "(Caused by NameResolutionError(\"Failed to resolve 'api.kaggle.com'\"))"), "cannot reach kaggle.com (offline?)"),
    ("TypeError: bad thing\n\nIf this is unexpected, re-run with --debug\ntraceback. report it at https://x",
     "the Kaggle tool failed: TypeError: bad thing"),
    ("Downloading\nDisk quota exceeded\n", "the Kaggle tool failed: Disk quota exceeded"),
])
def test_the_tools_failures_read_as_one_line(output, expected):
    line = kaggle_cli.failure_line(output, "some-comp")
    assert line.startswith(expected) and "\n" not in line, line


@pytest.mark.parametrize("output, exit_code, fragments", [
    (b"\xff\xfeprogress \x80\nValueError: caf\xe9 closed\n", 1, ["the Kaggle tool failed: ValueError: caf\ufffd closed"]),
    (b"TypeError: " + b"x" * 20_000_000 + b" the end\n", 1, ["the Kaggle tool failed: TypeError: xxx", "xxx...xxx"]),
    (b"Nothing to download\n", 0, ["the Kaggle tool downloaded nothing for fake-comp (it reported no error)"]),
])
def test_what_the_tool_says_is_read_safely(kcnn, assert_refused, fake, work, tmp_path, monkeypatch, output,
                                           exit_code, fragments):
    """Output that is not UTF-8, an error line of 20 MB, a download of nothing: one
    short line, and nothing left in the folder."""
    (tmp_path / "said").write_bytes(output)
    monkeypatch.setenv("FAKE_KAGGLE_OUTPUT", str(tmp_path / "said"))
    monkeypatch.setenv("FAKE_KAGGLE_EXIT", str(exit_code))
    result = kcnn("download", "fake-comp", work / "comp")
    assert_refused(result, *fragments)
    assert len(result.stderr) < 500 and list(work.iterdir()) == []


def test_the_offline_error_for_real(kcnn, assert_refused, work, tmp_path, monkeypatch):
    real = shutil.which("kaggle", path=str(Path(sys.executable).parent)) or shutil.which("kaggle")
    if real is None:
        pytest.skip("needs the Kaggle command-line tool: pip install 'kaggle_cnn[kaggle]'")
    monkeypatch.setenv("PATH", f"{Path(real).parent}:/usr/bin:/bin")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the tool creates its config folder there
    for name in ("KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "0123456789abcdef")
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, PROXY)
    result = kcnn("download", "titanic", work / "titanic")
    assert_refused(result, "cannot reach kaggle.com (offline?)")
    assert list(work.iterdir()) == []


# -- kcnn submit ----------------------------------------------------------------------


@pytest.fixture
def downloaded(competition, tmp_path) -> Path:
    """A copy of the test competition, marked as kcnn download marks it."""
    folder = tmp_path / "fake-comp"
    shutil.copytree(competition, folder)
    (folder / ".kaggle-competition").write_text("fake-comp\n")
    return folder


def test_submit_checks_then_sends_with_the_name_from_the_folder(kcnn, fake, downloaded, tmp_path):
    submission = tmp_path / "vote.csv"
    shutil.copy(downloaded / "sample_submission.csv", submission)
    result = kcnn("submit", submission, "-m", "first try; soft vote", "--data", downloaded)
    assert result.exit_code == 0, result.output
    assert [c["argv"] for c in fake.calls()] == [
        ["competitions", "submit", "-c", "fake-comp", f"--file={submission}", "--message=first try; soft vote"]]
    assert f"{submission}: 60 rows, checked header, unique ids, id set and order, row count, labels" in result.output
    assert "  Successfully submitted to Fake Competition" in result.output.splitlines()


@pytest.mark.parametrize("damage, fragment", [
    (lambda s: pd.concat([s, s.iloc[[0]]]), "repeats line 2"),
    (lambda s: s.assign(Label="cat"), "cat"),
    (lambda s: s.iloc[::-1], "line 2"),
])
def test_a_submission_that_fails_the_check_is_never_sent(kcnn, assert_refused, fake, downloaded, tmp_path,
                                                         damage, fragment):
    submission = tmp_path / "vote.csv"
    damage(pd.read_csv(downloaded / "sample_submission.csv", dtype=str)).to_csv(submission, index=False)
    assert_refused(kcnn("submit", submission, "-m", "x", "--data", downloaded), str(submission), fragment)
    assert fake.calls() == []


def test_submit_dry_run_checks_and_prints_the_command(kcnn, fake, downloaded, tmp_path):
    submission = tmp_path / "vote.csv"
    shutil.copy(downloaded / "sample_submission.csv", submission)
    result = kcnn("submit", submission, "-m", "first try", "--data", downloaded, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"Would run: kaggle competitions submit -c fake-comp --file={submission} '--message=first try'" \
        in result.output
    assert fake.calls() == []


@pytest.mark.parametrize("message", ["-h", "--help", "-f other.csv"])
def test_a_message_that_looks_like_an_option_is_sent_as_the_message(kcnn, fake, downloaded, tmp_path, message):
    submission = tmp_path / "vote.csv"
    shutil.copy(downloaded / "sample_submission.csv", submission)
    result = kcnn("submit", submission, "--message", message, "--data", downloaded)
    assert result.exit_code == 0, result.output
    assert fake.calls()[0]["argv"][-2:] == [f"--file={submission}", f"--message={message}"]


def test_submit_needs_to_know_the_competition(kcnn, assert_refused, fake, competition, downloaded, tmp_path):
    submission = tmp_path / "vote.csv"
    shutil.copy(downloaded / "sample_submission.csv", submission)
    assert_refused(kcnn("submit", submission, "-m", "x"), "pass --competition NAME, or --data DIR")
    assert_refused(kcnn("submit", submission, "-m", "x", "--data", competition), "has no .kaggle-competition file")
    assert_refused(kcnn("submit", submission, "-m", "x", "--data", downloaded, "--competition", "other"),
                   "--competition other, but --data", "was downloaded from fake-comp")
    assert fake.calls() == []
    result = kcnn("submit", submission, "-m", "x", "--competition", "named-comp")
    assert result.exit_code == 0, result.output
    assert fake.calls()[0]["argv"][:4] == ["competitions", "submit", "-c", "named-comp"]


def test_the_commands_start_without_tensorflow(tmp_path):
    code = (
        "import sys; from kaggle_cnn.cli import cli\n"
        "for args in (['download', '--help'], ['submit', '--help'], ['download', 'x', sys.argv[1], '--dry-run']):\n"
        "    try: cli.main(args, prog_name='kcnn')\n"
        "    except SystemExit as e: assert not e.code, e.code\n"
        "loaded = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x")], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "kcnn download [OPTIONS] COMPETITION [DIR]" in result.stdout and "Would run:" in result.stdout
