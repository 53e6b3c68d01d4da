"""Plan over 1,000 managed jobs in the fake OCI server with nothing changed: requests and wall time.

Target: <= 1 + ceil(1000 / 100) requests (one paginated list) and no GETs; printed next to the same
plan with --refresh, which fetches every job. Run: .venv/bin/python benchmarks/plan_scale.py [--jobs N]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import isolate_caches

from jobctl.testing.fake_oci import FakeOCI

JOB = """\
apiVersion: jobctl/v1
kind: Job
metadata: {{name: job-{i:05d}}}
spec:
  compartmentId: ocid1.compartment.oc1..bench
  projectId: ocid1.datascienceproject.oc1.iad.bench
  infrastructure: {{shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}}
  runtime:
    type: container
    image: iad.ocir.io/bench/job:{i}
    env: {{INDEX: "{i}"}}
"""


def jobctl(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "jobctl", *args], env=env, capture_output=True, text=True,
                          check=False, timeout=1800)
    return proc, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    count = parser.parse_args().jobs
    with tempfile.TemporaryDirectory(prefix="jobctl-plan-scale-") as temp:
        measure(Path(temp), count)


def measure(work: Path, count: int) -> None:
    spec = work / "jobs.yaml"
    spec.write_text("---\n".join(JOB.format(i=i) for i in range(count)), encoding="utf-8")
    with FakeOCI(auto_progress=False) as fake:
        env = {
            **os.environ, "JOBCTL_BACKEND": "oci", "JOBCTL_OCI_ENDPOINT": fake.url, "JOBCTL_OCI_RETRY": "fast",
            "OCI_CLI_CONFIG_FILE": str(fake.write_config(work / "oci")), "JOBCTL_HOME": str(work / "home"),
            "JOBCTL_CACHE_DIR": str(work / "cache"),
        }
        isolate_caches(env, work)
        applied, apply_seconds = jobctl(["apply", str(spec)], env)
        if applied.returncode != 0:
            raise SystemExit(f"apply failed: {applied.stderr[-2000:]}")
        rows = []
        for label, extra in (("plan", []), ("plan --refresh", ["--refresh"])):
            fake.clear_requests()
            proc, seconds = jobctl(["plan", str(spec), "--detailed-exitcode", *extra], env)
            gets = fake.count("GET", r"/jobs/[^/]+$")
            lists = fake.count("GET", r"/jobs$")
            rows.append((label, proc.returncode, len(fake.requests), lists, gets, seconds))
    budget = 1 + math.ceil(count / 100)
    print(f"{count} managed jobs in the fake OCI server, nothing changed (apply took {apply_seconds:.1f} s)")
    print(f"{'command':<18}{'exit':>5}{'requests':>10}{'lists':>7}{'GETs':>7}{'wall s':>9}  target")
    for label, code, total, lists, gets, seconds in rows:
        target = f"<= {budget} requests, 0 GETs" if label == "plan" else "-"
        verdict = ("PASS" if total <= budget and gets == 0 and code == 0 else "MISS") if label == "plan" else ""
        print(f"{label:<18}{code:>5}{total:>10}{lists:>7}{gets:>7}{seconds:>9.2f}  {target} {verdict}")
    plan_wall, refresh_wall = rows[0][5], rows[1][5]
    print(f"ratio: plan is {refresh_wall / plan_wall:.1f}x faster than plan --refresh")


if __name__ == "__main__":
    main()
