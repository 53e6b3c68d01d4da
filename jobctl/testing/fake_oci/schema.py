"""Request-body validation with the SDK's camelCase names, required fields and discriminators.

The tables mirror `oci.data_science.models` / `oci.loggingsearch.models` (attribute_map, `[Required]`
docstrings and `get_subtype`); tests/oci checks them against the installed SDK. A JSON null counts as
absent, as the SDK never sends one. Unknown fields are rejected so a client that sends snake_case or a
misspelt name fails loudly instead of being silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobctl.testing.fake_oci.errors import invalid, missing


class Spec:
    """A validator for one JSON value; `where` is its dotted path, used in error messages."""

    def check(self, value: Any, where: str) -> None:
        raise NotImplementedError


class Scalar(Spec):
    def __init__(self, kinds: tuple[type, ...], label: str) -> None:
        self.kinds = kinds
        self.label = label

    def check(self, value: Any, where: str) -> None:
        if isinstance(value, bool) and bool not in self.kinds:
            raise invalid(f"{where} must be {self.label}")
        if not isinstance(value, self.kinds):
            raise invalid(f"{where} must be {self.label}")


class Enum(Spec):
    def __init__(self, *values: str) -> None:
        self.values = values

    def check(self, value: Any, where: str) -> None:
        if value not in self.values:
            raise invalid(f"{where} must be one of {', '.join(self.values)}; got {value!r}")


class MapOf(Spec):
    def __init__(self, item: Spec) -> None:
        self.item = item

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise invalid(f"{where} must be an object")
        for key, item in value.items():
            self.item.check(item, f"{where}.{key}")


class ListOf(Spec):
    def __init__(self, item: Spec, max_items: int | None = None) -> None:
        self.item = item
        self.max_items = max_items

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, list):
            raise invalid(f"{where} must be a list")
        if self.max_items is not None and len(value) > self.max_items:
            raise invalid(f"{where} has more than {self.max_items} items")
        for index, item in enumerate(value):
            self.item.check(item, f"{where}[{index}]")


class AnyObject(Spec):
    """A nested object the fake stores as given without looking inside."""

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise invalid(f"{where} must be an object")


class Obj(Spec):
    """`tolerated`: names outside the SDK model that the service is known to accept and ignore."""

    def __init__(self, required: Mapping[str, Spec] | None = None,
                 optional: Mapping[str, Spec] | None = None, tolerated: tuple[str, ...] = ()) -> None:
        self.required = dict(required or {})
        self.optional = dict(optional or {})
        self.tolerated = frozenset(tolerated)

    @property
    def fields(self) -> set[str]:
        return set(self.required) | set(self.optional)

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise invalid(f"{where or 'request body'} must be a JSON object")
        unknown = sorted(set(value) - self.fields - self.tolerated)
        if unknown:
            raise invalid(f"{where or 'request body'} has unknown field(s): {', '.join(unknown)}")
        for name, spec in self.required.items():
            if value.get(name) is None:
                raise missing(f"{_join(where, name)} is required")
            spec.check(value[name], _join(where, name))
        for name, spec in self.optional.items():
            if value.get(name) is not None:
                spec.check(value[name], _join(where, name))


class Poly(Spec):
    """A polymorphic object: the discriminator picks the variant, as the SDK's `get_subtype` does."""

    def __init__(self, discriminator: str, variants: Mapping[str, Obj]) -> None:
        self.discriminator = discriminator
        self.variants = {
            name: Obj({discriminator: Enum(name), **variant.required}, variant.optional, tuple(variant.tolerated))
            for name, variant in variants.items()
        }

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise invalid(f"{where} must be an object")
        kind = value.get(self.discriminator)
        if kind is None:
            raise missing(f"{_join(where, self.discriminator)} is required")
        if kind not in self.variants:
            allowed = ", ".join(sorted(self.variants))
            raise invalid(f"{_join(where, self.discriminator)} {kind!r} is not supported; allowed: {allowed}")
        self.variants[kind].check(value, where)


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


STRING = Scalar((str,), "a string")
INTEGER = Scalar((int,), "an integer")
NUMBER = Scalar((int, float), "a number")
BOOLEAN = Scalar((bool,), "a boolean")
FREEFORM_TAGS = MapOf(STRING)
DEFINED_TAGS = MapOf(AnyObject())
TAGS = {"freeformTags": FREEFORM_TAGS, "definedTags": DEFINED_TAGS}

