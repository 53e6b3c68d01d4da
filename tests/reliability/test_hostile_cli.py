"""Hostile and broken input on every surface but spec files (tests/cli/test_invalid_corpus.py has those).

Surfaces: CLI values, OCI config, local state, source trees, and specs too big or too deep for the
parser. Every case asserts the documented exit code, exactly one `Error:` line, that the message names
what is wrong and where, no traceback, and a backend exactly as it was before the command.
"""

from __future__ import annotations

import configparser
import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import jobctl.source
from jobctl.testing.fake_oci import FakeOCI
from tests.cli.test_invalid_corpus import GENERATED, _committed_cases
from tests.conftest import EXAMPLES, Result, run_jobctl

Runner = Callable[..., Result]
HELLO = str(EXAMPLES / "hello" / "job.yaml")
TRAIN = str(EXAMPLES / "train" / "job.yaml")
MIN_TOTAL_CASES = 60


# --- shared checks ------------------------------------------------------------------------------------

def assert_clear_error(result: Result, exit_code: int, *names: str) -> None:
    """The documented exit code, one `Error:` line (no internal error, no traceback) naming `names`."""
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything, everything
    assert result.exit_code == exit_code, f"exit {result.exit_code}, expected {exit_code}\n{everything}"
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, f"expected one 'Error:' line:\n{result.stderr}"
    assert "internal error" not in errors[0], result.stderr
    for name in names:
        assert name in result.stderr, f"{name!r} is not named in:\n{result.stderr}"


def local_snapshot(jobctl: Runner) -> tuple[Any, Any]:
    """Everything the local backend holds, as `jobctl -o json jobs` and `-o json runs` show it."""
    jobs = jobctl("-o", "json", "jobs")
    runs = jobctl("-o", "json", "runs", "-n", "1000")
    assert jobs.exit_code == 0, jobs.stderr
    assert runs.exit_code == 0, runs.stderr
    return json.loads(jobs.stdout)["items"], json.loads(runs.stdout)["items"]


def home() -> Path:
    return Path(os.environ["JOBCTL_HOME"])


def supervisors_done(state_home: Path) -> bool:
    """Every run's supervisor has exited (each holds its run's lock for as long as it lives)."""
    for lock in (state_home / "runs").glob("*/lock"):
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)
    return True


