"""The README quickstart, run verbatim: if a command there stops working, this fails."""

from __future__ import annotations

import re
import shlex

from tests.conftest import REPO, run_jobctl

BLOCK = re.compile(r"<!-- quickstart:begin -->\s*```sh\n(.*?)```\s*<!-- quickstart:end -->", re.DOTALL)


def quickstart() -> list[tuple[str, int, str]]:
    """(command, expected exit code, comment) for each line of the quickstart block."""
    match = BLOCK.search((REPO / "README.md").read_text(encoding="utf-8"))
    assert match, "README.md has no quickstart block"
    steps = []
    for line in match.group(1).splitlines():
        command, _, comment = line.partition("#")
        code = re.search(r"\bexit (\d+)", comment)
        steps.append((command.strip(), int(code.group(1)) if code else 0, comment.strip()))
    return steps


def test_readme_quickstart_runs_verbatim() -> None:
    steps = quickstart()
    assert len(steps) >= 8
    outputs = {}
    for command, expected, _ in steps:
        argv = shlex.split(command)
        assert argv[0] == "jobctl", command
        proc = run_jobctl(*argv[1:], cwd=REPO, timeout=120)
        assert proc.returncode == expected, f"{command}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
        assert "Traceback" not in proc.stderr
        outputs[command] = proc
    logs = outputs["jobctl logs --follow"]
    assert "MODEL=xgb" in logs.stdout
    assert "No changes" in outputs["jobctl apply specs-examples/hello/job.yaml"].stdout
    runs = outputs["jobctl runs hello"].stdout
    assert runs.count("SUCCEEDED") == 4  # the --wait run and three matrix runs
    assert "FAILED" in runs
    assert "CANCELED" in runs
