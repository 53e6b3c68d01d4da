"""AppContext: everything a command needs from the outside world, built once per invocation."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

OUTPUT_FORMATS = ("table", "json", "yaml")


@dataclass
class AppContext:
    backend_name: str = "local"
    profile: str | None = None
    config_file: str | None = None
    auth: str | None = None
    region: str | None = None
    endpoint: str | None = None
    output: str = "table"
    color: bool = True
    quiet: bool = False
    verbose: int = 0
    traceback: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def output_format(self, override: str | None) -> str:
        """A command's own -o wins over the global one."""
        return override or self.output

    @property
    def interactive(self) -> bool:
        """Rich rendering only for a person at a terminal."""
        return self.color and _isatty(self.stdout)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
