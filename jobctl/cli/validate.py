"""`jobctl validate`: every error in every file, in one run."""

from __future__ import annotations

import click

from jobctl.cli.context import AppContext
from jobctl.cli.options import spec_paths_argument
from jobctl.cli.output import Item, renders
from jobctl.errors import ExitCode, SpecError
from jobctl.spec.load import HIDDEN, LoadResult, load_specs

NAMES_SHOWN = 10  # names `validate` lists before "and N more" (all of them with -v)


@click.command()
@spec_paths_argument()
@renders()
def command(app: AppContext, *, paths: tuple[str, ...]) -> Item:
    """Check spec files against the schema and the file system (and a workflow's jobs against the backend,
    for the jobs it names that the files do not hold).

    PATH is a spec file or a directory: every *.yaml / *.yml (any case) below it that is a spec (a jobctl/v1
    document, or ADS job YAML, in any YAML spelling: JSON and flow style too); other YAML files there
    (environment.yml, a config.yaml) are skipped, as are hidden files and directories (.git, .venv and the like
    are not entered), and -v names them. A file that may be a spec but does not parse is an
    error. All errors in all files are reported at once, sorted by file and line, each as
    `file:line:col: field: message`: a YAML syntax error ends its document, not the file (the documents
    after the next `---` line are checked too), and a key given twice is an error that leaves the rest of
    its document checked (with the key's first value). A path is shown as given, or, when it holds a newline,
    another control character, a byte that is not UTF-8, a quote or a backslash, in double quotes with those
    escaped (`"two\\nlines.yaml"`, `"caf\\xe9.yaml"`), in text and JSON alike. A path that cannot be read (too
    long for the system, no permission) is an error naming it; a symbolic link to nothing is "no such file"
    (exit 4) when named, and a warning on stderr, naming its target, when found in a directory (`plan --prune`
    then refuses: the spec it meant may hold a job).
    Exits 0 when everything is valid, 3 when anything is not.

    \b
    Examples:
      jobctl validate job.yaml
      jobctl validate specs/                  # every spec below specs/
      jobctl validate specs/ -o json          # [{file, line, column, path, message}, ...]
    """
    from jobctl.engine.resolve import applied_env

    # a workflow's step may name a job applied before, not in these files: looked up in the backend
    result = load_specs(paths, app.environ, build=False, external_jobs=applied_env(app.backend),
                        pipelines=app.backend_name == "oci")
    for warning in result.warnings:  # (with -o json too: its reader sees no file it may have meant)
        app.info(f"Warning: {warning}")
    say_skipped(app, result)
    return Item(lambda: [d.to_dict() for d in result.diagnostics], lambda app: _summary(app, result),
                exit_code=ExitCode.OK if result.ok else ExitCode.INVALID_SPEC)


def say_skipped(app: AppContext, result: LoadResult) -> None:
    """With -v, name each YAML file of the directories given that was not read, and why (validate, plan, apply)."""
    if app.verbose:
        for note in result.skipped_notes:
            app.info(note)


def _summary(app: AppContext, result: LoadResult) -> None:
    """For people: the errors as an error (on stderr), else what is valid."""
    if not result.ok:
        raise SpecError(result.diagnostics)
    if not app.quiet:
        names = [*result.names, *(w.name for w in result.workflows)]
        apps, workflows, files = len(result.applications), len(result.workflows), len(result.files)
        jobs = len(result.names) - apps
        counts = ((jobs, "job"), (apps, "Data Flow application"), (workflows, "workflow"))
        parts = [f"{count} {what}{'s' if count != 1 else ''}" for count, what in counts if count] or ["0 jobs"]
        counted = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
        if len(names) > NAMES_SHOWN and not app.verbose:  # a directory of 2,000 specs is not one 30 KB line
            names = [*names[:NAMES_SHOWN], f"and {len(names) - NAMES_SHOWN:,} more; -v lists them all"]
        app.stdout.write(f"valid: {counted} in {files} file{'s' if files != 1 else ''}"
                         + (f" ({', '.join(names)})" if names else "") + "\n")
        skipped = len(result.skipped)
        if skipped and not app.verbose:  # a spec whose apiVersion and kind are both misspelt is one of them
            why = "not specs, or hidden" if any(s.why == HIDDEN for s in result.skipped) else "not specs"
            app.info(f"{skipped} other YAML file{'s' if skipped != 1 else ''} skipped ({why}); -v names "
                     f"{'them' if skipped != 1 else 'it'}")
