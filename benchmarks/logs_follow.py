"""`jobctl logs RUN --follow` on the local backend: from a line written by the workload to the line printed.

    .venv/bin/python benchmarks/logs_follow.py [--runs N] [--lines N] [--interval S]

Each round starts a run of a python job that waits for a go-file, then prints `<its time.time()> <n>`
every 50 ms (100 lines); the follower (`jobctl logs RUN --follow`, a subprocess whose stdout this
script reads line by line) is started first and the go-file is made 1 s later, once it is up.
Latency = time the line is read here - time the workload wrote in it (one clock: time.time()).
Follower CPU % = its user+sys time (os.wait4) / its wall time, start-up included; the steady-state
figure counts only the time between the go-file and the last line (/proc/PID/stat).
Baseline, from the same lines: the supervisor's own timestamp on each line of the run log (written ->
in the log); the follower's share is the rest. Targets: p95 <= 200 ms, follower CPU <= 5 %.
It reports and always exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from common import BenchmarkError, console_script, isolate_caches, run_main

DEFAULT_RUNS = 5
DEFAULT_LINES = 100
DEFAULT_INTERVAL = 0.05
TARGET_P95_MS = 200.0
TARGET_CPU_PERCENT = 5.0
START_DELAY = 1.0  # between starting the follower and letting the workload write
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

JOB = """\
apiVersion: jobctl/v1
kind: Job
metadata: {name: ticker}
spec:
  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}
  runtime:
    type: python
    source: ./ticker.py
    maxRuntimeInMinutes: 10
"""

WORKLOAD = """\
import os, sys, time

go = os.environ["GO_FILE"]
deadline = time.time() + 60
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.005)
lines, interval = int(os.environ["LINES"]), float(os.environ["INTERVAL"])
start = time.monotonic()
for n in range(lines):
    delay = start + n * interval - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    sys.stdout.write(f"{time.time():.6f} {n}\\n")
    sys.stdout.flush()
