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


def spark_workload(fake: Any, home: Any, *, timeout: float = 240) -> DataFlowWorkload:
    """A workload that runs the application's code on real Spark here (jobctl's `spark` extra), as Data Flow
    would: the code is read from the fake's Object Storage at its fileUri; the arguments arrive with the
    parameters filled in; what it prints and its exit code are the run's. `home`: a directory for Spark's
    configuration and the runs' work."""
    import os
    import re
    import subprocess
    import tempfile
    from pathlib import Path

    from jobctl.backends.local.spark import launch
    from jobctl.errors import JobctlError
    from jobctl.model.application import ApplicationDefinition

    def run(view: SparkRun) -> SparkOutcome:
        found = re.match(r"^oci://([^@/]+)@([^/]+)/(.+)$", view.file_uri or "")
        if found is None:
            return SparkOutcome("", f"fileUri {view.file_uri!r} is not an Object Storage URI\n", 1)
        bucket, namespace, name = found.groups()
        with fake.store.lock:
            stored = fake.store.objects.get((namespace, bucket, name))
        if stored is None:
            return SparkOutcome("", f"{view.file_uri} does not exist\n", 1)
        with tempfile.TemporaryDirectory(dir=home) as scratch:
            source = Path(scratch) / Path(name).name
            source.write_bytes(stored.content)
            app = ApplicationDefinition(name="run", language=view.language, driver_shape="VM.Standard2.1",
                                        executor_shape="VM.Standard2.1", class_name=view.class_name,
                                        configuration=dict(view.configuration))
            try:
                made = launch(app, source, home=Path(home), cwd=Path(scratch), env=view.env,
                              arguments=view.arguments)
            except JobctlError as exc:  # pyspark missing, a placeholder left: the run fails, saying why
                return SparkOutcome("", f"{exc.message}\n", 1)
            done = subprocess.run(made.argv, env={**os.environ, **made.env}, cwd=made.cwd, capture_output=True,
                                  text=True, timeout=timeout, check=False)
        return SparkOutcome(done.stdout, done.stderr, done.returncode)

    return run
