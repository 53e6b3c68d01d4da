from __future__ import annotations

from tests.conftest import EXAMPLES, run_jobctl


def test_examples_validate(jobctl) -> None:
    result = jobctl("validate", str(EXAMPLES))
    assert result.exit_code == 0, result.stderr
    assert "6 jobs, 1 Data Flow application and 2 workflows in 8 files" in result.stdout


def test_version_as_subprocess() -> None:
    proc = run_jobctl("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("jobctl ")
