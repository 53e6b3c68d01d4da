"""Start-up time of jobctl against the cost of importing click, measured in one run.

    .venv/bin/python benchmarks/startup.py [--runs N]

One warm-up round, then N rounds running each command in turn; the table shows median/min/max wall time,
the ratio of the median to the `import click` baseline, and whether it meets the target (<= 1.5x).
It reports and always exits 0: timings depend on the machine, so nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5
DEFAULT_RUNS = 10


@dataclass(frozen=True)
class Timing:
    label: str
    seconds: list[float]
    failure: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def console_script(name: str) -> Path:
    """The venv's console script, next to the interpreter running this benchmark."""
    bin_dir = Path(sys.executable).parent
    for candidate in (bin_dir / name, bin_dir / f"{name}.exe"):
        if candidate.exists():
            return candidate
    raise SystemExit(f"no {name!r} script next to {sys.executable}; install the project into this venv")


def time_once(argv: list[str], env: dict[str, str]) -> tuple[float, str | None]:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        return elapsed, f"exit {proc.returncode}: {detail[-1] if detail else ''}"
    return elapsed, None


def child_env(pycache: str) -> dict[str, str]:
    """The caller's environment, with bytecode cached in `pycache` as an installed package would have it.

    With PYTHONDONTWRITEBYTECODE set, jobctl would be compiled from source on every start while click
    loads its install-time .pyc files: not the comparison a user experiences. A private cache
    directory keeps the working tree untouched and treats every command alike.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def measure(commands: dict[str, list[str]], runs: int, env: dict[str, str]) -> list[Timing]:
    """Round-robin over the commands, so drift in machine load hits every row alike."""
    seconds: dict[str, list[float]] = {label: [] for label in commands}
    failures: dict[str, str] = {}
    for attempt in range(runs + 1):  # the first round is the warm-up and is not counted
        for label, argv in commands.items():
            if label in failures:
                continue
            elapsed, failure = time_once(argv, env)
            if failure:
                failures[label] = failure
            elif attempt:
                seconds[label].append(elapsed)
    return [Timing(label, seconds[label], failures.get(label)) for label in commands]


def report(baseline: Timing, others: list[Timing], runs: int) -> str:
    header = f"{'command':<52} {'median':>8} {'min':>8} {'max':>8} {'ratio':>7} {'target':>7}  result"
    lines = [f"{runs} rounds after 1 warm-up round; times in ms; ratio = median / baseline median", header,
             "-" * len(header)]
    for timing in [baseline, *others]:
        if timing.failure:
            lines.append(f"{timing.label:<52} FAILED ({timing.failure})")
            continue
        ms = [s * 1000 for s in (timing.median, min(timing.seconds), max(timing.seconds))]
        cells = f"{timing.label:<52} {ms[0]:>8.1f} {ms[1]:>8.1f} {ms[2]:>8.1f}"
        if timing is baseline:
            lines.append(f"{cells} {'1.00x':>7} {'-':>7}  baseline")
            continue
        ratio = timing.median / baseline.median
        verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
        lines.append(f"{cells} {ratio:>6.2f}x {f'<={TARGET_RATIO}x':>7}  {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=DEFAULT_RUNS, help=f"timed rounds after the warm-up (default {DEFAULT_RUNS})",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    python = sys.executable
    jobctl = str(console_script("jobctl"))
    commands = {
        'python -c "import click"': [python, "-c", "import click"],
        "jobctl --help": [jobctl, "--help"],
        "jobctl validate specs-examples/hello/job.yaml": [jobctl, "validate", "specs-examples/hello/job.yaml"],
    }
    with tempfile.TemporaryDirectory(prefix="jobctl-bench-pycache-") as pycache:
        baseline, *others = measure(commands, args.runs, child_env(pycache))
    if baseline.failure:
        print(f"baseline failed: {baseline.failure}")
        return 0
    print(f"python: {python}\njobctl: {jobctl}\nbytecode: cached by the warm-up round in a private PYTHONPYCACHEPREFIX")
    print(report(baseline, others, args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
