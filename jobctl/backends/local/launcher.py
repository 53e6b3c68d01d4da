"""The fork server that starts local runs' supervisors: `python -m jobctl.backends.local.launcher FD`.

A command that starts runs starts one launcher (`spawn.Spawner`) and talks to it over a socket pair
(FD is its end). The launcher has imported what a supervisor needs and has never opened the
database, so each supervisor is a fork of it (a millisecond) instead of a new interpreter that
imports jobctl (tens of milliseconds of CPU per run). A request is the run's home, id and busy
timeout, with two descriptors passed along (SCM_RIGHTS): the run's lock, which the command took
when it recorded the run, and the run's supervisor.log. The fork detaches (a session of its own),
sends its pid back over the same socket, and runs the supervisor's `main` holding the inherited
lock: from the command's record of the run to the supervisor's end the lock is always held.

The forked supervisor, not the launcher, answers, so the command can tell "a supervisor exists" (a
pid came back) from "none was forked" (end of file without a pid: the launcher is gone, and no
process of it holds the socket any more), and start one itself in the second case without ever
starting two. The launcher exits at end of file: when the command closes the socket or dies.
See docs/decisions/0017-supervisor-launcher.md.

For a command's only run the launcher is a fork of the command (`forked`), made while the command has
one thread and no database connection open: docs/decisions/0018-forked-launcher.md. Serving one request
only, it becomes that run's supervisor itself rather than fork one (`_become`): one fork fewer on the way
to the workload. It answers with its own pid, which the command knows as its launcher's.
"""

from __future__ import annotations

import _socket  # not `socket`, whose enums cost ~4 ms of the start-up a single run waits for
import contextlib
import fcntl
import gc
import json
import os
import select
import signal
import sys
from typing import Any, NoReturn

from jobctl.backends.local import procs, supervisor

# Imported by a launcher while it waits rather than by each supervisor as its run starts (the subreaper's prctl).
PRELOADED = ("ctypes",)

REQUEST_BYTES = 65536
DESCRIPTORS = 2  # the run's lock, its supervisor.log


def serve(channel: _socket.socket) -> None:
    """Fork a supervisor per request until the command closes its end of the socket."""
    while True:
        try:
            request, fds = _receive(channel)
        except OSError:
            return
        if not request:
            for fd in fds:
                os.close(fd)
            return
        try:
            _fork(channel, json.loads(request), fds)
        finally:
            for fd in fds:  # the supervisor has its own copies: the lock is its from here on
                os.close(fd)


def _receive(channel: _socket.socket) -> tuple[bytes, list[int]]:
    """A request and the descriptors sent with it (at most DESCRIPTORS): socket.recv_fds, without `socket`."""
    width = 4  # a C int
    request, ancillary, _, _ = channel.recvmsg(REQUEST_BYTES, _socket.CMSG_LEN(DESCRIPTORS * width))
    fds: list[int] = []
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds += [int.from_bytes(data[at:at + width], sys.byteorder, signed=True)
                    for at in range(0, len(data) - len(data) % width, width)]
    return request, fds


def _preload_while_waiting(channel: _socket.socket) -> None:
    """Import PRELOADED unless a request is waiting already (then the run needs them later, or never)."""
    with contextlib.suppress(OSError, ValueError):
        if select.select([channel], [], [], 0)[0]:
            return
    for name in PRELOADED:
        __import__(name)


def _fork(channel: _socket.socket, request: dict[str, Any], fds: list[int]) -> None:
    run_id = request.get("run_id")
    if len(fds) != DESCRIPTORS:
        _answer(channel, {"run_id": run_id, "error": f"expected {DESCRIPTORS} descriptors, got {len(fds)}"})
        return
    said, says = os.pipe()  # the fork writes a byte once it has answered: a fork that died before says nothing
    # Started with SIGTERM blocked, as by the command before: a cancel during start-up is not fatal.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    answered, problem = b"", "the supervisor ended before it started"
    try:
        pid = os.fork()
    except OSError as exc:
        pid, problem = -1, f"could not fork a supervisor: {exc}"
    if pid == 0:  # pragma: no cover - the supervisor (its effect is tested)
        os.close(said)
        _supervise(channel, request, lock=fds[0], log=fds[1], says=says)
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    os.close(says)
    if pid > 0:
        with contextlib.suppress(OSError):
            answered = os.read(said, 1)
    os.close(said)
    if pid < 0 or not answered:
        _answer(channel, {"run_id": run_id, "error": problem})


