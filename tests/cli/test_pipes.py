from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO


def _apply(jobctl, tmp_path: Path, name: str) -> None:
    """Apply job `name`, which runs tmp_path/loud.py."""
    (tmp_path / "job.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: jobctl/v1
        kind: Job
        metadata: {{name: {name}}}
        spec:
          infrastructure: {{shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}}
          runtime: {{type: python, source: ./loud.py}}
        """))
    assert jobctl("apply", str(tmp_path / "job.yaml")).exit_code == 0


def test_a_reader_that_stops_early_ends_jobctl_quietly(jobctl, tmp_path: Path) -> None:
    (tmp_path / "loud.py").write_text("import sys\nsys.stdout.write('line\\n' * 300000)\n")
    _apply(jobctl, tmp_path, "loud")
    assert jobctl("run", "loud", "--wait").exit_code == 0
    shell = f"{sys.executable} -m jobctl logs --job loud | head -n 1"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", shell], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.stdout == "line\n"
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "BrokenPipe" not in proc.stderr


def test_following_runs_into_a_reader_that_stops_exits_141_and_the_run_goes_on(jobctl, tmp_path: Path) -> None:
    """`run --follow | head` exited 0 while the run went on: with pipefail, CI read that as the run's success.
    It cannot mirror an outcome it did not see: 141, as a process SIGPIPE ended, and says where the run went."""
    (tmp_path / "loud.py").write_text("import sys, time\nsys.stdout.write('line\\n' * 300000)\n"
                                      "sys.stdout.flush()\ntime.sleep(3600)\n")
    _apply(jobctl, tmp_path, "endless")
    try:
        for command in ("run endless --follow", "logs --job endless --follow"):
            shell = f"{sys.executable} -m jobctl {command} | head -n 1"
            proc = subprocess.run(["bash", "-o", "pipefail", "-c", shell], cwd=REPO, env=dict(os.environ),
                                  capture_output=True, text=True, timeout=120, check=False)
            assert (proc.returncode, proc.stdout) == (141, "line\n"), (command, proc.stderr)
            said = proc.stderr.splitlines()
            assert said[-2] == "Error: stopped following: the output's reader went away; 1 run(s) go on", said
            assert said[-1].startswith("Hint: jobctl wait run-"), said
            assert "Traceback" not in proc.stderr
        assert _states(jobctl, "endless") == ["IN_PROGRESS"]  # the run `run` started, which `logs` then followed
    finally:
        _cancel_runs(jobctl, "endless")


def test_a_stderr_whose_reader_goes_changes_neither_the_wait_nor_its_exit_code(jobctl, tmp_path: Path) -> None:
    """Red team, session 13: `run --wait 2>&1 | head -1` exited 0 at once while the run went on to fail: the
    progress line after the first met a closed pipe, and the command stopped as a read command does."""
    (tmp_path / "loud.py").write_text("import time\ntime.sleep(1)\nraise SystemExit(3)\n")
    _apply(jobctl, tmp_path, "fails")
    for given in ("run fails --wait 2>&1 | head -n 1", "wait RUN 2>&1 | true", "wait RUN | true"):
        command = given.replace("RUN", jobctl("-q", "run", "fails").stdout.strip()) if "RUN" in given else given
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", f"{sys.executable} -m jobctl {command}"], cwd=REPO,
                              env=dict(os.environ), capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 1, (command, proc.stdout, proc.stderr)  # the run's: FAILED
        assert "Traceback" not in proc.stderr + proc.stdout
    assert _states(jobctl, "fails") == ["FAILED"] * 3  # each command waited for its run's end


def _states(jobctl, job: str) -> list[str]:
    return [run["lifecycleState"] for run in json.loads(jobctl("runs", job, "-o", "json").stdout)["items"]]


def _cancel_runs(jobctl, job: str) -> None:
    for run in json.loads(jobctl("runs", job, "-o", "json").stdout)["items"]:
        jobctl("cancel", run["id"], "--wait")


def test_following_into_a_reader_that_goes_after_the_runs_ended_exits_with_their_code(jobctl, tmp_path: Path) -> None:
    """Red team: `run --follow | (sleep 4; head -1)` said 141 and "1 run(s) go on" for a run that had SUCCEEDED
    seconds before: blocked writing lines, jobctl had not read the end, and decided from what it had seen. The
    runs as they are when the reader goes decide (decision 22)."""
    gate = tmp_path / "gate"
    # more lines than a pipe holds, then the run ends once the test opens the gate, with $EXIT
    (tmp_path / "loud.py").write_text(textwrap.dedent(f"""\
        import os, sys, time
        sys.stdout.write('line\\n' * 300000)
        sys.stdout.flush()
        deadline = time.monotonic() + 120
        while not os.path.exists({str(gate)!r}) and time.monotonic() < deadline:
            time.sleep(0.01)
        sys.exit(int(os.environ['EXIT']))
        """))
    _apply(jobctl, tmp_path, "loud")
    for command, code, state in [("run loud --env EXIT=0 --follow", 0, "SUCCEEDED"),
                                 ("logs RUN --follow", 1, "FAILED")]:
        gate.unlink(missing_ok=True)
        run_id = jobctl("run", "loud", "--env", "EXIT=3").stdout.strip() if "RUN" in command else None
        with subprocess.Popen([sys.executable, "-m", "jobctl", *command.replace("RUN", str(run_id)).split()],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
            assert proc.stdout is not None
            assert proc.stderr is not None
            while run_id is None:  # `run` says which run it started before it follows it
                said = proc.stderr.readline()
                assert said, "jobctl ended before starting the run"
                if said.startswith("started loud-"):
                    run_id = said.split("(")[1].rstrip(")\n")
            assert proc.stdout.readline() == "line\n"  # following the run; soon blocked on the full pipe
            gate.touch()
            assert jobctl("wait", run_id, "--timeout", "60").exit_code == code  # ended; jobctl saw none of it
            proc.stdout.close()  # the reader goes
            err = proc.stderr.read()
            assert proc.wait(timeout=60) == code, (command, err)
        assert err.splitlines()[-1].startswith(state), (command, err)  # what the exit code mirrors
        assert "went away" not in err, (command, err)
        assert "Traceback" not in err, (command, err)


def _shell(command: str) -> subprocess.CompletedProcess[str]:
    """`python -m jobctl` with the shell redirections in `command` (JOBCTL stands for the command)."""
    shell = command.replace("JOBCTL", f"{sys.executable} -m jobctl")
    return subprocess.run(["bash", "-c", shell], cwd=REPO, env=dict(os.environ), capture_output=True, text=True,
                          timeout=60, check=False)


def test_a_closed_or_full_stream_changes_no_exit_code_and_shows_no_traceback(jobctl) -> None:
    """Red team, issue 18: with stderr closed or full every command exited 1 even on success; with stdout
    closed, every command was an internal error (exit 1, and a traceback once the command ended). Red team,
    session 13: then output to a closed stdout was lost in silence (exit 0): a command that prints to it now
    cannot write (exit 1, as to a full disk, and as `ls >&-`); one that prints nothing there is unchanged; and a
    usage error said to a reader that has gone exited 0."""
    hello = str(REPO / "specs-examples" / "hello" / "job.yaml")
    assert jobctl("apply", hello).exit_code == 0
    cannot = "Error: cannot write: stdout is closed\n"
    for command, code, said in [
            ("JOBCTL --version 2>&-", 0, ""), ("JOBCTL jobs 2>/dev/full", 0, ""),
            (f"JOBCTL validate {hello} 2>&-", 0, ""), ("JOBCTL runs no-such-run 2>&-", 4, ""),
            ("JOBCTL runs no-such-run 2>/dev/full", 4, ""),
            ("JOBCTL jobs >&-", 1, cannot), ("JOBCTL jobs -o json >&-", 1, cannot), ("JOBCTL --version >&-", 1, cannot),
            ("JOBCTL run hello --wait -q >&-", 0, ""), ("JOBCTL run hello --env EXIT_CODE=3 --wait -q >&-", 1, ""),
            ("JOBCTL jobs >&- 2>&-", 1, ""), ("JOBCTL jobs <&- >&-", 1, cannot),
            # a usage error whose reader has gone: exit 0 before (red team, session 14), as a read command's
            ("JOBCTL runs --lmit 3 2>&1 | true; exit ${PIPESTATUS[0]}", 2, ""), ("JOBCTL runs --lmit 3 2>&-", 2, "")]:
        proc = _shell(command)
        assert (proc.returncode, proc.stderr) == (code, said), command


def test_only_a_closed_stdout_or_a_full_disk_is_a_write_that_failed_not_every_bad_descriptor() -> None:
    """A closed stdout has its own error: EBADF counted as "cannot write" for a while (session 14), which would
    have said so of a descriptor bug anywhere instead of an internal error."""
    import errno

    from jobctl.errors import ClosedStdout, write_failed

    assert write_failed(ClosedStdout(errno.EBADF, "stdout is closed"))
    assert write_failed(OSError(errno.ENOSPC, "No space left on device"))
    assert not write_failed(OSError(errno.EBADF, "Bad file descriptor"))


def test_a_run_whose_ids_cannot_be_written_names_them_on_stderr(jobctl) -> None:
    """Red team, session 14: `run -q > /dev/full` said it could not write, and the run it had started was named
    nowhere: a CI retry started it again."""
    assert jobctl("apply", str(REPO / "specs-examples" / "hello" / "job.yaml")).exit_code == 0
    proc = _shell("JOBCTL run hello --matrix MODEL=a,b -q > /dev/full")
    listed = json.loads(jobctl("runs", "hello", "-o", "json").stdout)["items"]
    ids = " ".join(sorted((r["id"] for r in listed), key=proc.stderr.find))
    assert (proc.returncode, proc.stderr) == (1, "Error: cannot write: No space left on device\n"
                                              f"Hint: the run(s) it started go on: {ids} (`jobctl wait {ids}` waits "
                                              "for them)\n")


def test_output_to_a_full_disk_says_it_cannot_write_not_internal_error() -> None:
    proc = _shell("JOBCTL schema > /dev/full")
    assert (proc.returncode, proc.stderr) == (1, "Error: cannot write: No space left on device\n")


def test_ctrl_c_while_the_command_is_still_loading_is_interrupted_not_a_traceback(tmp_path: Path) -> None:
    """A Ctrl-C that lands while Python imports click (the first ~50 ms) raised a traceback from the import."""
    slow = tmp_path / "slow"
    slow.mkdir()
    # a `click` that says it is being imported, then waits for the test's signal
    (slow / "click.py").write_text("import os\nos.write(1, b'loading\\n')\nos.read(0, 1)\n")
    with subprocess.Popen(
        [sys.executable, "-m", "jobctl", "jobs"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(slow)},
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"loading\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert (proc.returncode, out, err) == (130, b"", b"Interrupted.\n")


# On PYTHONPATH: the first import of $SLOW_MODULE says "loading" on stdout, then waits for the test's SIGINT, in
# the creation of a class with SLOW_IN=class (where Python 3.11 wraps the KeyboardInterrupt in a RuntimeError).
SLOW_IMPORT = """\
import os, sys

def wait():
    os.write(1, b"loading\\n")
    os.read(0, 1)

class Slow:
    def find_spec(self, name, path=None, target=None):
        if name == os.environ["SLOW_MODULE"]:
            sys.meta_path.remove(self)
            if os.environ.get("SLOW_IN") == "class":
                class Waits:
                    def __set_name__(self, owner, attribute):
                        wait()
                class Loading:
                    waits = Waits()
            else:
                wait()
        return None

sys.meta_path.insert(0, Slow())
"""


@pytest.mark.parametrize(("module", "where"), [
    ("jobctl.cli.jobs", "import"),  # parsing imports it: click said "Aborted!", exit 1
    ("jobctl.cli.jobs", "class"),  # a traceback
    ("jobctl.backends.local", "class"),  # the command's: "Error: internal error: RuntimeError: ..."
    ("contextlib", "import"),  # the entry point's own imports: a traceback
])
def test_ctrl_c_at_any_point_of_the_start_is_interrupted_and_130(jobctl, tmp_path: Path, module: str,
                                                                 where: str) -> None:
    """Red team: SIGINT 5-170 ms into `jobctl jobs` (or `run JOB`) printed click's "Aborted!" (exit 1), an
    internal error (a KeyboardInterrupt in a class's creation, wrapped in a RuntimeError), or a traceback from
    the entry point's imports. Each is made to happen here at a known point, as a console script runs jobctl."""
    assert jobctl("apply", str(REPO / "specs-examples" / "hello" / "job.yaml")).exit_code == 0
    (tmp_path / "sitecustomize.py").write_text(SLOW_IMPORT)
    with subprocess.Popen(
        [sys.executable, "-c", "from jobctl.cli.entry import main; main()", "jobs"], cwd=REPO,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(tmp_path), "SLOW_MODULE": module, "SLOW_IN": where},
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"loading\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert (proc.returncode, out, err) == (130, b"", b"Interrupted.\n"), err.decode()


def test_following_runs_into_a_full_disk_says_the_output_failed_and_the_run_goes_on(jobctl, tmp_path: Path) -> None:
    """Red team, LOW: `run --follow > /dev/full` said only "cannot write" (exit 1), not that the run went on, as
    a reader that goes away does (decision 22): now it says both, and how to wait for the run."""
    (tmp_path / "loud.py").write_text("import sys, time\nprint('line', flush=True)\ntime.sleep(3600)\n")
    _apply(jobctl, tmp_path, "endless")
    try:
        for command in ("JOBCTL run endless --follow > /dev/full", "JOBCTL logs --job endless --follow > /dev/full",
                        "JOBCTL logs --job endless --follow -o jsonl > /dev/full"):
            proc = _shell(command)
            said = proc.stderr.splitlines()
            assert proc.returncode == 1, (command, proc.stderr)
            assert said[-2] == ("Error: stopped following: cannot write the output (No space left on device); "
                                "1 run(s) go on"), (command, said)
            assert said[-1].startswith("Hint: jobctl wait run-"), (command, said)
            assert "Traceback" not in proc.stderr
        assert _states(jobctl, "endless") == ["IN_PROGRESS"]  # the run `run` started, which `logs` then followed
    finally:
        _cancel_runs(jobctl, "endless")


def test_what_any_command_prints_to_a_full_disk_is_a_clear_error_not_a_traceback(jobctl) -> None:
    """`jobctl --help > /dev/full` (and --version) was a traceback: the error arose before any command ran."""
    hello = str(REPO / "specs-examples" / "hello" / "job.yaml")
    assert jobctl("apply", hello).exit_code == 0
    run_id = jobctl("run", "hello", "--wait", "-o", "json").stdout
    run_id = json.loads(run_id)["items"][0]["id"]
    for command in ("JOBCTL --help", "JOBCTL --version", "JOBCTL logs --help", f"JOBCTL logs {run_id}",
                    "JOBCTL runs -o json", f"JOBCTL get {run_id}"):
        proc = _shell(f"{command} > /dev/full")
        assert (proc.returncode, proc.stderr) == (1, "Error: cannot write: No space left on device\n"), command
