"""`jobctl adopt`: take over existing jobs described by specs (apply --adopt)."""

from __future__ import annotations

import click

from jobctl.cli.apply import apply_specs
from jobctl.cli.context import AppContext
from jobctl.cli.options import show_secrets_option, spec_paths_argument
from jobctl.cli.output import Item, renders
from jobctl.cli.plan import PlanRequest


@click.command()
@spec_paths_argument()
@click.option("-y", "--yes", is_flag=True, help="Do not ask before replacing jobs that cannot be tagged in place.")
@click.option("--force", is_flag=True,
              help="Replace jobs even if they hold fields no spec can express yet (they are lost).")
@show_secrets_option
@renders()
def command(app: AppContext, *, paths: tuple[str, ...], yes: bool, force: bool, show_secrets: bool) -> Item:
    """Take over jobs made outside jobctl whose display name matches a spec: the same as apply --adopt.

    A job that matches its spec is tagged as managed in place; one that differs where OCI cannot
    update it is replaced (with confirmation). Typically used on what `jobctl export` wrote.

    \b
    Examples:
      jobctl export my-console-job -d specs/
      jobctl adopt specs/my-console-job
    """
    return apply_specs(app, paths, PlanRequest(adopt=True), yes=yes, force=force, show_secrets=show_secrets)
