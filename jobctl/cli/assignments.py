"""`K=V` options of the command line (`--env`, `--matrix`), parsed into what the engine takes."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jobctl.errors import UsageError
from jobctl.secrets import MASK, REDACTOR, is_secret


def parse_assignments(values: Sequence[str], option: str, *, run_env: bool = True) -> dict[str, str]:
    """`K=V` pairs from the command line; a clear usage error otherwise. `run_env`: the names are a
    run's environment, where the names jobctl sets itself are reserved, as in a spec."""
    from jobctl.model.job import RESERVED_ENV_PREFIXES

    result: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        # the value is never echoed: it may be a secret
        if not sep:
            raise UsageError(f"{option} {key!r}: missing '=' (expected NAME=VALUE)")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise UsageError(f"{option} {key!r}=...: NAME must be letters, digits and '_', not starting with a digit")
        if run_env and key.startswith(RESERVED_ENV_PREFIXES):
            raise UsageError(f"{option} {key}=...: names starting with {', '.join(RESERVED_ENV_PREFIXES)} are set "
                             "by jobctl from the runtime")
        if "\0" in text:
            raise UsageError(f"{option} {key}: values cannot contain NUL")
        if key in result and result[key] != text and option != "--matrix":  # the value is never echoed
            raise UsageError(f"{option} {key} is given twice, with different values", hint="give it once")
        result[key] = text if option != "--matrix" or key not in result else f"{result[key]},{text}"
    REDACTOR.remember_env(result)
    return result


def parse_matrix(values: Sequence[str], env: Mapping[str, str] | None = None,
                 confirm: Callable[[int], None] | None = None) -> list[dict[str, str]]:
    """`--matrix K=a,b --matrix L=x,y` -> the cartesian product as env overrides (`--matrix K=a --matrix K=b`
    is K=a,b). A value listed twice, or a name `env` (--env) also sets, is a usage error: either would start
    runs other than those written. `confirm` is given the product's size before it is built (40 values in each
    of 4 keys built 2.56 million before they were refused: 2.2 GB, 18 s)."""
    axes = []
    for key, text in parse_assignments(values, "--matrix").items():
        options = text.split(",")
        secret = is_secret(key)  # its values are never repeated in a message, however short
        if not all(options):
            raise UsageError(f"--matrix {key}={MASK if secret else text}: expected comma-separated non-empty values")
        spaced = next((i for i, v in enumerate(options) if v != v.strip()), None)
        if spaced is not None:  # `--matrix "X=a, b"` ran X=" b" (red team, session 14)
            said = f"value {spaced + 1}" if secret else repr(options[spaced])
            raise UsageError(f"--matrix {key}: {said} has spaces around it", hint=f"write {key}=a,b, without spaces")
        twice = next((i for i, v in enumerate(options) if v in options[:i]), None)
        if twice is not None:
            said = f"value {twice + 1}" if secret else repr(options[twice])
            raise UsageError(f"--matrix {key}: {said} is listed twice (each value is one run)")
        if env is not None and key in env:
            raise UsageError(f"--env {key} and --matrix {key}: each run's {key} is its matrix value",
                             hint=f"drop one of them (--env {key} would be ignored)")
        axes.append([(key, v) for v in options])
    if confirm is not None:
        confirm(math.prod(map(len, axes)))
    return [dict(combo) for combo in itertools.product(*axes)] if axes else [{}]


def parse_settings(values: Sequence[str], table: type[Any] | None = None) -> dict[str, Any]:
    """`--set PATH=VALUE` for a run: PATH names a field a run may set for itself, as plans name it
    (`infrastructure.shape`, `runtime.maxRuntimeInMinutes`), or an entry of a map a run may set
    (`parameters.input` of a Data Flow application); text is taken as written, other values as YAML (`4`,
    `true`, `[python, -m, app]`, `{command: [test, -f, /tmp/ok]}`), and `PATH=` resets the field to what
    leaving it out of a spec means. By attribute, in the field table `table` (a job's by default)."""
    if not values:  # the usual run: PyYAML and the field table are not loaded for nothing
        return {}
    import yaml

    from jobctl.model.job import JobDefinition
    from jobctl.model.table import rows

    settable = {row.shown: row for row in rows(table or JobDefinition) if row.run}
    result: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for value in values:
        path, sep, text = value.partition("=")
        if not sep:
            raise UsageError(f"--set {path!r}: missing '=' (expected PATH=VALUE)")
        if seen.setdefault(path, text) != text:  # as --env: the last one silently won (the value is never echoed)
            raise UsageError(f"--set {path} is given twice, with different values", hint="give it once")
        prefix, _, key = path.partition(".")
        row = settable.get(path)
        if row is None and prefix in settable and settable[prefix].kind == "map" and key:
            result.setdefault(settable[prefix].attr, {})[key] = text  # a map's entry, as written
            continue
        if row is None or row.kind == "map":
            shown = [f"{name}.KEY" if r.kind == "map" else name for name, r in settable.items()]
            raise UsageError(f"--set {path}: not a field a run can set", hint="these can: " + ", ".join(shown))
        if not text:  # `PATH=`: what the spec means by leaving it out
            result[row.attr] = row.default
            continue
        if row.kind == "text":
            result[row.attr] = text
            continue
        try:
            given = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"--set {path}: not a YAML value ({exc.problem if hasattr(exc, 'problem') else exc})"
                             ) from exc
        result[row.attr] = _as_kind(path, row.kind, given)
    return result


def _as_kind(path: str, kind: str, given: Any) -> Any:
    """A `--set` value as the table's kind holds it; the schema then checks it as a spec's."""
    expected = {"number": (int, float), "integer": (int,), "bool": (bool,), "list": (list,), "objects": (list,),
                "object": (dict,), "entrypoint": (str, list)}[kind]
    if not isinstance(given, expected) or (isinstance(given, bool) and kind in ("number", "integer")):
        got = "a mapping" if isinstance(given, dict) else "a list" if isinstance(given, list) else repr(given)
        raise UsageError(f"--set {path}: expected {_KIND_WORDS[kind]}, got {got}")
    if isinstance(given, list):
        return tuple(str(item) for item in given) if kind != "objects" else tuple(given)
    return given


_KIND_WORDS = {"number": "a number", "integer": "a whole number", "bool": "true or false",
               "list": "a list such as [a, b]", "objects": "a list of objects such as [{name: main}]",
               "object": "an object such as {command: [true]}", "entrypoint": "a file name or a list"}
