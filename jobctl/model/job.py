"""Jobs, runs and logs as every backend reports them, in backend-neutral terms (no SDK type here)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from jobctl.model import nodes
from jobctl.model.definition import Definition, field, replace
from jobctl.model.state import (
    ACCEPTED,
    ACTIVE_STATES,
    CANCELED,
    CANCELING,
    DELETED,
    FAILED,
    IN_PROGRESS,
    JOBCTL_TAG_PREFIX,
    LIVE_JOB_STATES,
    NEEDS_ATTENTION,
    PENDING_HASH_PREFIX,
    RUN_STATES,
    SUCCEEDED,
    TAG_HASH,
    TAG_MANAGED,
    TAG_NAME,
    TAG_SET,
    TAG_SUPERSEDED,
    TERMINAL_STATES,
    JobState,
    LogBatch,
    LogLine,
    LogView,
    Owned,
    RunState,
    split_tags,
)
from jobctl.model.table import IGNORED, Row, column, fill_derived, rows
from jobctl.secrets import REDACTOR

# Observed jobs and runs live in jobctl.model.state (listing runs or reading a log needs no JobDefinition,
# whose 52 fields take ~1 ms to declare); they are re-exported here, where they always were.
__all__ = [
    "ACCEPTED",
    "ACTIVE_STATES",
    "CANCELED",
    "CANCELING",
    "DELETED",
    "FAILED",
    "IN_PROGRESS",
    "JOBCTL_TAG_PREFIX",
    "LIVE_JOB_STATES",
    "NEEDS_ATTENTION",
    "PENDING_HASH_PREFIX",
    "RUN_STATES",
    "SUCCEEDED",
    "TAG_HASH",
    "TAG_MANAGED",
    "TAG_NAME",
    "TAG_SET",
    "TAG_SUPERSEDED",
    "TERMINAL_STATES",
    "JobState",
    "LogBatch",
    "LogLine",
    "LogView",
    "Owned",
    "RunState",
    "split_tags",
]

# Env names jobctl and OCI's job runner set from the runtime: no spec or --env may set them (the schema's
# env propertyNames say the same; a test keeps the two in step).
RESERVED_ENV_PREFIXES = ("JOBCTL_", "CONDA_ENV_", "JOB_RUN_")

# SDK attribute paths of the parts of an OCI job (see jobctl.backends.oci.mapping).
OCI_INFRA = "job_infrastructure_configuration_details"
OCI_LOG = "job_log_configuration_details"
OCI_ENV = "job_environment_configuration_details"
OCI_CONFIG = "job_configuration_details"
OCI_SHAPE = f"{OCI_INFRA}.job_shape_config_details"
# OCI's infrastructure types a jobctl job can have (MANAGED_COMPUTE_CLUSTER and EMPTY: see the schema)
STANDALONE, ME_STANDALONE, MULTI_NODE = "STANDALONE", "ME_STANDALONE", "MULTI_NODE"


def _infrastructure_type(job: JobDefinition) -> str:
    """The type a spec that does not name one means: node groups are MULTI_NODE, a subnet is
    STANDALONE, neither is managed egress."""
    if job.node_groups:
        return MULTI_NODE
    return STANDALONE if job.subnet_id else ME_STANDALONE


def name_from_display(text: str) -> str:
    """The jobctl name a free-text display name stands for: 'My Job v2' -> 'my-job-v2', '2024 run' ->
    'job-2024-run'; "" when nothing in it can make one."""
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()  # Jöb -> Job
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if slug and not slug[0].isalpha():
        slug = f"job-{slug}"
    return slug[:63].rstrip("-")


def _display_name(resource: Metadata) -> str:
    """A job's (an application's) OCI display name is its name unless the spec gives another (an ADS file's
    free text)."""
    return resource.name


def _multi_node(job: JobDefinition) -> bool:
    """A multi-node job keeps its infrastructure in its node groups, which UpdateJob cannot reach."""
    return job.infrastructure_type == MULTI_NODE


_INFRA: dict[str, Any] = {"in_place": True, "fixed_when": _multi_node, "local": IGNORED, "run": True}


T = TypeVar("T", bound="Tagged")


class Tagged:
    """A definition's freeform tags: its labels and jobctl's own (a job's, an application's)."""

    __slots__ = ()

    labels: Mapping[str, str]
    owner_tags: Mapping[str, str]

    @property
    def tags(self) -> dict[str, str]:
        """Every freeform tag: the labels and jobctl's own."""
        return {**self.labels, **self.owner_tags}

    def with_tags(self: T, tags: Mapping[str, str]) -> T:
        """This definition with every freeform tag replaced (labels and jobctl's own)."""
        labels, owner_tags = split_tags(tags)
        return replace(self, labels=labels, owner_tags=owner_tags)  # type: ignore[type-var]


