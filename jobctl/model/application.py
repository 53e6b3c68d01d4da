"""OCI Data Flow applications (`kind: DataFlowApplication`) as every backend holds them: one field table
(docs/decisions/0015-dataflow-applications.md), read by the same code that reads a job's.

In place: everything UpdateApplicationDetails carries (all but `type` and `compartmentId`, whose change is a
replace). `run=True`: what CreateRunDetails may override. Parameters are a map here and OCI's list of
{name, value} on the wire; `logging` is OCI's applicationLogConfig.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jobctl.model.definition import field
from jobctl.model.job import Metadata
from jobctl.model.table import IGNORED, column, fill_derived, rows
from jobctl.secrets import REDACTOR

LANGUAGES = ("PYTHON", "SCALA", "JAVA", "SQL")
SOURCE_SUFFIXES = {"PYTHON": (".py",), "JAVA": (".jar",), "SCALA": (".jar",), "SQL": (".sql",)}
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")  # OCI's ${name} in arguments, filled from parameters
# a run's --env K=V reaches the driver and the executors through these Spark properties (as ADS's guide says)
DRIVER_ENV, EXECUTOR_ENV = "spark.driverEnv.", "spark.executorEnv."


def shown_configuration(configuration: Mapping[str, str]) -> dict[str, str]:
    """A run's Spark properties as `get RUN` shows them beside its env: those that are not the env's."""
    return {key: text for key, text in configuration.items() if not key.startswith((DRIVER_ENV, EXECUTOR_ENV))}
TAG_ARTIFACT = "jobctl-artifact"  # the content digest of an application's source (its artifact)

_OCI_HERE: dict[str, Any] = {"in_place": True, "local": IGNORED}  # a field only OCI honours
_RUN: dict[str, Any] = {"in_place": True, "run": True}


class ApplicationDefinition(Metadata):
    """A Data Flow application as a backend stores it. Desired and observed use the same type."""

    compartment_id: str | None = column("spec.compartmentId", "text", oci="compartment_id")
    application_type: str = column("spec.type", "text", default="BATCH", oci="type")
    language: str = column("spec.language", "text", required=True, in_place=True, oci="language")
    spark_version: str = column("spec.sparkVersion", "text", default="3.5.0", in_place=True, oci="spark_version")
    driver_shape: str = column("spec.driverShape", "text", required=True, **_RUN, local=IGNORED,
                               oci="driver_shape")
    driver_ocpus: float | None = column("spec.driverShapeConfig.ocpus", "number", **_RUN, local=IGNORED,
                                        oci="driver_shape_config.ocpus")
    driver_memory_in_gbs: float | None = column("spec.driverShapeConfig.memoryInGBs", "number", **_RUN,
                                                local=IGNORED, oci="driver_shape_config.memory_in_gbs")
    executor_shape: str = column("spec.executorShape", "text", required=True, **_RUN, local=IGNORED,
                                 oci="executor_shape")
    # locally the executors' OCPUs make local[N]
    executor_ocpus: float | None = column("spec.executorShapeConfig.ocpus", "number", **_RUN,
                                          oci="executor_shape_config.ocpus")
    executor_memory_in_gbs: float | None = column("spec.executorShapeConfig.memoryInGBs", "number", **_RUN,
                                                  local=IGNORED, oci="executor_shape_config.memory_in_gbs")
    num_executors: int = column("spec.numExecutors", "integer", default=1, **_RUN, oci="num_executors")
    code_uri: str | None = column("spec.codeUri", "text", in_place=True, local=IGNORED)  # where source goes
    file_uri: str | None = column("spec.fileUri", "text", in_place=True, oci="file_uri")  # source's, once uploaded
    class_name: str | None = column("spec.className", "text", in_place=True, oci="class_name")
    arguments: tuple[str, ...] = column("spec.arguments", "list", **_RUN, oci="arguments")
    parameters: Mapping[str, str] = column("spec.parameters", "map", secret_by_key=True,
                                           **_RUN)  # a list of {name, value} on OCI
    configuration: Mapping[str, str] = column("spec.configuration", "map", secret_by_key=True, **_RUN,
                                              oci="configuration")
    archive_uri: str | None = column("spec.archiveUri", "text", **_RUN, local=IGNORED, oci="archive_uri")
    logs_bucket_uri: str | None = column("spec.logsBucketUri", "text", **_RUN, local=IGNORED,
                                         oci="logs_bucket_uri")
    warehouse_bucket_uri: str | None = column("spec.warehouseBucketUri", "text", **_RUN, local=IGNORED,
                                              oci="warehouse_bucket_uri")
    private_endpoint_id: str | None = column("spec.privateEndpointId", "text", **_OCI_HERE,
                                             oci="private_endpoint_id")
    metastore_id: str | None = column("spec.metastoreId", "text", **_RUN, local=IGNORED, oci="metastore_id")
    pool_id: str | None = column("spec.poolId", "text", **_RUN, local=IGNORED, oci="pool_id")
    max_duration_in_minutes: int | None = column("spec.maxDurationInMinutes", "integer", **_RUN,
                                                 oci="max_duration_in_minutes")
    idle_timeout_in_minutes: int | None = column("spec.idleTimeoutInMinutes", "integer", **_RUN, local=IGNORED,
                                                 oci="idle_timeout_in_minutes")
    log_group_id: str | None = column("spec.logging.logGroupId", "text", **_RUN, local=IGNORED,
                                      oci="application_log_config.log_group_id")
    log_id: str | None = column("spec.logging.logId", "text", **_RUN, local=IGNORED,
                                oci="application_log_config.log_id")
    # of source: computed, kept in a tag; changed code is a new fileUri, which UpdateApplication takes
    artifact_digest: str | None = column("artifact", "text", in_place=True)
    owner_tags: Mapping[str, str] = field(default_factory=dict)  # jobctl's own freeform tags
    unmodeled: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        fill_derived(self)
        # secret-named values: masked wherever they were copied (a description, an argument), as a run's env
        REDACTOR.remember_env(self.parameters)
        REDACTOR.remember_env(self.configuration)

    @property
    def local_slots(self) -> int:
        """Spark's local[N] for this application: its executors' OCPUs (at least one each)."""
        return max(1, round(self.num_executors * (self.executor_ocpus or 1)))


def placeholders(arguments: tuple[str, ...] | list[str]) -> list[str]:
    """The ${name} parameters the arguments use, in order of first use."""
    found: list[str] = []
    for argument in arguments:
        found.extend(name for name in PLACEHOLDER.findall(argument) if name not in found)
    return found


def substituted(arguments: tuple[str, ...] | list[str], parameters: Mapping[str, str]) -> list[str]:
    """The arguments as a run gets them: each ${name} replaced once by its parameter's value (OCI does this
    on the service; jobctl does it for local runs). KeyError for a placeholder without a parameter."""
    return [PLACEHOLDER.sub(lambda match: parameters[match.group(1)], argument) for argument in arguments]


def env_configuration(env: Mapping[str, str]) -> dict[str, str]:
    """A run's --env as the Spark properties that give it to the driver and the executors."""
    return {f"{prefix}{name}": value for name, value in env.items() for prefix in (DRIVER_ENV, EXECUTOR_ENV)}