def poll(condition: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local JOBCTL_HOME with two jobs (hello, tune-models) and two finished runs of hello."""
    template = tmp_path_factory.mktemp("seeded-home")
    env = {"JOBCTL_HOME": str(template), "JOBCTL_BACKEND": "local",
           "JOBCTL_CACHE_DIR": str(tmp_path_factory.mktemp("seed-cache"))}
    for args in (["apply", HELLO], ["apply", TRAIN], ["run", "hello", "--wait"], ["run", "hello", "--wait"]):
        done = run_jobctl(*args, env=env)
        assert done.returncode == 0, done.stderr
    poll(lambda: supervisors_done(template), what="the seed runs' supervisors to exit")
    return template


@pytest.fixture
def seeded(seeded_template: Path, jobctl: Runner) -> dict[str, str]:
    """This test's JOBCTL_HOME filled from the template; returns ids by name."""
    shutil.copytree(seeded_template, home(), dirs_exist_ok=True)
    jobs, runs = local_snapshot(jobctl)
    ids = {job["name"]: job["id"] for job in jobs}
    ids["run"] = runs[0]["id"]
    return ids


# --- CLI values -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CliCase:
    args: tuple[str, ...]
    exit_code: int
    names: tuple[str, ...]  # what the message must name ({run} is a seeded run id)


CLI_CASES: dict[str, CliCase] = {
    # without '=', the whole value may be a secret (API_TOKEN:xyz), so it is described, not echoed
    "env-without-equals": CliCase(("run", "hello", "--env", "MODEL"), 2, ("--env", "'='")),
    "env-empty-name": CliCase(("run", "hello", "--env", "=xgb"), 2, ("--env",)),
    "env-name-with-dash": CliCase(("run", "hello", "--env", "MY-MODEL=xgb"), 2, ("--env", "MY-MODEL")),
    "env-name-leading-digit": CliCase(("run", "hello", "--env", "1MODEL=xgb"), 2, ("--env", "1MODEL")),
    "env-name-with-space": CliCase(("run", "hello", "--env", "MY MODEL=xgb"), 2, ("--env",)),
    "env-value-with-nul": CliCase(("run", "hello", "--env", "MODEL=x\0gb"), 2, ("--env", "MODEL", "NUL")),
    "env-name-with-nul": CliCase(("run", "hello", "--env", "MO\0DEL=xgb"), 2, ("--env",)),
    "matrix-empty-values": CliCase(("run", "hello", "--matrix", "MODEL="), 2, ("--matrix", "MODEL")),
    "matrix-empty-value-between": CliCase(("run", "hello", "--matrix", "MODEL=a,,b"), 2, ("--matrix", "MODEL")),
    "matrix-trailing-comma": CliCase(("run", "hello", "--matrix", "MODEL=a,"), 2, ("--matrix", "MODEL")),
    "matrix-without-equals": CliCase(("run", "hello", "--matrix", "MODEL"), 2, ("--matrix", "'='")),
    "matrix-empty-name": CliCase(("run", "hello", "--matrix", "=a,b"), 2, ("--matrix",)),
    "timeout-unknown-unit": CliCase(("run", "hello", "--wait", "--timeout", "5x"), 2, ("--timeout", "5x")),
    # red team, session 14: ignored without --wait/--follow, as was the first of two --set of one field
    "matrix-value-with-a-space": CliCase(("run", "hello", "--matrix", "X=a, b"), 2, ("--matrix X", "' b'", "spaces")),
    "timeout-without-wait": CliCase(("run", "hello", "--timeout", "5m"), 2, ("--timeout", "--wait or --follow")),
    "set-twice-differently": CliCase(("run", "hello", "--set", "infrastructure.ocpus=2", "--set",
                                      "infrastructure.ocpus=4"), 2, ("--set infrastructure.ocpus", "twice")),
    "timeout-zero": CliCase(("run", "hello", "--wait", "--timeout", "0"), 2, ("--timeout",)),
    "timeout-negative": CliCase(("run", "hello", "--wait", "--timeout", "-1m"), 2, ("--timeout",)),
    "timeout-empty": CliCase(("wait", "{run}", "--timeout", ""), 2, ("--timeout",)),
    "timeout-nan": CliCase(("wait", "{run}", "--timeout", "nan"), 2, ("--timeout", "nan")),
    "timeout-inf": CliCase(("wait", "{run}", "--timeout", "inf"), 2, ("--timeout", "inf")),
    "timeout-negative-number": CliCase(("wait", "{run}", "--timeout", "-5"), 2, ("--timeout",)),
    "run-name-with-newline": CliCase(("run", "hello", "--name", "a\nb"), 2, ("--name", "control")),
    "run-name-with-escape": CliCase(("run", "hello", "--name", "a\x1b[31mb"), 2, ("--name", "control")),
    # red team, session 14: a run name is the OCI display name, which anyone who can read the job reads
    "run-name-holding-a-secret": CliCase(("run", "hello", "--env", "API_KEY=k3y-9f8e7d", "--name", "x-k3y-9f8e7d"), 2,
                                         ("--name", "cannot hold a secret value")),
    # red team, session 14: `get run-m35` found this run (names first), not the one whose id starts so
    "run-name-like-a-local-id": CliCase(("run", "hello", "--name", "run-m35"), 2, ("--name", "look like a run id")),
    "run-name-like-an-ocid": CliCase(("run", "hello", "--name", "ocid1.datasciencejobrun.oc1..x"), 2,
                                     ("--name", "look like a run id")),
    "fan-out-over-the-limit": CliCase(("run", "hello", "--matrix", "A=" + ",".join("abcdefghijk"),
                                       "--matrix", "B=" + ",".join("abcdefghij")), 2,
                                      ("start 110 runs", "JOBCTL_MAX_RUNS=100", "--yes")),
    "run-name-with-bidi-override": CliCase(("run", "hello", "--name", "evil\u202egnp.exe"), 2,
                                           ("--name", "formatting character")),
    "run-name-blank": CliCase(("run", "hello", "--name", "  "), 2, ("--name", "blank")),
    "run-name-too-long": CliCase(("run", "hello", "--name", "x" * 300), 2, ("--name", "255")),
    "gc-keep-negative": CliCase(("gc", "--keep-workdirs", "-1"), 2, ("--keep-workdirs",)),
    "since-words": CliCase(("logs", "{run}", "--since", "yesterday"), 2, ("--since", "yesterday")),
    "since-unknown-unit": CliCase(("logs", "{run}", "--since", "10y"), 2, ("--since", "10y")),
    "max-parallel-zero": CliCase(("run", "hello", "--matrix", "MODEL=a,b", "--max-parallel", "0"), 2,
                                 ("--max-parallel",)),
    "max-parallel-negative": CliCase(("run", "hello", "--max-parallel", "-3"), 2, ("--max-parallel",)),
    "tail-negative": CliCase(("logs", "{run}", "--tail", "-1"), 2, ("--tail",)),
    "wait-and-follow": CliCase(("run", "hello", "--wait", "--follow"), 2, ("--wait", "--follow")),
    "jsonl-without-follow": CliCase(("run", "hello", "-o", "jsonl"), 2, ("jsonl", "--follow")),
    "unknown-state-filter": CliCase(("runs", "--state", "EXPLODED"), 2, ("--state", "EXPLODED")),
    "unknown-output-format": CliCase(("-o", "xml", "jobs"), 2, ("xml",)),
    "unknown-backend": CliCase(("--backend", "mainframe", "jobs"), 2, ("mainframe",)),
    "logs-unknown-run": CliCase(("logs", "run-doesnotexist"), 4, ("run-doesnotexist",)),
    "get-unknown-run": CliCase(("get", "run-doesnotexist"), 4, ("run-doesnotexist",)),
    "wait-unknown-run": CliCase(("wait", "run-doesnotexist"), 4, ("run-doesnotexist",)),
    "cancel-unknown-run": CliCase(("cancel", "run-doesnotexist"), 4, ("run-doesnotexist",)),
    "run-unknown-job": CliCase(("run", "no-such-job"), 4, ("no-such-job",)),
    "runs-unknown-job": CliCase(("runs", "no-such-job"), 4, ("no-such-job",)),
    "cancel-unknown-job": CliCase(("cancel", "--job", "no-such-job"), 4, ("no-such-job",)),
    "delete-unknown-job": CliCase(("delete", "no-such-job", "--yes"), 4, ("no-such-job",)),
    "logs-ambiguous-run-prefix": CliCase(("logs", "run-"), 2, ("'run-'", "matches 2 runs")),
    "get-ambiguous-run-prefix": CliCase(("get", "run-"), 2, ("'run-'", "matches 2 runs")),
    "wait-ambiguous-run-prefix": CliCase(("wait", "run-"), 2, ("'run-'", "matches 2 runs")),
    "cancel-ambiguous-run-prefix": CliCase(("cancel", "run-"), 2, ("'run-'", "matches 2 runs")),
    "get-ambiguous-job-prefix": CliCase(("get", "job-"), 2, ("'job-'", "matches 2 jobs")),
    "run-ambiguous-job-prefix": CliCase(("run", "job-"), 2, ("'job-'", "matches 2 jobs")),
    "delete-ambiguous-job-prefix": CliCase(("delete", "job-", "--yes"), 2, ("'job-'", "matches 2 jobs")),
    "cancel-nothing-named": CliCase(("cancel",), 2, ("--job",)),
    "unknown-command": CliCase(("frobnicate",), 2, ("frobnicate",)),
    "misspelt-command": CliCase(("aply", HELLO), 2, ("aply", "apply")),
    "unknown-option": CliCase(("jobs", "--frobnicate"), 2, ("--frobnicate",)),
    "unknown-global-option": CliCase(("--frobnicate", "jobs"), 2, ("--frobnicate",)),
    "run-file-missing": CliCase(("run", "-p", "does-not-exist.yaml"), 4, ("does-not-exist.yaml",)),
    # `jobctl delete "$JOB" --yes` with JOB unset: an empty name once matched every id as a prefix
    **{f"{command[0]}-{label}-ref": CliCase((*command, ref, *extra), 2, ("empty",))
       for command, extra in ((("delete",), ("--yes",)), (("get",), ()), (("logs",), ()), (("wait",), ()),
                              (("cancel",), ()), (("runs",), ()), (("run",), ()), (("export",), ("-d", "out")),
                              (("cancel", "--job"), ()), (("wait", "--job"), ()), (("logs", "--job"), ()))
       for label, ref in (("empty", ""), ("blank", "  "))},
}


@pytest.mark.parametrize("name", sorted(CLI_CASES))
def test_cli_value(name: str, jobctl: Runner, seeded: dict[str, str]) -> None:
    case = CLI_CASES[name]
    args = [a.replace("{run}", seeded["run"]) for a in case.args]
    before = local_snapshot(jobctl)

    result = jobctl(*args)

    assert_clear_error(result, case.exit_code, *case.names)
    assert local_snapshot(jobctl) == before, "a rejected command changed the backend"


HUGE_CASES: dict[str, tuple[tuple[str, ...], str]] = {  # huge numbers: clamp (exit 0) or refuse (exit 2)
    "tail-huge": (("logs", "{run}", "--tail", "99999999999999999999"), "--tail"),
    "limit-huge": (("runs", "-n", "99999999999999999999"), "--limit"),
    "since-huge-duration": (("logs", "{run}", "--since", "99999999999999999999d"), "--since"),
    "timeout-huge": (("wait", "{run}", "--timeout", "99999999999999999999d"), "--timeout"),
}


@pytest.mark.parametrize("name", sorted(HUGE_CASES))
def test_cli_huge_number(name: str, jobctl: Runner, seeded: dict[str, str]) -> None:
    """`tail -n` with a huge N prints everything; jobctl may do that or refuse the value, but not crash."""
    args, option = HUGE_CASES[name]
    before = local_snapshot(jobctl)

    result = jobctl(*[a.replace("{run}", seeded["run"]) for a in args])

    if result.exit_code != 0:
        assert_clear_error(result, 2, option)
    assert "Traceback" not in result.stdout + result.stderr
    assert local_snapshot(jobctl) == before


# --- OCI config -----------------------------------------------------------------------------------------

@pytest.fixture
def oci_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeOCI, Path]]:
    """A fake OCI service and a config it accepts; each case breaks a copy of that config."""
    with FakeOCI() as fake:
        good = fake.write_config(tmp_path / "oci")
        for name, value in {
            "JOBCTL_BACKEND": "oci", "JOBCTL_OCI_ENDPOINT": fake.url, "JOBCTL_OCI_RETRY": "fast",
            "OCI_COMPARTMENT_ID": "ocid1.compartment.oc1..hostile",
            "OCI_PROJECT_ID": "ocid1.datascienceproject.oc1.iad.hostile",
        }.items():
            monkeypatch.setenv(name, value)
        yield fake, good


