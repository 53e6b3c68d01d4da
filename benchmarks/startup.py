"""Start-up time of jobctl against the cost of importing click, and against the oci CLI, measured in one run.

    .venv/bin/python benchmarks/startup.py [--runs N] [--recorded-runs N] [--no-oci-cli]

One warm-up round, then N rounds running each command in turn; the first table shows median/min/max
wall time, the ratio of the median to the `import click` baseline, and whether it meets the target
(<= 1.5x). `jobctl runs` lists a local backend holding 100 finished runs (a private JOBCTL_HOME made
once, before timing). The second table compares `jobctl --help` with `oci data-science job --help`
(target: jobctl >= 10x faster); the oci CLI is taken from PATH, else installed once into a throwaway
venv under /tmp, and the row is skipped with a message when it cannot be installed.
It reports and always exits 0: timings depend on the machine, so nothing here is a test.
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
from dataclasses import dataclass
from pathlib import Path

from common import isolate_caches

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5
TARGET_SPEEDUP = 10.0
DEFAULT_RUNS = 10
DEFAULT_RECORDED_RUNS = 100
MATRIX_CHUNK = 25
OCI_CLI_VENV = Path(tempfile.gettempdir()) / "jobctl-bench-oci-cli"
OCI_CLI_LABEL = "oci data-science job --help"


@dataclass(frozen=True)
class Timing:
    label: str
    seconds: list[float]
    failure: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass(frozen=True)
class Command:
    argv: list[str]
    ok_codes: tuple[int, ...] = (0,)  # the oci CLI exits 2 after printing a group's help


def console_script(name: str) -> Path:
    """The venv's console script, next to the interpreter running this benchmark."""
    bin_dir = Path(sys.executable).parent
    for candidate in (bin_dir / name, bin_dir / f"{name}.exe"):
        if candidate.exists():
            return candidate
    raise SystemExit(f"no {name!r} script next to {sys.executable}; install the project into this venv")


def time_once(command: Command, env: dict[str, str]) -> tuple[float, str | None]:
    started = time.perf_counter()
    proc = subprocess.run(command.argv, cwd=REPO, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode not in command.ok_codes:
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


def record_runs(jobctl: str, env: dict[str, str], count: int) -> str | None:
    """Apply the hello job into env's JOBCTL_HOME and run it `count` times; None, or what went wrong."""
    spec = "specs-examples/hello/job.yaml"
    steps = [[jobctl, "apply", spec]]
    for first in range(0, count, MATRIX_CHUNK):
        values = ",".join(str(i) for i in range(first, min(first + MATRIX_CHUNK, count)))
        steps.append([jobctl, "-q", "run", "hello", "--matrix", f"I={values}", "--wait"])
    for argv in steps:
        proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=600)
        if proc.returncode != 0:
            return f"`{' '.join(argv[1:4])} ...` exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
    return None


