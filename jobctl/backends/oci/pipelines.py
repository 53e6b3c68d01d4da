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
from jobctl.model.job import TAG_MANAGED, TAG_NAME, TAG_SUPERSEDED, Owned
from jobctl.workflow.pipeline import CompiledWorkflow

TAG_KIND = "jobctl-kind"  # "workflow": a pipeline jobctl made from a kind: Workflow spec
TAG_STATE = "jobctl-state"  # the workflow's spec.state: where `workflow run NAME` finds what it needs
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


@dataclass(frozen=True)
class AppliedPipeline(Owned):
    """A pipeline jobctl made from a workflow, as a listing shows it (its tags say what it is)."""

    id: str
    name: str
    state: str
    created: str
    compartment: str
    project: str
    tags: Mapping[str, str]

    @property
    def state_uri(self) -> str | None:
        return self.tags.get(TAG_STATE)


@dataclass(frozen=True)
class HeldStep:
    """A step of a pipeline as the service holds it."""

    name: str
    job_id: str
    depends_on: tuple[str, ...]
    env: Mapping[str, str]
    args: tuple[str, ...] | None


class Pipelines:
    def __init__(self, call: Callable[..., Any], client: Any, models: Any, *, poll: float,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self._call, self.ds, self.models = call, client, models
        self.poll, self.sleep, self.clock = poll, sleep, clock

    def applied(self, *, compartment: str, project: str | None) -> list[AppliedPipeline]:
        """The live pipelines jobctl made from workflows here (CREATING, ACTIVE or FAILED), newest first."""
        scope: dict[str, Any] = {"project_id": project} if project else {}
        listed = list_all(self._call, "listing pipelines", self.ds.list_pipelines, compartment, limit=100, **scope)
        found = [AppliedPipeline(p.id, (p.freeform_tags or {}).get(TAG_NAME, ""), p.lifecycle_state,
                                 str(p.time_created), p.compartment_id, p.project_id,
                                 dict(p.freeform_tags or {}))
                 for p in listed if (p.freeform_tags or {}).get(TAG_KIND) == "workflow"
                 and (p.freeform_tags or {}).get(TAG_MANAGED) == "true"
                 and p.lifecycle_state in ("CREATING", "ACTIVE", "FAILED")]
        return sorted(found, key=lambda p: p.created, reverse=True)

    def held(self, pipeline_id: str) -> tuple[str | None, tuple[HeldStep, ...]]:
        """The pipeline's etag and steps."""
        import shlex

        response = self._call(f"reading pipeline {pipeline_id}", self.ds.get_pipeline, pipeline_id)
        steps = []
        for step in response.data.step_details or ():
            config = step.step_configuration_details
            line = getattr(config, "command_line_arguments", None)
            steps.append(HeldStep(step.step_name, getattr(step, "job_id", None) or "", tuple(step.depends_on or ()),
                                  dict(getattr(config, "environment_variables", None) or {}),
                                  tuple(shlex.split(line)) if line else None))
        return response.headers.get("etag"), tuple(steps)

    def create(self, compiled: CompiledWorkflow, job_ids: Mapping[str, str], *, compartment: str, project: str,
               tags: Mapping[str, str], retry_token: str, timeout: float = 300) -> str:
        """A new pipeline that is `compiled` over these jobs (`job_ids`: workflow job name -> OCID, the selector
        job under ""), once it is ACTIVE."""
        steps = [self.models.PipelineMLJobStepDetails(
            step_type="ML_JOB", step_name=s.name, job_id=job_ids[s.job or ""], depends_on=list(s.depends_on),
            step_configuration_details=self._configuration(s.env, s.args)) for s in compiled.steps]
        details = self.models.CreatePipelineDetails(
            project_id=project, compartment_id=compartment, display_name=compiled.name, step_details=steps,
            description=f"jobctl workflow {compiled.name}", freeform_tags={**tags, TAG_KIND: "workflow"})
        made = self._call(f"creating pipeline {compiled.name}", self.ds.create_pipeline, details,
                          opc_retry_token=retry_token).data
        return self._active(made.id, timeout)

    def update(self, pipeline_id: str, compiled: CompiledWorkflow, *, etag: str | None,
               tags: Mapping[str, str]) -> None:
        """Each step's configuration (env, arguments) and the tags, in place: what UpdatePipeline can change."""
        steps = [self.models.PipelineMLJobStepUpdateDetails(
            step_type="ML_JOB", step_name=s.name, step_configuration_details=self._configuration(s.env, s.args))
            for s in compiled.steps]
        details = self.models.UpdatePipelineDetails(step_details=steps, freeform_tags={**tags, TAG_KIND: "workflow"})
        self._call(f"updating pipeline {compiled.name}", self.ds.update_pipeline, pipeline_id, details,
                   **({"if_match": etag} if etag else {}))

    def retire(self, pipeline: AppliedPipeline, *, keep_runs: bool) -> str:
        """Delete a pipeline no longer wanted ("deleted"), or keep it tagged superseded ("superseded") while a
        run of it is in progress, and with `keep_runs` while it has runs (never lose run history)."""
        runs = list_all(self._call, "listing pipeline runs", self.ds.list_pipeline_runs, pipeline.compartment,
                        pipeline_id=pipeline.id, limit=100)
        runs = [r for r in runs if r.lifecycle_state != "DELETED"]
        if any(r.lifecycle_state not in ENDED for r in runs) or (keep_runs and runs):
            if not pipeline.superseded:
                details = self.models.UpdatePipelineDetails(freeform_tags={**pipeline.tags, TAG_SUPERSEDED: "true"})
                self._call(f"tagging pipeline {pipeline.id} superseded", self.ds.update_pipeline, pipeline.id,
                           details)
            return "superseded"
        self._call(f"deleting pipeline {pipeline.id}", self.ds.delete_pipeline, pipeline.id,
                   delete_related_pipeline_runs=True, delete_related_job_runs=True)
        return "deleted"

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
