"""Apply of 100 in-place updates against the fake OCI server answering every request after 50 ms, and
the requests `wait` sends for 100 runs.

Target (issue 14): apply <= 2 s; measured in-process through the engine, with the same plan applied one
change at a time as the baseline in the same run (ratio printed). Then 100 runs of one job: how many
requests wait sends per poll, so a change to it shows up here.
Run: .venv/bin/python benchmarks/apply_scale.py [--jobs N] [--latency S]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import BenchmarkError, isolate_caches, run_main

from jobctl.backends.oci import OciBackend
from jobctl.backends.settings import OciSettings
from jobctl.engine.apply import MAX_IN_FLIGHT, apply_plan, build_plan
from jobctl.engine.follow import wait_for_runs
from jobctl.plan.desired import desired_job
from jobctl.spec.load import load_specs
from jobctl.testing.fake_oci import FakeOCI

JOB = """\
apiVersion: jobctl/v1
kind: Job
metadata: {{name: job-{i:03d}, description: "{description}"}}
spec:
  compartmentId: ocid1.compartment.oc1..bench
  projectId: ocid1.datascienceproject.oc1.iad.bench
  infrastructure: {{shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}}
  runtime: {{type: container, image: "iad.ocir.io/bench/job:1"}}
"""
TARGET_SECONDS = 2.0


def desired(work: Path, count: int, description: str) -> list:  # type: ignore[type-arg]
    spec = work / "jobs.yaml"
    spec.write_text("---\n".join(JOB.format(i=i, description=description) for i in range(count)), encoding="utf-8")
    loaded = load_specs([str(spec)], os.environ)
    loaded.raise_for_errors()
    return [desired_job(job, "bench") for job in loaded.jobs]


def timed_apply(backend: OciBackend, wanted: list, in_flight: int) -> tuple[float, int]:  # type: ignore[type-arg]
    plan = build_plan(backend, wanted)
    updates = sum(1 for change in plan.changes if change.action.value == "update")
    started = time.perf_counter()
    apply_plan(backend, plan, max_in_flight=in_flight)
    return time.perf_counter() - started, updates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jobctl-apply-scale-") as temp, FakeOCI(auto_progress=False) as fake:
        work = Path(temp)
        isolate_caches(os.environ, work)  # in process: load_specs caches parsed specs where the environment says
        settings = OciSettings(config_file=str(fake.write_config(work / "oci")), endpoint=fake.url,
                               fast_retries=True, compartment_id="ocid1.compartment.oc1..bench",
                               project_id="ocid1.datascienceproject.oc1.iad.bench", poll_interval=0.0)
        backend = OciBackend(settings)
        apply_plan(backend, build_plan(backend, desired(work, args.jobs, "v0")))
        fake.faults.add(latency=args.latency)

        sequential, updates = timed_apply(backend, desired(work, args.jobs, "v1"), 1)
        parallel, again = timed_apply(backend, desired(work, args.jobs, "v2"), MAX_IN_FLIGHT)
        if updates != args.jobs or again != args.jobs:
            raise BenchmarkError(f"expected {args.jobs} updates per apply, planned {updates} and {again}")
        verdict = "PASS" if parallel <= TARGET_SECONDS else "MISS"
        print(f"apply of {args.jobs} updates, {args.latency * 1000:.0f} ms per request:")
        print(f"  one at a time (baseline)  {sequential:6.2f} s")
        print(f"  {MAX_IN_FLIGHT} in flight            {parallel:6.2f} s  ({sequential / parallel:.1f}x faster; "
              f"target <= {TARGET_SECONDS:.0f} s) {verdict}")

        fake.faults.clear()
        job = next(j for j in backend.list_jobs() if j.name == "job-000")
        runs = [backend.start_run(job_id=job.id, name=f"r{i}", env={}, args=[]).id for i in range(args.jobs)]
        fake.clear_requests()
        polls = 0

        def sleep(_: float) -> None:
            nonlocal polls
            polls += 1
            fake.step_all()  # every run moves one state per poll

        wait_for_runs(backend, runs, sleep=sleep)
        print(f"wait for {len(runs)} runs of one job: {len(fake.requests)} requests over {polls + 1} polls "
              f"({len(fake.requests) / (polls + 1):.0f} per poll)")
    return 0


if __name__ == "__main__":
    run_main(main)
