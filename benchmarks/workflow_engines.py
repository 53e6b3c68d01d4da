"""The model-selection workflow on the oci backend (the fake, 50 ms per call, running the example's code)
with each engine: `workflow run --engine client` against `--engine pipeline`.

    .venv/bin/python benchmarks/workflow_engines.py [--latency S] [--step-seconds S]

For each engine: how long the `workflow run` command takes (what the laptop or CI runner must stay up
for), how many requests jobctl sends, how long until the first job run exists, and how long until the
workflow has finished. The fake runs a job's code as soon as it is polled; for the pipeline engine a
thread stands in for the service and advances the fake every --step-seconds, as OCI would advance the run
without anyone polling. The client engine is the baseline the pipeline engine's figures are compared with,
in the same run. It reports and always exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import isolate_caches, run_measured

from jobctl.testing.fake_oci import FakeOCI
from jobctl.testing.fake_oci.workloads import artifact_workload

EXAMPLE = Path(__file__).resolve().parents[1] / "specs-examples" / "model-selection"
STATE = "oci://ml-state@bench/jobctl"


class Service(threading.Thread):
    """What runs a pipeline when no one polls: the fake advanced every `interval` seconds; it also notes
    when the first job run appeared."""

    def __init__(self, fake: FakeOCI, interval: float, started: float, *, pipelines: bool) -> None:
        super().__init__(daemon=True)
        self.fake, self.interval, self.started, self.pipelines = fake, interval, started, pipelines
        self.first_run: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval / 10):
            if self.first_run is None and self.fake.store.runs:
                self.first_run = time.perf_counter() - self.started
            if self.pipelines:
                self.fake.step_all()


def measure(engine: str, work: Path, latency: float, step_seconds: float) -> dict[str, float] | None:
    with FakeOCI() as fake:
        fake.workload = artifact_workload(fake)
        fake.create_bucket("ml-state", namespace="bench")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")},
               "JOBCTL_BACKEND": "oci", "JOBCTL_OCI_ENDPOINT": fake.url, "JOBCTL_OCI_RETRY": "fast",
               "JOBCTL_OCI_POLL_SECONDS": str(step_seconds),
               "OCI_CLI_CONFIG_FILE": str(fake.write_config(work / "oci")),
               "JOBCTL_HOME": str(work / "home"), "MODEL_STORE": "oci://ml-state@bench/models",
               "OCI_COMPARTMENT_ID": "ocid1.compartment.oc1..bench",
               "OCI_PROJECT_ID": "ocid1.datascienceproject.oc1.iad.bench"}
        isolate_caches(env, work)
        applied = run_measured([sys.executable, "-m", "jobctl", "apply", str(EXAMPLE / "jobs.yaml")], env)
        if applied.returncode != 0:
            print(f"{engine}: apply failed: {applied.stderr[-1000:]}")
            return None
        flow = work / f"{engine}.yaml"
        flow.write_text((EXAMPLE / "workflow.yaml").read_text().replace(
            "  # state: oci://my-bucket@my-namespace/jobctl", f"  state: {STATE}"))
        fake.faults.latency = latency
        fake.clear_requests()
        started = time.perf_counter()
        service = Service(fake, step_seconds, started, pipelines=engine == "pipeline")
        service.start()
        command = run_measured([sys.executable, "-m", "jobctl", "workflow", "run", str(flow), "--engine", engine],
                               env)
        requests = len(fake.requests)
        deadline = time.monotonic() + 300
        while engine == "pipeline" and fake.pipeline_runs() and fake.pipeline_runs()[0]["lifecycleState"] not in (
                "SUCCEEDED", "FAILED") and time.monotonic() < deadline:
            time.sleep(0.05)
        done = time.perf_counter() - started
        service.stop.set()
        service.join()
        if command.returncode != 0:
            print(f"{engine}: workflow run exited {command.returncode}: {command.stderr[-1000:]}")
            return None
        return {"command": command.seconds, "requests": float(requests),
                "first run": service.first_run or float("nan"), "finished": done}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every call (default 0.05)")
    parser.add_argument("--step-seconds", type=float, default=0.2,
                        help="how often runs move on (the client's poll interval, the service's pace)")
    args = parser.parse_args(argv)
    figures = {}
    with tempfile.TemporaryDirectory() as scratch:
        for engine in ("client", "pipeline"):
            (Path(scratch) / engine).mkdir()
            found = measure(engine, Path(scratch) / engine, args.latency, args.step_seconds)
            if found is None:
                return 0
            figures[engine] = found
    print(f"model-selection workflow, {args.latency * 1000:.0f} ms per call, runs move every {args.step_seconds} s")
    print(f"{'':<28}{'client':>10}{'pipeline':>10}{'ratio':>8}")
    for name, unit in (("command", "s"), ("requests", ""), ("first run", "s"), ("finished", "s")):
        client, pipeline = figures["client"][name], figures["pipeline"][name]
        label = {"command": "workflow run takes", "requests": "requests by jobctl",
                 "first run": "first job run after", "finished": "workflow finished after"}[name]
        print(f"{label + (f' ({unit})' if unit else ''):<28}{client:>10.2f}{pipeline:>10.2f}{pipeline / client:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
