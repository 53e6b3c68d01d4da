"""`jobctl wait`: block until runs end; the exit code mirrors them."""

from __future__ import annotations

import click

from jobctl.cli.complete import complete_active_runs
from jobctl.cli.context import AppContext
from jobctl.cli.options import output_option, pass_app, timeout_option
from jobctl.cli.watch import wait_runs


@click.command()
@click.argument("runs", nargs=-1, required=True, metavar="RUN...", shell_complete=complete_active_runs)
@timeout_option
@output_option()
@pass_app
def command(app: AppContext, *, runs: tuple[str, ...], timeout: float | None, output: str | None) -> None:
    """Wait until every RUN is SUCCEEDED, FAILED or CANCELED.

    Exit code: 0 when all succeeded, else the worst: 1 FAILED, 8 CANCELED; 7 on --timeout.

    \b
    Examples:
      jobctl wait run-mf3k2a1b
      jobctl wait $(jobctl run tune-models --matrix MODEL=xgb,rf) --timeout 2h
    """
    from jobctl.engine.resolve import resolve_run

    backend = app.backend()
    resolved = [resolve_run(backend, ref) for ref in runs]
    wait_runs(app, resolved, timeout=timeout, fmt=app.output_format(output))