def _with_key_file(good: Path, work: Path, key_file: Path) -> Path:
    parser = configparser.ConfigParser()
    parser.read(good)
    parser["DEFAULT"]["key_file"] = str(key_file)
    config = work / "config"
    with config.open("w") as out:
        parser.write(out)
    return config


def _key_path(good: Path) -> str:
    parser = configparser.ConfigParser()
    parser.read(good)
    return parser["DEFAULT"]["key_file"]


def _public_key_pem(good: Path) -> bytes:
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(Path(_key_path(good)).read_bytes(), password=None)
    public = private.public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


ConfigCase = Callable[[Path, Path], tuple[list[str], list[str]]]  # (good config, work dir) -> (args, names)


def _missing_file(good: Path, work: Path) -> tuple[list[str], list[str]]:
    path = work / "absent" / "config"
    return ["--config-file", str(path)], [str(path)]


def _config_is_directory(good: Path, work: Path) -> tuple[list[str], list[str]]:
    path = work / "config"
    path.mkdir()  # "unreadable": tests run as root, so chmod 000 would not stop the read
    return ["--config-file", str(path)], [str(path)]


def _wrong_profile(good: Path, work: Path) -> tuple[list[str], list[str]]:
    return ["--config-file", str(good), "--profile", "NOPE"], ["NOPE", str(good)]


