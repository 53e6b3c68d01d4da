"""Workflows as frozen dataclasses, built from a schema-valid `kind: Workflow` document."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jobctl.spec.model import Origin

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


@dataclass(frozen=True)
class Select:
    metric: str
    goal: str = "max"  # "max" | "min"
    source: str = "outputs"  # "outputs" | "logs"
    pattern: str | None = None  # with logs: a regular expression whose one group is the number

    def log_pattern(self) -> re.Pattern[str]:
        """What a log line reporting the metric looks like: `METRIC=<number>` / `METRIC: <number>`."""
        if self.pattern is not None:
            return re.compile(self.pattern)
        number = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
        return re.compile(rf"(?<![\w.]){re.escape(self.metric)}\s*[=:]\s*({number})")


@dataclass(frozen=True)
class Step:
    name: str
    job: str
    needs: tuple[str, ...] = ()
    matrix: tuple[tuple[str, tuple[str, ...]], ...] = ()
    max_parallel: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # values may hold ${{ ... }} expressions
    args: tuple[str, ...] | None = None
    select: Select | None = None
    continue_on_error: bool = False
    timeout_seconds: float | None = None

    @staticmethod
    def key(combo: Mapping[str, str]) -> str:
        """A combination as one text, `K=v,K2=v2` ("-" for none), unique to it: `%`, `,` and `=` in a value
        are percent-encoded (the values `a,Y=b` and `a` of two variables would otherwise read alike)."""
        def escaped(value: str) -> str:
            return value.replace("%", "%25").replace(",", "%2C").replace("=", "%3D")

        return ",".join(f"{name}={escaped(value)}" for name, value in combo.items()) or "-"

    def combinations(self) -> list[dict[str, str]]:
        """One env override per run: the cartesian product of the matrix, in the order written."""
        combos: list[dict[str, str]] = [{}]
        for key, values in self.matrix:
            combos = [{**combo, key: value} for combo in combos for value in values]
        return combos


@dataclass(frozen=True)
class Workflow:
    name: str
    steps: tuple[Step, ...]
    state: str | None = None  # oci://bucket@namespace/prefix, or None for the backend's default
    max_parallel: int | None = None  # runs at once over all steps
    engine: str = "client"  # what drives the runs: "client" | "pipeline" (docs/decisions/0014)
    digest: str = ""  # of the spec as written: a run's inputs are this and its --env
    origin: Origin | None = field(default=None, compare=False)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    def order(self) -> list[Step]:
        """Steps in an order where every step comes after what it needs (the DAG is checked at load)."""
        done: list[str] = []
        pending = list(self.steps)
        while pending:
            ready = [s for s in pending if all(n in done for n in s.needs)]
            if not ready:
                raise ValueError(f"workflow {self.name!r} has a cycle")
            for step in ready:
                done.append(step.name)
                pending.remove(step)
        return [self.step(name) for name in done]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def duration_seconds(text: str) -> float:
    match = _DURATION.fullmatch(text)
    assert match, text  # the schema's pattern guarantees the shape
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return float(days * 86400 + hours * 3600 + minutes * 60 + seconds)


def workflow_from_document(data: Mapping[str, Any], origin: Origin) -> Workflow:
    spec = data["spec"]
    steps = []
    for raw in spec["steps"]:
        select = raw.get("select")
        steps.append(Step(
            name=raw["name"], job=raw["job"], needs=tuple(raw.get("needs", ())),
            matrix=tuple((k, tuple(_text(v) for v in values)) for k, values in raw.get("matrix", {}).items()),
            max_parallel=raw.get("maxParallel"),
            env={k: _text(v) for k, v in raw.get("env", {}).items()},
            args=tuple(_text(a) for a in raw["args"]) if "args" in raw else None,
            select=Select(select["metric"], select.get("goal", "max"), select.get("from", "outputs"),
                          select.get("pattern")) if select else None,
            continue_on_error=raw.get("continueOnError", False),
            timeout_seconds=duration_seconds(raw["timeout"]) if "timeout" in raw else None,
        ))
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()
    return Workflow(data["metadata"]["name"], tuple(steps), spec.get("state"), spec.get("maxParallel"),
                    spec.get("engine", "client"), digest, origin)
