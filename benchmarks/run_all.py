"""Run every benchmark in turn and sum up their PASS/MISS verdicts: what `make bench` runs.

    .venv/bin/python benchmarks/run_all.py [NAME ...] [--quick]

NAME picks scripts by name (`startup`, `logs_big`, ...; default: all, in the order below). --quick
passes each script smaller settings (fewer rounds, a 100 MB log) for a fast look; the full run is
the one whose figures count. Each script's output is shown as it runs; at the end, one line per
script with its time and verdicts, then every MISS line again. The scripts report and exit 0 by
design, so this exits 1 only when a script itself broke (a non-zero exit status).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS: dict[str, list[str]] = {  # name -> the arguments --quick adds
    "startup": ["--runs", "5"],
    "plan_scale": ["--jobs", "300"],
    "apply_scale": ["--jobs", "40"],
    "validate_throughput": ["--runs", "3"],
    "run_fanout": ["--runs", "3", "--no-sequential"],
    "logs_follow": ["--runs", "2"],
    "logs_big": ["--size-mb", "100", "--runs", "3", "--stream-runs", "2"],
    "run_overhead": ["--runs", "5"],
    "run_matrix_local": ["--runs", "1"],
    "workflow_engines": [],
}
VERDICT = re.compile(r"\b(PASS|MISS)\b")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"scripts to run: {', '.join(SCRIPTS)}")
    parser.add_argument("--quick", action="store_true", help="smaller settings for a fast look")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n.removesuffix(".py") not in SCRIPTS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}")
    names = [n.removesuffix(".py") for n in args.names] or list(SCRIPTS)

    summary: list[str] = []
    misses: list[str] = []
    broken = False
    for name in names:
        command = [sys.executable, str(HERE / f"{name}.py"), *(SCRIPTS[name] if args.quick else [])]
        print(f"=== {name}: {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        verdicts: list[str] = []
        for line in proc.stdout:
            print(line, end="", flush=True)
            found = VERDICT.findall(line)
            if found:
                verdicts.append(found[-1])
                if found[-1] == "MISS":
                    misses.append(f"{name}: {line.strip()}")
        code = proc.wait()
        seconds = time.perf_counter() - started
        broken = broken or code != 0
        status = f"exit {code}" if code else f"{verdicts.count('PASS')} PASS, {verdicts.count('MISS')} MISS"
        summary.append(f"{name:<22}{seconds:>8.1f} s  {status}")
        print(flush=True)
    print("=== summary")
    print("\n".join(summary))
    if misses:
        print("MISS:")
        print("\n".join(f"  {line}" for line in misses))
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
