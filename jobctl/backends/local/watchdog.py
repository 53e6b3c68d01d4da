"""Kills a run's workload if its supervisor dies: a fork of the supervisor that runs `watch`, or
`python -I -S watchdog.py RUN_ID` (stdin: a pipe).

The supervisor starts it before the workload and holds the pipe's write end; no one else does. Once the
workload runs, the supervisor writes its process group ("PGID\n"); it writes "x" when it has ended the
workload itself. End of file without "x" means the supervisor died (even by SIGKILL): the watchdog kills
the workload's whole process group, then every process of this user that still carries
JOBCTL_RUN_ID=RUN_ID (those that left the group: setsid, daemons). When the supervisor died before it
could say the group, the workload may be starting still (a vfork child runs the supervisor's memory until
its exec, and carries the marker only from there), so the watchdog looks for the marker for
START_GRACE_SECONDS even when it finds none. So no workload outlives its supervisor and escapes cancel
and maxRuntimeInMinutes (docs/decisions/0006-local-run-lifetime.md). Standard library only, no imports of
jobctl: it starts in milliseconds and holds almost no memory while it waits.
"""

import os
import signal
import sys
import time

START_GRACE_SECONDS = 1.0
STAND_DOWN = b"x"


def main() -> None:
    watch(0, sys.argv[1])


def watch(pipe: int, run_id: str) -> None:
    """Wait on the pipe; on its end without the stand-down byte, kill the workload's group and the run's
    processes."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)  # only the pipe tells this process what to do
    said = b""
    while not said.endswith(STAND_DOWN):
        try:
            chunk = os.read(pipe, 64)
        except OSError:
            chunk = b""
        if not chunk:
            break
        said += chunk
    else:
        return
    told, _, _ = said.partition(b"\n")
    if told.isdigit():
        try:  # noqa: SIM105 - contextlib would double this process's start-up imports
            os.killpg(int(told), signal.SIGKILL)
        except OSError:
            pass
    marker = ("\0JOBCTL_RUN_ID=" + run_id + "\0").encode()  # procs.run_marker
    kill_marked(marker, at_least=0.0 if told.isdigit() else START_GRACE_SECONDS)


def marked_processes(marker: bytes) -> list[int]:
    """Every process of this user but this one whose environment holds `marker` (NUL-delimited)."""
    uid, found = os.getuid(), []
    for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            if os.stat("/proc/" + name).st_uid != uid:
                continue
            with open("/proc/" + name + "/environ", "rb") as environ:
                if marker in b"\0" + environ.read():
                    found.append(int(name))
        except OSError:
            continue
    return found


def kill_marked(marker: bytes, within: float = 5.0, at_least: float = 0.0) -> int:
    """SIGKILL the processes `marked_processes` finds until none is left (or `within` seconds have
    passed), and for `at_least` seconds even when none is (one may not carry the marker yet): a process
    forked after a scan, or one still dying when it ends, is found by the next scan. How many were
    signalled."""
    signalled: set[int] = set()
    started = time.monotonic()
    while True:
        pids = marked_processes(marker)
        waited = time.monotonic() - started
        if (not pids and waited >= at_least) or waited > max(within, at_least):
            return len(signalled)
        for pid in pids:
            try:  # noqa: SIM105 - as above
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        signalled.update(pids)
        time.sleep(0.005 if pids else 0.02)


if __name__ == "__main__":
    main()