def _key_file_missing(good: Path, work: Path) -> tuple[list[str], list[str]]:
    key = work / "absent.pem"
    config = _with_key_file(good, work, key)
    return ["--config-file", str(config)], [str(config), str(key)]


def _key_file_is_directory(good: Path, work: Path) -> tuple[list[str], list[str]]:
    key = work / "keys"
    key.mkdir()
    config = _with_key_file(good, work, key)
    return ["--config-file", str(config)], [str(config), str(key)]


def _key_file_is_text(good: Path, work: Path) -> tuple[list[str], list[str]]:
    key = work / "key.pem"
    key.write_text("this is not a private key\n")
    config = _with_key_file(good, work, key)
    return ["--config-file", str(config)], [str(config), str(key)]


def _key_file_is_binary(good: Path, work: Path) -> tuple[list[str], list[str]]:
    key = work / "key.pem"
    key.write_bytes(bytes(range(256)) * 4)
    config = _with_key_file(good, work, key)
    return ["--config-file", str(config)], [str(config), str(key)]


def _key_file_is_public_key(good: Path, work: Path) -> tuple[list[str], list[str]]:
    key = work / "public.pem"
    key.write_bytes(_public_key_pem(good))
    config = _with_key_file(good, work, key)
    return ["--config-file", str(config)], [str(config), str(key)]


def _config_not_utf8(good: Path, work: Path) -> tuple[list[str], list[str]]:
    config = work / "config"
    config.write_bytes(b"[DEFAULT]\nuser=\xff\xfe\x00garbage\n")
    return ["--config-file", str(config)], [str(config)]


def _config_missing_fields(good: Path, work: Path) -> tuple[list[str], list[str]]:
    config = work / "config"
    config.write_text("[DEFAULT]\nregion=us-ashburn-1\n")
    return ["--config-file", str(config)], [str(config)]


def _config_empty(good: Path, work: Path) -> tuple[list[str], list[str]]:
    config = work / "config"
    config.write_text("")
    return ["--config-file", str(config)], [str(config)]


def _config_not_ini(good: Path, work: Path) -> tuple[list[str], list[str]]:
    config = work / "config"
    config.write_text("user = ocid1.user.oc1..x\n[[[DEFAULT\n")
    return ["--config-file", str(config)], [str(config)]


def _key_pasted_into_config(good: Path, work: Path) -> tuple[list[str], list[str]]:
    """A PEM key pasted where key_file should be: the error names lines, never their contents."""
    config = work / "config"
    key = Path(_key_path(good)).read_text()
    text = good.read_text()
    assert "key_file = " in text
    config.write_text(text.replace("key_file = ", "key_content =\n" + key + "key_file = "))
    return ["--config-file", str(config)], [str(config), "line", "contents not shown"]


def _key_as_key_file_value(good: Path, work: Path) -> tuple[list[str], list[str]]:
    """The PEM joined into one line as key_file's value: the SDK quotes the value in its error."""
    config = work / "config"
    key = " ".join(Path(_key_path(good)).read_text().split())
    config.write_text("\n".join(f"key_file = {key}" if line.startswith("key_file") else line
                                for line in good.read_text().splitlines()) + "\n")
    return ["--config-file", str(config)], [str(config), "key material not shown"]


