"""`jobctl plan`: what apply would change, field by field."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from jobctl.cli.context import AppContext
from jobctl.cli.options import show_secrets_option, spec_paths_argument
from jobctl.cli.output import Result, renders
from jobctl.cli.validate import say_skipped
from jobctl.errors import ExitCode, JobctlError, UsageError
from jobctl.plan.model import Plan
from jobctl.render.machine import plan_dict
from jobctl.render.plan import print_plan

if TYPE_CHECKING:
    from collections.abc import Sequence

    from jobctl.plan.applications import ApplicationChange
    from jobctl.spec.load import LoadResult

adopt_option = click.option(
    "--adopt", is_flag=True,
    help="Take over jobs jobctl did not create whose display name matches a spec (tag them; see export).",
)


class PlanRequest(NamedTuple):
    """What plan, apply and adopt are asked to consider beyond the specs."""

    prune: bool = False
    prune_history: bool = False
    refresh: bool = False
    adopt: bool = False
    set_name: str | None = None  # --set-name; else $JOBCTL_SET, else derived from the paths


def plan_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--prune, --prune-history, --set-name and --refresh, handed to the command as one `request`."""

    @functools.wraps(command)
    def wrapper(*args: Any, prune: bool, prune_history: bool, set_name: str | None, refresh: bool,
                **kwargs: Any) -> Any:
        request = PlanRequest(prune, prune_history, refresh, kwargs.pop("adopt", False), set_name)
        return command(*args, request=request, **kwargs)

    for option in reversed((
        click.option("--prune", is_flag=True,
                     help="Also delete managed jobs of this set that are no longer in the specs, with their runs (and "
                          "Data Flow applications, whose runs stay)."),
        click.option("--prune-history", is_flag=True,
                     help="Also delete the superseded generations (jobs replaced earlier) of the specs' jobs whose "
                          "runs have ended, with those runs."),
        click.option("--set-name", "set_name", metavar="NAME",
                     help="The set the specs belong to, which --prune is limited to [default: $JOBCTL_SET, else "
                          "derived from the specs' directory; see docs/sets.md]."),
        click.option("--refresh", is_flag=True, help="Fetch every job to detect changes made outside jobctl."),
    )):
        wrapper = option(wrapper)
    return wrapper


def compute_plan(app: AppContext, paths: tuple[str, ...], request: PlanRequest) -> Plan:
    """Load and validate the specs, build artifacts, and diff against the backend: jobs, Data Flow
    applications, and on OCI the pipelines of workflows with spec.engine: pipeline (jobctl.workflow.deploy)."""
    from jobctl.engine.resolve import applied_env
    from jobctl.spec.load import load_specs

    # a workflow's step may name a job (or application) applied before, not in these files, as validate says
    result = load_specs(paths, app.environ, external_jobs=applied_env(app.backend),
                        pipelines=app.backend_name == "oci")
    say_skipped(app, result)
    result.raise_for_errors()
    if request.prune:
        _refuse_doubtful_prune(result)
    plan = _jobs_and_pipelines(app, paths, request, result)
    plan = plan.replace(warnings=(*result.warnings, *plan.warnings))
    held = getattr(app.backend(), "dataflow", None) if result.applications or request.prune else None
    if not result.applications and (held is None or not plan.set_name):
        return plan
    if held is None:
        return plan.replace(warnings=(*plan.warnings, *(
            f"{a.name}: this backend holds no Data Flow application (local and oci do)" for a in result.applications)))
    from jobctl.errors import ConfigError
    from jobctl.plan.applications import plan_applications

    try:
        apps, same, warned = plan_applications(held, result.applications, plan.set_name,
                                               app.backend().spec_defaults(), prune=request.prune, adopt=request.adopt,
                                               refresh=request.refresh, prune_history=request.prune_history)
    except ConfigError as exc:
        if result.applications:
            raise
        # --prune of jobs only, where Data Flow is not open to this user: the jobs' prune goes on, and says so
        return plan.replace(warnings=(*plan.warnings, f"no Data Flow application is pruned: {exc.message}"))
    from jobctl.model.application import ApplicationDefinition
    from jobctl.model.table import rows, set_fields

    # what the applications set that this backend cannot honour (it runs them here), as for jobs
    found = {row.shown for spec in result.applications for row in set_fields(spec.definition) if row.ignored_locally}
    ignored = tuple(row.shown for row in rows(ApplicationDefinition) if row.shown in found and app.backend().runs_here)
    return plan.replace(applications=tuple(apps), unchanged_applications=tuple(same),
                   warnings=(*plan.warnings, *warned, *_shared_names(app, apps)),
                   ignored=tuple(dict.fromkeys((*plan.ignored, *ignored))))


def _refuse_doubtful_prune(result: LoadResult) -> None:
    """--prune deletes the jobs of the set that the specs do not hold: a skipped file that names jobctl/ may hold
    one in a way jobctl does not read (nested, a misspelt key), and so may a hidden file that looks like a spec (jobctl
    skips hidden files): the job such a file may define must not be deleted for that."""
    from jobctl.spec.detect import looks_like_spec, mentions_jobctl
    from jobctl.spec.load import HIDDEN

    hidden = [s.shown for s in result.skipped
              if s.why == HIDDEN and (looks_like_spec(s.path) or mentions_jobctl(s.path))]
    if hidden:
        one = len(hidden) == 1
        raise UsageError(f"--prune refused: {', '.join(hidden)} {'is' if one else 'are'} hidden, which jobctl skips, "
                         f"but look{'s' if one else ''} like a spec; pruning could delete the jobs "
                         f"{'it defines' if one else 'they define'}",
                         hint="move each out of the hidden file name or directory, or delete it; `jobctl -v validate "
                              "DIR` lists the files skipped")
    doubtful = [s.shown for s in result.skipped if s.why != HIDDEN and mentions_jobctl(s.path)]
    if doubtful:
        raise UsageError(f"--prune refused: {', '.join(doubtful)} mention{'s' if len(doubtful) == 1 else ''} "
                         f"jobctl/ but hold{'s' if len(doubtful) == 1 else ''} no spec jobctl reads; pruning could "
                         "delete the jobs they mean",
                         hint="make each a jobctl/v1 spec (top-level apiVersion and kind), or move it out of the "
                              "directory; `jobctl -v validate DIR` lists the files skipped")
    if result.dangling:
        links = ", ".join(link for link, _ in result.dangling)
        raise UsageError(f"--prune refused: {links} point{'s' if len(result.dangling) == 1 else ''} to nothing; "
                         "pruning could delete the jobs the specs they meant define",
                         hint="restore the target, or remove the link")


