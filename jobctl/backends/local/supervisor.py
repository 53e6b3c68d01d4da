"""The detached process that owns one local run: `main([HOME, RUN_ID, BUSY_TIMEOUT])` in a fork of the
command's launcher (launcher.py), or `python -m jobctl.backends.local.supervisor HOME RUN_ID BUSY_TIMEOUT`
when there is no launcher (spawn.py).

It holds the run's lock for its whole life (inherited from the command that recorded the run, so there
is no moment when a live run looks abandoned), unpacks the artifact, starts the workload in its own process group,
timestamps every output line into the run log, enforces the maximum runtime, honours cancellation,
and records how the run ended: first in the run's result file, then in the database.

Every state change it makes is conditional on the state it expects, and a run found CANCELING or
already ended is stopped. The workload cannot outlive it: a watchdog process, started before the workload,
kills the workload's whole group (and whatever carries the run's marker) if the supervisor dies, even by
SIGKILL (docs/decisions/0006-local-run-lifetime.md).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from jobctl.artifact import run_environment
from jobctl.backends.local import logfile, outcome, procs, watchdog
from jobctl.backends.local.procs import RUN_ID_VARIABLE, kill_run_processes
from jobctl.backends.local.store import Store, run_dir
from jobctl.errors import JobctlError
from jobctl.model import nodes as nodes_model
from jobctl.model.job import (
    ACCEPTED,
    CANCELED,
    CANCELING,
    FAILED,
    IN_PROGRESS,
    SUCCEEDED,
    TERMINAL_STATES,
    JobDefinition,
)
from jobctl.model.nodes import IN_ORDER
from jobctl.paths import copy_file, on_path
from jobctl.secrets import secret_bytes

if TYPE_CHECKING:
    from jobctl.backends.local.probe import StartupProbe

# Imported when a run needs them, not by every supervisor (one starts per run): zip handling, storage
# mounts, startup probes, ctypes.

PASS_THROUGH_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT",
                    "JAVA_HOME")  # Spark (a Data Flow application's run) finds Java by it, else on PATH
KILL_GRACE_SECONDS = 10.0
CANCEL_POLL_SECONDS = 0.5
PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
T = TypeVar("T")


class LaunchError(Exception):
    """The workload could not be started; the message becomes the run's details."""


def _time_scale() -> float:
    """Seconds per 'minute' of maxRuntimeInMinutes; tests shrink it via JOBCTL_LOCAL_TIME_SCALE."""
    return 60.0 * float(os.environ.get("JOBCTL_LOCAL_TIME_SCALE", "1"))


