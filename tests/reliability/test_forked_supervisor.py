"""A command's only local run, whose supervisor comes from a fork of the command itself (issue 18;
docs/decisions/0018-forked-launcher.md), keeps every guarantee of a supervisor started as a new
interpreter: it survives the command killed with SIGKILL, it takes its workload with it when it is
killed itself, cancel ends it, and it holds nothing of the command's: not its stdout (a `$(jobctl run)`
returns at once), not any other descriptor the command had.

The commands run as real processes (`python -m jobctl`), as a user starts them: a command run inside
another program (the suite's in-process runner) never forks itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobctl.backends.local import procs
from tests.cli.test_lifecycle_local import until
from tests.conftest import Result
from tests.reliability.test_local_lifetime import Runner, db_row, get, workload_running, write_job

FDS_WORKLOAD = """\
import os
print("fds", sorted(int(fd) for fd in os.listdir("/proc/self/fd")), flush=True)
"""


def command(*args: str, **popen: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "jobctl", *args], text=True, **popen)


def start(runs: list[str], *env: str) -> str:
    """`jobctl run keeper` as a real process; the run's id, once the command has ended (stdout at its end)."""
    started = command("run", "keeper", *[arg for pair in env for arg in ("--env", pair)],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = started.communicate(timeout=60)
    assert started.returncode == 0, err
    runs.append(out.strip())
    return out.strip()


@contextlib.contextmanager
def waiting_run(jobctl: Runner, keeper: list[str], gate: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`jobctl run keeper --wait` as a real process, its workload held until `gate` exists: the command and its
    run's id once the workload runs. The command is killed at the end."""
    waiting = command("run", "keeper", "--env", f"GATE={gate}", "--wait", stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)
    try:
        run_id = str(until(lambda: json.loads(jobctl("-o", "json", "runs").stdout)["items"],
                           what="the run to be recorded")[0]["id"])
        keeper.append(run_id)
        until(lambda: workload_running(run_id), what="the workload")
        yield waiting, run_id
    finally:
        waiting.kill()


def supervisor(home: Path, run_id: str) -> int:
    """The run's supervisor, checked to be a fork of the command (an interpreter's would run the module; the
    fork overwrites the command's command line with the run it supervises)."""
    pid = until(lambda: db_row(home, run_id)["supervisor_pid"], what="the supervisor to be recorded")
    cmdline = (procs.PROC / str(pid) / "cmdline").read_bytes()
    assert b"jobctl.backends.local" not in cmdline, cmdline
    assert cmdline.rstrip(b"\0") == f"jobctl supervisor {run_id}".encode(), cmdline
    return int(pid)


def every_process(name: str) -> dict[int, bytes]:
    """/proc/PID/`name` of every process (`cmdline`: what `ps` shows, and every user may read)."""
    found = {}
    for entry in procs.PROC.iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):  # ended meanwhile
                found[int(entry.name)] = (entry / name).read_bytes()
    return found


def test_a_secret_given_on_the_command_line_is_not_in_ps_while_the_run_goes_on(
    jobctl: Runner, keeper: list[str], isolated_env: Path, tmp_path: Path,
) -> None:
    """Red team, issue 18: the forked supervisor kept the command's command line, `--env DB_PASSWORD=...`
    included, readable by every user in ps for as long as the run went on."""
    secret = "hunter2-not-for-ps-7731"
    gate = tmp_path / "gate"
    run_id = start(keeper, f"GATE={gate}", f"DB_PASSWORD={secret}")
    until(lambda: workload_running(run_id), what="the workload")
    supervisor(isolated_env, run_id)
    assert not [line for line in every_process("cmdline").values() if secret.encode() in line]
    gate.touch()
    assert jobctl("wait", run_id, "--timeout", "60").exit_code == 0


def test_a_waiting_command_holds_no_exited_child(
    jobctl: Runner, keeper: list[str], isolated_env: Path, tmp_path: Path,
) -> None:
    """Red team, issue 18: the launcher forked for the only run exited once it had started the supervisor,
    and stayed a zombie child of the command for the whole wait."""
    gate = tmp_path / "gate"
    with waiting_run(jobctl, keeper, gate) as (waiting, _):

        def children_states() -> list[bytes]:
            stats = [stat.rpartition(b")")[2].split() for stat in every_process("stat").values()]
            return [fields[0] for fields in stats if int(fields[1]) == waiting.pid]

        until(lambda: b"Z" not in children_states(), what="the command to collect its exited launcher")
        gate.touch()
        _, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err


def test_the_run_of_a_command_killed_with_sigkill_goes_on_and_succeeds(
    jobctl: Runner, keeper: list[str], isolated_env: Path, tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"
    with waiting_run(jobctl, keeper, gate) as (waiting, run_id):
        supervisor(isolated_env, run_id)
        waiting.kill()
        waiting.communicate(timeout=20)
    assert get(jobctl, run_id)["lifecycleState"] == "IN_PROGRESS"
    gate.touch()
    waited = jobctl("wait", run_id, "--timeout", "60")
    assert waited.exit_code == 0, waited.stderr
    assert get(jobctl, run_id)["lifecycleState"] == "SUCCEEDED"


def test_a_forked_supervisor_killed_with_sigkill_takes_its_workload_with_it(
    jobctl: Runner, keeper: list[str], isolated_env: Path,
) -> None:
    run_id = start(keeper, "DAEMON=1")
    until(lambda: workload_running(run_id, 3), what="the workload, its grandchild and its daemon")
    killed = supervisor(isolated_env, run_id)
    os.kill(killed, signal.SIGKILL)
    # the supervisor too: its watchdog kills the workload as the supervisor's pipe closes, which may come before
    # the run's lock is let go (the same exit closes both), and while that is held the run is going
    until(lambda: not procs.run_processes(run_id) and procs.start_time(killed) is None,
          what="the supervisor and every process of the run to end")
    shown = get(jobctl, run_id)
    assert shown["lifecycleState"] == "FAILED", shown
    assert "runner lost" in shown["details"], shown


def test_cancel_ends_a_run_whose_supervisor_is_a_fork(
    jobctl: Runner, keeper: list[str], isolated_env: Path,
) -> None:
    run_id = start(keeper, "DAEMON=1")
    until(lambda: workload_running(run_id, 3), what="the workload")
    supervisor(isolated_env, run_id)
    canceled = jobctl("cancel", run_id, "--wait", "--timeout", "60")
    assert canceled.exit_code == 8, canceled.stderr
    until(lambda: not procs.run_processes(run_id), what="every process of the run to end")


def test_a_run_holds_none_of_the_commands_descriptors(
    jobctl: Runner, keeper: list[str], isolated_env: Path, tmp_path: Path,
) -> None:
    """While the run goes on, the command's stdout has reached its end (a `$(jobctl run)` does not hang for
    the run's length), and so has a pipe whose other end only the command had; the workload has none of
    the command's descriptors either."""
    gate = tmp_path / "gate"
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    try:
        started = command("run", "keeper", "--env", f"GATE={gate}", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          pass_fds=(write_end,))
        os.close(write_end)
        out, err = started.communicate(timeout=60)
        assert started.returncode == 0, err
        keeper.append(run_id := out.strip())
        until(lambda: at_end(read_end), what="the end of the pipe the command had")
    finally:
        os.close(read_end)
    supervisor(isolated_env, run_id)
    assert get(jobctl, run_id)["lifecycleState"] in ("ACCEPTED", "IN_PROGRESS")
    gate.touch()
    assert jobctl("wait", run_id, "--timeout", "60").exit_code == 0

    (tmp_path / "spec" / "workload.py").write_text(FDS_WORKLOAD)
    (tmp_path / "spec" / "job.yaml").write_text((tmp_path / "spec" / "job.yaml").read_text().replace(
        "name: keeper", "name: fds"))
    assert jobctl("apply", str(tmp_path / "spec" / "job.yaml")).exit_code == 0
    with open(os.devnull, "rb") as inherited:
        fds = command("run", "fds", "--follow", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                      pass_fds=(inherited.fileno(),))
        out, err = fds.communicate(timeout=60)
    assert fds.returncode == 0, err
    [line] = [line for line in out.splitlines() if line.startswith("fds ")]
    assert json.loads(line.removeprefix("fds ")) == [0, 1, 2, 3], line  # 3: the listing's own


def at_end(fd: int) -> bool:
    """Whether no process holds the pipe's write end any more (`fd`, its read end, is non-blocking)."""
    try:
        return os.read(fd, 1) == b""
    except BlockingIOError:
        return False


def test_a_wait_notices_the_end_without_pidfds(jobctl: Runner, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    """Where there are no pidfds (not Linux, an old kernel) a wait polls, as before, and sees every end."""
    monkeypatch.delattr(os, "pidfd_open", raising=False)
    (tmp_path / "job.yaml").write_text((write_job(tmp_path).read_text()).replace("name: keeper", "name: quick"))
    assert jobctl("apply", str(tmp_path / "job.yaml")).exit_code == 0
    waited: Result = jobctl("run", "quick", "--env", "HOLD=0", "--wait")
    assert waited.exit_code == 0, waited.stderr
    followed = jobctl("run", "quick", "--env", "HOLD=0", "--follow")
    assert followed.exit_code == 0, followed.stderr
    assert "done" in followed.stdout
