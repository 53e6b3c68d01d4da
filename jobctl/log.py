"""jobctl's -v logging, without paying for `import logging` when nobody asked for it.

`jobctl -v` configures the "jobctl" logger (and so imports logging); until then these calls return
at once, which keeps start-up of list commands lean.
"""

from __future__ import annotations

import sys
from typing import Any


def info(name: str, message: str, *args: Any) -> None:
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger(name).info(message, *args)


def warn(message: str) -> None:
    """Something the user must know although the command goes on (never progress: that is -v)."""
    sys.stderr.write(f"Warning: {message}\n")
    sys.stderr.flush()
