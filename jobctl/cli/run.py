"""`jobctl run`: start runs of an applied job, with overrides and fan-out."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from jobctl.cli.complete import complete_jobs
from jobctl.cli.context import AppContext
from jobctl.cli.options import JOB_REF, TEXT, show_secrets_option, timeout_option
from jobctl.cli.output import Item, renders
from jobctl.errors import NotFoundError, UsageError
from jobctl.model.job import JobDefinition, JobState, RunState

_WITHOUT_FOLLOW = ("table", "json", "yaml")  # what -o may be without --follow (jsonl streams events)
_WITH_FOLLOW = ("table", "jsonl")  # --follow prints the log as text, or as events

if TYPE_CHECKING:
    from collections.abc import Callable

    from jobctl.model.application import ApplicationDefinition
    from jobctl.spec.model import JobSpec

DEFAULT_SPEC = "job.yaml"
DEFAULT_MAX_RUNS = 100
MAX_FAN_OUT = 10_000  # runs one command starts, --yes or not (a workflow step starts at most 1,000)


def _check_run_name(name: str) -> None:
    """Names are shown in tables and logs: no control or invisible formatting characters (a bidi
    override can make one name look like another), nothing blank, nothing OCI would refuse (255)."""
    import unicodedata

    if any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        raise UsageError("--name: a run name cannot hold a newline or another control or formatting character")
    if not name.strip():
        raise UsageError("--name: a run name cannot be blank")
    if len(name) > 255:
        raise UsageError(f"--name: a run name has at most 255 characters, not {len(name)}")
    if _like_a_run_id(name):
        raise UsageError(f"--name {name}: a run name cannot look like a run id (run-..., ocid1....)",
                         hint=f"`jobctl get {name}` would find this run, not the one whose id it starts")


def _check_names(names: Iterable[str], given: str | None) -> None:
    """The names the runs will have: none holds a secret value (the job's, or --env's, known once the job is
    read: a name is the run's display name on OCI, which anyone who can read the job reads, as spec names are),
    and none looks like a run id (red team, session 14: a name from --idempotency-key too)."""
    from jobctl.secrets import REDACTOR

    option = "--name" if given is not None else "--idempotency-key"
    for name in names:
        if REDACTOR.contains_secret(name):
            said = "a run name cannot hold" if given is not None else "the run's name is made from the key, which holds"
            raise UsageError(f"{option}: {said} a secret value (it is the run's display name, which anyone who can "
                             "read the job can read)", hint="give the runs a --name")
        if given is None and _like_a_run_id(name):
            raise UsageError(f"--idempotency-key: the run's name {name} would look like a run id (run-..., "
                             "ocid1....)", hint="give the runs a --name")


def _like_a_run_id(name: str) -> bool:
    """A name is looked up before an id prefix: one like a run id would be found instead of that run."""
    return re.fullmatch(r"run-[0-9a-z]*|ocid1\..*", name) is not None


def _confirm_fan_out(app: AppContext, count: int, yes: bool) -> None:
    """Many runs cost real money on OCI: past the limit, --yes or a person at a terminal must agree; past
    MAX_FAN_OUT, nobody can (a million combinations took gigabytes before the first run started)."""
    if count > MAX_FAN_OUT:
        raise UsageError(f"a command starts at most {MAX_FAN_OUT} runs, not {count}",
                         hint="split the --matrix over several commands")
    text = app.environ.get("JOBCTL_MAX_RUNS", "")
    if text and not (text.isdigit() and len(text) < 8):
        raise UsageError(f"JOBCTL_MAX_RUNS must be a whole number of runs, not {text!r}")
    limit = int(text) if text else DEFAULT_MAX_RUNS
    if count > limit:
        from jobctl.cli.apply import confirm_destructive

        confirm_destructive(app, yes, f"start {count} runs (more than JOBCTL_MAX_RUNS={limit})")


def job_from_scope(app: AppContext, job_ref: str | None, spec_file: str | None, *,
                   runnable: bool = False) -> JobState:
    """JOB by name/id, else the single job in -p SPEC (default ./job.yaml), which must be applied
    (`runnable`: and able to start runs)."""
    from jobctl.engine.resolve import resolve_job

    backend = app.backend()
    if job_ref and not spec_file:
        return resolve_job(backend, job_ref, runnable=runnable)
    path = spec_file or DEFAULT_SPEC
    if spec_file and not Path(spec_file).exists():
        from jobctl.spec.load import shown_path

        raise NotFoundError(f"spec file {shown_path(spec_file)} not found")
    if not Path(path).exists():
        raise UsageError(f"no JOB given and no {path} here", hint="name the job, or point at its spec with -p SPEC")
    from jobctl.plan.desired import with_defaults
    from jobctl.spec.load import load_specs

    loaded = load_specs([path], app.environ)
    if loaded.workflows and not loaded.jobs:  # said before its steps' jobs are found missing from the file
        raise UsageError(f"{path} is a workflow, not a job", hint=f"start it with `jobctl workflow run {path}`")
    loaded.raise_for_errors()
    names = [job.name for job in loaded.jobs]
    if not names and loaded.applications:
        first = loaded.applications[0].name
        raise UsageError(f"{path} defines Data Flow applications, no job: run one by its name once applied",
                         hint=f"jobctl apply {path} && jobctl run {first}")
    if job_ref:
        if job_ref not in names:
            raise UsageError(f"{path} defines no job {job_ref!r}; it defines: {', '.join(names)}")
        name = job_ref
    elif len(names) == 1:
        name = names[0]
    else:
        raise UsageError(f"{path} defines {len(names)} jobs ({', '.join(names)}); name the one to run")
    spec = next(s for s in loaded.jobs if s.name == name)
    where = with_defaults(spec.definition, backend.spec_defaults())
    try:  # where the spec puts the job: a job of that name elsewhere is another job
        job = resolve_job(backend, name, compartment_id=where.compartment_id, project_id=where.project_id,
                          runnable=runnable)
    except NotFoundError as exc:
        raise NotFoundError(f"job {name!r} is not applied yet", hint=f"run `jobctl apply {path}` first") from exc
    _warn_if_stale(app, job, spec)
    return job


def _say_what_has_no_effect(app: AppContext, settings: dict[str, object]) -> None:
    from jobctl.model.table import rows

    ignored = [row.shown for row in rows(JobDefinition) if row.attr in settings and row.ignored_locally]
    if ignored and app.backend().runs_here:
        app.info(f"Locally these have no effect (they apply on OCI): {', '.join(ignored)}.")


def _warn_if_stale(app: AppContext, job: JobState, spec: JobSpec) -> None:
    from jobctl.plan.desired import desired_job

    if job.spec_hash and desired_job(spec, defaults=app.backend().spec_defaults()).spec_hash != job.spec_hash:
        app.info(f"Warning: the spec of {spec.name!r} has changed since it was applied; "
                 "this run uses the applied job (`jobctl apply` to update it)")


def _start_application(app: AppContext, held: tuple[str, ApplicationDefinition], begun: list[RunState], *,
                       env: dict[str, str], args: tuple[str, ...], settings: tuple[str, ...],
                       combos: list[dict[str, str]], name: str | None, key: str | None,
                       max_parallel: int) -> list[RunState]:
    """One run of the application per --matrix combination: --env as the driver's and executors' env, --arg as
    its arguments, --set parameters.NAME=V / configuration.KEY=V / any field a run may set (numExecutors, ...)
    for this run. What OCI would refuse (a placeholder no parameter fills, a bad parameter name) is a usage
    error here, on every backend, before any run starts. An idempotency key names the runs as a job's."""
    import re

    from jobctl.cli.assignments import parse_settings
    from jobctl.engine.application_runs import plan_application_runs, start_application_runs
    from jobctl.engine.runs import run_application
    from jobctl.model.application import ApplicationDefinition, placeholders
    from jobctl.model.table import rows

    app_id, definition = held
    fields = parse_settings(settings, ApplicationDefinition)
    parameters: dict[str, str] = fields.pop("parameters", {})
    configuration: dict[str, str] = fields.pop("configuration", {})
    if "arguments" in fields:
        if args:
            raise UsageError("give the run's arguments with --arg or with --set arguments=[...], not both")
        args = fields.pop("arguments")
    for bad in [p for p in parameters if not re.fullmatch(r"[A-Za-z0-9_]+", p)]:
        raise UsageError(f"--set parameters.{bad}: a parameter's name is letters, digits and '_'")
    maps = {"parameters": parameters, "configuration": configuration}
    run_application(definition, {**fields, **{field: entries for field, entries in maps.items() if entries}})
    given = {**definition.parameters, **parameters}
    for missing in [p for p in placeholders(list(args) if args else definition.arguments) if p not in given]:
        raise UsageError(f"the arguments use ${{{missing}}}, which no parameter gives",
                         hint=f"set it: --set parameters.{missing}=VALUE")
    ignored = [row.shown for row in rows(ApplicationDefinition) if row.attr in fields and row.ignored_locally]
    if ignored and app.backend().runs_here:
        app.info(f"Locally these have no effect (they apply on OCI): {', '.join(ignored)}.")
    chosen = {**fields, **{field: entries for field, entries in maps.items() if entries},
              **({"arguments": tuple(args)} if args else {})}
    requests = plan_application_runs(app_id, definition, env=env, settings=chosen, matrix=combos, name=name,
                                     idempotency_key=key)
    _check_names((request.name for request in requests), name)
    dataflow = app.backend().dataflow  # type: ignore[attr-defined]
    return _start_each(app, begun, lambda **said: start_application_runs(
        dataflow, app_id, definition, requests, max_parallel=max_parallel, **said))


def _start_each(app: AppContext, begun: list[RunState], start: Callable[..., list[RunState]]) -> list[RunState]:
    """Start the runs (`start` with the callbacks of engine.runs.start_each), each said as it starts (or is
    re-attached to), kept in `begun` for an interrupt."""
    def started(run: RunState) -> None:
        begun.append(run)
        app.started.append(run.id)
        app.info(f"started {run.name} ({run.id})")

    def reattached(run: RunState) -> None:
        begun.append(run)
        app.started.append(run.id)
        app.info(f"re-attached to {run.name} ({run.id}), {run.state}: started before with this idempotency key")

    def interrupted(under_way: int) -> None:
        if under_way:
            app.info(f"Interrupted: no new run starts; waiting for the {under_way} start(s) under way")

    return start(on_started=started, on_reattached=reattached, on_interrupt=interrupted)


def _watch(app: AppContext, runs: list[RunState], *, wait: bool, follow: bool, timeout: float | None,
           cancel: bool) -> Item | int:
    """Runs once started: followed or waited for when asked, else their ids (for people, on stdout)."""
    from jobctl.cli.watch import follow_runs, run_list, wait_runs  # not for job_from_scope (`logs --file`)

    if follow:  # these handle their own interrupts, with every run
        return follow_runs(app, runs, timeout=timeout, cancel_on_interrupt=cancel)
    if wait:
        return wait_runs(app, runs, timeout=timeout, cancel_on_interrupt=cancel)

    def ids(app: AppContext) -> None:  # for `jobctl wait $(jobctl run ...)`
        app.stdout.write("".join(f"{run.id}\n" for run in runs))
        if len(runs) == 1:
            app.info(f"follow: jobctl logs {runs[0].id} --follow")

    return run_list(app, runs, ids)


@click.command()
@click.argument("job", required=False, type=JOB_REF, shell_complete=complete_jobs)
@click.option("-p", "--file", "spec_file", type=click.Path(dir_okay=False),
              help=f"Spec file holding the job (default: ./{DEFAULT_SPEC} when JOB is omitted).")
@click.option("-e", "--env", "env", multiple=True, type=TEXT, metavar="K=V",
              help="Set an env var for the run (repeatable).")
@click.option("-a", "--arg", "args", multiple=True, type=TEXT, metavar="ARG",
              help="Replace the job's args; repeat for several (--arg=--epochs --arg 5).")
@click.option("--args-append", multiple=True, type=TEXT, metavar="ARG", help="Append to the job's args instead.")
@click.option("-s", "--set", "settings", multiple=True, type=TEXT, metavar="PATH=VALUE",
              help="Set a field for this run only, by its plan name (repeatable); see below.")
@click.option("-m", "--matrix", multiple=True, type=TEXT, metavar="K=a,b",
              help="Start one run per value; repeat for the cartesian product.")
@click.option("--max-parallel", type=click.IntRange(1, 256), default=8, show_default=True,
              help="At most this many runs started at once.")
@click.option("--name", type=TEXT, help="Run name (default: JOB-run-TIMESTAMP; matrix runs add their values).")
@click.option("-w", "--wait", is_flag=True, help="Wait for the runs to end; exit code mirrors them.")
@click.option("-f", "-F", "--follow", is_flag=True,
              help="Stream the logs until the runs end; exit code mirrors them (-f, as for logs).")
@timeout_option
@click.option("--idempotency-key", type=TEXT, metavar="KEY",
              help="A retried command with the same KEY (e.g. the CI run id) attaches to the runs it started.")
@click.option("--cancel-on-interrupt", is_flag=True,
              help="Ctrl-C, SIGTERM or SIGHUP cancels the runs instead of detaching.")
@click.option("-y", "--yes", is_flag=True,
              help=f"Start more than JOBCTL_MAX_RUNS (default {DEFAULT_MAX_RUNS}) runs without asking (a command "
                   f"starts at most {MAX_FAN_OUT:,}).")
@show_secrets_option
@renders("table", "json", "yaml", "jsonl")
def command(
    app: AppContext, *, job: str | None, spec_file: str | None, env: tuple[str, ...], args: tuple[str, ...],
    args_append: tuple[str, ...], settings: tuple[str, ...], matrix: tuple[str, ...], max_parallel: int,
    name: str | None, wait: bool, follow: bool, timeout: float | None, idempotency_key: str | None,
    cancel_on_interrupt: bool, yes: bool, show_secrets: bool,
) -> Item | int:
    """Start a run of an applied job, or one run per --matrix combination.

    --env values win over the job's env (the job's other variables are kept); --arg replaces the
    job's args. Without --wait/--follow the run ids are printed on stdout and the command returns
    at once. With them, the exit code mirrors the runs: 0 SUCCEEDED, 1 FAILED, 8 CANCELED,
    7 timed out. Ctrl-C detaches (the runs go on) unless --cancel-on-interrupt.

    --set changes, for this run only, any field OCI lets a run override: infrastructure (shape,
    ocpus, memoryInGBs, cpuBaseline, blockStorageSizeInGBs, subnetId, capacityReservationId),
    logging, runtime.maxRuntimeInMinutes, runtime.startupProbe, the container (runtime.image,
    imageDigest, imageSignatureId, cmd, entrypoint), runtime.conda, storageMounts and a multi-node
    job's nodes. Text is taken as written, other values as YAML, and PATH= resets a field to its
    default; the run's job is checked as a spec would be, and keeps its infrastructure type.

    \b
    Examples:
      jobctl run hello --env MODEL=xgb --follow
      jobctl run train --set infrastructure.shape=VM.GPU.A10.2 --set runtime.maxRuntimeInMinutes=30
      jobctl run -p job.yaml --arg=--epochs --arg 5 --wait
      jobctl run tune-models --matrix MODEL=xgb,rf,lgbm --wait
      jobctl run train --wait --idempotency-key "$CI_PIPELINE_ID" --cancel-on-interrupt
      jobctl run sweep --matrix LR=1e-1,1e-2,1e-3 --matrix SEED=$(seq -s, 1 50) --yes
    """
    from jobctl.cli.assignments import parse_assignments, parse_matrix, parse_settings
    from jobctl.engine.runs import plan_runs

    app.show_secrets = show_secrets
    if wait and follow:
        raise UsageError("use either --wait or --follow")
    if timeout is not None and not (wait or follow):  # (it was ignored: the command returns once runs start)
        raise UsageError("--timeout is how long --wait or --follow waits: give one of them")
    if follow and job and job.endswith((".yaml", ".yml")) and Path(job).is_file():
        raise UsageError(f"{job!r} is a spec file: -f is --follow, as for logs",
                         hint=f"give the spec with --file (-p): jobctl run -p {job} --follow")
    if app.output not in _WITHOUT_FOLLOW and not follow:
        raise UsageError("-o jsonl streams events and needs --follow")
    if app.output not in _WITH_FOLLOW and follow:
        raise UsageError(f"-o {app.output} with --follow: the log is printed as text, or with -o jsonl as events",
                         hint="--wait -o json ends with the runs as JSON")
    if name is not None:
        _check_run_name(name)
    if idempotency_key == "":  # "$CI_PIPELINE_ID" unset: without a key, a retried step would start its runs again
        raise UsageError("an empty --idempotency-key (an unset variable?)",
                         hint="give the key a value, or leave the option out to start new runs")
    overrides = parse_assignments(env, "--env")
    # checked (and a fan-out over JOBCTL_MAX_RUNS confirmed) before anything is looked up
    combos = parse_matrix(matrix, overrides, confirm=lambda count: _confirm_fan_out(app, count, yes))
    # locally, the launcher of their supervisors starts up while they are looked up and planned
    app.backend().prepare_runs(len(combos))
    target = None
    if job and not spec_file:
        try:
            target = job_from_scope(app, job, None, runnable=True)
        except NotFoundError as missing:
            from jobctl.engine.resolve import neither, resolve_application

            held = resolve_application(app.backend(), job)
            if held is None:
                raise neither(app.backend(), missing) from None
            if args_append:
                raise UsageError("--args-append is for jobs: give an application's run its arguments with --arg") \
                    from None
            from jobctl.cli.watch import interruptible

            begun: list[RunState] = []
            with interruptible(app, begun, cancel_on_interrupt=cancel_on_interrupt, ids_to_stdout=True,
                               planned=len(combos)):
                runs = _start_application(app, held, begun, env=overrides, args=args, settings=settings,
                                          combos=combos, name=name, key=idempotency_key,
                                          max_parallel=max_parallel)
                return _watch(app, runs, wait=wait, follow=follow, timeout=timeout, cancel=cancel_on_interrupt)
    chosen = parse_settings(settings)
    target = target or job_from_scope(app, job, spec_file, runnable=True)
    requests = plan_runs(
        target, env=overrides, args=list(args) if args else None, append_args=args_append, matrix=combos,
        name=name, idempotency_key=idempotency_key, settings=chosen,
    )
    _check_names((request.name for request in requests), name)
    _say_what_has_no_effect(app, chosen)
    from jobctl.cli.watch import interruptible
    from jobctl.engine.runs import start_runs

    begun = []
    with interruptible(app, begun, cancel_on_interrupt=cancel_on_interrupt, ids_to_stdout=True,
                       planned=len(requests)):
        runs = _start_each(app, begun, lambda **said: start_runs(app.backend(), target, requests,
                                                                  max_parallel=max_parallel, **said))
        if runs and runs[0].interpreter:  # a local python job: which python runs it
            app.info(f"python: {runs[0].interpreter}")
        return _watch(app, runs, wait=wait, follow=follow, timeout=timeout, cancel=cancel_on_interrupt)
