"""`jobctl schema`: the JSON Schema, for editors and other tools."""

from __future__ import annotations

import click

from jobctl.spec.schema import schema_text


@click.command()
def command() -> None:
    """Print the jobctl/v1 JSON Schema (Draft 2020-12) to stdout.

    Point your editor's YAML language server at it for completion and inline help.

    \b
    Examples:
      jobctl schema > jobctl-v1.schema.json
      # first line of a spec file, for the YAML language server:
      # yaml-language-server: $schema=./jobctl-v1.schema.json
    """
    click.echo(schema_text(), nl=False)
