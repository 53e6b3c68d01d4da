"""Every row of the field table, on every backend: a job keeps every field, and changing one field
plans the update or replace its row says, then converges.

The cases derive from the table: a row added without a sample here fails `test_every_row_has_a_sample`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jobctl.engine.apply import apply_plan, build_plan
from jobctl.model.definition import replace
from jobctl.model.job import JobDefinition
from jobctl.model.table import flatten, row_for, rows
from jobctl.plan.desired import DesiredJob, desired_job
from jobctl.plan.model import Action
from jobctl.spec.model import JobSpec
from tests.contract.harness import Harness

COMPARTMENT = "ocid1.compartment.oc1..contract"
PROJECT = "ocid1.datascienceproject.oc1.iad.contract"
SUBNET = "ocid1.subnet.oc1.iad.contract"
LOG_GROUP = "ocid1.loggroup.oc1.iad.contract"

PYTHON = JobDefinition(
    name="every-field", description="first", labels={"team": "ml"}, defined_tags={"Finance": {"CostCenter": "42"}},
    compartment_id=COMPARTMENT, project_id=PROJECT, storage_mounts=(
        {"storageType": "OBJECT_STORAGE", "namespace": "ns", "bucket": "datasets", "prefix": "sales/",
         "destinationDirectoryName": "data", "destinationPath": "/mnt"},
        {"storageType": "FILE_STORAGE", "mountTargetId": "ocid1.mounttarget.oc1.iad.contract",
         "exportId": "ocid1.export.oc1.iad.contract", "destinationDirectoryName": "shared", "destinationPath": "/opt"},
    ), shape="VM.Standard.E4.Flex", ocpus=2, memory_in_gbs=16,
    cpu_baseline="BASELINE_1_2", block_storage_size_in_gbs=100, subnet_id=SUBNET,
    capacity_reservation_id="ocid1.capacityreservation.oc1.iad.contract",
    log_enabled=True, log_group_id=LOG_GROUP, log_id="ocid1.log.oc1.iad.contract", log_auto_create=False,
    runtime_type="python", entrypoint="main.py", conda_slug="generalml_p311_cpu_x86_64_v1",
    args=("--epochs", "3"), env={"MODEL": "xgb", "SEED": "7"}, max_runtime_in_minutes=60,
    startup_probe={"command": ["test", "-f", "/tmp/ready"], "periodInSeconds": 5, "failureThreshold": 2},
)
CONTAINER = replace(
    PYTHON, name="every-field-box", entrypoint=("python", "-m", "app"), conda_slug=None, runtime_type="container",
    image="iad.ocir.io/ns/repo:1.0", image_digest="sha256:" + "a" * 64, cmd=("--x", "1"),
    image_signature_id="ocid1.containerimagesignature.oc1.iad.contract",
)

MULTI = replace(
    PYTHON, name="every-field-nodes", infrastructure_type="MULTI_NODE", node_startup_order="IN_ORDER",
    node_groups=({"name": "main", "env": {"ROLE": "main"}},
                 {"name": "workers", "replicas": 3, "minimumSuccessReplicas": 2, "env": {"ROLE": "worker"},
                  "args": ["--worker"], "infrastructure": {"shape": "VM.GPU.A10.2", "blockStorageSizeInGBs": 500}}),
)
# jobctl's driver runs the code (jobctl/driver.py): its settings travel as derived variables on OCI
DRIVEN = replace(
    PYTHON, name="every-field-driven", working_dir=".", python_path=("lib", "vendor"), entry_function="main",
    output_dir="out", output_uri="oci://results@ns/runs/$JOB_RUN_OCID",
)
GIT = replace(
    DRIVEN, name="every-field-git", git_url="https://git.example.com/ml/trainer.git", git_branch="main",
    git_commit="3f2c9a1", git_secret_id="ocid1.vaultsecret.oc1.iad.contract", working_dir="src",
)
NOTEBOOK = replace(
    PYTHON, name="every-field-notebook", runtime_type="notebook", entrypoint="main.ipynb", exclude_tags=("skip",),
    notebook_encoding="utf-8", output_uri="oci://results@ns/nb/", args=(),
)
DDP = replace(  # a multi-node job whose nodes each run a command (ADS's PyTorchDistributedRuntime)
    MULTI, name="every-field-ddp", entrypoint=None, command="torchrun train.py --epochs 3", working_dir=".",
    pip_requirements="requirements.txt", pip_packages="transformers==4.44.0 datasets",
    inputs={"https://example.com/data/input.txt": "data/input.txt"},
)
# attr -> (base definition, changes): each changes its row's field (and what must change with it).
SAMPLES: dict[str, tuple[JobDefinition, dict[str, Any]]] = {
    "display_name": (PYTHON, {"display_name": "Tune the Models"}),
    "git_url": (GIT, {"git_url": "git@git.example.com:ml/trainer.git"}),
    "git_branch": (GIT, {"git_branch": "next"}),
    "git_commit": (GIT, {"git_commit": "9a8b7c6"}),
    "git_secret_id": (GIT, {"git_secret_id": "ocid1.vaultsecret.oc1.iad.other"}),
    "exclude_tags": (NOTEBOOK, {"exclude_tags": ("skip", "slow")}),
    "notebook_encoding": (NOTEBOOK, {"notebook_encoding": "latin-1"}),
    "command": (DDP, {"command": "torchrun train.py --epochs 5"}),
    "pip_requirements": (DDP, {"pip_requirements": "requirements-gpu.txt"}),
    "pip_packages": (DDP, {"pip_packages": "datasets"}),
    "inputs": (DDP, {"inputs": {"oci://data@ns/input.txt": "data/input.txt"}}),
    "working_dir": (DRIVEN, {"working_dir": "lib"}),
    "python_path": (DRIVEN, {"python_path": ("vendor",)}),
    "entry_function": (DRIVEN, {"entry_function": "train"}),
    "output_dir": (DRIVEN, {"output_dir": "results"}),
    "output_uri": (DRIVEN, {"output_uri": "oci://results@ns/other/"}),
    "description": (PYTHON, {"description": "second"}),
    "labels": (PYTHON, {"labels": {"team": "research"}}),
    "defined_tags": (PYTHON, {"defined_tags": {"Finance": {"CostCenter": "43"}, "Ops": {"Tier": "gold"}}}),
    "storage_mounts": (PYTHON, {"storage_mounts": PYTHON.storage_mounts[:1]}),
    # managed networking instead of the subnet: another infrastructure type
    "infrastructure_type": (PYTHON, {"infrastructure_type": "ME_STANDALONE", "subnet_id": None}),
    "shape": (PYTHON, {"shape": "VM.Standard3.Flex"}),
    "ocpus": (PYTHON, {"ocpus": 4}),
    "memory_in_gbs": (PYTHON, {"memory_in_gbs": 32}),
    "cpu_baseline": (PYTHON, {"cpu_baseline": "BASELINE_1_8"}),
    "capacity_reservation_id": (PYTHON, {"capacity_reservation_id": "ocid1.capacityreservation.oc1.iad.other"}),
    "block_storage_size_in_gbs": (PYTHON, {"block_storage_size_in_gbs": 200}),
    "subnet_id": (PYTHON, {"subnet_id": "ocid1.subnet.oc1.iad.other"}),
    "log_enabled": (PYTHON, {"log_enabled": False}),
    "log_group_id": (PYTHON, {"log_group_id": "ocid1.loggroup.oc1.iad.other"}),
    "log_id": (PYTHON, {"log_id": "ocid1.log.oc1.iad.other"}),
    "log_auto_create": (PYTHON, {"log_auto_create": True, "log_id": None}),
    "runtime_type": (PYTHON, {"runtime_type": "shell", "entrypoint": "main.sh"}),
    "entrypoint": (PYTHON, {"entrypoint": "other.py"}),
    "conda_slug": (PYTHON, {"conda_slug": "pytorch21_p39_gpu_v1"}),
    "conda_uri": (PYTHON, {"conda_slug": None, "conda_uri": "oci://envs@ns/conda/mine.tar.gz"}),
    "image": (CONTAINER, {"image": "iad.ocir.io/ns/repo:2.0"}),
    "image_digest": (CONTAINER, {"image_digest": "sha256:" + "b" * 64}),
    "image_signature_id": (CONTAINER, {"image_signature_id": "ocid1.containerimagesignature.oc1.iad.other"}),
    "cmd": (CONTAINER, {"cmd": ("--x", "2")}),
    "args": (PYTHON, {"args": ("--epochs", "4")}),
    "env": (PYTHON, {"env": {"MODEL": "rf", "SEED": "7"}}),
    "max_runtime_in_minutes": (PYTHON, {"max_runtime_in_minutes": 90}),
    "startup_probe": (PYTHON, {"startup_probe": {"command": ["true"], "initialDelayInSeconds": 30}}),
    "node_startup_order": (MULTI, {"node_startup_order": "IN_PARALLEL"}),
    "node_groups": (MULTI, {"node_groups": ({"name": "main"}, {"name": "workers", "replicas": 4})}),
    "artifact_digest": (PYTHON, {}),  # a change of the source's content
}
# The job a spec means: a name is unique within a (compartment, project), so another name or scope
# is another job; see test_another_scope_is_another_job.
IDENTITY = {"name": "other-name", "compartment_id": "ocid1.compartment.oc1..other",
            "project_id": "ocid1.datascienceproject.oc1.iad.other"}


def test_every_row_has_a_sample() -> None:
    assert {row.attr for row in rows(JobDefinition)} == set(SAMPLES) | set(IDENTITY)


def desired(definition: JobDefinition, tmp_path: Path, content: str = "print('hi')\n") -> DesiredJob:
    """The definition with a source holding its entry file (container jobs have none)."""
    if definition.runtime_type == "container":
        return desired_job(JobSpec(definition))
    source = tmp_path / ("src-" + str(abs(hash(content))))
    source.mkdir(exist_ok=True)
    (source / (definition.entry_file or "main.py")).write_text(content)
    return desired_job(JobSpec(definition, source))


def shown(definition: JobDefinition) -> dict[str, Any]:
    return dict(flatten(definition))


@pytest.mark.parametrize("base", [PYTHON, DRIVEN, GIT, NOTEBOOK, DDP, CONTAINER, MULTI],
                         ids=["python", "driven", "git", "notebook", "ddp", "container", "multi-node"])
def test_a_job_keeps_every_field(harness: Harness, tmp_path: Path, base: JobDefinition) -> None:
    want = desired(base, tmp_path)
    apply_plan(harness.backend, build_plan(harness.backend, [want]))
    [job] = [j for j in harness.backend.list_jobs(compartment_id=COMPARTMENT) if j.managed_name == base.name]
    observed = harness.backend.get_job(job_id=job.id).definition
    assert observed is not None
    assert shown(observed) == shown(want.definition)
    assert not build_plan(harness.backend, [want], refresh=True).has_changes


@pytest.mark.parametrize("attr", sorted(SAMPLES))
def test_changing_a_field_updates_or_replaces_as_its_row_says(harness: Harness, tmp_path: Path, attr: str) -> None:
    base, changes = SAMPLES[attr]
    [row] = [r for r in rows(JobDefinition) if r.attr == attr]
    apply_plan(harness.backend, build_plan(harness.backend, [desired(base, tmp_path)]))
    changed = desired(replace(base, **changes), tmp_path,
                      "print('changed')\n" if attr == "artifact_digest" else "print('hi')\n")

    plan = build_plan(harness.backend, [changed])

    [change] = plan.changes
    assert change.action is (Action.UPDATE if row.in_place else Action.REPLACE)
    assert row.shown in {row_for(JobDefinition, f.field).shown for f in change.fields}
    assert all(f.forces_replace is not row_for(JobDefinition, f.field).in_place for f in change.fields)
    apply_plan(harness.backend, plan)
    assert not build_plan(harness.backend, [changed], refresh=True).has_changes



@pytest.mark.parametrize("attr", sorted(r.attr for r in rows(JobDefinition) if r.fixed_when is not None))
def test_what_an_update_cannot_reach_in_a_multi_node_job_replaces_it(
    harness: Harness, tmp_path: Path, attr: str,
) -> None:
    _, changes = SAMPLES[attr]
    apply_plan(harness.backend, build_plan(harness.backend, [desired(MULTI, tmp_path)]))
    changed = desired(replace(MULTI, **changes), tmp_path)

    plan = build_plan(harness.backend, [changed])

    [change] = plan.changes
    assert change.action is Action.REPLACE
    apply_plan(harness.backend, plan)
    assert not build_plan(harness.backend, [changed], refresh=True).has_changes


@pytest.mark.parametrize("attr", sorted(IDENTITY))
def test_another_name_or_scope_is_another_job(harness: Harness, tmp_path: Path, attr: str) -> None:
    first = desired(PYTHON, tmp_path)
    apply_plan(harness.backend, build_plan(harness.backend, [first]))
    [old] = [j for j in harness.backend.list_jobs(compartment_id=COMPARTMENT, project_id=PROJECT) if j.managed]
    moved = desired(replace(PYTHON, **{attr: IDENTITY[attr]}), tmp_path)

    plan = build_plan(harness.backend, [moved])

    assert [c.action for c in plan.changes] == [Action.CREATE]
    apply_plan(harness.backend, plan)
    assert harness.backend.get_job(job_id=old.id).lifecycle_state == "ACTIVE"  # left alone: prune it where it is
    scoped = harness.backend.list_jobs(compartment_id=moved.definition.compartment_id,
                                       project_id=moved.definition.project_id)
    assert [j.managed_name for j in scoped if j.managed and j.id != old.id] == [moved.name]


def test_a_backend_that_runs_jobs_here_names_the_fields_it_ignores(harness: Harness, tmp_path: Path) -> None:
    plan = build_plan(harness.backend, [desired(PYTHON, tmp_path)])
    ignored = ["definedTags", "infrastructure.shape", "infrastructure.ocpus", "infrastructure.memoryInGBs",
               "infrastructure.cpuBaseline", "infrastructure.blockStorageSizeInGBs", "infrastructure.subnetId",
               "infrastructure.capacityReservationId", "logging.enabled", "logging.logGroupId", "logging.logId",
               "runtime.conda.slug"]
    assert list(plan.ignored) == (ignored if harness.backend.runs_here else [])
