"""Data Flow applications on the local backend (docs/decisions/0015-dataflow-applications.md): held in the
SQLite state beside jobs, their code kept under $JOBCTL_HOME/artifacts by its digest, their runs ordinary
local runs (wait, logs and cancel as for a job's) whose process is real Spark (jobctl.backends.local.spark),
fixed when the run starts and started by the run's supervisor.

The same operations as the OCI backend's `dataflow` (jobctl.backends.oci.dataflow.DataFlow), so that plan,
apply and run can treat both alike.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobctl.backends.local.store import SECRETS, SHOWN, new_id, run_dir
from jobctl.errors import ConflictError, NotFoundError
from jobctl.model.state import (
    ACTIVE_STATES,
    LOCAL_APPLICATION,
    TAG_MANAGED,
    TAG_NAME,
    AppliedApplication,
    RunState,
    split_tags,
)
from jobctl.paths import ensure_private_dir
from jobctl.secrets import is_secret

if TYPE_CHECKING:  # the definitions, Spark and the code store load when used: `get RUN` only lists ids and tags
    from jobctl.backends.local import LocalBackend
    from jobctl.model.application import ApplicationDefinition

class LocalApplications:
    required_fields: tuple[str, ...] = ()  # spec paths an application must set here

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend
        self.store = backend.store  # its schema has the applications table

    # --- applications ------------------------------------------------------------------------------
    def create(self, app: ApplicationDefinition, tags: Mapping[str, str], retry_token: str, *,
               source: Path | None = None) -> str:
        """The application made (the one made with this retry token, if it exists); its id."""
        kept = str(self._keep(source)) if source is not None else None
        with self.store.transaction() as db:
            existing = db.execute("SELECT id FROM applications WHERE retry_token = ?", (retry_token,)).fetchone()
            if existing:
                return str(existing[0])
            app_id = new_id(LOCAL_APPLICATION.removesuffix("-"))
            tagged = app.with_tags(tags)
            db.execute("INSERT INTO applications (id, name, tags, definition, source_path, etag, created, retry_token) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (app_id, tagged.display_name, json.dumps(dict(tagged.tags)), _encode(tagged), kept,
                        new_id("etag"), time.time(), retry_token))
        return app_id

    def read(self, application_id: str) -> tuple[str | None, ApplicationDefinition, Any]:
        """The application's etag and definition (and, as OCI's read gives its SDK model, its source path)."""
        row = self._row(application_id)
        return row["etag"], _decode(row["definition"]), row["source_path"]

    def applications(self, *, compartment: str | None = None, managed: bool = True) -> list[AppliedApplication]:
        """The applications held here that jobctl manages (`managed=False`: the others), newest first."""
        rows = self.store.query("SELECT id, name, tags, definition, created FROM applications ORDER BY created DESC")
        # the compartment straight from the stored JSON (by attribute): a listing builds no ApplicationDefinition
        found = [AppliedApplication(row["id"], json.loads(row["tags"]).get(TAG_NAME) or row["name"], "ACTIVE",
                                    json.loads(row["definition"]).get("compartment_id"),
                                    datetime.fromtimestamp(row["created"], timezone.utc), tags=json.loads(row["tags"]))
                 for row in rows]
        return [app for app in found if app.managed == managed]

    def listed(self, compartments: Sequence[str | None] = ()) -> list[tuple[str, Mapping[str, str]]]:
        """Every application held here (compartments do not scope them), oldest first: (id, freeform tags)."""
        return [(row["id"], json.loads(row["tags"]))
                for row in self.store.query("SELECT id, tags FROM applications ORDER BY created")]

    def unmanaged(self, compartments: Sequence[str | None] = ()) -> list[tuple[str, str]]:
        """Applications here jobctl's tags do not claim (their tags edited away): (id, display name)."""
        rows = self.store.query("SELECT id, name, tags FROM applications ORDER BY created")
        return [(row["id"], row["name"]) for row in rows if json.loads(row["tags"]).get(TAG_MANAGED) != "true"]

    def update(self, application_id: str, app: ApplicationDefinition, tags: Mapping[str, str], *,
               etag: str | None, current: Any = None, source: Path | None = None) -> None:
        """Change in place what Data Flow's UpdateApplication changes (and its code, when `source` is given)."""
        kept = str(self._keep(source)) if source is not None else None
        with self.store.transaction() as db:
            row = db.execute("SELECT definition, etag, source_path FROM applications WHERE id = ?",
                             (application_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"application {application_id} not found")
            if etag is not None and row[1] != etag:
                raise ConflictError(f"application {application_id} changed since it was read (etag mismatch)",
                                    hint="run `jobctl plan` again to see the current state")
            from jobctl.model.table import updated_in_place

            updated = updated_in_place(_decode(row[0]), app.with_tags(tags))
            db.execute("UPDATE applications SET name = ?, tags = ?, definition = ?, source_path = ?, etag = ? "
                       "WHERE id = ?", (updated.display_name, json.dumps(dict(updated.tags)), _encode(updated),
                                        kept or row[2], new_id("etag"), application_id))

    def code(self, application_id: str) -> tuple[str, bytes] | None:
        """The application's file (name, content), as kept here."""
        kept = self._row(application_id)["source_path"]
        return (Path(kept).name, Path(kept).read_bytes()) if kept and Path(kept).is_file() else None

    def delete(self, application_id: str) -> None:
        """Refused while a run of it is going, as Data Flow refuses it."""
        active = [run for run in self.backend.list_runs(job_id=application_id) if run.state in ACTIVE_STATES]
        if active:
            raise ConflictError(f"application {application_id} has {len(active)} run(s) going",
                                hint="cancel them first")
        with self.store.transaction() as db:
            if db.execute("DELETE FROM applications WHERE id = ?", (application_id,)).rowcount == 0:
                raise NotFoundError(f"application {application_id} not found")

    # --- runs --------------------------------------------------------------------------------------
    def start(self, app: ApplicationDefinition, application_id: str, *, name: str, env: Mapping[str, str],
              retry_token: str, arguments: Sequence[str] | None = None, parameters: Mapping[str, str] | None = None,
              configuration: Mapping[str, str] | None = None, fields: Mapping[str, Any] | None = None,
              marks: Mapping[str, str] | None = None) -> RunState:
        """A run of the application: its Spark process fixed now (what it runs, with which settings), started
        by a supervisor as a job's run is. `app` is the application as held (its source is where it was
        kept)."""
        from jobctl.model.definition import replace  # here, as ApplicationDefinition: a listing needs neither

        if (retried := self.backend.retried_run(retry_token)) is not None:
            return retried
        app = replace(app, **(fields or {}))  # what this run sets: executors (local[N]), its duration
        row = self._row(application_id)
        source = Path(row["source_path"]) if row["source_path"] else None
        if source is None:
            raise NotFoundError(f"application {app.name!r} has no code here",
                                hint="give it a source (fileUri is Object Storage: OCI only)")
        run_id = new_id("run")
        from jobctl.backends.local import spark
        from jobctl.model.application import env_configuration, request_parts, shown_configuration

        launched = spark.launch(app, source, home=self.backend.home, cwd=run_dir(self.backend.home, run_id) / "work",
                                java=self.backend.java,
                                env=env, arguments=arguments, parameters=parameters, configuration=configuration)
        conf = {**app.configuration, **(configuration or {})}
        made = replace(app, arguments=tuple(app.arguments if arguments is None else arguments),
                                   parameters={**app.parameters, **(parameters or {})},
                                   configuration={**conf, **env_configuration(env)})
        settings = {"launch": {"argv": launched.argv, "env": launched.env, "cwd": str(launched.cwd)},
                    "maxRuntimeInMinutes": app.max_duration_in_minutes,
                    "request": request_parts(made),  # what an idempotency key's retry is checked against
                    # what a reader of the run must mask in its output (jobctl.backends.local.store)
                    SECRETS: {key: text for key, text in {**conf, **app.parameters, **(parameters or {})}.items()
                              if is_secret(key)},
                    SHOWN: {"parameters": dict(made.parameters), "configuration": shown_configuration(conf)}}
        return self.backend.supervised(job_id=application_id, job_name=app.name, name=name, env=env,
                                       args=list(app.arguments if arguments is None else arguments),
                                       retry_token=retry_token, settings=settings, run_id=run_id, marks=marks)

    def run(self, run_id: str) -> RunState:
        return self.backend.get_run(run_id=run_id)

    def made(self, run_id: str) -> Mapping[str, Any] | None:
        """The run's request_parts, as its start kept them (None for a run started before they were kept)."""
        rows = self.store.query("SELECT settings FROM runs WHERE id = ?", (run_id,))
        request = json.loads(rows[0]["settings"] or "{}").get("request") if rows else None
        return dict(request) if isinstance(request, dict) else None

    def runs(self, application_id: str, *, compartment: str | None = None) -> list[RunState]:
        return self.backend.list_runs(job_id=application_id)

    def named(self, application_id: str, name: str, *, compartment: str | None = None) -> list[RunState]:
        return [run for run in self.backend.find_runs(name, job_id=application_id) if run.name == name]

    def cancel(self, run_id: str) -> RunState:
        return self.backend.cancel_run(run_id=run_id)

    # --- helpers -----------------------------------------------------------------------------------
    def _row(self, application_id: str) -> Any:
        rows = self.store.query("SELECT * FROM applications WHERE id = ?", (application_id,))
        if not rows:
            raise NotFoundError(f"application {application_id} not found")
        return rows[0]

    def _keep(self, source: Path) -> Path:
        """The code, kept under the artifacts by its digest (an application's file is its artifact)."""
        import hashlib
        import shutil

        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        folder = self.backend.home / "artifacts" / digest
        kept = folder / source.name
        if not kept.exists():
            ensure_private_dir(folder)
            shutil.copyfile(source, kept)
        return kept


def _encode(app: ApplicationDefinition) -> str:
    from jobctl.model.definition import asdict

    return json.dumps(asdict(app), sort_keys=True)


def _decode(text: str) -> ApplicationDefinition:
    from jobctl.model.application import ApplicationDefinition
    from jobctl.model.table import decode

    data = json.loads(text)
    table = decode(ApplicationDefinition, data)
    table["labels"], owner_tags = split_tags({**data.get("labels", {}), **data.get("owner_tags", {})})
    return ApplicationDefinition(**table, owner_tags=owner_tags)
