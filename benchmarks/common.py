"""What every benchmark script shares: finding jobctl's command, and ending with a report, never a failure."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


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
