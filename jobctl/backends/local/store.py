"""SQLite state for the local backend: one WAL database under $JOBCTL_HOME, safe for many processes."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobctl.backends.settings import BUSY_TIMEOUT_SECONDS
from jobctl.errors import ConfigError
from jobctl.model.state import JobState, RunState, split_tags
from jobctl.paths import disk_full, ensure_private_dir, storage_error
from jobctl.secrets import REDACTOR

if TYPE_CHECKING:  # a definition is decoded only when a job is read: listing runs does without it
    from jobctl.model.job import JobDefinition

# Data Flow applications (jobctl.backends.local.applications); their runs are rows of `runs` too
APPLICATIONS = """CREATE TABLE IF NOT EXISTS applications (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    tags TEXT NOT NULL,
    definition TEXT NOT NULL,
    source_path TEXT,
    etag TEXT NOT NULL,
    created REAL NOT NULL,
    retry_token TEXT UNIQUE
)"""
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    lifecycle TEXT NOT NULL,
    tags TEXT NOT NULL,
    definition TEXT NOT NULL,
    artifact_path TEXT,
    etag TEXT NOT NULL,
    created REAL NOT NULL,
    retry_token TEXT UNIQUE
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    job_name TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    env TEXT NOT NULL,
    args TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    exit_code INTEGER,
    details TEXT,
    supervisor_pid INTEGER,
    retry_token TEXT UNIQUE,
    supervisor_start INTEGER,
    settings TEXT,
    python TEXT
);
{applications};
CREATE INDEX IF NOT EXISTS runs_by_job ON runs (job_id, created);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created);
""".replace("{applications}", APPLICATIONS)
# Columns added after the first release, created on first use of an older database.
MIGRATIONS = {("runs", "supervisor_start"): "INTEGER", ("runs", "settings"): "TEXT", ("runs", "python"): "TEXT"}
TERMINAL_SQL = "('SUCCEEDED', 'FAILED', 'CANCELED', 'DELETED')"


def default_home(environ: Mapping[str, str]) -> Path:
    """$JOBCTL_HOME, else the platform's per-user state directory; absolute (a relative $JOBCTL_HOME is taken from
    the current directory once: the paths stored under it, such as a job's artifact, hold from anywhere)."""
    if environ.get("JOBCTL_HOME"):
        return Path(environ["JOBCTL_HOME"]).expanduser().absolute()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "jobctl"
    if sys.platform == "win32":
        return Path(environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "jobctl"
    state = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "jobctl"


def _database_error(path: Path, exc: sqlite3.Error) -> ConfigError:
    """Say what is wrong with the database, and suggest moving it aside only when it is really damaged."""
    message = str(exc)
    if "locked" in message:
        return ConfigError(f"the local state database {path} stayed locked by another process: {exc}",
                           hint="another jobctl may be stuck; retry, or find it with `fuser` on that file")
    if "full" in message or disk_full(path):
        return storage_error(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), "write")
    if "readonly" in message or "read-only" in message:
        return storage_error(path, OSError(errno.EROFS, os.strerror(errno.EROFS)), "write")
    if _intact(path):
        return ConfigError(f"the local state database {path} could not be used: {exc}",
                           hint="an integrity check found the database intact: keep it; the cause is likely "
                                "the file system or permissions (see the message)")
    return ConfigError(f"the local state database {path} is damaged: {exc}",
                       hint="an integrity check failed; move it aside to start afresh (jobctl then forgets "
                            "its jobs and runs; run directories and artifacts stay on disk)")


def _intact(path: Path) -> bool:
    """PRAGMA quick_check on a separate, read-only connection."""
    try:
        check = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return bool(check.execute("PRAGMA quick_check").fetchone()[0] == "ok")
        finally:
            check.close()
    except sqlite3.Error:
        return False


def to_time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


