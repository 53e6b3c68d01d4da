"""`run --idempotency-key`, red team round: a key finds only the runs it started, with the request it started
them with; every run of one request has a name of its own; a secret never shows in a name; a retry says it
re-attached. Local backend (tests/oci/test_idempotency_keys_oci.py: the same on OCI)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.test_lifecycle_local import Run, applied, runs_of, write_spec

NOT_ITS_KEY = "was not started with this idempotency key"


@pytest.fixture
def demo(jobctl: Run, tmp_path: Path) -> Path:
    spec = write_spec(tmp_path / "specs")
    applied(jobctl, spec)
    return spec


def names(jobctl: Run) -> list[str]:
    return sorted(run["name"] for run in runs_of(jobctl, "demo"))


def start_and_retry(jobctl: Run, *command: str, name: str) -> str:
    """`command` twice: it starts a run `name`, then says it re-attached to that run; the run's id."""
    first = jobctl(*command)
    assert first.exit_code == 0, first.stderr
    [run_id] = first.stdout.split()
    assert f"started {name} ({run_id})" in first.stderr
    again = jobctl(*command)
    assert (again.exit_code, again.stdout.split()) == (0, [run_id]), again.stderr
    assert f"re-attached to {name} ({run_id})" in again.stderr
    assert f"started {name}" not in again.stderr
    return run_id


def assert_a_run_of_the_key_s_name_is_not_adopted(jobctl: Run, *command: str, owner: str) -> None:
    """Finding 1, on any backend: `run --name OWNER-zz` (no key) was adopted by `--idempotency-key zz`."""
    named = jobctl(*command, "--name", f"{owner}-zz")
    assert named.exit_code == 0, named.stderr
    [run_id] = named.stdout.split()
    keyed = jobctl(*command, "--idempotency-key", "zz")
    assert keyed.exit_code == 5
    assert f"run {owner}-zz ({run_id}) {NOT_ITS_KEY}" in keyed.stderr


def assert_another_name_is_another_request(jobctl: Run, job: str, run_ids: Callable[[], list[str]]) -> None:
    """Findings 6 and 7, on any backend: the same `--name train-777 --idempotency-key 777` again said "started";
    another or no --name said "started" with the earlier run's name (locally), or gave OCI's raw "Conflict
    (409): opc-retry-token was already used for a different request" with the hint to run `jobctl plan`."""
    run_id = start_and_retry(jobctl, "run", job, "--name", "train-777", "--idempotency-key", "777", name="train-777")
    said = f"run train-777 ({run_id}) was started with this idempotency key from another request: its name differs"
    for other in (("--name", "other"), ()):
        refused = jobctl("run", job, *other, "--idempotency-key", "777")
        assert refused.exit_code == 5, refused.stderr
        assert said in refused.stderr
        assert "opc-retry-token" not in refused.stderr
        assert "plan" not in refused.stderr
    assert run_ids() == [run_id]


def test_keys_that_clean_to_one_name_each_start_their_own_run(jobctl: Run, demo: Path) -> None:
    """Finding 1: the key was cleaned to [A-Za-z0-9_.-] and cut to 64 characters to name its run, and the run
    was then found by that name: "a b", "a/b" and "a\\nb" (and two long keys differing at their end) shared one
    run, the later ones re-attaching to the first's."""
    long_key = "x" * 299
    for key in ("a b", "a/b", "a\nb", long_key + "1", long_key + "2"):
        result = jobctl("run", "demo", "--idempotency-key", key)
        assert result.exit_code == 0, result.stderr
        assert "re-attached" not in result.stderr
    assert len(set(names(jobctl))) == 5
    again = jobctl("run", "demo", "--idempotency-key", "a/b")  # each key still finds its own
    assert again.exit_code == 0, again.stderr
    assert "re-attached to demo-a_b-" in again.stderr
    assert len(runs_of(jobctl, "demo")) == 5


def test_a_run_of_the_key_s_name_that_another_request_started_is_not_the_key_s(jobctl: Run, demo: Path) -> None:
    """Finding 1: `run --name demo-zz` (no key) was adopted by `--idempotency-key zz`, and `--idempotency-key p
    --matrix M=q` re-attached to the run of `--idempotency-key p-q` (both named demo-p-q)."""
    assert_a_run_of_the_key_s_name_is_not_adopted(jobctl, "run", "demo", owner="demo")
    assert jobctl("run", "demo", "--idempotency-key", "p-q", "--env", "M=q").exit_code == 0
    other = jobctl("run", "demo", "--idempotency-key", "p", "--matrix", "M=q")
    assert other.exit_code == 5
    assert NOT_ITS_KEY in other.stderr
    assert names(jobctl) == ["demo-p-q", "demo-zz"]


