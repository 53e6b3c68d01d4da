"""`jobctl validate DIR` over 2,000 generated specs in one call: specs/s and peak RSS, cold and warm parse cache.

    .venv/bin/python benchmarks/validate_throughput.py [--runs N] [--specs N]

The specs are valid, with distinct names: single-document python jobs spread over ten directories
(each with its source file, and a `${VAR:-default}` to interpolate) and one multi-document file holding
half of them as container jobs. Cold: JOBCTL_CACHE_DIR is a new empty directory for every run, so
every file is parsed. Warm: one cache directory filled by a first, untimed run. One warm-up call
(untimed) caches bytecode first. Target: >= 2,000 specs/s cold, wall time of the whole command.
Peak RSS is the jobctl process's own (os.wait4 in a small launcher; see LAUNCHER). It reports and always exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from common import BenchmarkError, Measured, console_script, isolate_caches, run_main, run_measured

DEFAULT_RUNS = 5
DEFAULT_SPECS = 2000
DIRECTORIES = 10
TARGET_SPECS_PER_SECOND = 2000.0

PYTHON_JOB = """\
apiVersion: jobctl/v1
kind: Job
metadata:
  name: train-{i:05d}
  description: Generated job {i}
  labels: {{team: ml, index: "{i}"}}
spec:
  infrastructure:
    shape: VM.Standard.E4.Flex
    ocpus: 2
    memoryInGBs: 32
    blockStorageSizeInGBs: 100
  runtime:
    type: python
    source: ./main.py
    conda: {{slug: generalml_p311_cpu_x86_64_v1}}
    args: ["--trials", "{i}"]
    env:
      MODEL: xgb
      DATA_URI: ${{BENCH_DATA_URI:-oci://bucket@ns/train.csv}}
    maxRuntimeInMinutes: 120
"""

CONTAINER_JOB = """\
apiVersion: jobctl/v1
kind: Job
metadata: {{name: serve-{i:05d}}}
spec:
  infrastructure: {{shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}}
  runtime:
    type: container
    image: iad.ocir.io/bench/job:{i}
    cmd: ["--port", "8080"]
    env: {{INDEX: "{i}"}}
"""


def child_env(pycache: str) -> dict[str, str]:
    """The caller's environment without JOBCTL_* settings, with bytecode cached privately (see startup.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def generate(root: Path, count: int) -> int:
    """Write `count` valid specs under root; returns how many files."""
    multi = count // 2
    singles = count - multi
    files = 0
    for d in range(DIRECTORIES):
        folder = root / f"team-{d:02d}"
        folder.mkdir(parents=True)
        (folder / "main.py").write_text("print('training')\n", encoding="utf-8")
    for i in range(singles):
        folder = root / f"team-{i % DIRECTORIES:02d}"
        (folder / f"train-{i:05d}.yaml").write_text(PYTHON_JOB.format(i=i), encoding="utf-8")
        files += 1
    documents = [CONTAINER_JOB.format(i=i) for i in range(singles, count)]
    (root / "serving.yaml").write_text("---\n".join(documents), encoding="utf-8")
    return files + 1


def summary(label: str, values: list[float], unit: str, fmt: str = ".0f") -> str:
    median = statistics.median(values)
    return f"{label:<34} {median:>10{fmt}} {min(values):>10{fmt}} {max(values):>10{fmt}}  {unit}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help=f"timed runs per mode (default {DEFAULT_RUNS})")
    parser.add_argument("--specs", type=int, default=DEFAULT_SPECS, help=f"specs to generate (default {DEFAULT_SPECS})")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.specs < 2:
        parser.error("--runs must be >= 1 and --specs >= 2")

    jobctl = console_script("jobctl")
    work = Path(tempfile.mkdtemp(prefix="jobctl-bench-validate-"))
    try:
        specs = work / "specs"
        files = generate(specs, args.specs)
        env = child_env(str(work / "pycache"))
        env["JOBCTL_HOME"] = str(work / "home")
        isolate_caches(env, work)  # each timed run still names its own JOBCTL_CACHE_DIR
        argv_validate = [*jobctl, "validate", str(specs)]

        def validate(cache: Path) -> Measured:
            result = run_measured(argv_validate, {**env, "JOBCTL_CACHE_DIR": str(cache)}, cwd=work)
            if result.returncode != 0:
                raise BenchmarkError(f"validate exited {result.returncode}: {result.stderr.strip()[-1500:]}")
            return result

        first = validate(work / "cache-warmup")  # caches bytecode; untimed
        expected = f"valid: {args.specs} jobs in {files} files"
        if not first.stdout.startswith(expected):
            print(f"unexpected output (wanted {expected!r}): {first.stdout[:200]!r}")
            return 0
        warm_cache = work / "cache-warm"
        validate(warm_cache)  # fills the warm cache; untimed
        cold: list[Measured] = []
        warm: list[Measured] = []
        for attempt in range(args.runs):  # alternate, so drift in machine load hits both alike
            cold_cache = work / f"cache-cold-{attempt}"
            cold.append(validate(cold_cache))
            shutil.rmtree(cold_cache, ignore_errors=True)
            warm.append(validate(warm_cache))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"jobctl validate DIR: {args.specs} specs in {files} files ({args.specs // 2} in one multi-document "
          f"file); {args.runs} runs per mode after untimed warm-ups")
    header = f"{'':<34} {'median':>10} {'min':>10} {'max':>10}"
    print(header)
    print("-" * (len(header) + 10))
    rows = {"cold cache": cold, "warm cache": warm}
    for mode, results in rows.items():
        print(summary(f"{mode}: wall", [r.seconds * 1000 for r in results], "ms", ".1f"))
        print(summary(f"{mode}: throughput", [args.specs / r.seconds for r in results], "specs/s"))
        print(summary(f"{mode}: peak RSS", [r.max_rss_mb for r in results], "MB", ".1f"))
        print(summary(f"{mode}: CPU (user+sys)", [r.cpu_seconds * 1000 for r in results], "ms", ".1f"))
    cold_rate = args.specs / statistics.median(r.seconds for r in cold)
    warm_rate = args.specs / statistics.median(r.seconds for r in warm)
    verdict = "PASS" if cold_rate >= TARGET_SPECS_PER_SECOND else "MISS"
    print(f"target: cold >= {TARGET_SPECS_PER_SECOND:,.0f} specs/s: {cold_rate:,.0f} specs/s  {verdict}")
    cpu_rate = args.specs / statistics.median(r.cpu_seconds for r in cold)
    print(f"cold specs per CPU second: {cpu_rate:,.0f} (wall minus CPU is waiting: I/O, or other load on the machine)")
    print(f"ratio: the warm cache is {warm_rate / cold_rate:.2f}x the cold throughput")
    return 0


if __name__ == "__main__":
    run_main(main)