SHAPE_CONFIG = Obj(optional={
    "ocpus": NUMBER, "memoryInGBs": NUMBER, "cpuBaseline": Enum("BASELINE_1_8", "BASELINE_1_2", "BASELINE_1_1"),
})
PROBE = Poly("jobProbeCheckType", {
    "EXEC": Obj({"command": ListOf(STRING)}, {
        "periodInSeconds": INTEGER, "failureThreshold": INTEGER, "initialDelayInSeconds": INTEGER,
    }),
})
JOB_CONFIGURATION = Poly("jobType", {
    "DEFAULT": Obj(optional={
        "environmentVariables": MapOf(STRING), "commandLineArguments": STRING,
        "maximumRuntimeInMinutes": INTEGER, "startupProbeDetails": PROBE,
    }),
    "EMPTY": Obj(),
})
_SHAPE = {"shapeName": STRING, "blockStorageSizeInGBs": INTEGER}
INFRASTRUCTURE = Poly("jobInfrastructureType", {
    "STANDALONE": Obj({**_SHAPE, "subnetId": STRING},
                      {"capacityReservationId": STRING, "jobShapeConfigDetails": SHAPE_CONFIG}),
    "ME_STANDALONE": Obj(_SHAPE, {"capacityReservationId": STRING, "jobShapeConfigDetails": SHAPE_CONFIG}),
    "MULTI_NODE": Obj(_SHAPE, {"capacityReservationIds": ListOf(STRING), "jobShapeConfigDetails": SHAPE_CONFIG}),
    "MANAGED_COMPUTE_CLUSTER": Obj({"computeTargetId": STRING, "resourceConfiguration": AnyObject()}),
    "EMPTY": Obj(),
})
ENVIRONMENT = Poly("jobEnvironmentType", {
    "OCIR_CONTAINER": Obj({"image": STRING}, {
        "cmd": ListOf(STRING), "entrypoint": ListOf(STRING), "imageDigest": STRING, "imageSignatureId": STRING,
    }),
})
LOG_CONFIGURATION = Obj(optional={
    "enableLogging": BOOLEAN, "enableAutoLogCreation": BOOLEAN, "logGroupId": STRING, "logId": STRING,
})
_MOUNT = {"destinationDirectoryName": STRING}
STORAGE_MOUNTS = ListOf(Poly("storageType", {
    "OBJECT_STORAGE": Obj({**_MOUNT, "namespace": STRING, "bucket": STRING},
                          {"destinationPath": STRING, "prefix": STRING}),
    "FILE_STORAGE": Obj({**_MOUNT, "mountTargetId": STRING, "exportId": STRING}, {"destinationPath": STRING}),
}))
NETWORK = Poly("jobNetworkType", {"CUSTOM_NETWORK": Obj({"subnetId": STRING}), "DEFAULT_NETWORK": Obj()})
NODE_GROUP = Obj({"name": STRING}, {
    "replicas": INTEGER, "minimumSuccessReplicas": INTEGER,
    "jobInfrastructureConfigurationDetails": INFRASTRUCTURE,
    "jobConfigurationDetails": JOB_CONFIGURATION,
    "jobEnvironmentConfigurationDetails": ENVIRONMENT,
})
NODE_CONFIGURATION = Poly("jobNodeType", {
    "MULTI_NODE": Obj(optional={
        "startupOrder": Enum("IN_ORDER", "IN_PARALLEL"), "maximumRuntimeInMinutes": INTEGER,
        "jobNetworkConfiguration": NETWORK, "jobNodeGroupConfigurationDetailsList": ListOf(NODE_GROUP),
    }),
})

