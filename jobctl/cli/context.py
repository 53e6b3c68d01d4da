"""AppContext: everything a command needs from the outside world, built once per invocation."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from jobctl.backends.base import Backend
    from jobctl.backends.settings import OciSettings
    from jobctl.render.human import Printer

OUTPUT_FORMATS = ("table", "json", "yaml")


@dataclass
class AppContext:
    backend_name: str = "local"
    oci_options: dict[str, Any] = field(default_factory=dict)  # --profile, --region, … as given
    output: str = "table"
    color: bool = True
    quiet: bool = False
    verbose: int = 0
    traceback: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    show_secrets: bool = False
    _backend: Backend | None = None

    @property
    def oci(self) -> OciSettings:
        """How to reach OCI (built on demand: most commands never need it)."""
        from jobctl.backends.settings import OciSettings

        return OciSettings(**self.oci_options)

    def backend(self) -> Backend:
        """The selected backend, created on first use."""
        if self._backend is None:
            from jobctl.backends.base import create_backend

            self._backend = create_backend(self.backend_name, self)
        return self._backend

    def printer(self, err: bool = False) -> Printer:
        from jobctl.render.human import Printer

        stream = self.stderr if err else self.stdout
        return Printer(stream, rich=self.color and _isatty(stream))

    def info(self, message: str) -> None:
        """Progress for people, on stderr; silent with -q."""
        if not self.quiet:
            self.stderr.write(message + "\n")
            self.stderr.flush()

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
