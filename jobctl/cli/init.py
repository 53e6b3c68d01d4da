"""`jobctl init`: start a new job from a template that validates as written."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import click

from jobctl.cli.context import AppContext
from jobctl.cli.options import Ref, pass_app
from jobctl.errors import UsageError
from jobctl.spec.starter import RUNTIME_TYPES, default_name, starter_files


@click.command()
@click.argument("name", required=False, type=Ref("job"))
@click.option("--runtime", type=click.Choice(RUNTIME_TYPES), default="python", show_default=True,
              help="What the job runs.")
@click.option("-d", "--dir", "directory", type=click.Path(file_okay=False),
              help="Directory to write into (created if missing) [default: NAME/, or . without NAME].")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@pass_app
def command(app: AppContext, *, name: str | None, runtime: str, directory: str | None, force: bool) -> None:
    """Write a commented starter spec (job.yaml) and the source it runs, into NAME/.

    Without NAME, into this directory, the job named after it. Existing files are never overwritten without
    --force; a file or a symbolic link to nothing where a directory is needed (NAME, src) is refused (exit 2),
    and nothing is written.

    \b
    Examples:
      jobctl init my-job                # my-job/job.yaml and my-job/src/main.py
      jobctl init                       # here: a python job named after this directory
      jobctl init etl --runtime shell
      jobctl init trainer --runtime container -d services/trainer/
      jobctl init report --runtime notebook
    """
    target = Path(directory if directory is not None else name if name else ".")
    job_name = name or default_name(target.resolve().name)
    files = starter_files(job_name, runtime)
    _refuse_blocked(target, files)
    existing = [rel for rel in files if os.path.lexists(target / rel)]
    if existing and not force:
        raise UsageError(
            f"{', '.join(str(target / rel) for rel in existing)} already exist{'s' if len(existing) == 1 else ''}",
            hint="pass --force to overwrite, or -d to write elsewhere",
        )
    for rel, content in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        if path.suffix == ".sh":
            path.chmod(0o755)
        if not app.quiet:
            click.echo(f"wrote {path}")
    if not app.quiet:
        spec = target / "job.yaml"
        click.echo(f"next: jobctl validate {spec} && jobctl apply {spec}")


def _refuse_blocked(target: Path, files: Iterable[str]) -> None:
    """A directory init would write into that is there as something else (a file, a symbolic link to nothing):
    said before anything is written, so that the refusal changes nothing (it was an internal FileExistsError,
    after job.yaml had been written when src was the file)."""
    for directory in dict.fromkeys((target / rel).parent for rel in files):
        for place in (directory, *directory.parents):
            if os.path.isdir(place):
                break
            if os.path.lexists(place):
                what = ("a file, not a directory" if not os.path.islink(place) else
                        f"a symbolic link to {os.readlink(place)}, which is "
                        f"{'not a directory' if os.path.exists(place) else 'not there'}")
                raise UsageError(f"cannot write into {place}: it is {what}",
                                 hint="give another NAME, or -d to write elsewhere")