CREATE_JOB = Obj({"projectId": STRING, "compartmentId": STRING}, {
    "displayName": STRING, "description": STRING,
    "jobConfigurationDetails": JOB_CONFIGURATION,
    "jobInfrastructureConfigurationDetails": INFRASTRUCTURE,
    "jobEnvironmentConfigurationDetails": ENVIRONMENT,
    "jobLogConfigurationDetails": LOG_CONFIGURATION,
    "jobStorageMountConfigurationDetailsList": STORAGE_MOUNTS,
    "jobNodeConfigurationDetails": NODE_CONFIGURATION,
    **TAGS,
})
UPDATE_JOB = Obj(optional={
    "displayName": STRING, "description": STRING,
    "jobInfrastructureConfigurationDetails": INFRASTRUCTURE,
    "jobStorageMountConfigurationDetailsList": STORAGE_MOUNTS,
    **TAGS,
})
CREATE_JOB_RUN = Obj({"projectId": STRING, "compartmentId": STRING, "jobId": STRING}, {
    "displayName": STRING,
    "jobConfigurationOverrideDetails": JOB_CONFIGURATION,
    "jobLogConfigurationOverrideDetails": LOG_CONFIGURATION,
    "jobEnvironmentConfigurationOverrideDetails": ENVIRONMENT,
    "jobInfrastructureConfigurationOverrideDetails": INFRASTRUCTURE,
    "jobNodeConfigurationOverrideDetails": NODE_CONFIGURATION,
    "jobStorageMountConfigurationOverrideDetailsList": STORAGE_MOUNTS,
    **TAGS,
})
UPDATE_JOB_RUN = Obj(optional={"displayName": STRING, **TAGS})
# Pipelines (SDK `CreatePipelineDetails`, `PipelineStepDetails` and their subtypes). Nested objects the fake does
# not act on (infrastructure, container, dataflow, step parameters) are stored as given.
STEP_CONFIGURATION = Obj(optional={
    "maximumRuntimeInMinutes": INTEGER, "environmentVariables": MapOf(STRING), "commandLineArguments": STRING,
}, tolerated=("type",))  # ADS and OCI's sample send type DEFAULT here (docs/oci-fidelity.md)
PIPELINE_CONFIGURATION = Poly("type", {"DEFAULT": Obj(optional={
    "maximumRuntimeInMinutes": INTEGER, "environmentVariables": MapOf(STRING), "commandLineArguments": STRING,
})})
_STEP = {"description": STRING, "stepConfigurationDetails": STEP_CONFIGURATION}
_NEW_STEP = {**_STEP, "dependsOn": ListOf(STRING)}
_STEP_HOST = {"stepInfrastructureConfigurationDetails": AnyObject(),
              "stepStorageMountConfigurationDetailsList": STORAGE_MOUNTS, "stepParameters": AnyObject()}