def _key_indented_after_key_file(good: Path, work: Path) -> tuple[list[str], list[str]]:
    """The PEM lines indented under key_file: configparser joins them into its value."""
    config = work / "config"
    key = "".join(f"  {line}\n" for line in Path(_key_path(good)).read_text().splitlines())
    config.write_text("\n".join(f"key_file = /nonexistent\n{key.rstrip()}" if line.startswith("key_file") else line
                                for line in good.read_text().splitlines()) + "\n")
    return ["--config-file", str(config)], [str(config)]


def _session_token_missing(good: Path, work: Path) -> tuple[list[str], list[str]]:
    return ["--config-file", str(good), "--auth", "security_token"], [str(good), "security_token_file"]


OCI_CONFIG_CASES: dict[str, ConfigCase] = {
    "missing-file": _missing_file,
    "config-is-a-directory": _config_is_directory,
    "wrong-profile": _wrong_profile,
    "key-file-missing": _key_file_missing,
    "key-file-is-a-directory": _key_file_is_directory,
    "key-file-not-a-key": _key_file_is_text,
    "key-file-binary-garbage": _key_file_is_binary,
    "key-file-is-a-public-key": _key_file_is_public_key,
    "config-not-utf8": _config_not_utf8,
    "config-missing-fields": _config_missing_fields,
    "config-empty": _config_empty,
    "config-not-ini": _config_not_ini,
    "session-token-file-missing": _session_token_missing,
    "key-pasted-into-config": _key_pasted_into_config,
    "key-as-key-file-value": _key_as_key_file_value,
    "key-indented-after-key-file": _key_indented_after_key_file,
}
OCI_COMMANDS = {"jobs": ("jobs",), "apply": ("apply", TRAIN)}


@pytest.mark.parametrize("command", sorted(OCI_COMMANDS))
@pytest.mark.parametrize("name", sorted(OCI_CONFIG_CASES))
def test_oci_config(name: str, command: str, jobctl: Runner, oci_env: tuple[FakeOCI, Path], tmp_path: Path) -> None:
    fake, good = oci_env
    work = tmp_path / "case"
    work.mkdir()
    args, names = OCI_CONFIG_CASES[name](good, work)

    result = jobctl(*args, *OCI_COMMANDS[command])

    assert_clear_error(result, 6, *names)
    key_lines = [line for line in Path(_key_path(good)).read_text().splitlines() if len(line) > 20]
    assert not any(line in result.stdout + result.stderr for line in key_lines), "key material in the output"
    assert "PRIVATE KEY" not in result.stdout + result.stderr
    assert fake.requests == [], "a broken config must fail before any call reaches OCI"
    assert fake.jobs() == []


# --- local state ----------------------------------------------------------------------------------------

STATE_COMMANDS = {
    "jobs": ("jobs",), "runs": ("runs",), "get": ("get", "hello"), "apply": ("apply", HELLO),
    "run": ("run", "hello"), "logs": ("logs", "--job", "hello"),
}


def _garbage_everywhere(db: Path) -> None:
    db.write_bytes(os.urandom(db.stat().st_size))


def _garbage_after_header(db: Path) -> None:
    """A valid SQLite header and first page, then garbage: opens fine, fails on the first real query."""
    data = db.read_bytes()
    db.write_bytes(data[:4096] + os.urandom(len(data) - 4096))


CORRUPTIONS = {"garbage-bytes": _garbage_everywhere, "garbage-after-header": _garbage_after_header}


@pytest.mark.parametrize("command", sorted(STATE_COMMANDS))
@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupted_state_db(corruption: str, command: str, jobctl: Runner, seeded: dict[str, str]) -> None:
    db = home() / "state.db"
    for leftover in (home() / "state.db-wal", home() / "state.db-shm"):
        leftover.unlink(missing_ok=True)
    CORRUPTIONS[corruption](db)
    before = db.read_bytes()

    result = jobctl(*STATE_COMMANDS[command])

    assert_clear_error(result, 6, str(db))
    assert db.read_bytes() == before, "jobctl must not write over a database it cannot read"


@pytest.mark.parametrize("command", ["jobs", "apply"])
def test_state_db_is_a_directory(command: str, jobctl: Runner) -> None:
    (home() / "state.db").mkdir(parents=True)
    result = jobctl(*STATE_COMMANDS[command])
    assert_clear_error(result, 6, str(home() / "state.db"))


