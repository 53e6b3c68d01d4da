"""A Data Flow application run on this machine: real Spark (pyspark 3.5, the `spark` extra) in local mode
(docs/decisions/0015-dataflow-applications.md).

PYTHON runs as `python app.py ARGS` with PYSPARK_SUBMIT_ARGS (spark-submit would merge the app's stderr into
its stdout); JAVA and SCALA as `spark-submit --class C app.jar ARGS`; SQL as `spark-sql -f q.sql` with the
parameters as `--hivevar`s. `local[N]`: the executors' OCPUs, at most this machine's. `${name}` in the
arguments is filled in from the parameters first, as OCI does. Spark's own INFO chatter is kept out of the
run's log by jobctl's log4j2.properties (warnings and errors stay), and its web UI stays off.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jobctl.errors import ConfigError, UsageError
from jobctl.model.application import (
    DRIVER_ENV,
    ApplicationDefinition,
    env_configuration,
    placeholders,
    substituted,
)
from jobctl.paths import ensure_private_dir, write_private
from jobctl.secrets import is_secret

MISSING = ("running a Data Flow application locally needs pyspark: install jobctl's `spark` extra "
           "(pip install 'oci-jobctl[spark]'; `make install` has it)")

LOG4J = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.spark.name = org.apache.spark
logger.spark.level = warn
logger.nativecode.name = org.apache.hadoop.util.NativeCodeLoader
logger.nativecode.level = error
"""
DEFAULTS = "spark.ui.enabled false\nspark.ui.showConsoleProgress false\n"


@dataclass(frozen=True)
class SparkLaunch:
    """What to start, with which environment, where: the run's process."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


def spark_home() -> Path:
    """Where pyspark is installed (its bin/spark-submit, its jars): SPARK_HOME for the run."""
    found = importlib.util.find_spec("pyspark")
    if found is None or found.origin is None:
        raise UsageError(MISSING)
    return Path(found.origin).parent


def conf_dir(home: Path) -> Path:
    """jobctl's SPARK_CONF_DIR under `home`: quiet logging, no web UI (written once)."""
    folder = home / "spark-conf"
    ensure_private_dir(folder)
    for name, text in (("log4j2.properties", LOG4J), ("spark-defaults.conf", DEFAULTS)):
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return folder


def properties(conf: Mapping[str, str]) -> str:
    """Spark properties as a Java properties file (what --properties-file reads, as UTF-8): each key and value
    escaped, so that any text comes back as it was written."""
    def escaped(text: str, key: bool) -> str:
        out = []
        for index, char in enumerate(text):
            if char in "\\\n\r\t\f":
                out.append({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}[char])
            elif (key and char in " =:#!") or (not key and index == 0 and char == " "):
                out.append("\\" + char)
            else:
                out.append(char)
        return "".join(out)

    return "".join(f"{escaped(key, True)}={escaped(value, False)}\n" for key, value in sorted(conf.items()))


def launch(app: ApplicationDefinition, source: Path, *, home: Path, cwd: Path, env: Mapping[str, str],
           arguments: Sequence[str] | None = None, parameters: Mapping[str, str] | None = None,
           configuration: Mapping[str, str] | None = None, python: str = sys.executable,
           cpus: int | None = None, java: str | None = "java") -> SparkLaunch:
    """The run of `app` (its code at `source`) with a run's overrides: its --env (on the process, and as
    spark.driverEnv/executorEnv), arguments, parameters (merged by name) and configuration (merged by key).

    The Spark properties go in a properties file beside `cwd` (0600), never on a command line, where any local
    user could read a secret among them (`ps`); the driver's process gets every spark.driverEnv.* as its env,
    as on Data Flow. A SQL application's secret-looking parameters go in an init file the same way. `java`:
    the one found (JAVA_HOME's, or on PATH); None, an error saying so."""
    values = {**app.parameters, **(parameters or {})}
    given = list(app.arguments if arguments is None else arguments)
    missing = [name for name in placeholders(given) if name not in values]
    if missing:
        raise UsageError(f"the arguments use ${{{missing[0]}}}, which no parameter gives",
                         hint=f"set it: --set parameters.{missing[0]}=VALUE")
    args = substituted(given, values)
    conf = {**app.configuration, **(configuration or {}), **env_configuration(env)}
    master = f"local[{min(app.local_slots, cpus or os.cpu_count() or 1)}]"
    private = cwd.parent
    ensure_private_dir(private)
    settings = private / "spark.properties"
    write_private(settings, DEFAULTS.replace(" ", "=") + properties(conf))
    options = ["--master", master, "--properties-file", str(settings)]
    spark = spark_home()
    if java is None:  # Spark runs on a JVM: without one the run would fail with pyspark's traceback
        raise UsageError("running a Data Flow application locally needs Java (8, 11 or 17, as Spark 3.5 does): "
                         "none found where JAVA_HOME says, or on PATH without it",
                         hint="install it, or set JAVA_HOME to where it is (with bin/java)")
    driver_env = {key.removeprefix(DRIVER_ENV): value for key, value in conf.items() if key.startswith(DRIVER_ENV)}
    run_env = {**driver_env, **env, "SPARK_HOME": str(spark), "SPARK_CONF_DIR": str(conf_dir(home)),
               "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": python,
               "PYSPARK_DRIVER_PYTHON": python}  # JAVA_HOME: the supervisor passes it on
    if app.language == "PYTHON":
        run_env["PYSPARK_SUBMIT_ARGS"] = shlex.join([*options, "pyspark-shell"])
        return SparkLaunch([python, str(source), *args], run_env, cwd)
    if app.language in ("JAVA", "SCALA"):
        if not app.class_name:
            raise ConfigError(f"application {app.name!r} is {app.language}: it needs className")
        return SparkLaunch([str(spark / "bin" / "spark-submit"), *options, "--class", app.class_name, str(source),
                            *args], run_env, cwd)
    hidden = {name: value for name, value in values.items() if is_secret(name)}
    for name, value in hidden.items():
        if ";" in value or "\n" in value:
            raise UsageError(f"parameter {name!r} holds ';' or a line break, which a SQL application's variable "
                             "cannot carry when it is kept off the command line")
    init: list[str] = []
    if hidden:
        init_file = private / "hivevars.sql"
        write_private(init_file, "".join(f"SET hivevar:{name}={value};\n" for name, value in sorted(hidden.items())))
        init = ["-i", str(init_file)]
    hivevars = [item for name, value in sorted(values.items()) if name not in hidden
                for item in ("--hivevar", f"{name}={value}")]
    return SparkLaunch([str(spark / "bin" / "spark-sql"), *options, *hivevars, *init, "-f", str(source)], run_env,
                       cwd)
