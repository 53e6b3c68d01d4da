"""Directories jobctl keeps for itself: private to the user, whatever the umask."""

from __future__ import annotations

import os
from pathlib import Path


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and any parents it needs) readable by the owner only; tighten it if it is open."""
    previous = os.umask(0o077)
    try:
        path.mkdir(parents=True, exist_ok=True)
    finally:
        os.umask(previous)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