@pytest.mark.parametrize("command", ["jobs", "apply"])
def test_jobctl_home_is_a_file(command: str, jobctl: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_a_dir = tmp_path / "home-file"
    not_a_dir.write_text("I am a file\n")
    monkeypatch.setenv("JOBCTL_HOME", str(not_a_dir))
    result = jobctl(*STATE_COMMANDS[command])
    assert_clear_error(result, 6, str(not_a_dir))
    assert not_a_dir.read_text() == "I am a file\n"


def _exclusive_lock(db: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def test_a_briefly_locked_state_db_makes_jobctl_wait_then_proceed(jobctl: Runner) -> None:
    assert jobctl("jobs").exit_code == 0  # creates state.db
    holder = _exclusive_lock(home() / "state.db")
    try:
        applying = subprocess.Popen([sys.executable, "-m", "jobctl", "apply", HELLO], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        with pytest.raises(subprocess.TimeoutExpired):
            applying.wait(timeout=1.5)  # still waiting for the lock, not failed
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _, stderr = applying.communicate(timeout=60)
    assert applying.returncode == 0, stderr
    assert "Traceback" not in stderr
    jobs, _ = local_snapshot(jobctl)
    assert [j["name"] for j in jobs] == ["hello"]


class _ShortBusyTimeout(sqlite3.Connection):
    """jobctl waits 30 s for a lock; this connection waits 0.2 s so the test can go past it."""

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        if sql.startswith("PRAGMA busy_timeout"):
            sql = "PRAGMA busy_timeout = 200"
        return super().execute(sql, *args)


LOCKED_SPEC = """\
apiVersion: jobctl/v1
kind: Job
metadata: {name: locked-out}
spec:
  infrastructure: {shape: VM.Standard2.1}
  runtime: {type: python, source: ./main.py}
"""
LOCKED_COMMANDS = {"apply": ("apply", "locked.yaml"), "run": ("run", "hello"), "cancel": ("cancel", "--job", "hello")}


@pytest.mark.parametrize("command", sorted(LOCKED_COMMANDS))
def test_a_state_db_locked_past_the_timeout_is_a_clear_error(
    command: str, jobctl: Runner, seeded: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    (tmp_path / "main.py").write_text("print('hi')\n")
    (tmp_path / "locked.yaml").write_text(LOCKED_SPEC)  # a new job, so apply has to write
    monkeypatch.chdir(tmp_path)
    db = home() / "state.db"
    before = local_snapshot(jobctl)
    run_id = ""
    if command == "cancel":  # something to cancel, so cancel has to write
        started = jobctl("run", "hello", "--env", "SLEEP=30")
        assert started.exit_code == 0, started.stderr
        run_id = started.stdout.strip()
    holder = _exclusive_lock(db)
    real_connect = sqlite3.connect
    try:
        with monkeypatch.context() as patch:
            patch.setattr(sqlite3, "connect",
                          lambda *a, **kw: real_connect(*a, **{**kw, "timeout": 0.2, "factory": _ShortBusyTimeout}))
            result = jobctl(*LOCKED_COMMANDS[command])
        state = holder.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
        canceled_state = state[0] if state else None
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        if command == "cancel":
            jobctl("cancel", "--job", "hello", "--wait")

    assert_clear_error(result, 6, str(db), "locked")
    if command == "cancel":  # the run went on as if cancel had never been asked (its state moves by itself)
        assert canceled_state in ("ACCEPTED", "IN_PROGRESS"), canceled_state
    else:
        assert local_snapshot(jobctl) == before


def test_a_deleted_run_directory_leaves_get_working_and_logs_saying_what_is_missing(
    jobctl: Runner, seeded: dict[str, str],
) -> None:
    run_id = seeded["run"]
    shutil.rmtree(home() / "runs" / run_id)
    before = local_snapshot(jobctl)

    shown = jobctl("-o", "json", "get", run_id)
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["lifecycleState"] == "SUCCEEDED"
    for args in (("logs", run_id), ("logs", run_id, "--follow"), ("logs", run_id, "--tail", "5")):
        result = jobctl(*args)
        assert_clear_error(result, 4, run_id, "log")
    assert local_snapshot(jobctl) == before


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_deleting_an_active_runs_directory_never_orphans_its_process(jobctl: Runner) -> None:
    assert jobctl("apply", HELLO).exit_code == 0
    started = jobctl("run", "hello", "--env", "SLEEP=60")
    assert started.exit_code == 0, started.stderr
    run_id = started.stdout.strip()
    db = sqlite3.connect(home() / "state.db")
    poll(lambda: db.execute("SELECT supervisor_pid FROM runs WHERE id = ?", (run_id,)).fetchone()[0] is not None,
         what="the supervisor to be recorded")
    pid = db.execute("SELECT supervisor_pid FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    db.close()
    try:
        shutil.rmtree(home() / "runs" / run_id)
        shown = jobctl("get", run_id)
        assert shown.exit_code == 0, shown.stderr
        canceled = jobctl("cancel", run_id, "--wait", "--timeout", "30")
        assert "Traceback" not in canceled.stderr
        # whatever state jobctl reports, a run it calls over must not keep running
        deadline = time.monotonic() + 5
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _pid_alive(pid), (
            f"run {run_id} is reported {jobctl('-o', 'json', 'get', run_id).stdout!r} and cancel said "
            f"{canceled.stderr!r}, but its supervisor (pid {pid}) is still running"
        )
    finally:
        if _pid_alive(pid):
            os.kill(pid, 15)  # the supervisor we started: it stops its workload on SIGTERM


# --- source trees ---------------------------------------------------------------------------------------

SOURCE_SPEC = """\
apiVersion: jobctl/v1
kind: Job
metadata: {{name: hostile}}
spec:
  infrastructure: {{shape: VM.Standard2.1}}
  runtime: {{type: python, source: {source}, entrypoint: {entrypoint}}}
"""


@dataclass(frozen=True)
class Tree:
    spec: Path
    app: Path


def _tree(tmp_path: Path, source: str = "./app", entrypoint: str = "main.py") -> Tree:
    app = tmp_path / "project" / "app"
    app.mkdir(parents=True)
    (app / "main.py").write_text("print('hostile')\n")
    (app / "util.py").write_text("X = 1\n")
    (app / "pkg").mkdir()
    (app / "pkg" / "mod.py").write_text("Y = 2\n")
    spec = tmp_path / "project" / "job.yaml"
    spec.write_text(SOURCE_SPEC.format(source=source, entrypoint=entrypoint))
    return Tree(spec, app)


def _symlink_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Tree, list[str]]:
    tree = _tree(tmp_path)
    (tree.app / "loop-a").symlink_to("loop-b")
    (tree.app / "loop-b").symlink_to("loop-a")
    return tree, ["loop-a", str(tree.app)]


def _symlink_to_outside_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Tree, list[str]]:
    tree = _tree(tmp_path)
    secret = tmp_path / "outside-secret.txt"
    secret.write_text("not yours\n")
    (tree.app / "innocent.txt").symlink_to(secret)
    return tree, ["innocent.txt", str(secret), str(tree.app)]


def _symlink_to_outside_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Tree, list[str]]:
    tree = _tree(tmp_path)
    outside = tmp_path / "outside-dir"
    outside.mkdir()
    (outside / "data.txt").write_text("not yours\n")
    (tree.app / "pkg" / "data").symlink_to(outside, target_is_directory=True)
    return tree, ["pkg/data", str(tree.app)]


def _symlink_dotdot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Tree, list[str]]:
    tree = _tree(tmp_path)
    (tree.app / "pkg" / "spec.yaml").symlink_to("../../job.yaml")
    return tree, ["pkg/spec.yaml", str(tree.app)]


def _dangling_symlink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Tree, list[str]]:
    tree = _tree(tmp_path)
    (tree.app / "gone.py").symlink_to(tmp_path / "never-existed.py")
    return tree, ["gone.py", str(tree.app)]


