"""`jobctl convert`: write the jobctl/v1 spec equivalent to an ADS job YAML file."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from jobctl.cli.context import ANY_FORMAT, AppContext
from jobctl.cli.options import pass_app
from jobctl.errors import Diagnostic, JobctlError, SpecError, UsageError


@click.command()
@click.argument("ads_file", metavar="ADS_FILE", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "output_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the spec to FILE instead of stdout.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it already exists.")
@pass_app
def command(app: AppContext, *, ads_file: str, output_file: str | None, force: bool) -> None:
    """Convert an ADS job YAML file (kind: job) into a jobctl/v1 spec.

    The ADS file is checked exactly as `jobctl validate` checks it; a file that cannot be
    translated, or would not validate, exits 3 with every error located in the ADS file.
    Values are written as the ADS file means them (ADS fills `${NAME}` in env values and the
    name from the job's env; every other `$` is literal, written `$$` for jobctl/v1). Source paths
    are rewritten relative to FILE (to the current directory when writing to stdout). An existing
    FILE is never overwritten without --force. See docs/ads.md for how ADS fields map.

    \b
    Examples:
      jobctl convert ads-job.yaml                  # print the jobctl/v1 spec
      jobctl convert ads-job.yaml -o job.yaml      # write job.yaml; its source paths follow it
      jobctl convert ads-job.yaml -o job.yaml --force && jobctl plan job.yaml
    """
    if output_file in ANY_FORMAT:  # `-o json`, as for other commands, would write a file named json
        raise UsageError(f"-o {output_file}: convert's -o is the FILE to write (a jobctl/v1 spec is YAML), not a "
                         "format", hint=f"to write a file of that name, give ./{output_file}")
    target = Path(output_file) if output_file else None
    if target is not None and target.exists() and not force:
        raise UsageError(f"{target} already exists", hint="pass --force to overwrite, or -o to write elsewhere")
    documents = convert_file(ads_file, app.environ, (target.parent if target else Path(".")).resolve())
    referenced = _secrets_as_references(documents)
    text = render(documents, ads_file)
    if target is None:
        click.echo(text, nl=False)
    else:
        try:
            from jobctl.paths import write_private

            target.parent.mkdir(parents=True, exist_ok=True)
            write_private(target, text)  # as export writes a spec
        except OSError as exc:
            raise JobctlError(f"cannot write {target}: {exc.strerror or exc}") from exc
    if referenced:
        app.info(f"the values of {', '.join(referenced)} are not written: the spec refers to them as ${{NAME}}; "
                 "set them in the environment of `jobctl apply` (docs/security.md)")
    if target is None:
        return
    if not app.quiet:
        count = len(documents)
        from jobctl.spec.load import shown_path

        click.echo(f"wrote {shown_path(str(target))} ({count} job{'s' if count != 1 else ''} from "
                   f"{shown_path(ads_file)})")


def convert_file(ads_file: str, environ: Mapping[str, str], out_dir: Path) -> list[dict[str, Any]]:
    """The jobctl/v1 documents for every ADS document in `ads_file`, sources relative to `out_dir`.

    The file must load as `validate` loads it; the output is translated by ADS's `$` rules, never from
    the environment, so it means the same as the ADS file wherever it is loaded."""
    from jobctl.spec.ads import is_ads_document, translate
    from jobctl.spec.document import read_documents
    from jobctl.spec.load import load_specs, shown_path

    loaded = load_specs([ads_file], environ)
    if loaded.diagnostics:
        raise SpecError(loaded.diagnostics)
    shown = shown_path(ads_file)
    documents, problems = read_documents(Path(ads_file), shown)
    converted: list[dict[str, Any]] = []
    for document in documents:
        if not is_ads_document(document.data):
            problems.append(Diagnostic(
                shown, *document.start, "<document>", "not an ADS job document (kind: job); nothing to convert",
            ))
            continue
        translated, translate_problems = translate(document)
        problems.extend(translate_problems)
        if translated is not None:
            _relocate_source(translated.data, Path(ads_file).resolve().parent, out_dir)
            converted.append(translated.data)
    if problems:
        raise SpecError(problems)
    return converted


def _relocate_source(data: dict[str, Any], spec_dir: Path, out_dir: Path) -> None:
    """Sources are relative to the spec file: keep them pointing at the same place from `out_dir`."""
    runtime = data["spec"].get("runtime", data["spec"])  # a Data Flow application's source is spec.source
    source = runtime.get("source")
    if not isinstance(source, str) or "$" in source or os.path.isabs(source):
        return
    target = os.path.normpath(spec_dir / source)
    try:
        shared = os.path.commonpath([target, out_dir])
    except ValueError:  # another drive
        shared = ""
    if shared in ("", out_dir.anchor):  # nothing in common but the root: an absolute path reads better
        runtime["source"] = Path(target).as_posix()
        return
    relative = Path(os.path.relpath(target, out_dir)).as_posix()
    runtime["source"] = relative if relative.startswith("..") or relative == "." else f"./{relative}"


def _secrets_as_references(documents: list[dict[str, Any]]) -> list[str]:
    """Env values whose names say they are secret become `${NAME}` references, as `export` writes them: a
    spec is shared and committed, a secret is not (and stdout would show it masked, corrupting the spec).
    Where another value holds a secret (ADS's `${DB_PASSWORD}` in a URL), that part becomes the reference."""
    from jobctl.secrets import MIN_SECRET_LENGTH, is_secret

    referenced: set[str] = set()
    for document in documents:
        runtime = document["spec"].get("runtime", {})
        env = runtime.get("env", {})
        secrets = {name: str(value) for name, value in env.items() if is_secret(name)}
        for name in secrets:
            env[name] = _Reference(f"${{{name}}}")
        configuration = document["spec"].get("configuration", {})  # an application's env: spark.*Env.NAME
        for key, value in configuration.items():
            name = key.rsplit(".", 1)[-1]
            if key.startswith(("spark.driverEnv.", "spark.executorEnv.")) and is_secret(name):
                secrets[name] = str(value)
                configuration[key] = _Reference(f"${{{name}}}")
        referenced.update(secrets)
        found = {value: name for name, value in secrets.items() if len(value) >= MIN_SECRET_LENGTH}
        if found:
            document["spec"] = _with_references(document["spec"], found, referenced)
    return sorted(referenced)


def _with_references(node: Any, secrets: Mapping[str, str], referenced: set[str]) -> Any:
    """Each secret value within a string as `${NAME}` (the rest as literal text), longest values first."""
    if isinstance(node, dict):
        return {key: _with_references(value, secrets, referenced) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_references(value, secrets, referenced) for value in node]
    if not isinstance(node, str) or isinstance(node, _Reference) or not any(v in node for v in secrets):
        return node
    pattern = re.compile("|".join(re.escape(v) for v in sorted(secrets, key=len, reverse=True)))
    parts, position = [], 0
    for match in pattern.finditer(node):
        parts.append(node[position:match.start()].replace("$", "$$") + f"${{{secrets[match.group()]}}}")
        referenced.add(secrets[match.group()])
        position = match.end()
    return _Reference("".join(parts) + node[position:].replace("$", "$$"))


class _Reference(str):
    """Text written as it is, not escaped as literal `$`: it holds `${NAME}` references."""

    __slots__ = ()


def _literal(node: Any) -> Any:
    """Values as jobctl/v1 reads them literally: its `${VAR}` interpolation must find nothing to fill, so
    every `$` is written `$$` (ADS's own `$` rules were applied by the translation)."""
    if isinstance(node, dict):
        return {key: _literal(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_literal(value) for value in node]
    if isinstance(node, _Reference):
        return str(node)
    return node.replace("$", "$$") if isinstance(node, str) else node


def render(documents: list[dict[str, Any]], ads_file: str) -> str:
    """YAML documents with a header naming where they came from."""
    import yaml

    from jobctl.spec.load import shown_path

    # (a newline in the name would end the comment and put the rest of the name into the YAML)
    header = f"# jobctl/v1 spec converted from {shown_path(ads_file)} (ADS job YAML) by `jobctl convert`.\n"
    body = "---\n".join(
        yaml.safe_dump(_literal(document), sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)
        for document in documents
    )
    return header + body
