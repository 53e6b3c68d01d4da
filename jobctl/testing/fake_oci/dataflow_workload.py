"""What a Data Flow run runs: the fake never starts Spark itself, a pluggable workload decides.

A `DataFlowWorkload` takes a `SparkRun` (the run's application code, its arguments with the `${name}`
parameters filled in, its Spark configuration) and returns a `SparkOutcome`: what the application printed
on stdout and stderr (the run's APPLICATION logs) and its exit code (None: it runs until canceled). The
default `echo_spark_workload` prints the configuration and the arguments, and ends as the Data Science
echo workload does (`lifecycle.requested_exit`), reading its environment where Data Flow applications
keep it: `spark.driverEnv.<NAME>` in the configuration (so `spark.driverEnv.EXIT_CODE=3` fails the run
with exit code 3, and `spark.driverEnv.SLEEP` keeps it running). A test plugs in a workload that runs the
application's code with `FakeOCI(dataflow_workload=...)` or `fake.dataflow_workload = ...`.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobctl.testing.fake_oci.lifecycle import requested_exit

DRIVER_ENV = "spark.driverEnv."


@dataclass(frozen=True)
class SparkRun:
    """What a workload sees of a Data Flow run: its code, effective arguments and configuration."""

    id: str
    application_id: str
    display_name: str | None
    language: str
    file_uri: str | None
    class_name: str | None
    arguments: list[str]  # with the run's parameters substituted, as the application receives them
    configuration: Mapping[str, str]
    run: Mapping[str, Any] = field(repr=False)  # the Run's wire JSON, a copy

    @property
    def env(self) -> dict[str, str]:
        """The driver's environment the configuration sets (`spark.driverEnv.NAME=value`)."""
        return {name[len(DRIVER_ENV):]: value for name, value in self.configuration.items()
                if name.startswith(DRIVER_ENV)}


@dataclass(frozen=True)
class SparkOutcome:
    """What the application printed and how it ended (exit_code None: it has not ended by itself)."""

    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = 0


DataFlowWorkload = Callable[[SparkRun], SparkOutcome]


def echo_spark_workload(run: SparkRun) -> SparkOutcome:
    """stdout: `K=V` per configuration entry (sorted) and `args=<arguments>`; exits as spark.driverEnv asks."""
    lines = [f"{name}={value}" for name, value in sorted(run.configuration.items())]
    lines.append(f"args={shlex.join(run.arguments)}")
    problem, exit_code = requested_exit(run.env)
    stderr = [*problem, *([f"the application exited with code {exit_code}"] if exit_code else [])]
    return SparkOutcome("".join(f"{line}\n" for line in lines), "".join(f"{line}\n" for line in stderr), exit_code)
