"""The `jobctl` command's entry point: imports the CLI, so that a Ctrl-C while it loads is an
"Interrupted." and exit 130, like one while it runs, not a traceback from the import."""

from __future__ import annotations

import contextlib
import os


def main() -> None:
    try:
        from jobctl.cli.app import main as run
    except KeyboardInterrupt:
        with contextlib.suppress(OSError):  # stderr closed or full: the exit code still says it
            os.write(2, b"Interrupted.\n")  # (what would say it is what was being imported)
        os._exit(130)  # (ExitCode.INTERRUPTED; nothing is buffered or registered to run at exit yet)
    run()