class Store:
    """Thin, typed access to the database. Every write is one short IMMEDIATE transaction."""

    def __init__(self, home: Path, busy_timeout: float = BUSY_TIMEOUT_SECONDS, *, made: bool = False) -> None:
        """`made`: the database is known to exist with its schema, as for a run's supervisor (the command that
        recorded the run made it): only connect, with none of the checks (a millisecond of every run's start)."""
        self.home = home
        self.path = home / "state.db"
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()  # one connection, shared by the engine's worker threads
        try:
            if made and self.path.exists():  # (gone meanwhile: made again below, and the run is not found)
                self.db = self._connect()
                return
            ensure_private_dir(home)
            if not self.path.exists():  # SQLite gives the -wal and -shm files the database's mode
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self.path.chmod(0o600)
            self.db = self._connect()
            self._use_wal()
            if not self._has_schema():
                with self.transaction() as db:
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
            self._migrate()
        except sqlite3.Error as exc:
            raise _database_error(self.path, exc) from exc
        except OSError as exc:
            raise storage_error(Path(exc.filename or home), exc, "use JOBCTL_HOME at") from exc

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        db.execute("PRAGMA synchronous = NORMAL")
        return db

    @contextmanager
    def disconnected(self) -> Iterator[None]:
        """No connection to the database is open inside (one must not cross `fork()`: SQLite keeps the locks a
        process holds in its memory, and a child does not hold its parent's); then a new one, as before."""
        with self._lock:
            self.db.close()
            try:
                yield
            finally:
                try:
                    self.db = self._connect()
                except sqlite3.Error as exc:
                    raise _database_error(self.path, exc) from exc

    def close(self) -> None:
        """Close the connection now (SQLite checkpoints its WAL on the last close): not whenever the garbage
        collector gets to it, perhaps in the middle of a later command on the same files (tests in process)."""
        with self._lock:
            self.db.close()

    def _has_schema(self) -> bool:
        row = self.db.execute("SELECT count(*) FROM sqlite_master WHERE name IN ('jobs', 'runs')").fetchone()
        return bool(row[0] == 2)

    def _use_wal(self) -> None:
        """WAL mode, set once when the database is new. Switching needs the database to itself, which the
        busy timeout does not wait for: when several jobctl processes create it at once, retry."""
        if str(self.db.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            return
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                self.db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}

    def _migrate(self) -> None:
        if not self._columns("applications"):  # a database from before Data Flow applications
            with self.transaction() as db:
                db.execute(APPLICATIONS)
        if all(column in self._columns(table) for table, column in MIGRATIONS):
            return
        with self.transaction() as db:  # checked again inside: another process may have migrated
            for (table, column), kind in MIGRATIONS.items():
                if column not in self._columns(table):
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def _set_busy_timeout(self, seconds: float) -> None:
        self.db.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    @contextmanager
    def impatient(self, seconds: float = 0.2) -> Iterator[None]:
        """Writes inside give up after `seconds` of lock contention instead of the full busy timeout."""
        with self._lock:
            self._set_busy_timeout(min(seconds, self.busy_timeout))
            try:
                yield
            finally:
                self._set_busy_timeout(self.busy_timeout)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _database_error(self.path, exc) from exc
            try:
                yield self.db
            except sqlite3.IntegrityError:  # a constraint the caller handles (retry tokens)
                self.db.execute("ROLLBACK")
                raise
            except sqlite3.Error as exc:
                self.db.execute("ROLLBACK")
                raise _database_error(self.path, exc) from exc
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise _database_error(self.path, exc) from exc

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                cursor = self.db.execute(sql, params)
                cursor.row_factory = sqlite3.Row
                return list(cursor.fetchall())
            except sqlite3.Error as exc:
                raise _database_error(self.path, exc) from exc

    def data_version(self) -> int:
        """A number that changes whenever another connection has committed since (SQLite's data_version): what a
        follow of a quiet run asks instead of reading the run again."""
        return int(self.query("PRAGMA data_version")[0][0])

    # --- jobs -----------------------------------------------------------------------------------
    @staticmethod
    def job_from_row(row: sqlite3.Row, with_definition: bool = True) -> JobState:
        definition = None
        if with_definition:
            definition = Store.definition_from_json(row["definition"])
        created = to_time(row["created"])
        assert created is not None
        return JobState(row["id"], row["name"], row["lifecycle"], json.loads(row["tags"]), created,
                        definition=definition, etag=row["etag"])

    @staticmethod
    def encode_definition(definition: JobDefinition) -> str:
        from jobctl.model.definition import asdict  # here: a listing reads no definition

        return json.dumps(asdict(definition), sort_keys=True)

    @staticmethod
    def run_definition(definition: str, settings: str | None) -> JobDefinition:
        """The job a run runs: its job's stored definition with the run's stored `--set` settings."""
        from jobctl.model.definition import replace
        from jobctl.model.job import JobDefinition
        from jobctl.model.table import decode

        job = Store.definition_from_json(definition)
        changes = decode(JobDefinition, json.loads(settings or "{}"))
        return replace(job, **changes) if changes else job

    @staticmethod
    def definition_from_json(text: str) -> JobDefinition:
        """A stored definition; one stored before the field table (tags, container_entrypoint) is read as is."""
        from jobctl.model.job import JobDefinition
        from jobctl.model.table import decode

        data = json.loads(text)
        if "tags" in data:
            data["labels"], data["owner_tags"] = split_tags(data["tags"])
        if data.get("container_entrypoint"):
            data["entrypoint"] = data["container_entrypoint"]
        return JobDefinition(**decode(JobDefinition, data), owner_tags=data.get("owner_tags", {}))

    # --- runs -----------------------------------------------------------------------------------
    @staticmethod
    def run_from_row(row: sqlite3.Row) -> RunState:
        created = to_time(row["created"])
        assert created is not None
        settings = row["settings"] if "settings" in row.keys() else None  # noqa: SIM118 (a Row, not a dict)
        shown: dict[str, Any] = {}
        if settings and f'"{SECRETS}"' in settings:  # a Spark run's: its secret properties masked in what it prints
            held = json.loads(settings)
            REDACTOR.remember_env(held[SECRETS])
            shown = held.get(SHOWN) or {}
        marks = json.loads(settings).get(MARKS, {}) if settings and f'"{MARKS}"' in settings else {}
        return RunState(
            id=row["id"], job_id=row["job_id"], name=row["name"], state=row["state"], created=created,
            started=to_time(row["started"]), finished=to_time(row["finished"]), exit_code=row["exit_code"],
            details=row["details"], env=json.loads(row["env"]), args=tuple(json.loads(row["args"])),
            job_name=row["job_name"], interpreter=row["python"] if "python" in row.keys() else None,  # noqa: SIM118
            parameters=shown.get("parameters", {}), configuration=shown.get("configuration", {}), marks=marks,
        )

    def set_run(self, run_id: str, **fields: Any) -> None:
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self.transaction() as db:
            db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*fields.values(), run_id))

    def transition(self, run_id: str, from_states: Collection[str], **fields: Any) -> bool:
        """Compare-and-set: apply `fields` only while the run is in one of `from_states`; True if applied."""
        assignments = ", ".join(f"{name} = ?" for name in fields)
        placeholders = ",".join("?" * len(from_states))
        with self.transaction() as db:
            cursor = db.execute(
                f"UPDATE runs SET {assignments} WHERE id = ? AND state IN ({placeholders})",
                (*fields.values(), run_id, *from_states),
            )
            return cursor.rowcount == 1

    def finish_run(self, run_id: str, state: str, exit_code: int | None, details: str | None,
                   finished: float | None = None) -> bool:
        """Record a terminal state unless one was already recorded; True if this call recorded it."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE runs SET state = ?, exit_code = ?, details = ?, finished = ? "
                f"WHERE id = ? AND state NOT IN {TERMINAL_SQL}",
                (state, exit_code, details, finished or time.time(), run_id),
            )
            return cursor.rowcount == 1


def run_dir(home: Path, run_id: str) -> Path:
    return home / "runs" / run_id


SECRETS = "secrets"  # in a run's settings: the secret-named values its output may print (a Spark run's)
SHOWN = "shown"  # in a Spark run's settings: its parameters and configuration, as `get RUN` shows them
MARKS = "marks"  # in a run's settings: what its idempotency key left on it (jobctl.model.request)


def new_id(kind: str) -> str:
    """Short, collision-resistant ids: kind-<10 random base36 characters> (52 bits). Random from the first
    character, so that a few characters are a unique prefix (`jobctl logs run-k3f`); nothing sorts by id
    (runs and jobs are ordered by when they were made)."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    number = int.from_bytes(os.urandom(8), "big")  # 36**10 of its 2**64 values: as good as uniform
    out = []
    for _ in range(10):
        number, rem = divmod(number, 36)
        out.append(digits[rem])
    return f"{kind}-{''.join(out)}"