def request_parts(app: ApplicationDefinition) -> dict[str, Any]:
    """What a request made of a run of `app`, by the names an error shows (env, args, parameters, configuration,
    every other field a run sets), each value a digest: a map's by entry, so that what differs is named without
    its value, and a backend may keep them with the run without keeping a secret."""
    from jobctl.model.request import digest

    env_keys = [key for key in app.configuration if key.startswith((DRIVER_ENV, EXECUTOR_ENV))]
    names = {key.removeprefix(DRIVER_ENV).removeprefix(EXECUTOR_ENV) for key in env_keys}
    env = {name: digest([app.configuration.get(DRIVER_ENV + name), app.configuration.get(EXECUTOR_ENV + name)])
           for name in names}
    configuration = {key: digest(text) for key, text in app.configuration.items() if key not in env_keys}
    others = {row.shown: digest(getattr(app, row.attr)) for row in rows(ApplicationDefinition)
              if row.run and row.attr not in ("arguments", "parameters", "configuration")}
    return {"env": env, "args": digest(list(app.arguments)),
            "parameters": {name: digest(text) for name, text in app.parameters.items()},
            "configuration": configuration, **others}


def code_location(code_uri: str, name: str, digest: str, filename: str) -> str:
    """Where `apply` puts an application's source on OCI: <codeUri>/<name>/<content digest>/<file>. Changed
    code is a new fileUri; the same code is found where it was put."""
    return f"{code_uri.rstrip('/')}/{name}/{digest.removeprefix('sha256:')}/{filename}"


def code_uri_of(file_uri: str | None, name: str, digest: str | None) -> str | None:
    """The codeUri an application's fileUri was made from by code_location (None for a fileUri of its own)."""
    if not file_uri or not digest:
        return None
    base, found, _ = file_uri.rpartition(f"/{name}/{digest.removeprefix('sha256:')}/")
    return base if found else None