def unpack(artifact: Path, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    if artifact.suffix != ".zip":
        copy_file(artifact, work / artifact.name)
        return
    import zipfile

    from jobctl.artifact import extract_zip
    from jobctl.source import ArtifactError

    try:
        extract_zip(artifact, work)
    except ArtifactError as exc:
        raise LaunchError(exc.message) from exc
    except zipfile.BadZipFile as exc:
        raise LaunchError(str(exc)) from exc


def _zip_root(artifact: Path, holds: str | None) -> str | None:
    import zipfile

    from jobctl.artifact import zip_root

    try:
        return zip_root(artifact, holds)
    except zipfile.BadZipFile as exc:
        raise LaunchError(str(exc)) from exc


def command_for(definition: JobDefinition, args: list[str], env: dict[str, str],
                python: str | None = None) -> list[str]:
    """The workload's command: JOB_RUN_ENTRYPOINT (artifact.run_environment) is run from the directory the
    artifact is unpacked in, as on OCI."""
    runtime = definition.runtime_type
    entrypoint = env.get("JOB_RUN_ENTRYPOINT") or definition.entry_file or ""
    if runtime in ("python", "notebook"):  # a notebook runs through jobctl's driver, a python script
        # the interpreter chosen when the run started (LocalSettings.python); a run recorded before that: ours
        return [python or sys.executable, "-u", entrypoint, *args]
    if runtime == "shell":
        shell = on_path(os.environ, "bash") or on_path(os.environ, "sh")
        if shell is None:
            raise LaunchError("no bash or sh on PATH to run a shell job")
        return [shell, entrypoint, *args]
    engine = on_path(os.environ, "docker") or on_path(os.environ, "podman")
    if engine is None:
        raise LaunchError("container runtime needs docker or podman on PATH; neither was found")
    container_entry = list(definition.container_entrypoint)
    cmd = list(definition.cmd)
    command = [engine, "run", "--rm", "--init"]
    for key in env:
        command += ["-e", key]  # values come from the environment, never the command line
    if container_entry:
        command += ["--entrypoint", container_entry[0]]
    image = str(definition.image)
    digest = definition.image_digest
    if digest:
        image = f"{image.split('@', maxsplit=1)[0]}@{digest}"
    return [*command, image, *container_entry[1:], *cmd, *args]


class Supervisor:
    def __init__(self, home: Path, run_id: str, busy_timeout: float) -> None:
        self.store = Store(home, busy_timeout, made=True)  # by the command that recorded the run
        self.run_id = run_id
        self.dir = run_dir(home, run_id)
        self.log_path = self.dir / "log"
        self.cancel_requested = False
        self.timed_out = False
        self.probe_failed: str | None = None
        self.log_error: str | None = None
        self.launch_failed: str | None = None
        self.failed_group: tuple[str, int] | None = None
        self.started = False
        self.result_fd: int | None = None
        self.reaps_orphans = False
        self.watchdog_pids: set[int] = set()
        rows = self.store.query(
            "SELECT runs.*, jobs.definition, jobs.artifact_path FROM runs LEFT JOIN jobs ON jobs.id = runs.job_id "
            "WHERE runs.id = ?", (run_id,),  # a Data Flow application's run has no job: its settings say what runs
        )
        if not rows:
            raise SystemExit(f"run {run_id} not found")
        self.row = rows[0]

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.cancel_requested = True

    def _environment(self, definition: JobDefinition) -> dict[str, str]:
        env = {k: os.environ[k] for k in PASS_THROUGH_ENV if k in os.environ}
        env.update(json.loads(self.row["env"]))
        if definition.storage_mounts:
            from jobctl.backends.local.mounts import mount_environment

            env.update(mount_environment(self.store.home, definition.storage_mounts))
        outputs = self.dir / "outputs"
        outputs.mkdir(exist_ok=True)
        env.update({
            RUN_ID_VARIABLE: self.run_id, "JOBCTL_JOB_ID": self.row["job_id"],
            "JOBCTL_JOB_NAME": self.row["job_name"], "JOBCTL_RUN_NAME": self.row["name"],
            "JOBCTL_OUTPUT_DIR": str(outputs),
            "JOBCTL_LOCAL_OBJECT_STORE": str(self.store.home / "object-storage"),  # outputUri, locally
            # the names OCI sets inside a job run, so code reading them works in both places
            "JOB_RUN_OCID": self.run_id, "JOB_OCID": self.row["job_id"],
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        # SIGHUP caught and dropped rather than ignored: an ignored signal stays ignored across exec, and every
        # workload started with SIGHUP ignored (red team, session 13); a caught one is the default again there
        signal.signal(signal.SIGHUP, _dropped)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # blocked by the launcher until now
        self.reaps_orphans = _become_subreaper()
        settings = json.loads(self.row["settings"] or "{}")
        self.launch: dict[str, Any] | None = settings.get("launch")  # a Spark application's run: its process
        if self.launch is not None:
            definition = JobDefinition(name=self.row["job_name"], shape="local", runtime_type="spark",
                                       max_runtime_in_minutes=settings.get("maxRuntimeInMinutes"))
        else:
            definition = Store.run_definition(self.row["definition"], self.row["settings"])
        try:
            # everything that needs new disk space is done before the workload starts
            self.result_fd = outcome.reserve(self.dir)
            log = self.log_path.open("ab", buffering=0)
            nodes = self._nodes(definition)
            if self.cancel_requested or self._should_stop():
                self._finish(CANCELED, None, "canceled before it started")
                return
        except (LaunchError, OSError) as exc:
            self._finish(FAILED, None, f"could not start: {exc}")
            return
        minutes = definition.max_runtime_in_minutes
        with log, contextlib.ExitStack() as watchdogs:
            deadline = time.monotonic() + minutes * _time_scale() if minutes else None
            in_order = definition.node_startup_order == IN_ORDER
            self._pump(nodes, in_order, deadline, log, watchdogs)
        self._record_end(nodes, minutes)
        reap(self.watchdog_pids)

    def _nodes(self, definition: JobDefinition) -> list[Node]:
        """The processes of the run, not yet started: one, or one per replica of each node group, each
        with its own copy of the artifact (on OCI each node is its own machine)."""
        env = self._environment(definition)
        if self.launch is not None:  # jobctl.backends.local.spark made it when the run was started
            work = Path(self.launch["cwd"])
            work.mkdir(parents=True, exist_ok=True)
            return [Node(None, None, list(self.launch["argv"]), work, {**env, **self.launch["env"]},
                         probe_details={})]
        run_args = json.loads(self.row["args"])
        work = self.dir / "work"
        artifact = self.row["artifact_path"]
        root = None
        if artifact and artifact.endswith(".zip"):
            from jobctl.artifact import DRIVER

            root = _zip_root(Path(artifact), DRIVER if definition.driven else definition.entry_file)
        env.update(run_environment(definition, root))  # as on OCI: the entry file (or driver) to run
        env.pop("JOBCTL_GIT_SECRET_ID", None)  # locally git clones with your own credentials
        if not definition.node_groups:
            self._unpack(work)
            return [Node(None, None, command_for(definition, run_args, env, self.row["python"]), work, env,
                         probe_details=definition.startup_probe)]
        groups = definition.node_group_runs()
        size = nodes_model.replica_count(definition.node_groups)
        if size > procs.MAX_LOCAL_NODES:  # refused by start_run already; a settings column edited since is not
            raise LaunchError(f"{size} nodes is more than the {procs.MAX_LOCAL_NODES} one run has here")
        metadata = self.dir / "nodes.json"  # complete from the start here; on OCI it fills in as nodes come up
        metadata.write_text(json.dumps([{"Rank": str(rank), "IPAddress": "127.0.0.1"} for rank in range(size)]))
        nodes, rank, run_env = [], 0, json.loads(self.row["env"])
        for group in groups:
            group_env, group_args = nodes_model.for_run(group, definition.args, run_env, run_args)
            for replica in range(group["replicas"]):
                node_env = {**env, **group_env, nodes_model.GROUP_VARIABLE: group["name"], "FQDN": "localhost",
                            nodes_model.RANK_VARIABLE: str(rank), nodes_model.SIZE_VARIABLE: str(size),
                            nodes_model.METADATA_VARIABLE: str(metadata)}
                node_work = work / f"{group['name']}-{replica}"
                self._unpack(node_work)
                command = command_for(definition, group_args, node_env, self.row["python"])
                nodes.append(Node(f"{group['name']}-{replica}", group["name"], command, node_work, node_env,
                                  probe_details=definition.startup_probe, minimum=group["minimumSuccessReplicas"]))
                rank += 1
        return nodes

    def _unpack(self, work: Path) -> None:
        if self.row["artifact_path"]:
            unpack(Path(self.row["artifact_path"]), work)
        else:
            work.mkdir(parents=True, exist_ok=True)

    def _database(self, action: Callable[[], T]) -> T | None:
        """A database step that must not kill the run: on a lasting lock or a full disk, say so and go on."""
        try:
            return action()
        except JobctlError as exc:
            _note(exc.message)
            return None

    def _should_stop(self) -> bool:
        """True once the run is CANCELING, or already ended (recorded by someone else)."""
        rows = self._database(lambda: self.store.query("SELECT state FROM runs WHERE id = ?", (self.run_id,)))
        if rows is None:
            return False  # unknown: keep running
        return not rows or rows[0]["state"] == CANCELING or rows[0]["state"] in TERMINAL_STATES

    def _write_log(self, log: BinaryIO, data: bytes) -> None:
        """Log output; a failing log (disk full) loses output, never the run or its result."""
        if not data or self.log_error:
            return
        try:
            written = log.write(data)
            if written is not None and written < len(data):  # a short write: the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            self.log_error = f"the log is incomplete: writing it failed ({exc.strerror or exc})"
            _note(self.log_error)

    def _start(self, node: Node, watchdogs: contextlib.ExitStack) -> None:
        """Start the node's process, its watchdog first: no moment when the workload runs unguarded. Without a
        preexec_fn (what a parent-death signal needed) Python starts it by vfork, not a copy of this process."""
        what = f"could not start{' node ' + node.label if node.label else ''}"
        try:
            guard = watchdogs.enter_context(Watchdog(self.run_id))
        except OSError as exc:  # nothing would kill the workload if this process died: it does not start
            self.launch_failed = f"{what}: no watchdog: {exc}"
            return
        self.watchdog_pids.add(guard.pid)
        try:
            node.child = subprocess.Popen(
                node.command, cwd=node.cwd, env=node.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True,
            )
        except OSError as exc:
            self.launch_failed = f"{what}: {exc}"
            return
        guard.guard(node.child.pid)
        node.started = time.monotonic()
        if node.probe_details:
            from jobctl.backends.local.probe import StartupProbe

            node.probe = StartupProbe(node.probe_details, cwd=node.cwd, env=node.env, started=node.started,
                                      seconds=_time_scale() / 60)

    def _pump(self, nodes: list[Node], in_order: bool, deadline: float | None, log: BinaryIO,
              watchdogs: contextlib.ExitStack) -> None:
        """Start the nodes (a group once the one before it is up, when `in_order`), copy their output
        into the log until every one has ended; stop them all when canceled, overdue, a startup probe
        gave up or a node group can no longer succeed."""
        selector = selectors.DefaultSelector()
        waiting = list(nodes)
        kill_at: float | None = None
        next_cancel_check = time.monotonic() + CANCEL_POLL_SECONDS
        while True:
            if waiting and kill_at is None and _ready_for(waiting[0], nodes, in_order):
                self._start_group(waiting, selector, watchdogs)
            running = [n for n in nodes if n.child is not None and not n.drained]
            if not running and (not waiting or kill_at is not None or self.launch_failed):
                break
            for key, _ in selector.select(timeout=0.2):
                self._read(key, selector, log)
            now = time.monotonic()
            for node in running:
                self._settle(node, nodes, selector, log, now)
            if now >= next_cancel_check:
                next_cancel_check = now + CANCEL_POLL_SECONDS
                self.cancel_requested = self.cancel_requested or self._should_stop()
            overdue = deadline is not None and now >= deadline
            if kill_at is None:
                for node in nodes:
                    if node.probe is not None and node.drain_until is None:
                        self.probe_failed = self.probe_failed or node.probe.poll(now)
            if kill_at is None and (self.cancel_requested or overdue or self.probe_failed or self.failed_group
                                    or self.launch_failed):
                self.timed_out = overdue and not self.cancel_requested
                _signal_nodes(running, signal.SIGTERM)
                kill_at = now + float(os.environ.get("JOBCTL_KILL_GRACE", KILL_GRACE_SECONDS))
            elif kill_at is not None and now >= kill_at:
                _signal_nodes(running, signal.SIGKILL)
                kill_at = float("inf")
        for node in nodes:
            if node.child is not None:
                node.child.wait()
            if node.probe is not None:
                node.probe.stop()
        _signal_nodes(nodes, signal.SIGKILL)  # leftovers of the workload's groups, if any
        self._end_leftovers()

    def _end_leftovers(self) -> None:
        """Kill what is left of the ended workload: on OCI nothing outlives a run's machine either. As a
        subreaper this supervisor inherits every orphaned descendant of the workload, so every child but
        its watchdogs is one, whatever its environment says (a daemon that unset or changed its
        JOBCTL_RUN_ID): those are killed with their groups and collected. Then every process carrying the
        run's marker, in this tree or not. With no child left but the watchdogs nothing of the run is left,
        and that scan of every process's environment (milliseconds, once per run) is skipped."""
        if self.reaps_orphans and procs.end_children(self.watchdog_pids) == set():
            return
        kill_run_processes(self.run_id)

    def _start_group(self, waiting: list[Node], selector: selectors.BaseSelector,
                     watchdogs: contextlib.ExitStack) -> None:
        """Start the nodes of the next group (all of them, or until one cannot start)."""
        group = waiting[0].group
        while waiting and waiting[0].group == group:
            node = waiting.pop(0)
            self._start(node, watchdogs)
            if node.child is None:
                return
            assert node.child.stdout is not None
            assert node.child.stderr is not None
            selector.register(node.child.stdout, selectors.EVENT_READ, (node, "stdout", bytearray()))
            selector.register(node.child.stderr, selectors.EVENT_READ, (node, "stderr", bytearray()))
            _wake_on_exit(node, selector)
            if not self.started and self._database(lambda: self.store.transition(
                    self.run_id, (ACCEPTED,), state=IN_PROGRESS, started=time.time())) is False:
                self.cancel_requested = True  # canceled or ended by someone else meanwhile: stop the workload
            if not self.started and self.result_fd is not None:
                try:
                    outcome.settle(self.result_fd)
                except OSError as exc:  # `record` writes in place and fsyncs again
                    _note(f"could not sync {outcome.NAME}: {exc}")
            self.started = True

    def _read(self, key: selectors.SelectorKey, selector: selectors.BaseSelector, log: BinaryIO) -> None:
        node, stream, pending = key.data
        if stream == EXITED:  # only a wake-up: _settle collects the process
            _forget(key, selector)
            return
        chunk = os.read(key.fd, 65536)
        if chunk:
            pending.extend(chunk)
            self._write_log(log, self._complete_lines(stream, pending, node.prefix, node.secrets))
            return
        selector.unregister(key.fileobj)
        if pending:
            self._write_log(log, logfile.encode(time.time(), stream, node.prefix + bytes(pending)))

    def _settle(self, node: Node, nodes: list[Node], selector: selectors.BaseSelector, log: BinaryIO,
                now: float) -> None:
        """Once a node's process has ended, read what is left of its output (at most 2 s: background
        processes may hold its pipes open), then mark it drained."""
        assert node.child is not None
        if node.drain_until is None and node.child.poll() is not None:
            node.drain_until = now + 2.0
            self.failed_group = self.failed_group or _hopeless_group(nodes)
        keys = [key for key in selector.get_map().values() if key.data[0] is node]
        streams = [key for key in keys if key.data[1] != EXITED]
        if node.drain_until is None or (streams and now < node.drain_until):
            return
        _signal_group(node.child.pid, signal.SIGKILL)
        for key in keys:
            _, stream, pending = key.data
            if pending:
                self._write_log(log, logfile.encode(time.time(), stream, node.prefix + bytes(pending)))
            _forget(key, selector)
        node.drained = True

    @staticmethod
    def _complete_lines(stream: str, pending: bytearray, prefix: bytes = b"", secrets: tuple[bytes, ...] = ()) -> bytes:
        """The log lines of the complete lines in `pending` (taken from it), and the pieces of a line over
        logfile.MAX_LINE, split where no secret value is cut (once the bytes around the cut are here)."""
        out = bytearray()
        now = time.time()
        around = 2 * (len(secrets[0]) if secrets else 0)  # what split_point must see beyond the cut
        while True:
            index = pending.find(b"\n")
            length = index if index >= 0 else len(pending)
            # a line over the limit, complete or with enough of it here: a piece (one of exactly the limit is whole)
            if length > logfile.MAX_LINE and (index >= 0 or length > logfile.MAX_LINE + around):
                cut = logfile.split_point(pending[:length], logfile.MAX_LINE, secrets)
                if cut < length:  # (a secret that ends the line may leave nothing to cut off: the line is whole)
                    out += logfile.encode(now, stream, prefix + bytes(pending[:cut]))
                    del pending[:cut]
                    continue
            if index < 0:
                return bytes(out)
            line = bytes(pending[:index]).rstrip(b"\r")
            del pending[: index + 1]
            out += logfile.encode(now, stream, prefix + line)

    def _record_end(self, nodes: list[Node], minutes: int | None) -> None:
        code = nodes[0].code
        failed_group = self.failed_group or _hopeless_group(nodes)
        if self.cancel_requested:
            state, details = CANCELED, "canceled"
        elif self.launch_failed:
            state, details = FAILED, self.launch_failed
        elif self.timed_out:
            limit = "maxDurationInMinutes" if self.launch is not None else "maxRuntimeInMinutes"
            state, details = FAILED, f"exceeded {limit} ({minutes})"
        elif self.probe_failed:
            state, details = FAILED, self.probe_failed
        elif failed_group:
            state, (details, code) = FAILED, failed_group
        elif nodes[0].label is not None or code == 0:  # every node group has its minimum of successes
            state, details, code = SUCCEEDED, None, 0
        elif code is not None and code < 0:
            state, details = FAILED, f"killed by signal {-code}"
        else:
            what = "The Spark application" if self.launch is not None else "Job run"
            state, details = FAILED, f"{what} failed with exit code {code}"
        if self.log_error:
            details = f"{details}; {self.log_error}" if details else self.log_error
        self._finish(state, code, details)

    def _finish(self, state: str, exit_code: int | None, details: str | None) -> None:
        """The result file first (durable, needs no new space), then the database, which may refuse."""
        result = outcome.Outcome(state, exit_code, details, time.time())
        if getattr(self, "launch", None) is not None:  # a Spark run's properties hold its secrets: read, gone
            for name in ("spark.properties", "hivevars.sql"):
                (self.dir / name).unlink(missing_ok=True)
        if self.result_fd is not None:
            try:
                outcome.record(self.result_fd, result)
            except OSError as exc:
                _note(f"could not write {outcome.NAME}: {exc}")
        self._database(lambda: self.store.finish_run(self.run_id, state, exit_code, details, result.finished))


class Node:
    """One process of a run: a single-node job's workload (no label), or one replica of a node group,
    whose log lines start with `[label] `. A plain class, not a dataclass: the launcher imports this module
    before it can serve the command that forked it (issue 18); and no repr, so none shows its secrets."""

    __slots__ = ("child", "command", "cwd", "drain_until", "drained", "env", "group", "label", "minimum", "probe",
                 "probe_details", "secrets", "started")

    def __init__(self, label: str | None, group: str | None, command: list[str], cwd: Path, env: dict[str, str], *,
                 probe_details: Mapping[str, Any], minimum: int | None = None) -> None:
        self.label = label
        self.group = group
        self.command = command
        self.cwd = cwd
        self.env = env
        self.probe_details = probe_details
        self.minimum = minimum  # of the group's replicas that must succeed (None: all)
        self.child: subprocess.Popen[bytes] | None = None
        self.probe: StartupProbe | None = None
        self.started: float | None = None
        self.drain_until: float | None = None
        self.drained = False
        # the forms of its secret values, never split across two log lines
        self.secrets: tuple[bytes, ...] = secret_bytes(env)

    @property
    def prefix(self) -> bytes:
        return f"[{self.label}] ".encode() if self.label else b""

    @property
    def code(self) -> int | None:
        return None if self.child is None else self.child.returncode


EXITED = "exited"  # the stream of a selector key that is a process's pidfd, not its output


def _wake_on_exit(node: Node, selector: selectors.BaseSelector) -> None:
    """Wake the pump as the node's process ends (a pidfd, Linux 5.3+), not up to a select timeout (0.2 s)
    later: its pipes may close, and be forgotten, just before it has exited. Elsewhere the timeout does."""
    assert node.child is not None
    try:
        exited = os.pidfd_open(node.child.pid)
    except (AttributeError, OSError):
        return
    selector.register(exited, selectors.EVENT_READ, (node, EXITED, bytearray()))


def _forget(key: selectors.SelectorKey, selector: selectors.BaseSelector) -> None:
    selector.unregister(key.fileobj)
    if key.data[1] == EXITED:  # ours to close; a pipe is closed by its Popen
        os.close(key.fd)


def _ready_for(node: Node, nodes: list[Node], in_order: bool) -> bool:
    """Whether `node`'s group may start: at once, or (in order) once every node before it is up: started,
    and past its startup probe (or already ended)."""
    if not in_order:
        return True
    before = nodes[:nodes.index(node)]
    return all(n.child is not None and (n.probe is None or n.probe.passed or n.child.poll() is not None)
               for n in before)


def _hopeless_group(nodes: list[Node]) -> tuple[str, int] | None:
    """Why (and with which exit code) the run fails because a node group can no longer have its minimum
    of successful replicas."""
    by_group: dict[str, list[Node]] = {}
    for node in nodes:
        if node.group is not None:
            by_group.setdefault(node.group, []).append(node)
    for group, members in by_group.items():
        needed = members[0].minimum if members[0].minimum is not None else len(members)
        failed = [n for n in members if n.child is not None and n.child.poll() not in (None, 0)]
        if len(members) - len(failed) < needed:
            code = failed[0].code or 1
            return (f"node group {group}: {len(members) - len(failed)} of {len(members)} replicas can succeed, "
                    f"{needed} must; {failed[0].label} failed with exit code {code}"), code
    return None


class Watchdog:
    """A process that SIGKILLs a workload's process group, and the run's marked processes, if this
    supervisor dies (watchdog.py). Started before the workload, told its group once it runs (`guard`).

    A fork of this (single-threaded) supervisor rather than a new interpreter: it starts in a
    millisecond instead of ~10 ms of CPU per run. It keeps only the pipe's read end open, so the
    write end is this supervisor's alone (and another node's watchdog holds none of this one's).
    Raises OSError if it cannot be started."""

    def __init__(self, run_id: str) -> None:
        read_end, self.write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(self.write_end)
            raise
        if pid == 0:  # pragma: no cover - the watchdog process (its effect is tested)
            try:
                os.setsid()
                os.dup2(read_end, 0)
                os.closerange(3, max_fd())  # the lock, the log, the database, every write end
                watchdog.watch(0, run_id)
            finally:
                os._exit(0)
        os.close(read_end)
        self.pid = pid

    def guard(self, pgid: int) -> None:
        """Name the workload's process group, the one to kill if this supervisor dies."""
        with contextlib.suppress(OSError):  # a watchdog gone already: the run's marker is all there is
            os.write(self.write_end, f"{pgid}\n".encode())

    def __enter__(self) -> Watchdog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """The supervisor ended the workload itself (or never started it): tell the watchdog to stand down.
        It is collected later (`reap`), once the run's end is recorded: its exit is no step on the way to
        that record."""
        with contextlib.suppress(OSError):
            os.write(self.write_end, watchdog.STAND_DOWN)
        os.close(self.write_end)


def _dropped(signum: int, frame: FrameType | None) -> None:
    """A signal this process survives (SIGHUP: a terminal it never had)."""


def reap(pids: set[int]) -> None:
    """Collect the watchdogs that were told to stand down (they exit at once)."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def max_fd() -> int:
    """The highest descriptor number this process may have, plus one."""
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (OSError, ValueError):
        return 1024


def _become_subreaper() -> bool:
    """Linux: orphaned processes of the workload become this process's children (so it can tell whether
    any is left), not init's."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    return bool(ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def _note(message: str) -> None:
    """A line for supervisor.log; on a full disk it is lost, never the supervisor."""
    with contextlib.suppress(OSError):
        print(f"jobctl supervisor: {message}", file=sys.stderr, flush=True)


def _signal_nodes(nodes: list[Node], signum: int) -> None:
    for node in nodes:
        if node.child is not None:
            _signal_group(node.child.pid, signum)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def main(argv: list[str]) -> None:
    home, run_id, busy_timeout = Path(argv[0]).absolute(), argv[1], float(argv[2])
    procs.retitle(f"{procs.TITLE} {run_id}")  # however started; where it cannot be, its line stays as it is
    # not the caller's directory, which it would keep busy (`umount`: target is busy) for the whole run; the
    # workload gets its own (the job's working directory)
    os.chdir(home)
    Supervisor(home, run_id, busy_timeout).run()


if __name__ == "__main__":
    main(sys.argv[1:])
