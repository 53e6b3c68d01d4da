"""Kills a run's workload if its supervisor dies: a fork of the supervisor that runs `watch`, or
`python -I -S watchdog.py PGID RUN_ID` (stdin: a pipe).

The supervisor holds the pipe's write end and no one else does. It writes one byte when it has ended
the workload itself; end of file without that byte means the supervisor died (even by SIGKILL), and
the watchdog kills the workload's whole process group, then every process of this user that still
carries JOBCTL_RUN_ID=RUN_ID (those that left the group: setsid, daemons), so no workload outlives its
supervisor and escapes cancel and maxRuntimeInMinutes. Standard library only, no imports of jobctl: it starts in
milliseconds and holds almost no memory while it waits.
"""

import os
import signal
import sys
import time


def main() -> None:
    watch(0, int(sys.argv[1]), sys.argv[2])


def watch(pipe: int, pgid: int, run_id: str) -> None:
    """Wait on the pipe; on its end without the stand-down byte, kill the workload's group and the run's
    processes."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)  # only the pipe tells this process what to do
    try:
        word = os.read(pipe, 1)
    except OSError:
        word = b""
    if not word:
        try:  # noqa: SIM105 - contextlib would double this process's start-up imports
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
        kill_marked(("\0JOBCTL_RUN_ID=" + run_id + "\0").encode())  # procs.run_marker


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


def kill_marked(marker: bytes, within: float = 5.0) -> int:
    """SIGKILL the processes `marked_processes` finds until none is left (or `within` seconds have
    passed): a process forked after a scan, or one still dying when it ends, is found by the next scan.
    How many were signalled."""
    signalled: set[int] = set()
    deadline = time.monotonic() + within
    while True:
        pids = marked_processes(marker)
        if not pids or time.monotonic() > deadline:
            return len(signalled)
        for pid in pids:
            try:  # noqa: SIM105 - as above
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        signalled.update(pids)
        time.sleep(0.005)


if __name__ == "__main__":
    main()