def _supervise(channel: _socket.socket, request: dict[str, Any], *, lock: int, log: int,
               says: int | None) -> NoReturn:
    """In the fork (or the forked launcher, `_become`): detach, say its pid, run the supervisor with the run's
    lock; never return. What fails before it has said its pid makes the launcher say so instead (the command
    then starts a supervisor itself: `says`, the launcher's pipe, hears nothing; for `_become`, the command reads
    the socket's end); what fails after is said in supervisor.log, and the run is found lost."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the supervisor waits for its own children
        if os.getsid(0) != os.getpid():  # (the forked launcher leads its session already)
            os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        # A command that died meanwhile reads no answer; its run is this process's to supervise all the same.
        _answer(channel, {"run_id": request["run_id"], "pid": os.getpid()})
        if says is not None:
            with contextlib.suppress(OSError):  # a launcher killed meanwhile: nobody to tell
                os.write(says, b"1")
            os.close(says)
        channel.close()
        supervisor.main([request["home"], request["run_id"], str(request["busy_timeout"])])
        code = 0
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # said in supervisor.log, as an uncaught error of `python -m` was
        with contextlib.suppress(Exception):
            import traceback

            traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _answer(channel: _socket.socket, answer: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        channel.send(json.dumps(answer).encode())


def forked(channel: int) -> NoReturn:
    """In a fork of the command: leave its session (its terminal's Ctrl-C), its signal handlers and every
    descriptor of its but the socket (its stdout, which a `$(jobctl run)` reads to the end), then become the
    supervisor of the run the command asks for."""
    if not procs.retitle(f"{procs.TITLE} launcher"):
        os._exit(0)  # its command line may hold a secret (`--env TOKEN=...`): the command starts an interpreter
    os.setsid()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    if channel < 3:  # the command started without a stdin: keep the socket clear of what becomes /dev/null
        channel = fcntl.fcntl(channel, fcntl.F_DUPFD, 3)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, channel)
    os.closerange(channel + 1, supervisor.max_fd())
    streams = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
    for stream in filter(None, streams):  # what the command had not written yet is its own: gone, not in a log
        with contextlib.suppress(Exception):
            stream.flush()
    _become(_socket.socket(fileno=channel))


def _become(channel: _socket.socket) -> NoReturn:
    """The forked launcher of a command's only run: that run's supervisor, once the request comes (no fork of
    it: the command asks once, then closes the socket). Without a request (the command gave up, or died), exit."""
    _preload_while_waiting(channel)
    try:
        request, fds = _receive(channel)
    except OSError:
        os._exit(0)
    if not request or len(fds) != DESCRIPTORS:
        if request:
            _answer(channel, {"run_id": json.loads(request).get("run_id"),
                              "error": f"expected {DESCRIPTORS} descriptors, got {len(fds)}"})
        os._exit(0)
    # As a fork of the launcher would: SIGTERM blocked until the supervisor's handler is in place.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    gc.freeze()  # the imported modules: never scanned by the supervisor's collections
    _supervise(channel, json.loads(request), lock=fds[0], log=fds[1], says=None)


def main(argv: list[str]) -> None:
    """Serve on the socket argv[0]."""
    channel = _socket.socket(fileno=int(argv[0]))
    # Supervisors that end are collected by the kernel: this process never waits for one.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    _preload_while_waiting(channel)
    gc.freeze()  # what is imported stays shared with every fork, not copied page by page
    serve(channel)
    os._exit(0)  # at once: the command may be waiting for this exit to end its own


if __name__ == "__main__":
    procs.retitle(f"{procs.TITLE} launcher")  # as a forked launcher is shown; where it cannot be, `python -m ...`
    main(sys.argv[1:])