def _shared_names(app: AppContext, changes: Sequence[ApplicationChange]) -> list[str]:
    """A new application whose name a job has (in another set; validate keeps one set's names apart): said,
    since `run NAME`, `get NAME` and the like then mean the job."""
    from jobctl.engine.resolve import resolve_job
    from jobctl.plan.model import Action

    said = []
    for change in changes:
        if change.action is Action.CREATE:
            try:
                job = resolve_job(app.backend(), change.name)
            except JobctlError:
                continue
            said.append(f"application {change.name}: a job of this name exists ({job.id}); `run {change.name}` and "
                        "other commands that take a name will mean the job (give the application's id, or rename one)")
    return said


def _jobs_and_pipelines(app: AppContext, paths: tuple[str, ...], request: PlanRequest, result: LoadResult) -> Plan:
    from jobctl.engine.apply import build_plan
    from jobctl.plan.desired import desired_job
    from jobctl.plan.sets import plan_set

    set_name = plan_set(paths, request.set_name, app.environ)
    backend = app.backend()
    defaults = backend.spec_defaults()
    desired = [desired_job(spec, set_name, defaults) for spec in result.jobs]
    declared = [w for w in result.workflows if w.engine == "pipeline"]
    if backend.name != "oci":  # only OCI keeps pipelines (importing its backend is not free)
        plan = build_plan(backend, desired, prune=request.prune, refresh=request.refresh, adopt=request.adopt,
                          prune_history=request.prune_history, set_name=set_name)
        return plan.replace(warnings=(*plan.warnings, *(
            f"workflow {w.name}: spec.engine pipeline runs on OCI; this backend keeps no pipeline (here `workflow "
            "run` drives it, the client engine)" for w in declared)))
    from jobctl.backends.oci import OciBackend
    from jobctl.workflow import deploy

    assert isinstance(backend, OciBackend)
    lookup = deploy.JobLookup(backend)
    desired += deploy.selector_jobs(lookup, declared, desired, set_name, defaults)
    plan = build_plan(backend, desired, prune=request.prune, refresh=request.refresh, adopt=request.adopt,
                      prune_history=request.prune_history, set_name=set_name)
    if not declared and not request.prune:
        return plan
    changes, unchanged = deploy.plan_pipelines(
        lookup, declared, {c.name: c.action for c in plan.changes}, set_name=set_name, prune=request.prune,
        kept=[w.name for w in result.workflows],
        scopes=[(d.definition.compartment_id, d.definition.project_id) for d in desired if d.definition.compartment_id])
    return plan.replace(pipelines=tuple(changes), unchanged_pipelines=tuple(unchanged))


class PlanResult(Result):
    """A plan, as a table, markdown (a pull request comment) or data; `extra`: what the data adds (an apply's
    outcome)."""

    def __init__(self, plan: Plan, show_secrets: bool, *, exit_code: int = ExitCode.OK,
                 extra: dict[str, Any] | None = None) -> None:
        self.plan, self.show_secrets, self.exit_code, self.extra = plan, show_secrets, exit_code, extra or {}

    def data(self) -> Any:
        return {**plan_dict(self.plan, self.show_secrets), **self.extra}

    def table(self, app: AppContext) -> None:
        print_plan(app.printer(), self.plan, show_secrets=self.show_secrets)

    def markdown(self, app: AppContext) -> None:
        from jobctl.render.markdown import plan_markdown

        app.stdout.write(plan_markdown(self.plan, show_secrets=self.show_secrets))


@click.command()
@spec_paths_argument()
@plan_options
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when nothing would change, 2 when changes are pending; an error exits with its own "
                   "code (3 spec, 5 conflict, 6 config, ...).")
@adopt_option
@show_secrets_option
@renders("table", "json", "yaml", "markdown")
def command(
    app: AppContext, *, paths: tuple[str, ...], request: PlanRequest, detailed_exitcode: bool, show_secrets: bool,
) -> PlanResult:
    """Show what `apply` would create, update, replace or delete.

    Fields OCI can change in place (description, labels, infrastructure) are updates (~);
    anything else (env, args, runtime, logging, the source artifact) replaces the job (-/+),
    and the plan names the field that forces it. Secret-looking env values are masked.

    \b
    Examples:
      jobctl plan job.yaml
      jobctl plan specs/ --prune             # jobs of this set no longer in specs/
      jobctl plan specs/ --prune-history     # also old generations, with their runs
      jobctl plan specs/ --detailed-exitcode   # CI: 0 no changes, 2 changes pending
      jobctl plan job.yaml -o json
      jobctl plan specs/ -o markdown > plan.md   # for a pull request comment
    """
    app.show_secrets = show_secrets
    plan = compute_plan(app, paths, request)
    return PlanResult(plan, show_secrets, exit_code=2 if detailed_exitcode and plan.has_changes else ExitCode.OK)
