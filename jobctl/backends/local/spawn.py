"""How a command starts a local run's supervisor: forked by the command's launcher (launcher.py), or,
when there is no working launcher, as a new interpreter (`python -m jobctl.backends.local.supervisor`).

Either way the supervisor inherits the run's lock, which the command took before it recorded the run
and lets go of only once this returns, so the lock is held from the record to the supervisor's end.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from jobctl import log

ANSWER_BYTES = 4096
LAUNCHER = "jobctl.backends.local.launcher"  # the module a launcher runs


class Spawner:
    """Starts the supervisors of one command's runs.

    A command that starts several runs has one launcher (started by `warm_up`, else by its second
    run), which forks each supervisor. A command's only run starts its supervisor as a new interpreter:
    a launcher would start up on that run's path all the same, one process more. If the launcher cannot
    be started or dies, every later run is started that way too: slower, with the same guarantees.
    `close` ends the launcher; so does the end of this process, which closes the launcher's socket."""

    def __init__(self, home: Path, busy_timeout: float) -> None:
        self.home = home
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()  # one request at a time: the answer read is the request's
        self._channel: socket.socket | None = None
        self._launcher: subprocess.Popen[bytes] | None = None
        self._unusable = False
        self._wanted = False  # several runs are coming: use a launcher from the first
        self._starts = 0

    def warm_up(self) -> None:
        """Several runs are coming: start the launcher now, so that it starts up while the command looks
        the job up and plans them."""
        with self._lock:
            self._wanted = True
            self._connected()

    def start(self, run_id: str, lock_fd: int, log_fd: int) -> int:
        """Start the run's supervisor with `lock_fd` (held) and `log_fd` (its supervisor.log); its pid."""
        with self._lock:
            self._starts += 1
            channel = self._connected() if self._wanted or self._starts > 1 else None
            pid = self._ask(channel, run_id, lock_fd, log_fd) if channel is not None else None
        return pid if pid is not None else self._spawn(run_id, lock_fd, log_fd)

    def close(self) -> None:
        """End the launcher (it exits at the end of its socket); supervisors it started go on."""
        with self._lock:
            self._unusable = True
            self._disconnect()

    def _connected(self) -> socket.socket | None:
        if self._channel is None and not self._unusable:
            try:
                ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            except OSError as exc:
                self._give_up(f"no socket for it: {exc}")
                return None
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

    def _ask(self, channel: socket.socket, run_id: str, lock_fd: int, log_fd: int) -> int | None:
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

    def _exchange(self, channel: socket.socket, run_id: str, lock_fd: int, log_fd: int) -> dict[str, Any]:
        """The launcher's answer to the request to start this run's supervisor."""
        request = json.dumps({"home": str(self.home), "run_id": run_id, "busy_timeout": self.busy_timeout})
        socket.send_fds(channel, [request.encode()], [lock_fd, log_fd])
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
        if self._launcher is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._launcher.wait(timeout=1.0)  # it exits at once at the end of its socket
            self._launcher = None