def _entrypoint_dotdot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Tree, list[str]]:
    tree = _tree(tmp_path, entrypoint="../job.yaml")
    return tree, ["job.yaml:6:", "entrypoint", "outside source"]


def _entrypoint_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Tree, list[str]]:
    tree = _tree(tmp_path, entrypoint="/etc/hostname")
    return tree, ["job.yaml:6:", "entrypoint", "outside source"]


def _source_is_a_fifo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Tree, list[str]]:
    tree = _tree(tmp_path, source="./pipe")
    os.mkfifo(tree.spec.parent / "pipe")
    return tree, ["job.yaml:6:", "source", "pipe"]


def _too_many_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Tree, list[str]]:
    tree = _tree(tmp_path)  # 3 files; the real limit is 20,000
    monkeypatch.setattr(jobctl.source, "MAX_FILES", 2)
    return tree, [str(tree.app), "more than 2 files"]


def _too_many_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Tree, list[str]]:
    tree = _tree(tmp_path)
    (tree.app / "weights.bin").write_bytes(b"\0" * 4096)  # the real limit is 2 GiB
    monkeypatch.setattr(jobctl.source, "MAX_BYTES", 1024)
    return tree, [str(tree.app), "larger than"]


SOURCE_CASES: dict[str, Callable[[Path, pytest.MonkeyPatch], tuple[Tree, list[str]]]] = {
    "symlink-loop": _symlink_loop,
    "symlink-to-file-outside": _symlink_to_outside_file,
    "symlink-to-dir-outside": _symlink_to_outside_dir,
    "symlink-dotdot-escape": _symlink_dotdot,
    "dangling-symlink": _dangling_symlink,
    "entrypoint-dotdot-escape": _entrypoint_dotdot,
    "entrypoint-absolute-path": _entrypoint_absolute,
    "source-is-a-fifo": _source_is_a_fifo,
    "more-files-than-the-limit": _too_many_files,
    "more-bytes-than-the-limit": _too_many_bytes,
}


