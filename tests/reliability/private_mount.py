"""Run a test scenario with a small tmpfs of its own: a full or read-only disk without touching the host.

The scenario is a Python script run inside a private mount namespace (`unshare --mount`, as root; with
`--map-root-user` otherwise), so its mounts vanish with it. It prints one JSON object as its last line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

PRELUDE = """\
import json, os, subprocess, sys
def jobctl(*args, env=None):
    done = subprocess.run([sys.executable, "-m", "jobctl", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    return {"code": done.returncode, "out": done.stdout, "err": done.stderr}
def fill(directory, leave=0):
    # fill the file system, then give back `leave` bytes
    path = os.path.join(directory, "filler")
    try:
        with open(path, "wb") as out:
            while True:
                out.write(b"x" * 65536)
                out.flush()
    except OSError:
        pass
    if leave:
        os.truncate(path, max(0, os.path.getsize(path) - leave))
"""


def run_with_tmpfs(tmp_path: Path, scenario: str, *args: str, size: str = "4m") -> Any:
    """Mount a `size` tmpfs on tmp_path/mnt, set JOBCTL_HOME to tmp_path/mnt/home, run `scenario`
    (PRELUDE's helpers in scope, sys.argv[1:] = args); return the JSON it printed last."""
    unshare = shutil.which("unshare")
    assert unshare, "these tests need unshare (util-linux) to mount a small private file system"
    namespace = [unshare, "--mount"] if os.geteuid() == 0 else [unshare, "--mount", "--map-root-user"]
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    script = tmp_path / "scenario.py"
    script.write_text(PRELUDE + scenario)
    command = (f"mount -t tmpfs -o size={size} tmpfs {mount_point} && "
               f'exec "$0" "$@"')
    env = {**os.environ, "JOBCTL_HOME": str(mount_point / "home")}
    done = subprocess.run(
        [*namespace, "sh", "-c", command, sys.executable, str(script), *args],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.splitlines()[-1])
