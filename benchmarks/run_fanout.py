"""`jobctl run JOB --matrix I=0..99 --max-parallel 8` against the fake OCI server with 50 ms per call.

    .venv/bin/python benchmarks/run_fanout.py [--runs N] [--latency S] [--max-parallel N] [--no-sequential]

Wall time of the whole command (no --wait: it returns once the 100 runs are started), target
<= 1.5 s, against the baseline of the same 100 starts made one after another: 100 x the per-call
latency measured in this run, and `--max-parallel 1` measured in this run. The fake counts the most
requests it handled at once (`fake.max_in_flight`), target <= --max-parallel. It reports and always
exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from common import isolate_caches

from jobctl.testing.fake_oci import FakeOCI

DEFAULT_RUNS = 5
DEFAULT_LATENCY = 0.05
DEFAULT_MAX_PARALLEL = 8
RUNS_PER_CALL = 100
TARGET_WALL_SECONDS = 1.5

COMPARTMENT = "ocid1.compartment.oc1..bench"
PROJECT = "ocid1.datascienceproject.oc1.iad.bench"
JOB = f"""\
apiVersion: jobctl/v1
kind: Job
metadata: {{name: fanout}}
spec:
  compartmentId: {COMPARTMENT}
  projectId: {PROJECT}
  infrastructure: {{shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}}
  runtime:
    type: container
    image: iad.ocir.io/bench/job:1
    env: {{MODEL: baseline}}
"""


def jobctl(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "jobctl", *args], env=env, capture_output=True, text=True,
                          check=False, timeout=600)
    return proc, time.perf_counter() - started


def call_latency(fake: FakeOCI, samples: int = 5) -> float:
    """Median time of one request to the fake (unsigned: answered 401 after the injected latency)."""
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(f"{fake.url}/20190101/jobs", timeout=10):
                pass
        except urllib.error.HTTPError:
            pass
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@dataclass
class Fanouts:
    walls: list[float] = field(default_factory=list)
    peaks: list[int] = field(default_factory=list)  # most requests in flight at once, per fan-out
    requests: list[int] = field(default_factory=list)


def measure_fanouts(fake: FakeOCI, env: dict[str, str], argv: list[str], runs: int) -> Fanouts | None:
    """One warm-up fan-out, then `runs` timed ones; None (after saying why) on failure."""
    found = Fanouts()
    for attempt in range(runs + 1):
        fake.clear_requests()
        fake.reset_max_in_flight()
        proc, seconds = jobctl(argv, env)
        started = len(proc.stdout.split())
        if proc.returncode != 0 or started != RUNS_PER_CALL:
            print(f"run exited {proc.returncode} with {started} run ids: {proc.stderr[-2000:]}")
            return None
        if attempt:
            found.walls.append(seconds)
            found.peaks.append(fake.max_in_flight)
            found.requests.append(len(fake.requests))
    return found


def measure_all(work: Path, args: argparse.Namespace) -> tuple[Fanouts, float, list[float]] | None:
    """Apply the job in a fresh fake, then time the fan-outs; (figures, call latency, sequential walls)."""
    spec = work / "job.yaml"
    spec.write_text(JOB, encoding="utf-8")
    fanout = ["-q", "run", "fanout", "--matrix", "I=" + ",".join(str(i) for i in range(RUNS_PER_CALL))]
    sequential: list[float] = []
    with FakeOCI(auto_progress=False) as fake:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")},
            "JOBCTL_BACKEND": "oci", "JOBCTL_OCI_ENDPOINT": fake.url, "JOBCTL_OCI_RETRY": "fast",
            "OCI_CLI_CONFIG_FILE": str(fake.write_config(work / "oci")), "JOBCTL_HOME": str(work / "home"),
            "JOBCTL_CACHE_DIR": str(work / "cache"), "PYTHONPYCACHEPREFIX": str(work / "pycache"),
            "OCI_COMPARTMENT_ID": COMPARTMENT, "OCI_PROJECT_ID": PROJECT,
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        isolate_caches(env, work)
        applied, _ = jobctl(["apply", str(spec)], env)  # also caches bytecode for the timed runs
        if applied.returncode != 0:
            print(f"apply failed: {applied.stderr[-2000:]}")
            return None
        fake.faults.latency = args.latency
        latency = call_latency(fake)
        measured = measure_fanouts(fake, env, [*fanout, "--max-parallel", str(args.max_parallel)], args.runs)
        if measured is None:
            return None
        if not args.no_sequential:
            proc, seconds = jobctl([*fanout, "--max-parallel", "1"], env)
            if proc.returncode == 0:
                sequential.append(seconds)
    return measured, latency, sequential


def row(label: str, values: list[float], target: str, verdict: str) -> str:
    return (f"{label:<40}{statistics.median(values):>9.2f}{min(values):>9.2f}{max(values):>9.2f}"
            f"  {target:<14}{verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help=f"timed fan-outs (default {DEFAULT_RUNS})")
    parser.add_argument("--latency", type=float, default=DEFAULT_LATENCY, help="seconds added to every call")
    parser.add_argument("--max-parallel", type=int, default=DEFAULT_MAX_PARALLEL)
    parser.add_argument("--no-sequential", action="store_true", help="skip timing the --max-parallel 1 baseline")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    work = Path(tempfile.mkdtemp(prefix="jobctl-run-fanout-"))
    try:
        found = measure_all(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if found is None:
        return 0
    measured, latency, sequential = found
    walls, peaks, requests = measured.walls, measured.peaks, measured.requests
    baseline = RUNS_PER_CALL * latency
    print(f"jobctl run --matrix (100 runs) against the fake OCI server, {args.latency * 1000:.0f} ms added per call "
          f"(a call measured {latency * 1000:.1f} ms); {args.runs} runs after 1 warm-up")
    print(f"{'':<40}{'median':>9}{'min':>9}{'max':>9}  {'target':<14}result")
    print("-" * 95)
    wall_verdict = "PASS" if statistics.median(walls) <= TARGET_WALL_SECONDS else "MISS"
    print(row(f"wall s, --max-parallel {args.max_parallel}", walls, f"<= {TARGET_WALL_SECONDS} s", wall_verdict))
    peak_verdict = "PASS" if max(peaks) <= args.max_parallel else "MISS"
    print(row("requests in flight at once (max)", [float(p) for p in peaks], f"<= {args.max_parallel}",
              peak_verdict))
    print(row("requests per fan-out", [float(r) for r in requests], "-", ""))
    print(f"baseline: 100 x measured call latency = {baseline:.2f} s; ratio: the fan-out is "
          f"{baseline / statistics.median(walls):.1f}x faster")
    if sequential:
        print(f"measured: the same fan-out with --max-parallel 1 took {sequential[0]:.2f} s "
              f"({sequential[0] / statistics.median(walls):.1f}x the --max-parallel {args.max_parallel} median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
