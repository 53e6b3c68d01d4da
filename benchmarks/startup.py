"""Start-up time of jobctl's read commands against the cost of importing click, and against the oci CLI.

    .venv/bin/python benchmarks/startup.py [--runs N] [--recorded-runs N] [--no-oci-cli]

Every read command runs on the local backend against a private JOBCTL_HOME holding one applied job
(specs-examples/hello) and its finished run(s), made once before timing (--recorded-runs N: more
runs for `jobctl runs` to list). One warm-up round, then N rounds; in each round the baseline
(`python -c "import click"`) runs just before every command, and each command's ratio is the median
over the rounds of its time over that baseline run's: the load other processes put on a shared
machine changes within seconds, and a pair run back to back sees the same load. The first table
shows median/min/max wall time, that ratio, and whether it meets the target (<= 1.5x). The second table
compares `jobctl --help` with `oci data-science job --help` (target: jobctl >= 10x faster); the oci
CLI is taken from PATH, else installed once into a throwaway venv under /tmp, and the row is skipped
with a message when it cannot be installed. Bytecode is cached in the benchmark's own temp dir.
It reports and always exits 0: timings depend on the machine, so nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
DEFAULT_RECORDED_RUNS = 1
MATRIX_CHUNK = 25
HELLO_SPEC = "specs-examples/hello/job.yaml"
OCI_CLI_VENV = Path(tempfile.gettempdir()) / "jobctl-bench-oci-cli"
OCI_CLI_LABEL = "oci data-science job --help"
BASELINE_LABEL = 'python -c "import click"'


@dataclass(frozen=True)
class Timing:
    label: str
    seconds: list[float]
    failure: str | None = None
    ratios: tuple[float, ...] = ()  # each round's time over the baseline's run just before it
    cpu_ratios: tuple[float, ...] = ()  # the same for the CPU time the processes used

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def cpu_ratio(self) -> float:
        return statistics.median(self.cpu_ratios)

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


def time_once(command: Command, env: dict[str, str]) -> tuple[float, float, str | None]:
    """(wall seconds, CPU seconds of the process, failure or None)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(command.argv, cwd=REPO, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the child has been waited for: its usage is in
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in command.ok_codes:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        return elapsed, cpu, f"exit {proc.returncode}: {detail[-1] if detail else ''}"
    return elapsed, cpu, None


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
    steps = [[jobctl, "apply", HELLO_SPEC]]
    for first in range(0, count, MATRIX_CHUNK):
        values = ",".join(str(i) for i in range(first, min(first + MATRIX_CHUNK, count)))
        steps.append([jobctl, "-q", "run", "hello", "--matrix", f"I={values}", "--wait"])
    for argv in steps:
        proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=600)
        if proc.returncode != 0:
            return f"`{' '.join(argv[1:4])} ...` exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
    return None


def latest_run_id(jobctl: str, env: dict[str, str]) -> str:
    proc = subprocess.run([jobctl, "runs", "-n", "1", "-o", "json"], cwd=REPO, env=env, capture_output=True,
                          text=True, check=True, timeout=60)
    run_id: str = json.loads(proc.stdout)["items"][0]["id"]
    return run_id


def read_commands(jobctl: str, run_id: str, recorded: int, scratch: str) -> dict[str, Command]:
    """Every command that only reads (what `jobctl --help` lists), on the recorded job and run."""
    argvs = [
        ["--help"],
        ["validate", HELLO_SPEC],
        ["plan", HELLO_SPEC],
        ["get", "hello"],
        ["get", run_id],
        ["runs"],
        ["runs", "hello"],
        ["jobs"],
        ["logs", run_id],
        ["applications"],
        ["export", "hello", "--dir", scratch],  # overwrites its own files each time
        ["workflow", "status"],
        ["schema"],
    ]
    commands: dict[str, Command] = {}
    for argv in argvs:
        label = "jobctl " + " ".join("RUN" if a == run_id else "DIR" if a == scratch else a for a in argv)
        if argv == ["runs"] and recorded > 1:
            label += f" ({recorded} runs recorded)"
        commands[label] = Command([jobctl, *argv])
    return commands


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


