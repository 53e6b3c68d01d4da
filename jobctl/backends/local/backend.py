"""The embedded local backend: jobs in SQLite, runs as real detached processes on this machine."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from jobctl import log
from jobctl.backends import listing
from jobctl.backends.base import Backend
from jobctl.backends.listing import ListsRuns, RunStream
from jobctl.backends.local import logfile
from jobctl.backends.local.store import MARKS, Store, new_id, run_dir, to_time
from jobctl.backends.settings import BUSY_TIMEOUT_SECONDS, DEFAULT_KEEP_WORKDIRS, Settings
from jobctl.errors import ConfigError, ConflictError, Diagnostic, JobctlError, NotFoundError
from jobctl.model.nodes import replica_count
from jobctl.model.state import ACTIVE_STATES, CANCELED, CANCELING, FAILED, IN_PROGRESS, JobState, LogBatch, RunState
from jobctl.paths import copy_file, disk_full, ensure_private_dir, storage_error
from jobctl.secrets import REDACTOR

if TYPE_CHECKING:
    from jobctl.artifact import Artifact
    from jobctl.backends.local import outcome, procs
    from jobctl.backends.local.applications import LocalApplications
    from jobctl.backends.local.spawn import Spawner
    from jobctl.model.job import JobDefinition, LogView
    from jobctl.workflow.state import DirectoryStore

PYTHON_RUNTIMES = ("python", "notebook")  # runtimes whose runs start a python interpreter (a notebook: the driver)
PRUNE_INTERVAL_SECONDS = 1.0
IDS_PER_QUERY = 500  # run ids in one `IN (...)`: well under SQLite's limit on a statement's variables
# A wait whose runs' supervisors are all watched wakes as one ends: between those it reads the runs (a state a
# cancel from elsewhere set, CANCELING) this often
WATCHED_PAUSE = 1.0
EXITS_WATCHED = 16  # a wait on more runs than this polls: waking as each ends would read them all that often
RUNNER_LOST = "runner lost: the local supervisor process ended without recording a result"


class LocalBackend(ListsRuns):
    name = "local"
    runs_here = True
    required_fields: tuple[str, ...] = ()

    def spec_defaults(self) -> dict[str, str]:
        return {}

    def resolve_definition(self, *, definition: JobDefinition, where: Callable[[str], Diagnostic]) -> JobDefinition:
        return definition  # a mount named by IP and export path is a directory named so (README)
    poll_interval = 0.05

    def __init__(self, home: Path, *, keep_workdirs: int = DEFAULT_KEEP_WORKDIRS,
                 busy_timeout: float = BUSY_TIMEOUT_SECONDS, java: str | None = None, python: str | None = None,
                 python_source: str = "jobctl's own interpreter", fork: bool = False) -> None:
        self.home = home
        self.java = java  # what a Data Flow application's run needs (jobctl.backends.local.spark)
        self.python = python or sys.executable  # what a python job's run starts, recorded with the run
        self.python_source = python_source
        self.store = Store(home, busy_timeout)
        self.keep_workdirs = keep_workdirs
        self._secrets_learnt: set[str] = set()  # runs whose nodes' secrets the redactor knows (see logs)
        self._read_at: dict[str, tuple[int, RunState]] = {}  # run id -> (data_version, the run): see read_logs
        self._pruned: dict[str, float] = {}  # job id -> when this process last pruned its work dirs
        self._spawner: Spawner | None = None
        self._fork = fork  # this process may fork itself to start a supervisor (spawn.py)
        self._spawning = threading.Lock()
        self._exits: procs.ExitWatch | None = None
        self._logs: procs.LogWatch | None = None  # the runs' logs' writes (see pause), once tried
        self._logs_tried = False

    # --- jobs -----------------------------------------------------------------------------------
    def list_jobs(self, *, compartment_id: str | None = None, project_id: str | None = None) -> list[JobState]:
        rows = self.store.query(
            "SELECT * FROM jobs WHERE (? IS NULL OR json_extract(definition, '$.compartment_id') = ?) "
            "AND (? IS NULL OR json_extract(definition, '$.project_id') = ?) ORDER BY created",
            (compartment_id, compartment_id, project_id, project_id),
        )
        return [Store.job_from_row(row, with_definition=False) for row in rows]

    def get_job(self, *, job_id: str) -> JobState:
        rows = self.store.query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise NotFoundError(f"job {job_id} not found")
        return Store.job_from_row(rows[0])

    def _store_artifact(self, artifact: Artifact) -> Path:
        digest = artifact.digest.split(":", 1)[1]
        folder = self.home / "artifacts" / digest
        path = folder / artifact.filename
        if not path.exists():
            # one per process and thread: an apply stores the jobs of one source from several threads
            partial = folder / f".{artifact.filename}.{os.getpid()}-{threading.get_ident()}.partial"
            try:
                ensure_private_dir(folder)
                with partial.open("wb") as out:
                    artifact.write_to(out)
                partial.replace(path)  # atomic: concurrent applies never see half an artifact
            except OSError as exc:
                partial.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only if empty: another apply may be storing the same artifact
                raise storage_error(path, exc, "store the job's artifact at") from exc
        return path

    def create_job(self, *, definition: JobDefinition, artifact: Artifact | None, retry_token: str) -> JobState:
        artifact_path = str(self._store_artifact(artifact)) if artifact else None
        job_id = new_id("job")
        log.info("jobctl.local", "creating job %s (artifact %s)", definition.name, artifact_path or "none")
        with self.store.transaction() as db:
            existing = db.execute("SELECT id FROM jobs WHERE retry_token = ?", (retry_token,)).fetchone()
            if existing:
                job_id = existing[0]
            else:
                db.execute(
                    "INSERT INTO jobs (id, name, lifecycle, tags, definition, artifact_path, etag, created, "
                    "retry_token) VALUES (?, ?, 'ACTIVE', ?, ?, ?, ?, ?, ?)",
                    (job_id, definition.display_name, json.dumps(dict(definition.tags)),
                     Store.encode_definition(definition), artifact_path, new_id("etag"), time.time(), retry_token),
                )
        return self.get_job(job_id=job_id)

    def update_job(self, *, job_id: str, definition: JobDefinition, etag: str | None) -> JobState:
        with self.store.transaction() as db:
            row = db.execute("SELECT definition, etag FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"job {job_id} not found")
            if etag is not None and row[1] != etag:
                raise ConflictError(
                    f"job {job_id} changed since it was read (etag mismatch)",
                    hint="run `jobctl plan` again to see the current state",
                )
            from jobctl.model.table import updated_in_place

            updated = updated_in_place(Store.definition_from_json(row[0]), definition)
            db.execute(
                "UPDATE jobs SET name = ?, definition = ?, tags = ?, etag = ? WHERE id = ?",
                (updated.display_name, Store.encode_definition(updated), json.dumps(updated.tags), new_id("etag"),
                 job_id),
            )
        return self.get_job(job_id=job_id)

    def delete_job(self, *, job_id: str) -> None:
        self._reap(job_id=job_id)
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                raise NotFoundError(f"job {job_id} not found")
            placeholders = ",".join("?" * len(ACTIVE_STATES))
            active = db.execute(
                f"SELECT count(*) FROM runs WHERE job_id = ? AND state IN ({placeholders})",
                (job_id, *ACTIVE_STATES),
            ).fetchone()[0]
            if active:
                raise ConflictError(f"job {job_id} has {active} active run(s)")
            runs = [row[0] for row in db.execute("SELECT id FROM runs WHERE job_id = ?", (job_id,))]
            db.execute("DELETE FROM runs WHERE job_id = ?", (job_id,))  # its runs go with it, as on OCI
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        from jobctl.backends.local import gc

        gc.remove_run_dirs(self, runs)

    # --- runs -----------------------------------------------------------------------------------
    def close(self) -> None:
        with self._spawning:
            if self._spawner is not None:
                self._spawner.close()
        if self._exits is not None:
            self._exits.close()
        if self._logs is not None:
            self._logs.close()
        self.store.close()

    def pause(self, *, run_ids: Sequence[str], seconds: float, until_end: bool = False) -> None:
        """Wait up to `seconds` before the runs are read again, less once one of their supervisors ends
        (Linux: its pidfd; it records the run's end just before it exits), so a wait notices the end at
        once rather than at its next poll. With every supervisor watched, up to WATCHED_PAUSE: `until_end` (a
        quiet wait read the database 20 times a second, ~70 ms of CPU each second on this project's VMs), or for
        their logs (a follow), less once a log is written to (Linux: inotify), but no less than `seconds` then."""
        from jobctl.backends.local import procs

        if self._spawner is not None:
            self._spawner.collect()
        if len(run_ids) > EXITS_WATCHED:
            time.sleep(seconds)
            return
        if self._exits is None:
            self._exits = procs.ExitWatch()
        exits = self._exits
        unknown = [run_id for run_id in run_ids if not exits.knows(run_id)]
        rows = self.store.query(f"SELECT id, supervisor_pid, supervisor_start FROM runs WHERE id IN "
                                f"({','.join('?' * len(unknown))})", tuple(unknown)) if unknown else []
        ended = [row for row in rows if not exits.watch(row["id"], row["supervisor_pid"], row["supervisor_start"])]
        if ended:
            return
        watched = exits.watching(run_ids)
        logs = self._watched_logs(run_ids) if watched and not until_end else None
        if logs is not None or (watched and until_end):
            exits.wait(list(run_ids), max(seconds, WATCHED_PAUSE), logs, gap=seconds)
        else:
            exits.wait(list(run_ids), seconds)

    def _watched_logs(self, run_ids: Sequence[str]) -> procs.LogWatch | None:
        """The watch on these runs' logs (inotify), when every one is under way as last read (one not yet started
        starts without a line: its state is read at the poll's pace) and its log can be watched."""
        if not all((read := self._read_at.get(run_id)) is not None and read[1].state == IN_PROGRESS
                   for run_id in run_ids):
            return None
        if not self._logs_tried:
            from jobctl.backends.local import procs

            self._logs, self._logs_tried = procs.LogWatch.open(), True
        if self._logs is None or not all(self._logs.watch(run_dir(self.home, run_id) / "log") for run_id in run_ids):
            return None
        return self._logs

    def prepare_runs(self, count: int) -> None:
        """`count` runs are coming: start the launcher that forks their supervisors now, so that it starts up
        (a fork of this process, or an interpreter with the supervisor's imports) while the command looks
        them up and records them."""
        self._supervisors().warm_up(count)

    def _supervisors(self) -> Spawner:
        """What starts this backend's supervisors: one launcher for all of them (spawn.py)."""
        with self._spawning:
            if self._spawner is None:
                from jobctl.backends.local.spawn import Spawner

                self._spawner = Spawner(self.home, self.store.busy_timeout,
                                        unshared=self.store.disconnected if self._fork else None)
            return self._spawner

    @functools.cached_property
    def dataflow(self) -> LocalApplications:
        """Data Flow applications, run here on Spark (kind: DataFlowApplication)."""
        from jobctl.backends.local.applications import LocalApplications

        return LocalApplications(self)

    def start_run(
        self, *, job_id: str, name: str, env: Mapping[str, str], args: Sequence[str],
        retry_token: str | None = None, settings: Mapping[str, Any] | None = None,
        marks: Mapping[str, str] | None = None,
    ) -> RunState:
        from jobctl.backends.local import procs  # start-up of listing commands does not pay for it

        if (retried := self.retried_run(retry_token)) is not None:
            return retried
        job = self.get_job(job_id=job_id)
        if job.definition and job.definition.runtime_type == "container" and not _container_engine():
            raise JobctlError(
                f"job {job.name!r} runs a container, and neither docker nor podman is on PATH",
                hint="install one of them, or run this job on OCI (--backend oci)",
            )
        groups = dict(settings or {}).get("node_groups", job.definition.node_groups if job.definition else ())
        if (count := replica_count(groups)) > procs.MAX_LOCAL_NODES:
            raise JobctlError(f"job {job.name!r} would run {count} nodes; the local backend runs at most "
                              f"{procs.MAX_LOCAL_NODES} in one run",
                              hint="run it on OCI (--backend oci), or with fewer replicas (--set nodes.groups=...)")
        python = None
        if job.definition and job.definition.runtime_type in PYTHON_RUNTIMES:
            python = self._checked_python()
        return self.supervised(job_id=job_id, job_name=job.managed_name or job.name, name=name, env=env,
                               args=args, retry_token=retry_token, settings=settings, python=python, marks=marks)

    def _checked_python(self) -> str:
        """The interpreter a python job's run will use, refused before the run starts if it cannot be run."""
        path = self.python
        if not os.path.isabs(path):  # a command name that is on no PATH entry (a file of that name here is not it)
            problem = f"is no command on PATH (for a file of the current directory, give ./{path})"
        elif not (os.path.isfile(path) and os.access(path, os.X_OK)):
            problem = "does not exist" if not os.path.exists(path) else "is not an executable file"
        else:
            return path
        raise ConfigError(f"the python interpreter {path} ({self.python_source}) {problem}",
                          hint="set JOBCTL_PYTHON to the python that has your job's packages, or activate "
                               "its virtualenv or conda environment")

    def retried_run(self, retry_token: str | None) -> RunState | None:
        """The run started with this retry token, if there is one."""
        rows = self.store.query("SELECT id FROM runs WHERE retry_token = ?", (retry_token,)) if retry_token else []
        return self.get_run(run_id=rows[0]["id"]) if rows else None

    def supervised(
        self, *, job_id: str, job_name: str, name: str, env: Mapping[str, str], args: Sequence[str],
        retry_token: str | None, settings: Mapping[str, Any] | None, run_id: str | None = None,
        python: str | None = None, marks: Mapping[str, str] | None = None,
    ) -> RunState:
        """Record a run and start its supervisor: a job's run, or (its `settings` saying what runs, its
        `job_id` an application's) a Data Flow application's (jobctl.backends.local.applications), with the
        `marks` an idempotency key leaves (kept in its settings, as MARKS). The caller has looked for a run
        started with `retry_token` (`retried_run`)."""
        import fcntl

        from jobctl.backends.local import procs

        run_id = run_id or new_id("run")
        directory = run_dir(self.home, run_id)
        try:
            ensure_private_dir(directory)
            lock_fd = os.open(directory / "lock", os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as exc:
            _discard(directory)
            raise storage_error(directory, exc, "create the run directory") from exc
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:
                with self.store.transaction() as db:
                    db.execute(
                        "INSERT INTO runs (id, job_id, job_name, name, state, env, args, created, retry_token, "
                        "settings, python) VALUES (?, ?, ?, ?, 'ACCEPTED', ?, ?, ?, ?, ?, ?)",
                        (run_id, job_id, job_name, name, json.dumps(dict(env)),
                         json.dumps(list(args)), time.time(), retry_token,
                         json.dumps({**(settings or {}), **({MARKS: dict(marks)} if marks else {})}), python),
                    )
            except Exception as exc:
                _discard(directory)
                if retry_token and "UNIQUE" in str(exc):  # a concurrent retry with the same token won
                    rows = self.store.query("SELECT id FROM runs WHERE retry_token = ?", (retry_token,))
                    return self.get_run(run_id=rows[0]["id"])
                raise
            with (directory / "supervisor.log").open("ab") as supervisor_log:
                pid = self._supervisors().start(run_id, lock_fd, supervisor_log.fileno())
            try:
                started = procs.start_time(pid)
            except OSError:
                started = None
            try:
                self.store.set_run(run_id, supervisor_pid=pid, supervisor_start=started)
            except JobctlError as exc:  # the run has started: say so, do not report a failure
                log.info("jobctl.local", "run %s: could not record its supervisor (%s)", run_id, exc.message)
            log.info("jobctl.local", "run %s: supervisor pid %d, directory %s", run_id, pid, directory)
        finally:
            os.close(lock_fd)  # the supervisor's inherited descriptor keeps the lock held
        self._prune(job_id)  # while the run starts, not before: only the work dirs of ended runs go
        return self.get_run(run_id=run_id)

    def _prune(self, job_id: str) -> None:
        """Prune the job's old work dirs as a run starts, at most once a second per process: pruning reads
        the job's whole history, which a matrix of many runs would otherwise read once per run."""
        now = time.monotonic()
        if now - self._pruned.get(job_id, -PRUNE_INTERVAL_SECONDS) >= PRUNE_INTERVAL_SECONDS:
            from jobctl.backends.local.workdirs import prune_workdirs

            prune_workdirs(self, job_id, self.keep_workdirs)
            self._pruned[job_id] = now

    def _runner_alive(self, run_id: str) -> bool:
        """The supervisor holds the run's lock for as long as it lives; if the lock file is gone, the
        process table decides, and a process whose fate cannot be read counts as alive."""
        import fcntl

        from jobctl.backends.local import procs

        try:
            fd = os.open(run_dir(self.home, run_id) / "lock", os.O_RDWR)
        except FileNotFoundError:  # the run directory was deleted: ask the process table instead
            rows = self.store.query("SELECT supervisor_pid, supervisor_start FROM runs WHERE id = ?", (run_id,))
            if not rows:
                return False
            return procs.liveness(rows[0]["supervisor_pid"], rows[0]["supervisor_start"]) != procs.Liveness.DEAD
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        # free: the supervisor is gone, unless the lock file was replaced under it (it holds the old one)
        rows = self.store.query("SELECT supervisor_pid, supervisor_start FROM runs WHERE id = ?", (run_id,))
        return bool(rows) and rows[0]["supervisor_start"] is not None and \
            procs.liveness(rows[0]["supervisor_pid"], rows[0]["supervisor_start"]) is procs.Liveness.ALIVE

    def _log_file(self, run_id: str) -> Path:
        """The run's log; a clear not-found error if its directory was deleted."""
        directory = run_dir(self.home, run_id)
        if not directory.is_dir():
            raise NotFoundError(f"the log of run {run_id} is gone: its directory {directory} was deleted")
        return directory / "log"

    def _reap(self, *, job_id: str | None = None, run_id: str | None = None,
              run_ids: Sequence[str] = ()) -> dict[str, outcome.Outcome]:
        """Settle runs whose supervisor is gone, so no run is ever stuck.

        A result the supervisor wrote to its run directory is recorded; without one, the run is FAILED
        ("runner lost") and any process of it still found is killed. When the database cannot take
        the write now (locked, disk full), the outcomes are returned for callers to show instead.
        """
        placeholders = ",".join("?" * len(ACTIVE_STATES))
        sql = f"SELECT id, state FROM runs WHERE state IN ({placeholders})"
        params: tuple[Any, ...] = tuple(ACTIVE_STATES)
        if run_id:
            sql, params = sql + " AND id = ?", (*params, run_id)
        elif job_id:
            sql, params = sql + " AND job_id = ?", (*params, job_id)
        elif run_ids:
            sql, params = sql + f" AND id IN ({','.join('?' * len(run_ids))})", (*params, *run_ids)
        unsaved: dict[str, outcome.Outcome] = {}
        for row in self.store.query(sql, params):
            if self._runner_alive(row["id"]):
                continue
            from jobctl.backends.local import outcome, procs  # only for a run whose supervisor is gone

            result = outcome.read(run_dir(self.home, row["id"]))
            if result is None:
                lost = RUNNER_LOST + ("; the disk holding JOBCTL_HOME is full" if disk_full(self.home) else "")
                result = (outcome.Outcome(CANCELED, None, "canceled", time.time()) if row["state"] == CANCELING
                          else outcome.Outcome(FAILED, None, lost, time.time()))
                if procs.kill_run_processes(row["id"]):
                    log.info("jobctl.local", "run %s: killed processes left by its supervisor", row["id"])
            try:
                with self.store.impatient():  # conditional write: the supervisor may have just recorded one
                    self.store.finish_run(row["id"], result.state, result.exit_code, result.details,
                                          result.finished)
            except JobctlError as exc:
                log.info("jobctl.local", "run %s: ended %s; not recorded yet: %s", row["id"], result.state, exc)
                unsaved[row["id"]] = result
        return unsaved

    def get_runs(self, *, run_ids: Sequence[str]) -> list[RunState]:
        """Several runs in one read each of the database (a wait on a matrix of runs asks this every poll)."""
        found: dict[str, RunState] = {}
        for start in range(0, len(run_ids), IDS_PER_QUERY):
            chunk = list(dict.fromkeys(run_ids[start:start + IDS_PER_QUERY]))
            unsaved = self._reap(run_ids=chunk)
            rows = self.store.query(f"SELECT * FROM runs WHERE id IN ({','.join('?' * len(chunk))})", tuple(chunk))
            found.update((row["id"], _with_outcome(Store.run_from_row(row), unsaved)) for row in rows)
        for run_id in run_ids:
            if run_id not in found:
                raise NotFoundError(f"run {run_id} not found")
        return [found[run_id] for run_id in run_ids]

    def get_run(self, *, run_id: str) -> RunState:
        rows = self.store.query("SELECT * FROM runs WHERE id = ?", (run_id,))
        unsaved: dict[str, outcome.Outcome] = {}
        if rows and rows[0]["state"] in ACTIVE_STATES and not self._runner_alive(run_id):
            unsaved = self._reap(run_id=run_id)  # its supervisor is gone: settled, and read again
            rows = self.store.query("SELECT * FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise NotFoundError(f"run {run_id} not found")
        return _with_outcome(Store.run_from_row(rows[0]), unsaved)

    def stream_runs(
        self, *, job_ids: Sequence[str] | None = None, states: Collection[str] | None = None, after: str | None = None,
    ) -> RunStream:
        """Keyset pages of RUN_PAGE rows from the database, read as the stream is taken."""
        key = listing.listing_key(f"local:{self.home}", job_ids, states)
        position, _ = listing.start_after(after, key)
        unsaved = self._reap(job_id=job_ids[0] if job_ids and len(job_ids) == 1 else None)
        where, params = _run_filter(job_ids, states)

        def rows() -> Iterator[tuple[RunState, listing.Position, dict[str, Any]]]:
            last = position
            while True:
                sql = f"SELECT * FROM runs WHERE {where}" + (" AND (created, id) < (?, ?)" if last else "")
                page = self.store.query(sql + " ORDER BY created DESC, id DESC LIMIT ?",
                                        (*params, *(last or ()), RUN_PAGE))
                # the page's runs made before the first is taken: the secrets of each (RunState learns them) are
                # masked in all of the page that is printed, not only after their own run
                runs = [_with_outcome(Store.run_from_row(row), unsaved) for row in page]
                for run, row in zip(runs, page, strict=True):
                    yield run, (row["created"], row["id"]), {}
                if len(page) < RUN_PAGE:
                    return
                last = (page[-1]["created"], page[-1]["id"])

        def total() -> int:
            return int(self.store.query(f"SELECT COUNT(*) FROM runs WHERE {where}", params)[0][0])

        return RunStream(rows(), key, total)

    def find_runs(self, ref: str, *, job_id: str | None = None) -> list[RunState]:
        where, params = _run_filter([job_id] if job_id else None, None)
        order = f" ORDER BY created DESC, id DESC LIMIT {listing.MATCHES}"
        rows = (self.store.query(f"SELECT * FROM runs WHERE {where} AND name = ?{order}", (*params, ref))
                or self.store.query(f"SELECT * FROM runs WHERE {where} AND id >= ? AND id < ?{order}",
                                    (*params, ref, ref + "\U0010ffff")))
        unsaved = self._reap(job_id=job_id) if rows else {}
        return [_with_outcome(Store.run_from_row(row), unsaved) for row in rows]

    def cancel_run(self, *, run_id: str) -> RunState:
        import signal

        from jobctl.backends.local import procs

        run = self.get_run(run_id=run_id)
        if run.terminal:
            return run
        with self.store.transaction() as db:
            db.execute(
                "UPDATE runs SET state = ? WHERE id = ? AND state IN ('ACCEPTED', 'IN_PROGRESS', 'NEEDS_ATTENTION')",
                (CANCELING, run_id),
            )
        rows = self.store.query("SELECT supervisor_pid FROM runs WHERE id = ?", (run_id,))
        pid = rows[0]["supervisor_pid"] if rows else None
        if pid and self._runner_alive(run_id):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)  # prompt; the supervisor also polls the state
        elif not self._runner_alive(run_id):
            procs.kill_run_processes(run_id)
            self.store.finish_run(run_id, CANCELED, None, "canceled")
        return self.get_run(run_id=run_id)

    # --- logs -----------------------------------------------------------------------------------
    def _run_for_logs(self, run_id: str) -> RunState:
        """The run, after learning (once per run) every secret its nodes were given: a node group's env
        and the run's own --set are not in the run's env. Learnt from the stored JSON (by attribute), as
        reading the definition would teach the redactor, without importing and building a JobDefinition."""
        run = self.get_run(run_id=run_id)
        if run_id not in self._secrets_learnt:
            rows = self.store.query("SELECT runs.settings, jobs.definition FROM runs JOIN jobs "
                                    "ON jobs.id = runs.job_id WHERE runs.id = ?", (run_id,))
            for stored in (rows[0]["definition"], rows[0]["settings"] or "{}") if rows else ():
                data = json.loads(stored)
                REDACTOR.remember_job(data.get("env") or {}, data.get("node_groups") or ())
            self._secrets_learnt.add(run_id)
        return run

    def read_logs(self, *, run_id: str, cursor: str | None = None, limit: int | None = None) -> LogBatch:
        """Lines after the cursor. A follow's wake-up while the run's supervisor lives (a wait watches it) reads
        no run: new lines are what changed; without them, the run as last read, unless another process has
        written to the database since (its data_version). Its end is read once the supervisor has exited."""
        offset = int(cursor or 0)
        version: int | None = None
        if run_id in self._secrets_learnt and self._exits is not None and self._exits.running(run_id):
            path = run_dir(self.home, run_id) / "log"
            lines, new_offset, drained = logfile.read_from(path, offset, max_lines=limit)
            if lines:
                return LogBatch(tuple(lines), str(new_offset), False, drained=drained)
            version = self.store.data_version()
            read_at = self._read_at.get(run_id)
            if read_at is not None and read_at[0] == version:
                return LogBatch((), str(offset), False, read_at[1], drained=True)
        if version is None:
            version = self.store.data_version()  # before the read: a write after it is seen at the next wake-up
        run = self._run_for_logs(run_id)  # state first: if terminal now, the log is already complete
        self._read_at[run_id] = (version, run)
        path = self._log_file(run_id)
        lines, new_offset, drained = logfile.read_from(path, offset, max_lines=limit)
        # the run as read here: a follow need not read it again; drained: it waits before the next read
        return LogBatch(tuple(lines), str(new_offset), run.terminal and drained, run, drained)

    def copy_log_text(self, *, run_id: str, out: BinaryIO) -> None:
        """The whole log's text, streamed as bytes (the fast path of a plain `jobctl logs`)."""
        self._run_for_logs(run_id)
        logfile.copy_text(self._log_file(run_id), out)

    def print_log(self, *, run_id: str, out: BinaryIO, view: LogView) -> str | None:
        """Block by block from the log file's bytes (logview): --timestamps, --stream, --since, --tail and
        -o jsonl at disk speed, in constant memory."""
        from jobctl.backends.local import logview  # its patterns are compiled for `logs` only

        self._run_for_logs(run_id)
        return str(logview.print_view(self._log_file(run_id), out, view))

    def download_artifact(self, *, job_id: str, directory: Path) -> Path | None:
        rows = self.store.query("SELECT artifact_path FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise NotFoundError(f"job {job_id} not found")
        if not rows[0]["artifact_path"]:
            return None
        source = Path(rows[0]["artifact_path"])
        return copy_file(source, directory / source.name)

    def read_outputs(self, *, run_id: str) -> dict[str, Any] | None:
        return read_outputs_file(run_dir(self.home, run_id) / "outputs" / "outputs.json", run_id)

    def workflow_store(self, location: str | None) -> DirectoryStore:
        """Local workflow state lives under $JOBCTL_HOME (an oci:// `state` applies to the oci backend)."""
        from jobctl.workflow.state import DirectoryStore

        return DirectoryStore(self.home / "workflows")

    def tail_logs(self, *, run_id: str, lines: int) -> LogBatch:
        run = self._run_for_logs(run_id)
        path = self._log_file(run_id)
        offset = logfile.tail_offset(path, lines)
        found, new_offset, drained = logfile.read_from(path, offset, max_bytes=max(logfile.READ_CHUNK, lines * 4096))
        complete = run.terminal and drained
        return LogBatch(tuple(found[-lines:]) if lines else (), str(new_offset), complete)


def _with_outcome(run: RunState, unsaved: Mapping[str, outcome.Outcome]) -> RunState:
    """The run as its result file tells it, while the database could not record that result yet."""
    result = unsaved.get(run.id)
    if result is None or run.terminal:
        return run
    return run.replace(state=result.state, exit_code=result.exit_code, details=result.details,
                               finished=to_time(result.finished))


MAX_OUTPUTS_BYTES = 1024 * 1024


def read_outputs_file(path: Path, run_id: str) -> dict[str, Any] | None:
    """A run's outputs.json: None if it wrote none; a clear error if it is not a JSON object."""
    try:
        if path.stat().st_size > MAX_OUTPUTS_BYTES:
            raise JobctlError(f"outputs.json of run {run_id} is larger than 1 MiB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JobctlError(f"outputs.json of run {run_id} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise JobctlError(f"outputs.json of run {run_id} must hold a JSON object")
    return data


def create(settings: Settings) -> Backend:  # mypy checks that LocalBackend is a Backend
    local = settings.local
    return LocalBackend(local.home, keep_workdirs=local.keep_workdirs, busy_timeout=local.busy_timeout,
                        java=local.java, python=local.python, python_source=local.python_source, fork=local.fork)


RUN_PAGE = 500  # rows per query of a run listing


def _run_filter(job_ids: Sequence[str] | None, states: Collection[str] | None) -> tuple[str, tuple[str, ...]]:
    """The WHERE clause (and its parameters) selecting the runs of these jobs in these states."""
    where, params = ["1 = 1"], list[str]()
    if job_ids:
        where.append(f"job_id IN ({','.join('?' * len(job_ids))})")
        params.extend(job_ids)
    if states:
        where.append(f"state IN ({','.join('?' * len(states))})")
        params.extend(states)
    return " AND ".join(where), tuple(params)


def _container_engine() -> str | None:
    """docker or podman, where a container job's run finds it."""
    import shutil  # (with zlib, bz2 and lzma) only for a container job, not on every run's start

    return shutil.which("docker") or shutil.which("podman")


def _discard(directory: Path) -> None:
    """Remove the directory of a run that was not recorded."""
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
