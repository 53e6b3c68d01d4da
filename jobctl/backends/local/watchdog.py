"""Kills a run's workload if its supervisor dies: `python -I -S watchdog.py PGID` (stdin: a pipe).

The supervisor holds the pipe's write end and no one else does. It writes one byte when it has ended
the workload itself; end of file without that byte means the supervisor died (even by SIGKILL), and
the watchdog kills the workload's whole process group, so no workload outlives its supervisor and
escapes cancel and maxRuntimeInMinutes. Standard library only, no imports of jobctl: it starts in
milliseconds and holds almost no memory while it waits.
"""

import os
import signal
import sys


def main() -> None:
    pgid = int(sys.argv[1])
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)  # only the pipe tells this process what to do
    try:
        word = os.read(0, 1)
    except OSError:
        word = b""
    if not word:
        try:  # noqa: SIM105 - contextlib would double this process's start-up imports
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass


if __name__ == "__main__":
    main()
