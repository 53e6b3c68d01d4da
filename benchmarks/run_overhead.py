"""Local run overhead: `jobctl run JOB --wait` of a job that runs `true`, against `true` as a bare subprocess.

    .venv/bin/python benchmarks/run_overhead.py [--runs N]

The job is a shell job whose script is `true`. One warm-up round, then N rounds; each round times
`jobctl run true-job --wait` (start-up, recording the run, the detached supervisor, the workload,
noticing the end) and, as the baseline in the same round, `true` run by subprocess.run from this
process, plus the exact command the supervisor runs (`bash true.sh`) and, for the machine's pace (the target is
absolute), `python -c "import click"`, the startup benchmark's baseline. Added time = the median of the
jobctl runs - the median of the bare `true`. Target: <= 100 ms added. It reports and always exits 0.
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
from pathlib import Path

from common import BenchmarkError, console_script, isolate_caches, run_main

DEFAULT_RUNS = 10
TARGET_ADDED_MS = 100.0

JOB = """\
apiVersion: jobctl/v1
kind: Job
metadata: {name: true-job}
spec:
  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}
  runtime: {type: shell, source: ./true.sh}
"""




def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace")[-1500:]
        raise BenchmarkError(f"{' '.join(argv)} exited {proc.returncode}: {detail}")
    return elapsed


def row(label: str, values: list[float], extra: str = "") -> str:
    ms = [v * 1000 for v in (statistics.median(values), min(values), max(values))]
    return f"{label:<44}{ms[0]:>9.1f}{ms[1]:>9.1f}{ms[2]:>9.1f}  {extra}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help=f"timed rounds (default {DEFAULT_RUNS})")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    jobctl = console_script("jobctl")
    true = shutil.which("true") or "/bin/true"
    shell = shutil.which("bash") or shutil.which("sh") or "/bin/sh"
    work = Path(tempfile.mkdtemp(prefix="jobctl-bench-overhead-"))
    rows: dict[str, list[float]] = {"jobctl run true-job --wait": [], "baseline: `true` (subprocess.run)": [],
                                    "the supervisor's command: `bash true.sh`": [],
                                    "pace: `python -c 'import click'`": []}
    try:
        (work / "job.yaml").write_text(JOB, encoding="utf-8")
        (work / "true.sh").write_text("true\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(JOBCTL_HOME=str(work / "home"), PYTHONPYCACHEPREFIX=str(work / "pycache"))
        isolate_caches(env, work)
        timed([*jobctl, "apply", "job.yaml"], env, work)
        argvs = ([*jobctl, "-q", "run", "true-job", "--wait"], [true], [shell, "true.sh"],
                 [sys.executable, "-c", "import click"])
        commands = dict(zip(rows, argvs, strict=True))
        for attempt in range(args.runs + 1):  # the first round is the warm-up and is not counted
            for label, command in commands.items():
                seconds = timed(command, env, work)
                if attempt:
                    rows[label].append(seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    jobctl_times, bare = rows["jobctl run true-job --wait"], rows["baseline: `true` (subprocess.run)"]
    added = (statistics.median(jobctl_times) - statistics.median(bare)) * 1000
    print(f"local run overhead: {args.runs} rounds after 1 warm-up; times in ms")
    print(f"{'':<44}{'median':>9}{'min':>9}{'max':>9}")
    print("-" * 80)
    for label, values in rows.items():
        print(row(label, values))
    verdict = "PASS" if added <= TARGET_ADDED_MS else "MISS"
    print(f"added by jobctl (median - baseline median): {added:.1f} ms; target <= {TARGET_ADDED_MS:.0f} ms  {verdict}")
    print(f"ratio: jobctl run --wait takes {statistics.median(jobctl_times) / statistics.median(bare):.0f}x the bare "
          "subprocess")
    pace = statistics.median(rows["pace: `python -c 'import click'`"]) * 1000
    print(f"the target is absolute: judge it with the machine's pace (`import click` {pace:.1f} ms here; the startup "
          "benchmark's baseline)")
    return 0


if __name__ == "__main__":
    run_main(main)