def find_oci_cli() -> tuple[Path | None, str]:
    """The oci CLI on PATH, else the one in the throwaway venv (installed there with pip if missing)."""
    on_path = shutil.which("oci")
    if on_path:
        return Path(on_path), f"oci CLI: {on_path} (on PATH)"
    script = OCI_CLI_VENV / "bin" / "oci"
    if script.exists():
        return script, f"oci CLI: {script} (throwaway venv, installed by an earlier run)"
    print(f"oci CLI not on PATH: installing oci-cli into {OCI_CLI_VENV} (once; ~1 min) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(OCI_CLI_VENV)], check=True,
                       capture_output=True, timeout=120)
        subprocess.run([str(OCI_CLI_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", "--no-cache-dir", "oci-cli"],  # pip's cache: ~/.cache
                       check=True, capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", None) or b""
        tail = detail.decode(errors="replace").strip().splitlines()[-1:] if isinstance(detail, bytes) else []
        shutil.rmtree(OCI_CLI_VENV, ignore_errors=True)
        return None, f"skipped the oci CLI row: cannot install oci-cli ({exc}{': ' + tail[0] if tail else ''})"
    if not script.exists():
        return None, f"skipped the oci CLI row: pip installed oci-cli but {script} is missing"
    return script, f"oci CLI: {script} (installed just now into a throwaway venv)"


def measure(commands: dict[str, Command], runs: int, env: dict[str, str]) -> list[Timing]:
    """Round-robin over the commands, so drift in machine load hits every row alike."""
    seconds: dict[str, list[float]] = {label: [] for label in commands}
    failures: dict[str, str] = {}
    for attempt in range(runs + 1):  # the first round is the warm-up and is not counted
        for label, command in commands.items():
            if label in failures:
                continue
            elapsed, failure = time_once(command, env)
            if failure:
                failures[label] = failure
            elif attempt:
                seconds[label].append(elapsed)
    return [Timing(label, seconds[label], failures.get(label)) for label in commands]


def cells(timing: Timing) -> str:
    ms = [s * 1000 for s in (timing.median, min(timing.seconds), max(timing.seconds))]
    return f"{timing.label:<52} {ms[0]:>8.1f} {ms[1]:>8.1f} {ms[2]:>8.1f}"


def report(baseline: Timing, others: list[Timing], runs: int) -> str:
    header = f"{'command':<52} {'median':>8} {'min':>8} {'max':>8} {'ratio':>7} {'target':>7}  result"
    lines = [f"{runs} rounds after 1 warm-up round; times in ms; ratio = median / baseline median", header,
             "-" * len(header)]
    for timing in [baseline, *others]:
        if timing.failure:
            lines.append(f"{timing.label:<52} FAILED ({timing.failure})")
            continue
        if timing is baseline:
            lines.append(f"{cells(timing)} {'1.00x':>7} {'-':>7}  baseline")
            continue
        ratio = timing.median / baseline.median
        verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
        lines.append(f"{cells(timing)} {ratio:>6.2f}x {f'<={TARGET_RATIO}x':>7}  {verdict}")
    return "\n".join(lines)


def report_oci(jobctl_help: Timing, oci_help: Timing) -> str:
    header = f"{'command':<52} {'median':>8} {'min':>8} {'max':>8} {'speedup':>8} {'target':>7}  result"
    lines = ["jobctl --help against the oci CLI (same rounds); speedup = oci median / jobctl median", header,
             "-" * len(header)]
    if oci_help.failure or jobctl_help.failure:
        lines.append(f"{oci_help.label:<52} FAILED ({oci_help.failure or jobctl_help.failure})")
        return "\n".join(lines)
    speedup = oci_help.median / jobctl_help.median
    verdict = "PASS" if speedup >= TARGET_SPEEDUP else "MISS"
    lines.append(f"{cells(oci_help)} {'1.00x':>8} {'-':>7}  baseline")
    lines.append(f"{cells(jobctl_help)} {speedup:>7.1f}x {f'>={TARGET_SPEEDUP:g}x':>7}  {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=DEFAULT_RUNS, help=f"timed rounds after the warm-up (default {DEFAULT_RUNS})",
    )
    parser.add_argument("--recorded-runs", type=int, default=DEFAULT_RECORDED_RUNS,
                        help=f"finished local runs that `jobctl runs` lists (default {DEFAULT_RECORDED_RUNS})")
    parser.add_argument("--no-oci-cli", action="store_true", help="skip the comparison with the oci CLI")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    python = sys.executable
    jobctl = str(console_script("jobctl"))
    oci_cli, oci_note = (None, "skipped the oci CLI row (--no-oci-cli)") if args.no_oci_cli else find_oci_cli()
    commands = {
        'python -c "import click"': Command([python, "-c", "import click"]),
        "jobctl --help": Command([jobctl, "--help"]),
        "jobctl validate specs-examples/hello/job.yaml": Command([jobctl, "validate", "specs-examples/hello/job.yaml"]),
        f"jobctl runs (local, {args.recorded_runs} runs recorded)": Command([jobctl, "runs"]),
    }
    if oci_cli is not None:
        commands[OCI_CLI_LABEL] = Command([str(oci_cli), "data-science", "job", "--help"], ok_codes=(0, 2))
    with tempfile.TemporaryDirectory(prefix="jobctl-bench-pycache-") as pycache, \
            tempfile.TemporaryDirectory(prefix="jobctl-bench-home-") as home:
        env = child_env(pycache)
        env["JOBCTL_HOME"] = home
        isolate_caches(env, Path(pycache))
        started = time.perf_counter()
        problem = record_runs(jobctl, env, args.recorded_runs)
        if problem:
            print(f"could not record {args.recorded_runs} local runs: {problem}")
            del commands[f"jobctl runs (local, {args.recorded_runs} runs recorded)"]
        else:
            print(f"recorded {args.recorded_runs} local runs of hello in {time.perf_counter() - started:.1f} s")
        timings = measure(commands, args.runs, env)
    baseline, *others = [t for t in timings if t.label != OCI_CLI_LABEL]
    if baseline.failure:
        print(f"baseline failed: {baseline.failure}")
        return 0
    print(f"python: {python}\njobctl: {jobctl}\nbytecode: cached by the warm-up round in a private PYTHONPYCACHEPREFIX")
    print(report(baseline, others, args.runs))
    print()
    print(oci_note)
    oci_timing = next((t for t in timings if t.label == OCI_CLI_LABEL), None)
    if oci_timing is not None:
        print(report_oci(others[0], oci_timing))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
