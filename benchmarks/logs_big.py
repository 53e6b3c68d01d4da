"""`jobctl logs` of a 1 GB local run log, with every flag combination: throughput, peak RSS, `--tail 100` wall time.

    .venv/bin/python benchmarks/logs_big.py [--size-mb N] [--runs N] [--stream-runs N]

A tiny job runs once on a private JOBCTL_HOME under /tmp; its run log is then grown to --size-mb
(default 1024) by appending lines in the local log format (`<ISO ts> <O|E> <text>`, ~100 bytes each,
one in ten on stderr), written in large blocks. The file is in the page cache when measured (it was
just written), so this measures jobctl, not the disk. Each of --stream-runs rounds runs every flag
combination (COMBINATIONS: plain, --timestamps, --stream, --since, --tail 100 and 1,000,000, -o jsonl,
and mixes of them) with stdout to /dev/null, each right after its baseline in the same round (`cat`,
or `tail -n N` for a --tail), so both see the same load on a shared machine; a plain Python loop that
prints the text of every line shows what Python can reach. Each of --runs rounds times `--tail 100`
and `tail -n 100` alternately. Targets, per combination: >= 200 MB/s of log (the log's size over the
wall time, whatever the flags print) and <= 80 MB peak RSS (os.wait4 in a small launcher, see
common.LAUNCHER); --tail 100 <= 0.2 s. Caches (bytecode, jobctl's) live in the private directory, and
everything is deleted at the end. It reports and always exits 0.
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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from common import BenchmarkError, Measured, console_script, isolate_caches, run_main, run_measured

DEFAULT_SIZE_MB = 1024
DEFAULT_RUNS = 5
TAIL = 100
BIG_TAIL = 1_000_000
TARGET_TAIL_SECONDS = 0.2
TARGET_MB_PER_SECOND = 200.0
TARGET_RSS_MB = 80.0
BLOCK_LINES = 40_000
MB = 1024 * 1024

PER_LINE_LOOP = """\
import sys
out = sys.stdout.buffer
with open(sys.argv[1], "rb", buffering=1 << 20) as log:
    for line in log:
        out.write(line.split(b" ", 2)[2])
"""

JOB = """\
apiVersion: jobctl/v1
kind: Job
metadata: {name: tiny}
spec:
  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}
  runtime: {type: python, source: ./tiny.py}
