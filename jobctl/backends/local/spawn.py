"""How a command starts a local run's supervisor: forked by the command's launcher (launcher.py), or,
when there is no working launcher, as a new interpreter (`python -m jobctl.backends.local.supervisor`).
The launcher is a new interpreter, or, for a command's only run, a fork of the command itself, which becomes
that run's supervisor (docs/decisions/0018-forked-launcher.md).

Either way the supervisor inherits the run's lock, which the command took before it recorded the run
and lets go of only once this returns, so the lock is held from the record to the supervisor's end.
"""

from __future__ import annotations

import _socket  # not `socket`, whose enums cost the command a few milliseconds of start-up to build
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from jobctl import log

if TYPE_CHECKING:  # imported where an interpreter is started: a forked launcher, a single run's, needs none
    import subprocess

ANSWER_BYTES = 4096
REAP_SECONDS = 1.0  # how long closing waits for the launcher to exit
LAUNCHER = "jobctl.backends.local.launcher"  # the module a launcher runs


class Spawner:
    """Starts the supervisors of one command's runs.

    A command that starts several runs has one launcher (started by `warm_up`, else by its second
    run), a new interpreter, which forks each supervisor. A command's only run has a launcher only when
    it can be a fork of this process, made by `warm_up` (`unshared` given: the command is its whole
    process, and it has one thread then), which becomes the run's supervisor itself; else it starts its
    supervisor as a new interpreter: a new launcher would start up on that run's path all the same, one
    process more. If the launcher cannot be started or dies, every later run is started that way too:
    slower, with the same guarantees.
    `close` ends the launcher; so does the end of this process, which closes the launcher's socket."""

    def __init__(self, home: Path, busy_timeout: float,
                 unshared: Callable[[], AbstractContextManager[None]] | None = None) -> None:
        self.home = home
        self.busy_timeout = busy_timeout
        self._unshared = unshared  # what keeps the process's database connection closed across a fork
        self._lock = threading.Lock()  # one request at a time: the answer read is the request's
        self._channel: _socket.socket | None = None
        self._launcher: subprocess.Popen[bytes] | int | None = None  # an interpreter, or a fork's pid
        self._became: int | None = None  # the forked launcher that became its run's supervisor: not waited for
        self._asked = False  # whether the launcher was sent a request (one never sent any holds nothing of a run)
        self._unusable = False
        self._wanted = False  # several runs are coming: use a launcher from the first
        self._starts = 0

    def warm_up(self, count: int) -> None:
        """`count` runs are coming: start the launcher now, so that it starts up while the command looks
        the job up and plans them; for a single run, only as a fork of this process."""
        with self._lock:
            self._wanted = count > 1
            if self._wanted:
                self._connected()
            elif self._unshared is not None and _single_threaded() and not self._unusable:
                self._channel = self._forked_launcher()

    def start(self, run_id: str, lock_fd: int, log_fd: int) -> int:
        """Start the run's supervisor with `lock_fd` (held) and `log_fd` (its supervisor.log); its pid."""
        with self._lock:
            self._starts += 1
            channel = self._connected() if self._wanted or self._starts > 1 else self._channel
            self._asked = self._asked or channel is not None
            pid = self._ask(channel, run_id, lock_fd, log_fd) if channel is not None else None
            if not self._wanted and self._starts == 1 and self._channel is not None:
                self._channel.close()  # a launcher forked for the only run serves no other: it supervises it
                self._channel = None
                if pid is not None and pid == self._launcher:
                    self._became, self._launcher = pid, None
        return pid if pid is not None else self._spawn(run_id, lock_fd, log_fd)

    def collect(self) -> None:
        """Collect the launcher forked for the only run once it has exited: the run's supervisor, once the run
        has ended (a wait calls this, so the command holds no exited child while it waits)."""
        with self._lock:
            if self._became is not None and _ended(self._became):
                self._became = None
            if isinstance(self._launcher, int) and self._channel is None and _ended(self._launcher):
                self._launcher = None

    def close(self) -> None:
        """End the launcher (it exits at the end of its socket); supervisors it started go on."""
        with self._lock:
            self._unusable = True
            self._disconnect()

    def _connected(self) -> _socket.socket | None:
        if self._channel is None and not self._unusable:
            if isinstance(self._launcher, int):  # the fork that served a first run has exited: collect it
                _reap(self._launcher, asked=True)
            try:
                ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
            except OSError as exc:
                self._give_up(f"no socket for it: {exc}")
                return None
            import subprocess

            try:
                self._launcher = subprocess.Popen(
                    [sys.executable, "-m", LAUNCHER, str(theirs.fileno())],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    pass_fds=(theirs.fileno(),), start_new_session=True,
                )
            except OSError as exc:
                ours.close()
                self._give_up(f"it could not be started: {exc}")
                return None
            finally:
                theirs.close()
            self._channel = ours  # not inheritable: no other process of this command holds the launcher's peer
        return self._channel

    def _forked_launcher(self) -> _socket.socket | None:
        """The launcher as a fork of this process: a millisecond, where an interpreter takes tens of them to
        import what a supervisor needs. Only with one thread (the other threads would not be in the fork,
        and a lock one of them held, there held forever) and no database connection open."""
        assert self._unshared is not None
        try:
            ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        except OSError as exc:
            log.info("jobctl.local", "the supervisor launcher is not forked (no socket for it: %s)", exc)
            return None
        # No signal of the command's (Ctrl-C) reaches the fork before it has a session of its own.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
        try:
            with self._unshared():
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the launcher (its effect is tested)
                    _be_launcher(theirs.fileno())
        except OSError as exc:
            ours.close()
            log.info("jobctl.local", "the supervisor launcher is not forked (%s)", exc)
            return None
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            theirs.close()
        self._launcher, self._asked = pid, False
        return ours

    def _ask(self, channel: _socket.socket, run_id: str, lock_fd: int, log_fd: int) -> int | None:
        """The pid of the supervisor the launcher forked; None when it forked none (and never will)."""
        try:
            answer = self._exchange(channel, run_id, lock_fd, log_fd)
        except (BrokenPipeError, ConnectionResetError):  # it died before it read the request, or after
            self._give_up("it ended")
            return None
        except OSError as exc:
            self._give_up(f"it could not be reached: {exc}")
            return None
        except BaseException:  # interrupted between request and answer: a late answer must not be read as another's
            self._give_up("a request to it was interrupted")
            raise
        if "pid" in answer:
            return int(answer["pid"])
        log.info("jobctl.local", "run %s: the launcher did not start its supervisor: %s", run_id, answer.get("error"))
        return None

    def _exchange(self, channel: _socket.socket, run_id: str, lock_fd: int, log_fd: int) -> dict[str, Any]:
        """The launcher's answer to the request to start this run's supervisor."""
        request = json.dumps({"home": str(self.home), "run_id": run_id, "busy_timeout": self.busy_timeout})
        descriptors = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in (lock_fd, log_fd))  # C ints
        channel.sendmsg([request.encode()], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, descriptors)])
        while True:
            data = channel.recv(ANSWER_BYTES)
            if not data:  # the launcher is gone, and no fork of it holds the socket: none will answer
                raise ConnectionResetError("the launcher ended")
            answer: dict[str, Any] = json.loads(data)
            if answer.get("run_id") == run_id:  # not an answer about an earlier run that came too late to matter
                return answer

    def _spawn(self, run_id: str, lock_fd: int, log_fd: int) -> int:
        """The supervisor as a new interpreter (how every run started before the launcher)."""
        # It starts with SIGTERM blocked and unblocks it once its handler is installed, so a cancel that
        # arrives while it is still starting up is handled, not fatal.
        import subprocess

        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "jobctl.backends.local.supervisor", str(self.home), run_id,
                 str(self.busy_timeout)],
                stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd,
                start_new_session=True, pass_fds=(lock_fd,), close_fds=True,
            )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return process.pid

    def _give_up(self, why: str) -> None:
        """No launcher from now on: every later supervisor starts as a new interpreter."""
        log.info("jobctl.local", "the supervisor launcher is not used (%s); starting supervisors directly", why)
        self._unusable = True
        self._disconnect()

    def _disconnect(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if isinstance(self._launcher, int):
            _reap(self._launcher, asked=self._asked)
        elif self._launcher is not None:
            import subprocess

            with contextlib.suppress(subprocess.TimeoutExpired):
                self._launcher.wait(timeout=REAP_SECONDS)  # it exits at once at the end of its socket
        self._launcher = None


def _ended(child: int) -> bool:
    """Whether a child of this process has exited (and is collected now), without waiting."""
    try:
        return os.waitpid(child, os.WNOHANG) != (0, 0)
    except ChildProcessError:
        return True


def _single_threaded() -> bool:
    """Whether this process has one thread (Linux: /proc/self/task), the only kind that may fork and run on."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _be_launcher(channel: int) -> NoReturn:  # pragma: no cover - in the fork
    """In the fork of the command: the launcher, and never back in the command's code."""
    try:
        from jobctl.backends.local import launcher

        launcher.forked(channel)
    finally:
        os._exit(1)


def _reap(pid: int, *, asked: bool) -> None:
    """Collect the forked launcher, which exits at once at the end of its socket (give up after a while). One
    that was never asked to start a supervisor holds nothing of a run, and may still be importing what it would
    have needed (it reads its socket only then): killed and collected at once."""
    if not asked:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        return
    deadline = time.monotonic() + REAP_SECONDS
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(pid, os.WNOHANG) == (0, 0) and time.monotonic() < deadline:
            time.sleep(0.001)
