"""Which processes belong to a local run, whether they still live, and what they show as.

A process is named by (pid, start time) so a reused pid is never taken for the original. What cannot
be read is UNKNOWN, and every caller treats UNKNOWN as alive: declaring a live run dead would mark it
FAILED while its workload keeps running, the one mistake that cannot be undone.
"""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jobctl.backends.local.watchdog import kill_marked, marked_processes

PROC = Path("/proc")
RUN_ID_VARIABLE = "JOBCTL_RUN_ID"
MAX_LOCAL_NODES = 64  # processes of one multi-node run (its replicas); see docs/multi-node.md
TITLE = "jobctl supervisor"  # what `ps` shows of a supervisor (+ its run's id) and of a launcher (+ "launcher")


class Liveness(enum.Enum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22); None if it is gone.

    A zombie counts as gone: it has exited and only waits for its parent to collect it.
    Raises OSError when this system has no readable /proc.
    """
    try:
        stat = (PROC / str(pid) / "stat").read_bytes()
    except FileNotFoundError:
        if not PROC.joinpath("self").exists():
            raise OSError("no /proc on this system") from None
        return None
    # the command name (field 2) is in parentheses and may itself hold spaces or ')'
    fields = stat[stat.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def liveness(pid: int | None, started: int | None) -> Liveness:
    """Is the process (pid, started) still running? UNKNOWN when it cannot be told."""
    if not pid:
        return Liveness.UNKNOWN
    try:
        now = start_time(pid)
    except (OSError, ValueError, IndexError):  # no /proc (macOS) or an unreadable entry
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return Liveness.DEAD
        except OSError:
            return Liveness.UNKNOWN
        return Liveness.UNKNOWN if started is None else Liveness.ALIVE
    if now is None:
        return Liveness.DEAD
    if started is None:  # recorded by an older jobctl: the pid alone cannot rule out reuse
        return Liveness.UNKNOWN
    return Liveness.ALIVE if now == started else Liveness.DEAD


class ExitWatch:
    """Supervisors' ends as pidfds (Linux 5.3+), so that a wait wakes as a run ends, not at its next poll.

    Each run's pidfd wakes a wait once: the run, read next, has ended (its supervisor records the end
    just before it exits). Where pidfds are not available, or the process cannot be told apart from
    another with its pid, a wait sleeps its whole time, as a poll did."""

    def __init__(self) -> None:
        self._fds: dict[str, int | None] = {}  # run id -> its supervisor's pidfd; None: nothing to wait on

    def knows(self, run_id: str) -> bool:
        return run_id in self._fds

    def watch(self, run_id: str, pid: int | None, started: int | None) -> bool:
        """Watch the run's supervisor (pid, start time); False when it has already ended."""
        self._fds[run_id] = None
        if not pid or started is None:
            return True  # not known (yet): the wait sleeps
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return False
        except (AttributeError, OSError):  # not Linux, an old kernel, or a limit: poll as before
            return True
        try:
            now = start_time(pid)
        except (OSError, ValueError, IndexError):
            now = started  # cannot tell: the pidfd is taken to be the supervisor's only while it lives
        if now != started:  # ended, and its pid perhaps reused
            os.close(fd)
            return False
        self._fds[run_id] = fd
        return True

    def watching(self, run_ids: Sequence[str]) -> bool:
        """Whether every one of these runs' supervisors is watched (each wakes a wait as it ends)."""
        return all(self._fds.get(run_id) is not None for run_id in run_ids)

    def running(self, run_id: str) -> bool:
        """Whether the run's supervisor is watched and has not exited (its pidfd not readable yet)."""
        fd = self._fds.get(run_id)
        if fd is None:
            return False
        import select

        return not select.select([fd], [], [], 0)[0]

    def wait(self, run_ids: list[str], seconds: float, logs: LogWatch | None = None, gap: float = 0.0) -> None:
        """Sleep up to `seconds`, less if a watched supervisor of these runs ends; with `logs`, less once one of
        the logs it watches has been written to, but not before `gap` (a log written line by line is read a gap
        apart, one wake-up each; a quiet one is not read)."""
        if logs is not None and gap > 0:  # (a supervisor that ended in the gap: its run is read now)
            seconds = 0 if self._poll(run_ids, gap) else max(0, seconds - gap)
        self._poll(run_ids, seconds, logs)
        if logs is not None:
            logs.drain()  # what was written so far is read next; a write after this wakes the next wait

    def _poll(self, run_ids: list[str], seconds: float, logs: LogWatch | None = None) -> bool:
        """Sleep up to `seconds`, less if a watched supervisor ends or a watched log is written to; whether a
        supervisor ended."""
        import select

        fds = {fd: run_id for run_id in run_ids if (fd := self._fds.get(run_id)) is not None}
        if not fds:
            time.sleep(seconds)
            return False
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        if logs is not None:
            poller.register(logs.fd, select.POLLIN)
        ended = False
        for fd, _ in poller.poll(seconds * 1000):
            if fd in fds:
                os.close(fd)
                self._fds[fds[fd]] = None  # once: the run is read next, and has ended
                ended = True
        return ended

    def close(self) -> None:
        for fd in self._fds.values():
            if fd is not None:
                os.close(fd)
        self._fds.clear()