def measure(commands: dict[str, Command], baseline: Command, runs: int, env: dict[str, str]) -> list[Timing]:
    """Round-robin over the commands with the baseline run before each, so drift in machine load hits the
    baseline and every row alike; the baseline's Timing comes first."""
    seconds: dict[str, list[float]] = {label: [] for label in [BASELINE_LABEL, *commands]}
    ratios: dict[str, list[float]] = {label: [] for label in commands}
    cpu_ratios: dict[str, list[float]] = {label: [] for label in commands}
    failures: dict[str, str] = {}
    for attempt in range(runs + 1):  # the first round is the warm-up and is not counted
        for label, command in commands.items():
            base, base_cpu, base_failure = time_once(baseline, env)
            if base_failure:
                failures[BASELINE_LABEL] = base_failure
                return [Timing(name, seconds[name], failures.get(name)) for name in seconds]
            if label in failures:
                continue
            elapsed, cpu, failure = time_once(command, env)
            if failure:
                failures[label] = failure
            elif attempt:
                seconds[BASELINE_LABEL].append(base)
                seconds[label].append(elapsed)
                ratios[label].append(elapsed / base)
                cpu_ratios[label].append(cpu / base_cpu if base_cpu else float("nan"))
    return [Timing(name, seconds[name], failures.get(name), tuple(ratios.get(name, ())),
                   tuple(cpu_ratios.get(name, ()))) for name in seconds]


def cells(timing: Timing) -> str:
    ms = [s * 1000 for s in (timing.median, min(timing.seconds), max(timing.seconds))]
    return f"{timing.label:<52} {ms[0]:>8.1f} {ms[1]:>8.1f} {ms[2]:>8.1f}"


def report(baseline: Timing, others: list[Timing], runs: int) -> str:
    header = f"{'command':<52} {'median':>8} {'min':>8} {'max':>8} {'ratio':>7} {'target':>7}  result  {'cpu':>6}"
    lines = [f"{runs} rounds after 1 warm-up round; wall times in ms; ratio = the median over the rounds of the "
             "command's wall time / that of the baseline run just before it (the verdict); cpu = the same ratio "
             "of the CPU time the processes used, which the load of other processes hardly changes", header,
             "-" * len(header)]
    for timing in [baseline, *others]:
        if timing.failure:
            lines.append(f"{timing.label:<52} FAILED ({timing.failure})")
            continue
        if timing is baseline:
            lines.append(f"{cells(timing)} {'1.00x':>7} {'-':>7}  baseline")
            continue
        ratio = timing.ratio
        verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
        target = f"<={TARGET_RATIO}x"
        lines.append(f"{cells(timing)} {ratio:>6.2f}x {target:>7}  {verdict}    {timing.cpu_ratio:>5.2f}x")
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
    baseline_command = Command([python, "-c", "import click"])
    with tempfile.TemporaryDirectory(prefix="jobctl-bench-pycache-") as pycache, \
            tempfile.TemporaryDirectory(prefix="jobctl-bench-home-") as home, \
            tempfile.TemporaryDirectory(prefix="jobctl-bench-export-") as scratch:
        env = child_env(pycache)
        env["JOBCTL_HOME"] = home
        isolate_caches(env, Path(pycache))
        started = time.perf_counter()
        problem = record_runs(jobctl, env, args.recorded_runs)
        if problem:
            print(f"could not apply hello and record {args.recorded_runs} local run(s): {problem}")
            return 0
        print(f"applied hello and recorded {args.recorded_runs} local run(s) in {time.perf_counter() - started:.1f} s")
        commands = read_commands(jobctl, latest_run_id(jobctl, env), args.recorded_runs, scratch)
        if oci_cli is not None:
            commands[OCI_CLI_LABEL] = Command([str(oci_cli), "data-science", "job", "--help"], ok_codes=(0, 2))
        timings = measure(commands, baseline_command, args.runs, env)
    baseline, *others = [t for t in timings if t.label != OCI_CLI_LABEL]
    if baseline.failure:
        print(f"baseline failed: {baseline.failure}")
        return 0
    print(f"python: {python}\njobctl: {jobctl}")
    print("bytecode: cached by the warm-up round in a private PYTHONPYCACHEPREFIX; the baseline runs before every "
          "command in every round")
    print(report(baseline, others, args.runs))
    print()
    print(oci_note)
    oci_timing = next((t for t in timings if t.label == OCI_CLI_LABEL), None)
    if oci_timing is not None:
        print(report_oci(others[0], oci_timing))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