@pytest.mark.parametrize("matrix", [
    ("--matrix", "A=x-y,x", "--matrix", "B=z,y-z"),
    ("--matrix", "A=a/b,a_b"),
    ("--matrix", "A=ü,é"),
    ("--matrix", "A=_a,+a"),  # (" a" was refused since session 14: a value with spaces around it)
])
def test_every_run_of_a_matrix_has_a_name_of_its_own_and_a_retry_finds_each(
        jobctl: Run, demo: Path, matrix: tuple[str, ...]) -> None:
    """Finding 2: values joined and cleaned made two runs of one request one name (…-x-y-z twice); `get` and
    `logs` by name were ambiguous and the same keyed command, retried, exited 5."""
    first = jobctl("run", "demo", "--idempotency-key", "k1", *matrix)
    assert first.exit_code == 0, first.stderr
    started = names(jobctl)
    assert len(set(started)) == len(started) == len(first.stdout.split())
    again = jobctl("run", "demo", "--idempotency-key", "k1", *matrix)
    assert again.exit_code == 0, again.stderr
    assert sorted(again.stdout.split()) == sorted(first.stdout.split())
    assert again.stderr.count("re-attached to demo-k1-") == len(started)
    assert names(jobctl) == started


def test_a_changed_set_with_the_same_key_is_another_request(jobctl: Run, demo: Path) -> None:
    """Finding 3: the same key with another --set re-attached (exit 0): only env and args were compared."""
    base = ("run", "demo", "--idempotency-key", "k1", "--set", "runtime.maxRuntimeInMinutes=30",
            "--env", "DB_TOKEN=first-secret-41")
    run_id = start_and_retry(jobctl, *base, name="demo-k1")
    said = f"run demo-k1 ({run_id}) was started with this idempotency key from another request: its "
    for changed, differs in [
        (("runtime.maxRuntimeInMinutes=30", "runtime.maxRuntimeInMinutes=31"), "--set runtime.maxRuntimeInMinutes"),
        (("k1", "k1", "--set", "infrastructure.ocpus=2"), "--set infrastructure.ocpus differs"),
        (("DB_TOKEN=first-secret-41", "DB_TOKEN=other-secret-42"), "env DB_TOKEN differs"),
    ]:
        other = jobctl(*[changed[1] if part == changed[0] else part for part in base], *changed[2:])
        assert other.exit_code == 5, other.stderr
        assert said + differs in other.stderr
        assert "secret-4" not in other.stderr
    assert [run["id"] for run in runs_of(jobctl, "demo")] == [run_id]


def test_a_secret_matrix_value_is_named_by_its_position_not_a_digest(jobctl: Run, demo: Path) -> None:
    """Finding 4: a secret-named variable's value showed in the run name as the first 8 hex of its unsalted
    sha256 (…-d0589a29), which anyone listing runs can test candidate values against."""
    import hashlib

    result = jobctl("run", "demo", "--idempotency-key", "k1", "--matrix", "MY_TOKEN=s3cr3t1,s3cr3t2")
    assert result.exit_code == 0, result.stderr
    assert names(jobctl) == ["demo-k1-MY_TOKEN1", "demo-k1-MY_TOKEN2"]
    digests = [hashlib.sha256(value.encode()).hexdigest()[:8] for value in ("s3cr3t1", "s3cr3t2")]
    listed = jobctl("runs", "demo")
    assert not any(digest in listed.stdout + result.stderr for digest in digests)


def test_an_empty_idempotency_key_is_refused(jobctl: Run, demo: Path) -> None:
    """Finding 5: `--idempotency-key "$CI_PIPELINE_ID"` with the variable unset turned idempotency off."""
    result = jobctl("run", "demo", "--idempotency-key", "")
    assert result.exit_code == 2
    assert "an empty --idempotency-key (an unset variable?)" in result.stderr
    assert runs_of(jobctl, "demo") == []


def test_a_retried_start_with_a_name_says_it_re_attached_and_another_name_is_another_request(
        jobctl: Run, demo: Path) -> None:
    assert_another_name_is_another_request(jobctl, "demo", lambda: [run["id"] for run in runs_of(jobctl, "demo")])


def test_of_two_identical_keyed_starts_at_once_one_starts_and_the_other_re_attaches(demo: Path) -> None:
    """Finding 6: two concurrent identical keyed starts both said "started" though one run exists. Whichever
    way they interleave, the one that did not start the run says it re-attached."""
    command = [sys.executable, "-m", "jobctl", "run", "demo", "--name", "once", "--idempotency-key", "k9"]
    starts = [subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) for _ in range(2)]
    said = [start.communicate(timeout=60) for start in starts]
    assert [start.returncode for start in starts] == [0, 0], said
    assert len({out for out, _ in said}) == 1
    errs = [err for _, err in said]
    assert sorted(("started once" in err, "re-attached to once" in err) for err in errs) == [
        (False, True), (True, False)], errs
