"""`kind: DataFlowApplication` documents: what the schema cannot check, and the ApplicationSpec they make
(docs/decisions/0015-dataflow-applications.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobctl.errors import Diagnostic
from jobctl.model.application import SOURCE_SUFFIXES, ApplicationDefinition, placeholders
from jobctl.model.table import from_document
from jobctl.spec.document import Document
from jobctl.spec.model import Origin


@dataclass(frozen=True)
class ApplicationSpec:
    """One `kind: DataFlowApplication` document: the application's definition and its local source."""

    definition: ApplicationDefinition
    source: Path | None = None  # absolute, resolved against the spec file's directory
    origin: Origin | None = field(default=None, compare=False)
    source_site: Diagnostic | None = field(default=None, compare=False)  # where `source` is written

    @property
    def name(self) -> str:
        return self.definition.name


def application_problems(document: Document, base_dir: Path) -> list[Diagnostic]:
    """Located problems of an application document beyond its schema's; also of one the schema refused (each
    check looks only at fields of the right type, so all problems are said at once)."""
    spec = document.data.get("spec")
    if not isinstance(spec, dict):
        return []
    language = spec.get("language")
    suffixes = SOURCE_SUFFIXES.get(language) if isinstance(language, str) else None
    problems: list[Diagnostic] = []
    if isinstance(spec.get("source"), str) and spec["source"]:
        path = base_dir / spec["source"]
        if not path.is_file():
            said = "is a directory: give the application's one file" if path.is_dir() else "does not exist"
            problems.append(document.diagnostic(("spec", "source"), f"{spec['source']} {said} (resolved to {path})"))
        elif suffixes and not path.name.endswith(suffixes):
            problems.append(document.diagnostic(("spec", "source"), f"a {language} application's code is a "
                                                f"{' or '.join(suffixes)} file, not {path.name}"))
        else:  # what a job's source may not be (a key, a link out of the project), an application's may not
            from jobctl.source import ArtifactError, check_source

            try:
                check_source(path, base_dir)
            except ArtifactError as exc:
                problems.append(document.diagnostic(("spec", "source"), exc.message))
    elif isinstance(spec.get("fileUri"), str) and suffixes and not spec["fileUri"].endswith(suffixes):
        problems.append(document.diagnostic(("spec", "fileUri"), f"a {language} application's code is a "
                                            f"{' or '.join(suffixes)} file"))
    if "className" in spec and suffixes and language not in ("JAVA", "SCALA"):
        problems.append(document.diagnostic(("spec", "className"), f"only JAVA and SCALA applications have a main "
                                            f"class; this one is {language}"))
    given_parameters, given_arguments = spec.get("parameters"), spec.get("arguments")
    parameters: dict[str, Any] = given_parameters if isinstance(given_parameters, dict) else {}
    arguments: list[Any] = given_arguments if isinstance(given_arguments, list) else []
    for index, argument in enumerate(arguments):
        for name in placeholders([str(argument)]):
            if name not in parameters:
                problems.append(document.diagnostic(
                    ("spec", "arguments", index), f"${{{name}}} needs a value: add parameters.{name} (OCI refuses an "
                    "application whose arguments use a parameter it does not have)"))
    for role in ("driver", "executor"):
        shape, config = spec.get(f"{role}Shape"), spec.get(f"{role}ShapeConfig")
        if not isinstance(shape, str):
            continue
        flex = shape.endswith(".Flex")
        if flex and not (isinstance(config, dict) and "ocpus" in config and "memoryInGBs" in config):
            problems.append(document.diagnostic(("spec", f"{role}Shape"), f"the Flex shape {shape} needs "
                                                 f"{role}ShapeConfig with ocpus and memoryInGBs"))
        if config and not flex:
            problems.append(document.diagnostic(("spec", f"{role}ShapeConfig"), f"a shape config is only for Flex "
                                                f"shapes; {shape} is fixed"))
    return problems


def build_application(document: Document, base_dir: Path, shown: str, line: int) -> ApplicationSpec:
    data: dict[str, Any] = document.data
    origin = Origin(shown, line)
    definition = ApplicationDefinition(**from_document(ApplicationDefinition, data))
    source = data["spec"].get("source")
    return ApplicationSpec(definition, (base_dir / source).resolve() if source else None, origin,
                           document.diagnostic(("spec", "source"), "") if source else None)