class Metadata(Tagged, Definition):
    """The first rows of every table jobctl manages a resource by (a job's, a Data Flow application's)."""

    name: str = column("metadata.name", "text", required=True, in_place=True)  # identity: the jobctl-name tag
    display_name: str | None = column("metadata.displayName", "text", in_place=True, derive=_display_name,
                                      oci="display_name")
    description: str | None = column("metadata.description", "text", in_place=True, oci="description")
    labels: Mapping[str, str] = column("metadata.labels", "map", in_place=True)  # freeform tags; see tags
    # OCI adds its own namespace (Oracle-Tags) to every resource: the mapping keeps it out of the definition
    defined_tags: Mapping[str, Mapping[str, str]] = column("metadata.definedTags", "object", in_place=True,
                                                           local=IGNORED)


class JobDefinition(Metadata):
    """A job as a backend stores it. Desired and observed use the same type; each field is a table row."""

    compartment_id: str | None = column("spec.compartmentId", "text", oci="compartment_id")
    project_id: str | None = column("spec.projectId", "text", oci="project_id")
    # each as OCI's wire JSON names it (storageType, namespace, bucket, ...); locally: see backends.local.mounts
    storage_mounts: tuple[Mapping[str, Any], ...] = column("spec.storageMounts", "objects", in_place=True,
                                                          oci="job_storage_mount_configuration_details_list", run=True)
    # a change of type is a replace (OCI's UpdateJob keeps a job's type); None: derived, see _infrastructure_type
    infrastructure_type: str | None = column("spec.infrastructure.type", "text", derive=_infrastructure_type,
                                             oci=f"{OCI_INFRA}.job_infrastructure_type")
    # in place, except in a multi-node job; ignored locally
    shape: str = column("spec.infrastructure.shape", "text", required=True, **_INFRA, oci=f"{OCI_INFRA}.shape_name")
    ocpus: float | None = column("spec.infrastructure.ocpus", "number", **_INFRA, oci=f"{OCI_SHAPE}.ocpus")
    memory_in_gbs: float | None = column("spec.infrastructure.memoryInGBs", "number", **_INFRA,
                                         oci=f"{OCI_SHAPE}.memory_in_gbs")
    cpu_baseline: str | None = column("spec.infrastructure.cpuBaseline", "text", **_INFRA,
                                      oci=f"{OCI_SHAPE}.cpu_baseline")
    block_storage_size_in_gbs: int = column("spec.infrastructure.blockStorageSizeInGBs", "integer", default=50,
                                            **_INFRA, oci=f"{OCI_INFRA}.block_storage_size_in_gbs")
    # a multi-node job's network: CUSTOM_NETWORK with this subnet, DEFAULT_NETWORK without
    subnet_id: str | None = column("spec.infrastructure.subnetId", "text", **_INFRA, oci=f"{OCI_INFRA}.subnet_id")
    capacity_reservation_id: str | None = column("spec.infrastructure.capacityReservationId", "text", **_INFRA,
                                                 oci=f"{OCI_INFRA}.capacity_reservation_id")
    log_enabled: bool = column("spec.logging.enabled", "bool", default=True, absent=False, local=IGNORED,
                               oci=f"{OCI_LOG}.enable_logging", run=True)
    log_group_id: str | None = column("spec.logging.logGroupId", "text", local=IGNORED, run=True,
                                      oci=f"{OCI_LOG}.log_group_id")
    # not read back while OCI creates the log
    log_id: str | None = column("spec.logging.logId", "text", local=IGNORED, run=True)
    log_auto_create: bool = column("spec.logging.autoCreateLog", "bool", default=False, local=IGNORED,
                                   oci=f"{OCI_LOG}.enable_auto_log_creation", run=True)
    runtime_type: str = column("spec.runtime.type", "text", required=True)  # OCI cannot say: kept in a tag
    # python/shell: the entry file (JOB_RUN_ENTRYPOINT); container: the image's entrypoint (a list)
    entrypoint: str | tuple[str, ...] | None = column("spec.runtime.entrypoint", "entrypoint", run=True)
    # python only; any of these runs the code through jobctl's driver (jobctl/driver.py, docs/runtimes.md)
    git_url: str | None = column("spec.runtime.git.url", "text")
    git_branch: str | None = column("spec.runtime.git.branch", "text")
    git_commit: str | None = column("spec.runtime.git.commit", "text")
    git_secret_id: str | None = column("spec.runtime.git.secretId", "text", local=IGNORED)  # your own git's, locally
    command: str | None = column("spec.runtime.command", "text")  # instead of the entrypoint
    pip_requirements: str | None = column("spec.runtime.dependencies.pipRequirements", "text")
    pip_packages: str | None = column("spec.runtime.dependencies.pipPackages", "text")
    inputs: Mapping[str, str] = column("spec.runtime.inputs", "map")  # URL -> destination
    working_dir: str | None = column("spec.runtime.workingDir", "text")
    python_path: tuple[str, ...] = column("spec.runtime.pythonPath", "list")
    entry_function: str | None = column("spec.runtime.entryFunction", "text")
    output_dir: str | None = column("spec.runtime.outputDir", "text")
    output_uri: str | None = column("spec.runtime.outputUri", "text")
    exclude_tags: tuple[str, ...] = column("spec.runtime.excludeTags", "list")  # notebook runtime
    notebook_encoding: str | None = column("spec.runtime.notebookEncoding", "text")
    conda_slug: str | None = column("spec.runtime.conda.slug", "text", local=IGNORED, run=True)  # CONDA_ENV_* variables
    conda_uri: str | None = column("spec.runtime.conda.uri", "text", local=IGNORED, run=True)
    image: str | None = column("spec.runtime.image", "text", oci=f"{OCI_ENV}.image", run=True)
    image_digest: str | None = column("spec.runtime.imageDigest", "text", oci=f"{OCI_ENV}.image_digest", run=True)
    image_signature_id: str | None = column("spec.runtime.imageSignatureId", "text", local=IGNORED,
                                            oci=f"{OCI_ENV}.image_signature_id", run=True)
    cmd: tuple[str, ...] = column("spec.runtime.cmd", "list", oci=f"{OCI_ENV}.cmd", run=True)
    args: tuple[str, ...] = column("spec.runtime.args", "list")  # one shlex-joined string on OCI
    env: Mapping[str, str] = column("spec.runtime.env", "map", secret_by_key=True)  # + derived variables
    max_runtime_in_minutes: int | None = column("spec.runtime.maxRuntimeInMinutes", "integer",
                                                oci=f"{OCI_CONFIG}.maximum_runtime_in_minutes", run=True)
    # multi-node jobs (OCI's jobNodeConfigurationDetails): each group as jobctl.model.nodes writes it
    node_startup_order: str | None = column("spec.nodes.startupOrder", "text", default="IN_PARALLEL", absent=None,
                                            oci="job_node_configuration_details.startup_order", run=True)
    node_groups: tuple[Mapping[str, Any], ...] = column("spec.nodes.groups", "objects", secret_by_key=True, run=True)
    # keys as OCI's wire JSON names them (command, periodInSeconds, ...); an EXEC probe on OCI
    startup_probe: Mapping[str, Any] = column("spec.runtime.startupProbe", "object",
                                              oci=f"{OCI_CONFIG}.startup_probe_details", run=True)
    artifact_digest: str | None = column("artifact", "text")  # computed from the source, kept in a tag
    owner_tags: Mapping[str, str] = field(default_factory=dict)  # jobctl's own freeform tags
    # what an observed job holds that no row can express (SDK paths): a replace would lose it
    unmodeled: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.node_groups:
            self._canonical_node_groups()
        fill_derived(self)
        REDACTOR.remember_job(self.env, self.node_groups)  # whatever reads a job learns its secrets, to mask them

    def _canonical_node_groups(self) -> None:
        """Write the node groups and the job-level values they share one way (jobctl.model.nodes)."""
        infrastructure = {key: getattr(self, attr) for key, attr in _node_infra_attrs().items()}
        infra, env, args, groups = nodes.canonical(infrastructure, self.env, self.args, self.node_groups)
        for key, attr in _node_infra_attrs().items():
            object.__setattr__(self, attr, infra[key])
        object.__setattr__(self, "env", env)
        object.__setattr__(self, "args", tuple(args))
        object.__setattr__(self, "node_groups", groups)

    def node_group_runs(self) -> list[dict[str, Any]]:
        """What each node group runs with (jobctl.model.nodes.effective), in order."""
        infrastructure = {key: getattr(self, attr) for key, attr in _node_infra_attrs().items()}
        return [nodes.effective(infrastructure, self.env, self.args, group) for group in self.node_groups]

    @property
    def container_entrypoint(self) -> tuple[str, ...]:
        return self.entrypoint if isinstance(self.entrypoint, tuple) else ()

    @property
    def entry_file(self) -> str | None:
        return self.entrypoint if isinstance(self.entrypoint, str) else None

    @property
    def driven(self) -> bool:
        """Whether the code runs through jobctl's driver, which the artifact then holds (jobctl/driver.py)."""
        return self.runtime_type == "notebook" or (self.runtime_type == "python" and bool(
            self.git_url or self.command or self.pip_requirements or self.pip_packages or self.inputs
            or self.working_dir or self.python_path or self.entry_function or self.output_dir or self.output_uri))


@functools.cache
def node_infra_rows() -> dict[str, Row]:
    """The row of each infrastructure key a node group may set (jobctl.model.nodes.INFRA_KEYS): the
    table's `spec.infrastructure.<key>`."""
    return {row.parts[-1]: row for row in rows(JobDefinition)
            if row.path in {f"spec.infrastructure.{key}" for key in nodes.INFRA_KEYS}}


def _node_infra_attrs() -> dict[str, str]:
    return {key: row.attr for key, row in node_infra_rows().items()}



