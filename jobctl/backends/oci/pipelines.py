"""Workflows on OCI Data Science Pipelines (docs/decisions/0014-pipeline-engine.md): the pipeline a compiled
workflow is, found by its tags or made; its runs started, read and canceled. Service errors become jobctl
errors through the backend's `_call`."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jobctl.backends.oci.paging import list_all
from jobctl.errors import ConflictError, JobctlError
from jobctl.model.job import TAG_HASH, TAG_MANAGED, TAG_NAME
from jobctl.workflow.pipeline import CompiledWorkflow

TAG_KIND = "jobctl-kind"  # "workflow": a pipeline jobctl made from a kind: Workflow spec
ENDED = ("SUCCEEDED", "FAILED", "CANCELED", "DELETED")


@dataclass(frozen=True)
class StepRun:
    name: str
    state: str
    job_run_id: str | None
    details: str | None


@dataclass(frozen=True)
class PipelineRunState:
    id: str
    pipeline_id: str
    state: str
    details: str | None
    steps: tuple[StepRun, ...]

    @property
    def ended(self) -> bool:
        return self.state in ENDED


def pipeline_hash(compiled: CompiledWorkflow, job_ids: Mapping[str, str]) -> str:
    """What the pipeline is: its steps, their jobs, order and env. A change is a new pipeline (its DAG and
    jobs cannot change in place)."""
    shape = [[s.name, job_ids[s.job or ""], list(s.depends_on), dict(s.env), list(s.args or [])]
             for s in compiled.steps]
    return "sha256:" + hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


class Pipelines:
    def __init__(self, call: Callable[..., Any], client: Any, models: Any, *, poll: float,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self._call, self.ds, self.models = call, client, models
        self.poll, self.sleep, self.clock = poll, sleep, clock

    def ensure(self, compiled: CompiledWorkflow, job_ids: Mapping[str, str], *, compartment: str,
               project: str, timeout: float = 300) -> str:
        """The ACTIVE pipeline that is `compiled` over these jobs (`job_ids`: workflow job name -> OCID, the
        selector job under ""), made when there is none; waits while it is CREATING."""
        digest = pipeline_hash(compiled, job_ids)
        listed = list_all(self._call, "listing pipelines", self.ds.list_pipelines, compartment, project_id=project,
                          limit=100)
        found = [p for p in listed if p.lifecycle_state in ("CREATING", "ACTIVE")
                 and (p.freeform_tags or {}).get(TAG_NAME) == compiled.name
                 and (p.freeform_tags or {}).get(TAG_HASH) == digest]
        if found:
            return self._active(max(found, key=lambda p: p.time_created).id, timeout)
        steps = [self.models.PipelineMLJobStepDetails(
            step_type="ML_JOB", step_name=s.name, job_id=job_ids[s.job or ""], depends_on=list(s.depends_on),
            step_configuration_details=self._configuration(s.env, s.args)) for s in compiled.steps]
        details = self.models.CreatePipelineDetails(
            project_id=project, compartment_id=compartment, display_name=compiled.name, step_details=steps,
            description=f"jobctl workflow {compiled.name}",
            freeform_tags={TAG_MANAGED: "true", TAG_NAME: compiled.name, TAG_HASH: digest, TAG_KIND: "workflow"})
        token = hashlib.sha256(f"{compartment}\0{project}\0{digest}".encode()).hexdigest()[:64]
        made = self._call(f"creating pipeline {compiled.name}", self.ds.create_pipeline, details,
                          opc_retry_token=token).data
        return self._active(made.id, timeout)

    def _active(self, pipeline_id: str, timeout: float) -> str:
        deadline = self.clock() + timeout
        while True:
            pipeline = self._call(f"reading pipeline {pipeline_id}", self.ds.get_pipeline, pipeline_id).data
            if pipeline.lifecycle_state == "ACTIVE":
                return pipeline_id
            if pipeline.lifecycle_state != "CREATING":
                raise JobctlError(f"pipeline {pipeline_id} is {pipeline.lifecycle_state}: "
                                  f"{pipeline.lifecycle_details or 'the service gave no reason'}")
            if self.clock() >= deadline:
                raise JobctlError(f"pipeline {pipeline_id} is still CREATING after {timeout:g} s")
            self.sleep(self.poll)

    def _configuration(self, env: Mapping[str, str], args: tuple[str, ...] | None) -> Any:
        import shlex

        return self.models.PipelineStepConfigurationDetails(
            environment_variables=dict(env) or None, command_line_arguments=shlex.join(args) if args else None)

    def start(self, pipeline_id: str, *, compartment: str, project: str, name: str,
              step_env: Mapping[str, Mapping[str, str]], step_args: Mapping[str, tuple[str, ...] | None],
              retry_token: str) -> PipelineRunState:
        """A run of the pipeline; `step_env`: a step's complete env where the run sets it (OCI replaces a
        step's configuration with its override, so it is whole)."""
        overrides = [self.models.PipelineStepOverrideDetails(
            step_name=step, step_configuration_details=self._configuration(env, step_args.get(step)))
            for step, env in step_env.items()]
        details = self.models.CreatePipelineRunDetails(
            pipeline_id=pipeline_id, compartment_id=compartment, project_id=project, display_name=name,
            step_override_details=overrides or None)
        run = self._call("starting a pipeline run", self.ds.create_pipeline_run, details,
                         opc_retry_token=retry_token).data
        return _state(run)

    def get(self, run_id: str) -> PipelineRunState:
        return _state(self._call(f"reading pipeline run {run_id}", self.ds.get_pipeline_run, run_id).data)

    def cancel(self, run_id: str) -> PipelineRunState:
        with contextlib.suppress(ConflictError):  # it ended meanwhile, or is being canceled: get says which
            self._call(f"canceling pipeline run {run_id}", self.ds.cancel_pipeline_run, run_id)
        return self.get(run_id)


def _state(run: Any) -> PipelineRunState:
    steps = tuple(StepRun(s.step_name, s.lifecycle_state, getattr(s, "job_run_id", None), s.lifecycle_details)
                  for s in run.step_runs or ())
    return PipelineRunState(run.id, run.pipeline_id, run.lifecycle_state, run.lifecycle_details, steps)
