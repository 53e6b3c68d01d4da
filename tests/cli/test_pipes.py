from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO


def test_a_reader_that_stops_early_ends_jobctl_quietly(jobctl, tmp_path: Path) -> None:
    (tmp_path / "loud.py").write_text("import sys\nsys.stdout.write('line\\n' * 300000)\n")
    (tmp_path / "job.yaml").write_text(textwrap.dedent("""\
        apiVersion: jobctl/v1
        kind: Job
        metadata: {name: loud}
        spec:
          infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}
          runtime: {type: python, source: ./loud.py}
        """))
    assert jobctl("apply", str(tmp_path / "job.yaml")).exit_code == 0
    assert jobctl("run", "loud", "--wait").exit_code == 0
    shell = f"{sys.executable} -m jobctl logs --job loud | head -n 1"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", shell], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.stdout == "line\n"
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "BrokenPipe" not in proc.stderr
