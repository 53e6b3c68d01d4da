"""`jobctl plan`: what apply would change, field by field."""

from __future__ import annotations

import click

from jobctl.cli.context import AppContext
from jobctl.cli.options import output_option, pass_app, show_secrets_option, spec_paths_argument
from jobctl.errors import ExitCode
from jobctl.plan.model import Plan
from jobctl.render.machine import dumps, plan_dict
from jobctl.render.plan import print_plan

adopt_option = click.option(
    "--adopt", is_flag=True,
    help="Take over jobs jobctl did not create whose display name matches a spec (tag them; see export).",
)


def compute_plan(app: AppContext, paths: tuple[str, ...], *, prune: bool, refresh: bool, adopt: bool = False) -> Plan:
    """Load and validate the specs, build artifacts, and diff against the backend."""
    from jobctl.engine.apply import build_plan
    from jobctl.plan.desired import desired_job
    from jobctl.spec.load import load_specs

    result = load_specs(paths, app.environ)
    result.raise_for_errors()
    desired = [desired_job(spec) for spec in result.jobs]
    return build_plan(app.backend(), desired, prune=prune, refresh=refresh, adopt=adopt)


def show_plan(app: AppContext, plan: Plan, fmt: str) -> None:
    if fmt == "table":
        print_plan(app.printer(), plan, show_secrets=app.show_secrets)
    elif fmt == "markdown":
        from jobctl.render.markdown import plan_markdown

        click.echo(plan_markdown(plan, show_secrets=app.show_secrets), nl=False)
    else:
        click.echo(dumps(plan_dict(plan, app.show_secrets), fmt), nl=False)


@click.command()
@spec_paths_argument()
@click.option("--prune", is_flag=True, help="Also delete managed jobs that are no longer in the specs.")
@click.option("--refresh", is_flag=True, help="Fetch every job to detect changes made outside jobctl.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when nothing would change, 2 when changes are pending, 1 on error.")
@adopt_option
@show_secrets_option
@output_option("table", "json", "yaml", "markdown")
@pass_app
def command(
    app: AppContext, *, paths: tuple[str, ...], prune: bool, refresh: bool, detailed_exitcode: bool,
    adopt: bool, show_secrets: bool, output: str | None,
) -> None:
    """Show what `apply` would create, update, replace or delete.

    Fields OCI can change in place (description, labels, infrastructure) are updates (~);
    anything else (env, args, runtime, logging, the source artifact) replaces the job (-/+),
    and the plan names the field that forces it. Secret-looking env values are masked.

    \b
    Examples:
      jobctl plan job.yaml
      jobctl plan specs/ --prune
      jobctl plan specs/ --detailed-exitcode   # CI: 0 no changes, 2 changes pending
      jobctl plan job.yaml -o json
      jobctl plan specs/ -o markdown > plan.md   # for a pull request comment
    """
    app.show_secrets = show_secrets
    plan = compute_plan(app, paths, prune=prune, refresh=refresh, adopt=adopt)
    show_plan(app, plan, app.output_format(output))
    if detailed_exitcode and plan.has_changes:
        raise SystemExit(2)
    raise SystemExit(ExitCode.OK)