_NAME = {"stepName": STRING}
STEP_DETAILS = Poly("stepType", {
    "ML_JOB": Obj({**_NAME, "jobId": STRING}, {**_NEW_STEP, "stepRunName": STRING, "stepParameters": AnyObject()}),
    "CUSTOM_SCRIPT": Obj(_NAME, {**_NEW_STEP, **_STEP_HOST, "isArtifactUploaded": BOOLEAN}),
    "CONTAINER": Obj({**_NAME, "stepContainerConfigurationDetails": AnyObject()},
                     {**_NEW_STEP, **_STEP_HOST, "isArtifactUploaded": BOOLEAN}),
    "DATAFLOW": Obj({**_NAME, "applicationId": STRING}, {**_NEW_STEP, "stepDataflowConfigurationDetails": AnyObject()}),
})
STEP_UPDATE = Poly("stepType", {
    "ML_JOB": Obj(_NAME, {**_STEP, "stepRunName": STRING, "stepParameters": AnyObject()}),
    "CUSTOM_SCRIPT": Obj(_NAME, {**_STEP, **_STEP_HOST}),
    "CONTAINER": Obj(_NAME, {**_STEP, **_STEP_HOST}),
    "DATAFLOW": Obj(_NAME, {**_STEP, "stepDataflowConfigurationDetails": AnyObject()}),
})
_PIPELINE = {
    "displayName": STRING, "description": STRING, "configurationDetails": PIPELINE_CONFIGURATION,
    "logConfigurationDetails": LOG_CONFIGURATION, "infrastructureConfigurationDetails": AnyObject(),
    "storageMountConfigurationDetailsList": STORAGE_MOUNTS, "parameters": MapOf(STRING), **TAGS,
}
CREATE_PIPELINE = Obj({"projectId": STRING, "compartmentId": STRING, "stepDetails": ListOf(STEP_DETAILS)}, _PIPELINE)
UPDATE_PIPELINE = Obj(optional={**_PIPELINE, "stepDetails": ListOf(STEP_UPDATE)})
STEP_OVERRIDE = Obj({**_NAME, "stepConfigurationDetails": STEP_CONFIGURATION}, {
    "stepContainerConfigurationDetails": AnyObject(), "stepDataflowConfigurationDetails": AnyObject(),
    "stepInfrastructureConfigurationDetails": AnyObject(), "stepStorageMountConfigurationDetailsList": STORAGE_MOUNTS,
})
CREATE_PIPELINE_RUN = Obj({"compartmentId": STRING, "pipelineId": STRING}, {
    "projectId": STRING, "displayName": STRING, "configurationOverrideDetails": PIPELINE_CONFIGURATION,
    "logConfigurationOverrideDetails": LOG_CONFIGURATION, "infrastructureConfigurationOverrideDetails": AnyObject(),
    "storageMountConfigurationOverrideDetailsList": STORAGE_MOUNTS, "parametersOverride": MapOf(STRING),
    "stepOverrideDetails": ListOf(STEP_OVERRIDE), "systemTags": DEFINED_TAGS, **TAGS,
})
UPDATE_PIPELINE_RUN = Obj(optional={"displayName": STRING, **TAGS})
# Data Flow (SDK `oci.data_flow.models`). UpdateApplicationDetails is CreateApplicationDetails without
# compartmentId and type; CreateRunDetails is the application's overridable fields plus applicationId/execute.
DATAFLOW_SHAPE_CONFIG = Obj(optional={"ocpus": NUMBER, "memoryInGBs": NUMBER})
APPLICATION_PARAMETER = Obj({"name": STRING, "value": STRING})
APPLICATION_LOG_CONFIG = Obj({"logGroupId": STRING, "logId": STRING})
DATAFLOW_TYPE = Enum("BATCH", "STREAMING", "SESSION")
SPARK_LANGUAGE = Enum("SCALA", "JAVA", "PYTHON", "SQL")
_RUNNABLE = {  # what an application sets and a run may override
    "applicationLogConfig": APPLICATION_LOG_CONFIG, "archiveUri": STRING, "arguments": ListOf(STRING),
    "configuration": MapOf(STRING), "displayName": STRING, "driverShape": STRING,
    "driverShapeConfig": DATAFLOW_SHAPE_CONFIG, "execute": STRING, "executorShape": STRING,
    "executorShapeConfig": DATAFLOW_SHAPE_CONFIG, "logsBucketUri": STRING, "metastoreId": STRING,
    "numExecutors": INTEGER, "parameters": ListOf(APPLICATION_PARAMETER), "poolId": STRING, "sparkVersion": STRING,
    "warehouseBucketUri": STRING, "maxDurationInMinutes": INTEGER, "idleTimeoutInMinutes": INTEGER, **TAGS,
}
_APPLICATION = {**_RUNNABLE, "className": STRING, "description": STRING, "fileUri": STRING,
                "language": SPARK_LANGUAGE, "privateEndpointId": STRING}
_CREATE_APPLICATION = {**_APPLICATION, "compartmentId": STRING, "type": DATAFLOW_TYPE}
_APPLICATION_REQUIRED = ("compartmentId", "displayName", "driverShape", "executorShape", "language", "numExecutors",
                         "sparkVersion")
CREATE_APPLICATION = Obj({name: _CREATE_APPLICATION[name] for name in _APPLICATION_REQUIRED},
                         {name: spec for name, spec in _CREATE_APPLICATION.items()
                          if name not in _APPLICATION_REQUIRED})
UPDATE_APPLICATION = Obj(optional=_APPLICATION)
CREATE_DATAFLOW_RUN = Obj({"compartmentId": STRING}, {**_RUNNABLE, "applicationId": STRING, "type": DATAFLOW_TYPE})
UPDATE_DATAFLOW_RUN = Obj(optional={"maxDurationInMinutes": INTEGER, "idleTimeoutInMinutes": INTEGER, **TAGS})
SEARCH_LOGS = Obj({"timeStart": STRING, "timeEnd": STRING, "searchQuery": STRING}, {"isReturnFieldInfo": BOOLEAN})


def check_update(spec: Obj, create_spec: Obj, body: Any) -> None:
    """Validate an update body, naming fields that exist on the resource but cannot change in place."""
    if isinstance(body, dict):
        immutable = sorted(name for name in body if name not in spec.fields and name in create_spec.fields)
        if immutable:
            raise invalid(f"field(s) cannot be updated: {', '.join(immutable)}")
    spec.check(body, "")
