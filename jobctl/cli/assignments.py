"""`K=V` options of the command line (`--env`, `--matrix`), parsed into what the engine takes."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from jobctl.errors import UsageError
from jobctl.secrets import REDACTOR


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
        result[key] = text
    REDACTOR.remember_env(result)
    return result


def parse_matrix(values: Sequence[str]) -> list[dict[str, str]]:
    """`--matrix K=a,b --matrix L=x,y` -> the cartesian product as env overrides."""
    axes = []
    for key, text in parse_assignments(values, "--matrix").items():
        options = text.split(",")
        if not all(options):
            raise UsageError(f"--matrix {key}={text}: expected comma-separated non-empty values")
        axes.append([(key, v) for v in dict.fromkeys(options)])
    return [dict(combo) for combo in itertools.product(*axes)] if axes else [{}]
