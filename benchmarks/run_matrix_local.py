"""Local fan-out overhead: `jobctl run JOB --matrix I=0,...,199 --wait` of a job that runs `true`,
against 200 bare `bash true.sh` started the same way.

    .venv/bin/python benchmarks/run_matrix_local.py [--runs N] [--count N]

The job is a shell job whose script is `true`. A local matrix starts its runs from 8 threads
(`--max-parallel`, default 8); each start returns once the run's detached supervisor is launched, and
`--wait` then waits for all of them. The baseline does the same without jobctl: 8 threads start the
200 `bash true.sh` processes (without waiting for each), then all are waited for. One warm-up round,
then N rounds, jobctl and the baseline interleaved in every round. Added per run = (median jobctl
wall - median baseline wall) / 200. Target: <= 15 ms added per run. It reports and always exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import console_script, run_main
from run_overhead import JOB, row, timed

DEFAULT_RUNS = 3
DEFAULT_COUNT = 200
MAX_PARALLEL = 8  # jobctl run's --max-parallel default: how many runs a matrix starts at once
TARGET_ADDED_MS_PER_RUN = 15.0


def bare_fan_out(shell: str, count: int, env: dict[str, str], cwd: Path) -> float:
    """`count` x `bash true.sh`, started from MAX_PARALLEL threads, then all waited for."""
    started = time.perf_counter()

    def start(_: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen([shell, "true.sh"], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    with ThreadPoolExecutor(max_workers=MAX_PARALLEL) as pool:
        processes = list(pool.map(start, range(count)))
    for process in processes:
        process.wait()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help=f"timed rounds (default {DEFAULT_RUNS})")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help=f"runs per matrix (default {DEFAULT_COUNT})")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.count < 2:
        parser.error("--runs must be at least 1 and --count at least 2")

    jobctl = console_script("jobctl")
    shell = shutil.which("bash") or shutil.which("sh") or "/bin/sh"
    work = Path(tempfile.mkdtemp(prefix="jobctl-bench-matrix-"))
    matrix = "I=" + ",".join(str(i) for i in range(args.count))
    label = f"jobctl run --matrix ({args.count} runs) --wait"
    baseline = f"baseline: {args.count} x `bash true.sh`, {MAX_PARALLEL} at once"
    rows: dict[str, list[float]] = {label: [], baseline: []}
    try:
        (work / "job.yaml").write_text(JOB, encoding="utf-8")
        (work / "true.sh").write_text("true\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(JOBCTL_HOME=str(work / "home"), JOBCTL_CACHE_DIR=str(work / "cache"),
                   PYTHONPYCACHEPREFIX=str(work / "pycache"))
        timed([*jobctl, "apply", "job.yaml"], env, work)
        command = [*jobctl, "-q", "run", "true-job", "--matrix", matrix, "--yes", "--wait"]
        for attempt in range(args.runs + 1):  # the first round is the warm-up and is not counted
            seconds = {label: timed(command, env, work), baseline: bare_fan_out(shell, args.count, env, work)}
            if attempt:
                for name, value in seconds.items():
                    rows[name].append(value)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    jobctl_wall, bare_wall = statistics.median(rows[label]), statistics.median(rows[baseline])
    added = (jobctl_wall - bare_wall) * 1000 / args.count
    print(f"local matrix overhead: {args.runs} rounds after 1 warm-up, interleaved; times in ms "
          "(other processes on this machine share its CPU)")
    print(f"{'':<44}{'median':>9}{'min':>9}{'max':>9}")
    print("-" * 80)
    for name, values in rows.items():
        print(row(name, values))
    verdict = "PASS" if added <= TARGET_ADDED_MS_PER_RUN else "MISS"
    print(f"added per run by jobctl ((median - baseline median) / {args.count}): {added:.1f} ms; "
          f"target <= {TARGET_ADDED_MS_PER_RUN:.0f} ms  {verdict}")
    print(f"ratio: the matrix takes {jobctl_wall / bare_wall:.1f}x the bare processes")
    return 0


if __name__ == "__main__":
    run_main(main)