@pytest.mark.parametrize("command", ["plan", "apply"])
@pytest.mark.parametrize("name", sorted(SOURCE_CASES))
def test_source_tree(name: str, command: str, jobctl: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree, names = SOURCE_CASES[name](tmp_path, monkeypatch)
    monkeypatch.chdir(tree.spec.parent)
    before = local_snapshot(jobctl)

    result = jobctl(command, "job.yaml")

    assert_clear_error(result, 3, *names)
    assert local_snapshot(jobctl) == before


# --- specs too big or too deep (beyond validate, which the corpus covers) -----------------------------

def _ten_megabytes(path: Path) -> None:
    path.write_text("apiVersion: jobctl/v1\nkind: Job\nmetadata: {name: big}\n" + "# padding\n" * 1_048_576)


def _deep_flow_lists(path: Path) -> None:
    path.write_text("apiVersion: jobctl/v1\nkind: Job\nmetadata: {name: deep}\nspec: "
                    + "[" * 100_000 + "]" * 100_000 + "\n")


def _deep_flow_mappings(path: Path) -> None:
    path.write_text("apiVersion: jobctl/v1\nkind: Job\nmetadata: {name: deep}\nspec: "
                    + "{a: " * 50_000 + "1" + "}" * 50_000 + "\n")


def _deep_block_mappings(path: Path) -> None:
    lines = [" " * (level + 1) + f"k{level}:" for level in range(400)]
    path.write_text("apiVersion: jobctl/v1\nkind: Job\nmetadata: {name: deep}\nspec:\n" + "\n".join(lines) + " 1\n")


def _deep_anchors(path: Path) -> None:
    """Each anchor refers to the previous one: small text, deep structure once expanded."""
    lines = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 2000)]
    path.write_text("\n".join(lines) + "\n")


SPEC_SHAPES = {
    "ten-megabytes": (_ten_megabytes, "1 MiB"),
    "nested-flow-lists-100k": (_deep_flow_lists, "nesting"),
    "nested-flow-mappings-50k": (_deep_flow_mappings, "nesting"),
    "nested-block-mappings-400": (_deep_block_mappings, "nesting"),
    "nested-anchor-chain-2000": (_deep_anchors, "nesting"),
}
SPEC_COMMANDS = {"plan": ("plan", "spec.yaml"), "apply": ("apply", "spec.yaml"), "run": ("run", "-p", "spec.yaml")}


@pytest.mark.parametrize("command", sorted(SPEC_COMMANDS))
@pytest.mark.parametrize("shape", sorted(SPEC_SHAPES))
def test_oversized_or_deep_spec(shape: str, command: str, jobctl: Runner, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    write, why = SPEC_SHAPES[shape]
    write(tmp_path / "spec.yaml")
    monkeypatch.chdir(tmp_path)
    before = local_snapshot(jobctl)
    started = time.monotonic()

    result = jobctl(*SPEC_COMMANDS[command])

    assert time.monotonic() - started < 10, "rejecting a hostile spec must be quick"
    assert_clear_error(result, 3, "spec.yaml:", why)
    assert local_snapshot(jobctl) == before


# --- values the corpus does not reach: NUL written as a YAML escape ------------------------------------

NUL_SPEC = """\
apiVersion: jobctl/v1
kind: Job
metadata: {{name: nul}}
spec:
  infrastructure: {{shape: VM.Standard2.1}}
  runtime:
    type: python
    source: ./main.py
    {field}
"""
NUL_CASES = {
    "env-value-nul-escape": ('env: {MODEL: "x\\0gb"}', "spec.runtime.env.MODEL"),
    "arg-nul-escape": ('args: ["--model", "x\\0gb"]', "spec.runtime.args[1]"),
}


@pytest.mark.parametrize("command", ["validate", "apply"])
@pytest.mark.parametrize("name", sorted(NUL_CASES))
def test_nul_written_as_an_escape_is_rejected_like_a_nul_on_the_command_line(
    name: str, command: str, jobctl: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--env A=x<NUL>` is a usage error; the same value from a spec validated and then crashed the local
    supervisor (Popen: embedded null byte), leaving a run FAILED as 'runner lost'."""
    field, path = NUL_CASES[name]
    (tmp_path / "main.py").write_text("print('hi')\n")
    (tmp_path / "spec.yaml").write_text(NUL_SPEC.format(field=field))
    monkeypatch.chdir(tmp_path)
    before = local_snapshot(jobctl)

    result = jobctl(command, "spec.yaml")

    assert_clear_error(result, 3, "spec.yaml:", path, "NUL")
    assert local_snapshot(jobctl) == before


# --- the count ------------------------------------------------------------------------------------------

def hostile_case_counts() -> dict[str, int]:
    """Cases per surface, this file plus the spec corpus."""
    return {
        "spec files (corpus)": len(_committed_cases()) + len(GENERATED),
        "spec files (size, depth, NUL escapes)": len(SPEC_SHAPES) * len(SPEC_COMMANDS) + len(NUL_CASES) * 2,
        "CLI values": len(CLI_CASES) + len(HUGE_CASES),
        "OCI config": len(OCI_CONFIG_CASES) * len(OCI_COMMANDS),
        "local state": len(CORRUPTIONS) * len(STATE_COMMANDS) + 2 + 2 + 1 + len(LOCKED_COMMANDS) + 1 + 1,
        "source trees": len(SOURCE_CASES) * 2,
    }


def test_the_hostile_corpus_covers_every_surface_with_at_least_60_cases() -> None:
    counts = hostile_case_counts()
    assert all(count >= 5 for count in counts.values()), counts
    assert sum(counts.values()) >= MIN_TOTAL_CASES, counts