"""


@dataclass(frozen=True)
class Round:
    latencies_ms: list[float]
    logged_ms: list[float]  # written -> stamped into the run log by the supervisor
    cpu_percent: float
    steady_cpu_percent: float | None
    returncode: int




def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def cpu_seconds(pid: int) -> float | None:
    """user+sys seconds of a live process, from /proc (None where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def one_round(jobctl: list[str], env: dict[str, str], work: Path, *, lines: int, interval: float,
              index: int) -> Round:
    go = work / f"go-{index}"
    started = subprocess.run(
        [*jobctl, "-q", "run", "ticker", "--env", f"GO_FILE={go}", "--env", f"LINES={lines}",
         "--env", f"INTERVAL={interval}"], cwd=work, env=env, capture_output=True, text=True, check=False,
    )
    if started.returncode != 0 or not started.stdout.strip():
        raise BenchmarkError(f"jobctl run exited {started.returncode}: {started.stderr.strip()[-1500:]}")
    run_id = started.stdout.split()[0]
    began = time.perf_counter()
    follower = subprocess.Popen([*jobctl, "logs", run_id, "--follow"], cwd=work, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert follower.stdout is not None
    time.sleep(START_DELAY)
    cpu_at_go = cpu_seconds(follower.pid)
    go.touch()
    go_time = time.perf_counter()
    latencies: list[float] = []
    cpu_at_last: float | None = None
    last_time = go_time
    for raw in follower.stdout:
        now = time.time()
        stamp, _, number = raw.decode().strip().partition(" ")
        latencies.append((now - float(stamp)) * 1000)
        if number == str(lines - 1):
            last_time = time.perf_counter()
            cpu_at_last = cpu_seconds(follower.pid)
    _, status, usage = os.wait4(follower.pid, 0)
    wall = time.perf_counter() - began
    follower.returncode = os.waitstatus_to_exitcode(status)
    follower.stdout.close()
    cpu = (usage.ru_utime + usage.ru_stime) / wall * 100
    steady = None
    if cpu_at_go is not None and cpu_at_last is not None and last_time > go_time:
        steady = (cpu_at_last - cpu_at_go) / (last_time - go_time) * 100
    return Round(latencies, logged_latencies(work / "home" / "runs" / run_id / "log"), cpu, steady,
                 follower.returncode)


def logged_latencies(log: Path) -> list[float]:
    """Per stdout line of the run log: the supervisor's stamp - the workload's own time, in ms."""
    found = []
    for line in log.read_text(encoding="utf-8").splitlines():
        stamp, code, text = [*line.split(" ", 2), "", ""][:3]
        if code != "O":
            continue
        logged = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        found.append((logged - float(text.split(" ", 1)[0])) * 1000)
    return found


def row(label: str, values: list[float], target: str = "", verdict: str = "") -> str:
    return (f"{label:<40}{statistics.median(values):>9.1f}{min(values):>9.1f}{max(values):>9.1f}"
            f"  {target:<10}{verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help=f"rounds (default {DEFAULT_RUNS})")
    parser.add_argument("--lines", type=int, default=DEFAULT_LINES, help=f"lines per run (default {DEFAULT_LINES})")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL, help="seconds between lines")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.lines < 1:
        parser.error("--runs and --lines must be at least 1")

    jobctl = console_script("jobctl")
    work = Path(tempfile.mkdtemp(prefix="jobctl-bench-follow-"))
    rounds: list[Round] = []
    try:
        (work / "job.yaml").write_text(JOB, encoding="utf-8")
        (work / "ticker.py").write_text(WORKLOAD, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(JOBCTL_HOME=str(work / "home"), PYTHONPYCACHEPREFIX=str(work / "pycache"))
        isolate_caches(env, work)
        applied = subprocess.run([*jobctl, "apply", "job.yaml"], cwd=work, env=env, capture_output=True, text=True,
                                 check=False)
        if applied.returncode != 0:
            print(f"apply failed: {applied.stderr.strip()[-1500:]}")
            return 0
        for index in range(args.runs + 1):  # the first round is a warm-up (bytecode) and is not counted
            result = one_round(jobctl, env, work, lines=args.lines, interval=args.interval, index=index)
            if len(result.latencies_ms) != args.lines or result.returncode != 0:
                print(f"round {index}: the follower printed {len(result.latencies_ms)} of {args.lines} lines "
                      f"and exited {result.returncode}")
            if index:
                rounds.append(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    pooled = [ms for r in rounds for ms in r.latencies_ms]
    logged = [ms for r in rounds for ms in r.logged_ms]
    p50 = [percentile(r.latencies_ms, 0.50) for r in rounds]
    p95 = [percentile(r.latencies_ms, 0.95) for r in rounds]
    worst = [max(r.latencies_ms) for r in rounds]
    cpu = [r.cpu_percent for r in rounds]
    steady = [r.steady_cpu_percent for r in rounds if r.steady_cpu_percent is not None]
    print(f"jobctl logs RUN --follow (local): {args.lines} lines, one every {args.interval * 1000:.0f} ms; "
          f"{args.runs} rounds after 1 warm-up; median/min/max over rounds")
    print(f"{'':<40}{'median':>9}{'min':>9}{'max':>9}  {'target':<10}result")
    print("-" * 84)
    print(row("latency p50 ms", p50))
    p95_ok = statistics.median(p95) <= TARGET_P95_MS
    print(row("latency p95 ms", p95, f"<= {TARGET_P95_MS:.0f}", "PASS" if p95_ok else "MISS"))
    print(row("latency max ms", worst))
    cpu_ok = statistics.median(cpu) <= TARGET_CPU_PERCENT
    print(row("follower CPU % (start-up included)", cpu, f"<= {TARGET_CPU_PERCENT:.0f}", "PASS" if cpu_ok else "MISS"))
    if steady:
        print(row("follower CPU % while following", steady))
    print(f"all {len(pooled)} lines pooled, written -> printed: p50 {percentile(pooled, 0.5):.1f} ms, "
          f"p95 {percentile(pooled, 0.95):.1f} ms, max {max(pooled):.1f} ms")
    if logged:
        floor, total = percentile(logged, 0.95), percentile(pooled, 0.95)
        print(f"baseline, written -> in the run log (supervisor): p50 {percentile(logged, 0.5):.1f} ms, "
              f"p95 {floor:.1f} ms, max {max(logged):.1f} ms; the follower adds {total - floor:.1f} ms at p95 "
              f"(ratio {total / max(floor, 0.001):.0f}x)")
    return 0


if __name__ == "__main__":
    run_main(main)