"""


def grow_log(log: Path, size: int) -> int:
    """Append ~100-byte lines until the file holds `size` bytes; the last TAIL lines are `tail-line N`."""
    base = datetime(2024, 5, 1, tzinfo=timezone.utc).timestamp()
    written = log.stat().st_size if log.exists() else 0
    counter = 0
    prefix = b"2024-05-01T00:00:00.000000Z"
    with log.open("ab", buffering=8 * MB) as out:
        while written < size:
            stamp = datetime.fromtimestamp(base + counter / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
            prefix = f"{stamp}Z".encode()
            block = b"".join(
                prefix + (b" E " if n % 10 == 0 else b" O ")
                + b"step=%09d loss=0.%06d lr=0.000300 epoch=%03d msg=the quick brown fox jumps over the dog\n"
                % (counter + n, (counter + n) % 999_983, (counter + n) // 100_000)
                for n in range(BLOCK_LINES)
            )
            block = block[: max(0, size - written)]
            block = block[: block.rfind(b"\n") + 1]
            if not block:
                break
            out.write(block)
            written += len(block)
            counter += BLOCK_LINES
        out.write(b"".join(b"%s O tail-line %d\n" % (prefix, n) for n in range(TAIL)))
    return log.stat().st_size


def row(label: str, values: list[float], fmt: str, target: str = "", verdict: str = "") -> str:
    cells = "".join(f"{v:>10{fmt}}" for v in (statistics.median(values), min(values), max(values)))
    return f"{label:<56}{cells}  {target:<12}{verdict}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def setup(jobctl: list[str], env: dict[str, str], work: Path) -> str:
    """Apply the tiny job, run it once, wait for it; returns the run id."""
    (work / "job.yaml").write_text(JOB, encoding="utf-8")
    (work / "tiny.py").write_text("print('tiny')\n", encoding="utf-8")
    steps = [["apply", str(work / "job.yaml")], ["-q", "run", "tiny"]]
    run_id = ""
    for step in steps:
        proc = subprocess.run([*jobctl, *step], env=env, capture_output=True, text=True, check=False, timeout=120)
        if proc.returncode != 0:
            raise BenchmarkError(f"jobctl {' '.join(step)} exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
        run_id = proc.stdout.strip().split()[0] if step[1] == "run" else run_id
    waited = subprocess.run([*jobctl, "wait", run_id], env=env, capture_output=True, text=True, check=False,
                            timeout=120)
    if waited.returncode != 0:
        raise BenchmarkError(f"jobctl wait {run_id} exited {waited.returncode}: {waited.stderr.strip()[-1500:]}")
    return run_id


def middle_stamp(log: Path) -> str:
    """The timestamp of the line at the middle of the log: a --since that keeps about half of it."""
    with log.open("rb") as fh:
        fh.seek(log.stat().st_size // 2)
        fh.readline()
        return fh.readline().split(b" ", 1)[0].decode()


def combinations(since: str) -> dict[str, list[str]]:
    """Label -> the flags after `jobctl logs RUN`: each flag alone, then mixes of them."""
    return {
        "plain": [],
        "--timestamps": ["--timestamps"],
        "--stream stdout": ["--stream", "stdout"],
        "--stream stderr": ["--stream", "stderr"],
        "--since (half the log)": ["--since", since],
        f"--tail {TAIL}": ["--tail", str(TAIL)],
        f"--tail {BIG_TAIL:,}": ["--tail", str(BIG_TAIL)],
        "-o jsonl": ["-o", "jsonl"],
        f"--timestamps --stream stderr --tail {BIG_TAIL:,}": ["--timestamps", "--stream", "stderr", "--tail",
                                                               str(BIG_TAIL)],
        f"--timestamps --tail {BIG_TAIL:,}": ["--timestamps", "--tail", str(BIG_TAIL)],
        "--since --stream stdout --timestamps": ["--since", since, "--stream", "stdout", "--timestamps"],
        f"-o jsonl --stream stderr --tail {BIG_TAIL:,}": ["-o", "jsonl", "--stream", "stderr", "--tail",
                                                           str(BIG_TAIL)],
        "-o jsonl --since": ["-o", "jsonl", "--since", since],
        "--follow (of a run that has ended)": ["--follow"],
    }


def baseline(flags: list[str], log: Path) -> list[str]:
    """What the shell does for the same request: `tail -n N` for a --tail, else `cat`."""
    if "--tail" in flags:
        return ["tail", "-n", flags[flags.index("--tail") + 1], str(log)]
    return ["cat", str(log)]


@dataclass
class Results:
    size: int
    tails: list[Measured] = field(default_factory=list)
    tail_baseline: list[Measured] = field(default_factory=list)
    combos: dict[str, list[Measured]] = field(default_factory=dict)
    baselines: dict[str, list[Measured]] = field(default_factory=dict)
    loops: list[Measured] = field(default_factory=list)


def measure(jobctl: list[str], env: dict[str, str], work: Path, *, size_mb: int, runs: int, stream_runs: int,
            ) -> Results:
    run_id = setup(jobctl, env, work)
    log = work / "home" / "runs" / run_id / "log"
    started = time.perf_counter()
    size = grow_log(log, size_mb * MB)
    print(f"run {run_id}: log grown to {size / MB:,.0f} MB in {time.perf_counter() - started:.1f} s ({log})",
          flush=True)
    tail_argv = [*jobctl, "logs", run_id, "--tail", str(TAIL)]
    warm = run_measured(tail_argv, env, capture=True)  # warm-up: bytecode
    lines = warm.stdout.splitlines()
    if warm.returncode != 0 or len(lines) != TAIL or lines[-1] != f"tail-line {TAIL - 1}":
        print(f"--tail {TAIL} exited {warm.returncode} with {len(lines)} lines, last {lines[-1:]!r}")
    results = Results(size)
    for _ in range(runs):  # alternately, so both see the same load
        results.tail_baseline.append(run_measured(["tail", "-n", str(TAIL), str(log)], env, capture=False))
        results.tails.append(run_measured(tail_argv, env, capture=False))
    combos = combinations(middle_stamp(log))
    for round_ in range(stream_runs):
        print(f"round {round_ + 1} of {stream_runs}: {len(combos)} flag combinations", flush=True)
        results.loops.append(run_measured([sys.executable, "-c", PER_LINE_LOOP, str(log)], env, capture=False))
        for label, flags in combos.items():
            results.baselines.setdefault(label, []).append(run_measured(baseline(flags, log), env, capture=False))
            results.combos.setdefault(label, []).append(
                run_measured([*jobctl, "logs", run_id, *flags], env, capture=False))
    return results


def report(r: Results) -> None:
    measured = [m for ms in r.combos.values() for m in ms] + r.tails
    failed = [m for m in measured if m.returncode != 0]
    if failed:
        print(f"{len(failed)} jobctl logs call(s) failed (exit {failed[0].returncode}): {failed[0].stderr[-500:]}")
    mb = r.size / MB
    print(f"jobctl logs RUN [flags] > /dev/null on a {mb:,.0f} MB local log; {len(r.tails)} --tail {TAIL} timings "
          f"and {len(r.loops)} rounds of every combination after 1 warm-up; median/min/max")
    print(f"{'':<56}{'median':>10}{'min':>10}{'max':>10}  {'target':<12}result")
    print("-" * 112)
    tail_s = [m.seconds for m in r.tails]
    print(row(f"--tail {TAIL}: wall s", tail_s, ".3f", f"<= {TARGET_TAIL_SECONDS} s",
              verdict(statistics.median(tail_s) <= TARGET_TAIL_SECONDS)))
    print(row(f"  baseline tail -n {TAIL}: wall s", [m.seconds for m in r.tail_baseline], ".3f"))
    for label, runs in r.combos.items():
        rates = [mb / m.seconds for m in runs]
        ratios = [b.seconds / m.seconds for m, b in zip(runs, r.baselines[label], strict=True)]
        print(row(f"{label}: MB/s", rates, ".1f", f">= {TARGET_MB_PER_SECOND:.0f} MB/s",
                  verdict(statistics.median(rates) >= TARGET_MB_PER_SECOND)))
        rss = [m.max_rss_mb for m in runs]
        print(row(f"{label}: peak RSS MB", rss, ".1f", f"<= {TARGET_RSS_MB:.0f} MB",
                  verdict(max(rss) <= TARGET_RSS_MB)))
        print(row(f"  its speed as a fraction of `{baseline_name(label)}`'s, same round", ratios, ".3f"))
    loop_rates = [mb / m.seconds for m in r.loops]
    print(row("baseline python per-line loop: MB/s", loop_rates, ".1f"))
    print(row("baseline python per-line loop: peak RSS MB", [m.max_rss_mb for m in r.loops], ".1f"))
    tail_ratio = statistics.median(tail_s) / statistics.median(m.seconds for m in r.tail_baseline)
    print(f"ratio: --tail {TAIL} takes {tail_ratio:.0f}x `tail -n {TAIL}`")


def baseline_name(label: str) -> str:
    return "tail -n" if "--tail" in label else "cat"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=DEFAULT_SIZE_MB, help="log size (default 1024)")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS,
                        help=f"timed --tail {TAIL} runs (default {DEFAULT_RUNS})")
    parser.add_argument("--stream-runs", type=int, default=DEFAULT_RUNS,
                        help=f"rounds of every flag combination (default {DEFAULT_RUNS})")
    args = parser.parse_args(argv)
    if args.size_mb < 1 or args.runs < 1 or args.stream_runs < 1:
        parser.error("--size-mb, --runs and --stream-runs must be at least 1")

    jobctl = console_script("jobctl")
    work = Path(tempfile.mkdtemp(prefix="jobctl-bench-logs-big-", dir="/tmp" if Path("/tmp").is_dir() else None))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(JOBCTL_HOME=str(work / "home"), PYTHONPYCACHEPREFIX=str(work / "pycache"))
        isolate_caches(env, work)
        results = measure(jobctl, env, work, size_mb=args.size_mb, runs=args.runs, stream_runs=args.stream_runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results)
    return 0


if __name__ == "__main__":
    run_main(main)
