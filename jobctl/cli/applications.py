"""`jobctl applications`: list Data Flow applications."""

from __future__ import annotations

import click

from jobctl.cli.context import AppContext
from jobctl.cli.options import listing_options
from jobctl.cli.output import Listing, renders
from jobctl.errors import UsageError


@click.command()
@listing_options("applications")
@renders()
def command(app: AppContext, *, show_all: bool, history: bool) -> Listing:
    """List the Data Flow applications in the backend (managed by jobctl, or all with --all).

    On OCI, those of the default compartment (--compartment-id / OCI_COMPARTMENT_ID). `get NAME`, `runs
    NAME`, `run NAME` and `export NAME` take an application's name where no job has it (docs/dataflow.md).

    \b
    Examples:
      jobctl applications
      jobctl --backend oci applications --all -o json
    """
    from jobctl.render.human import ago

    backend = app.backend()
    held = getattr(backend, "dataflow", None)
    if held is None:
        raise UsageError(f"the {backend.name} backend holds no Data Flow application (local and oci do)")
    compartment = backend.spec_defaults().get("spec.compartmentId")
    if backend.name == "oci" and not compartment:
        raise UsageError("name the compartment to list: pass --compartment-id (or set OCI_COMPARTMENT_ID)")
    listed = [*held.applications(compartment=compartment),
              *(held.applications(compartment=compartment, managed=False) if show_all else [])]
    earlier = [a for a in listed if a.superseded]
    shown = sorted((a for a in listed if history or not a.superseded), key=lambda a: a.created, reverse=True)

    def footer(app: AppContext) -> None:
        if earlier and not history:
            app.info(f"{len(earlier)} earlier generation(s) not shown; --history lists them")

    return Listing(
        "DataFlowApplicationList", shown,
        lambda a: {"id": a.id, "name": a.name, "managed": a.managed, "superseded": a.superseded,
                   "compartmentId": a.compartment, "timeCreated": a.created.isoformat(), "tags": dict(a.tags)},
        ["NAME", "ID", "MANAGED", "CREATED"],
        lambda a: [a.name, a.id, "jobctl" + (" (superseded)" if a.superseded else "") if a.managed else "-",
                   ago(a.created)],
        footer=footer, empty="No Data Flow applications found.")