class LogWatch:
    """Writes to run logs as inotify events (Linux), so that a follow of a quiet run sleeps until a line comes
    rather than reading its log at every poll. `open` gives None where inotify cannot be had (another system, the
    user's limit of inotify instances): a follow then polls as before."""

    MODIFIED = 0x2  # IN_MODIFY

    def __init__(self, fd: int, add: Any) -> None:
        self.fd = fd
        self._add = add
        self._watched: set[Path] = set()

    @classmethod
    def open(cls) -> LogWatch | None:
        try:
            import ctypes  # (~5 ms, once a follow first waits: never on a command's way)

            libc = ctypes.CDLL(None, use_errno=True)
            init, add = libc.inotify_init1, libc.inotify_add_watch
        except (ImportError, OSError, AttributeError):
            return None
        add.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
        fd = init(os.O_NONBLOCK | os.O_CLOEXEC)
        return cls(fd, add) if fd >= 0 else None

    def watch(self, path: Path) -> bool:
        """Whether writes to `path` wake a wait (False: it does not exist yet, or no watch could be added)."""
        if path not in self._watched:
            if self._add(self.fd, os.fsencode(path), self.MODIFIED) < 0:
                return False
            self._watched.add(path)
        return True

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.fd, 65536):
                pass

    def close(self) -> None:
        os.close(self.fd)


def run_marker(run_id: str) -> bytes:
    return f"\0{RUN_ID_VARIABLE}={run_id}\0".encode()


def run_processes(run_id: str) -> list[int]:
    """Every process of this user whose environment carries JOBCTL_RUN_ID=run_id.

    That finds a run's workload and its descendants even where they left its process group; it misses
    only processes that were started with a scrubbed environment.
    """
    return marked_processes(run_marker(run_id))


def kill_run_processes(run_id: str) -> int:
    """SIGKILL every process of the run that can still be found; how many were signalled."""
    return kill_marked(run_marker(run_id))


def children() -> set[int] | None:
    """This process's children, zombies included; None where /proc cannot tell (not Linux, a kernel without
    /proc/PID/task/TID/children). Every thread's: the kernel gives an orphan to any live thread of its
    subreaper."""
    pid = str(os.getpid())
    tasks = PROC / pid / "task"
    try:
        found = _read_children(tasks / pid)
        others = [task for task in os.listdir(tasks) if task != pid]
    except (OSError, ValueError):
        return None
    for task in others:
        with contextlib.suppress(OSError, ValueError):  # a thread that ended meanwhile
            found |= _read_children(tasks / task)
    return found


def _read_children(task: Path) -> set[int]:
    return {int(child) for child in (task / "children").read_text().split()}


def end_children(spare: set[int], within: float = 5.0) -> set[int] | None:
    """SIGKILL every child of this process but `spare`, each with its process group (never this process's
    own), and collect it, until none is left or `within` seconds have passed; the children signalled, None
    where they cannot be listed. What a child subreaper holds once its workload has ended is what is left of
    that workload, whatever its environment says: a dying child's own children become this process's and
    are found by the next round, so a whole tree goes, sessions of its own included."""
    own_group = os.getpgrp()
    signalled: set[int] = set()
    beyond: set[int] = set()  # children this process may not signal
    deadline = time.monotonic() + within
    while (found := children()) is not None:
        left = found - spare - beyond
        if not left or time.monotonic() > deadline:
            return signalled
        for child in left:
            with contextlib.suppress(OSError):  # a zombie already, or gone
                group = os.getpgid(child)
                if group != own_group and group not in spare:
                    os.killpg(group, signal.SIGKILL)
            try:
                os.kill(child, signal.SIGKILL)
            except PermissionError:  # another user's (sudo): not to be waited for
                beyond.add(child)
            except OSError:
                pass
        signalled |= left
        dying = [child for child in left if not _collected(child)]  # each collected, not only up to the first
        if dying:
            time.sleep(0.005)
    return None


def _collected(child: int) -> bool:
    try:
        return os.waitpid(child, os.WNOHANG)[0] == child
    except ChildProcessError:  # not this process's child (any more)
        return True


def retitle(title: str) -> bool:
    """Overwrite this process's command line, what `ps` shows and every user may read (/proc/PID/cmdline), with
    `title` (cut to the room the command line had): a fork of the command keeps the command's, which may hold
    a secret given on it, for as long as its run goes on; a fork of an interpreter launcher keeps the
    launcher's, `python -m jobctl.backends.local.launcher FD`, which does not say which run it supervises.
    The memory between the kernel's arg_start and arg_end (/proc/self/stat, fields 48 and 49) is written
    through /proc/self/mem. False where that cannot be done (not Linux, a kernel that refuses)."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
        start, end = int(fields[45]), int(fields[46])  # fields[0] is field 3, the state
        if end <= start:
            return False
        text = title.encode()[:end - start - 1]
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            mem.write(text + b"\0" * (end - start - len(text)))
        with open("/proc/self/cmdline", "rb") as cmdline:
            return cmdline.read().rstrip(b"\0") == text
    except (OSError, ValueError, IndexError):
        return False
