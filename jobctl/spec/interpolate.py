"""`${VAR}` and `${VAR:-default}` in spec values, resolved from the environment.

`$$` is a literal `$`. `${{ … }}` is left alone (workflow expressions are resolved later, not here), and so
is `$${{` (a workflow's literal `${{`). A Data Flow application's `spec.arguments` are not interpolated:
their `${name}` are OCI's placeholders for the application's parameters.
A plain (unquoted) scalar that is exactly one `${VAR}` takes the YAML type of what it expands to,
so `ocpus: ${OCPUS}` with OCPUS=2 is the number 2; a quoted one always stays a string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jobctl.errors import Diagnostic, not_utf8
from jobctl.spec.document import JsonPath, Position, format_path

_TOKEN = re.compile(r"\$(?:(\$)(?!\{\{)|\{(?!\{)([^}]*)\}|\{(?!\{))")  # `$${{` stays: a workflow's literal `${{`
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_OR_BOOL = re.compile(
    r"[-+]?(\d+|\d*\.\d+([eE][-+]?\d+)?)|true|false|True|False|TRUE|FALSE"
)


class Interpolator:
    """A scalar hook for `read_documents` that collects its own diagnostics."""

    def __init__(self, environ: Mapping[str, str], file: str) -> None:
        self.environ = environ
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        self.used: set[str] = set()
        self.written: dict[JsonPath, str] = {}  # values typed as numbers or booleans, as they expanded

    def __call__(self, text: str, plain: bool, path: JsonPath, position: Position) -> Any:
        if "$" not in text or path[:2] == ("spec", "arguments"):  # a Data Flow application's arguments: their
            return text  # ${name} are OCI's parameter placeholders (docs/dataflow.md); values go in parameters
        whole = False
        problems: list[str] = []

        def replace(match: re.Match[str]) -> str:
            nonlocal whole
            if match.group(1):
                return "$"
            body = match.group(2)
            if body is None:
                problems.append("unclosed '${' (write '$$' for a literal '$')")
                return match.group(0)
            name, sep, default = body.partition(":-")
            if not _NAME.fullmatch(name):
                problems.append(f"bad interpolation '${{{body}}}': use ${{NAME}} or ${{NAME:-default}}")
                return match.group(0)
            if "$" in default:
                problems.append(f"a default cannot hold another interpolation ('${{{body}}}…'): "
                                "write a literal default")
                return match.group(0)
            self.used.add(name)
            whole = match.span() == (0, len(text))
            value = self.environ.get(name)
            wrong = not_utf8(value) if value else None
            if wrong is not None:
                problems.append(f"variable {name}: {wrong}")
                return ""
            if value:
                return value
            if sep:
                return default
            if value is None:
                problems.append(
                    f"variable {name} is not set (set it, or write ${{{name}:-default}})"
                )
            return ""

        result = _TOKEN.sub(replace, text)
        for problem in problems:
            self.diagnostics.append(Diagnostic(self.file, *position, format_path(path), problem))
        if whole and plain and _NUMBER_OR_BOOL.fullmatch(result):
            self.written[path] = result
            lowered = result.lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            return float(result) if any(c in result for c in ".eE") else int(result)
        return result
