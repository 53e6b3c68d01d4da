"""What every benchmark script shares: finding jobctl's command, and ending with a report, never a failure."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path

# Peak RSS through a small launcher process: on Linux a child's ru_maxrss starts at the RSS of the
# process it was forked from (exec records the old address space's high-water mark), so measuring
# straight from a benchmark would report the benchmark's own peak for any child. The launcher is a
# bare interpreter (~14 MB, the floor of what can be reported); it times the command and writes
# "<seconds> <exit code> <max RSS KiB> <user+sys CPU seconds>" to the file named by its first argument.
LAUNCHER = """\
import os, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
elapsed = time.perf_counter() - started
with open(sys.argv[1], "w") as out:
    out.write(f"{elapsed} {os.waitstatus_to_exitcode(status)} {usage.ru_maxrss} "
              f"{usage.ru_utime + usage.ru_stime}")
"""


@dataclass(frozen=True)
class Measured:
    seconds: float
    returncode: int
    max_rss_mb: float
    cpu_seconds: float
    stdout: str
    stderr: str


def run_measured(argv: list[str], env: dict[str, str], *, cwd: Path | None = None, capture: bool = True) -> Measured:
    """Wall time, peak RSS and CPU of exactly this command (through LAUNCHER); without `capture` its
    stdout goes to /dev/null, so streaming output costs nothing to keep."""
    with tempfile.TemporaryDirectory() as scratch:
        result, out, err = (Path(scratch) / name for name in ("result", "out", "err"))
        with out.open("wb") as stdout, err.open("wb") as stderr:
            subprocess.run([sys.executable, "-c", LAUNCHER, str(result), *argv], cwd=cwd, env=env,
                           stdin=subprocess.DEVNULL, stdout=stdout if capture else subprocess.DEVNULL,
                           stderr=stderr, check=False)
        seconds, code, rss_kb, cpu = result.read_text().split()
        return Measured(float(seconds), int(code), int(rss_kb) / 1024, float(cpu),
                        out.read_text(errors="replace"), err.read_text(errors="replace"))


def isolate_caches(env: MutableMapping[str, str], work: Path) -> MutableMapping[str, str]:
    """Point every cache the benchmark's commands write into `work`, never the user's ~/.cache: jobctl's spec
    cache (JOBCTL_CACHE_DIR, else $XDG_CACHE_HOME/jobctl), anything else that follows XDG_CACHE_HOME, and
    bytecode when PYTHONPYCACHEPREFIX is set (one inherited from the shell may well be under ~/.cache; unset,
    Python writes next to the sources, which `make install` compiled). Returns `env`, changed in place."""
    env["JOBCTL_CACHE_DIR"] = str(work / "jobctl-cache")
    env["XDG_CACHE_HOME"] = str(work / "xdg-cache")
    if "PYTHONPYCACHEPREFIX" in env and not Path(env["PYTHONPYCACHEPREFIX"]).is_relative_to(work):
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


class BenchmarkError(Exception):
    """A measurement that could not be taken (the script reports it and still exits 0)."""


def console_script(name: str) -> list[str]:
    """The venv's console script next to this interpreter (a single process), else `python -m jobctl`."""
    script = Path(sys.executable).parent / name
    return [str(script)] if script.exists() else [sys.executable, "-m", "jobctl"]


def run_main(main: Callable[[], int]) -> None:
    """Run a benchmark's main; a measurement that could not be taken is printed, and the exit stays 0."""
    try:
        raise SystemExit(main())
    except BenchmarkError as error:
        print(f"could not measure: {error}")  # still exit 0: nothing here is a test
