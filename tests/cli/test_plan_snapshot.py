"""Snapshots of the human `plan` rendering (piped, so plain text), so a change to it is reviewed on purpose.

Run with UPDATE_SNAPSHOTS=1 to rewrite the files in tests/cli/snapshots/ after an intended change.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Result

Run = Callable[..., Result]
SNAPSHOTS = Path(__file__).parent / "snapshots"
SOURCE = 'print("training")\n'


def assert_snapshot(name: str, text: str) -> None:
    """Compare `text` with snapshots/NAME.txt; with UPDATE_SNAPSHOTS=1, rewrite the file instead."""
    text = re.sub(r"\bjob-[0-9a-z]+", "job-<ID>", text)
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path.name}; run the tests with UPDATE_SNAPSHOTS=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"plan rendering differs from {path.name}"


def job_doc(name: str = "train", **overrides: Any) -> dict[str, Any]:
    runtime = {
        "type": "python", "source": "./train.py", "entrypoint": "train.py",
        "args": ["--epochs", "3"],
        "env": {"MODEL": "xgb", "API_TOKEN": "tok-123", "DATA_URI": "oci://bucket@ns/train.csv"},
        "maxRuntimeInMinutes": 60,
    }
    runtime.update(overrides.pop("runtime", {}))
    metadata = {"name": name, "description": "Train one model", "labels": {"team": "ml"}}
    metadata.update(overrides.pop("metadata", {}))
    infrastructure = {"shape": "VM.Standard.E4.Flex", "ocpus": 2, "memoryInGBs": 32}
    infrastructure.update(overrides.pop("infrastructure", {}))
    return {
        "apiVersion": "jobctl/v1", "kind": "Job", "metadata": metadata,
        "spec": {"infrastructure": infrastructure, "runtime": runtime},
    }


def write(directory: Path, *docs: dict[str, Any], source: str = SOURCE) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "train.py").write_text(source, encoding="utf-8")
    path = directory / "job.yaml"
    path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False), encoding="utf-8")
    return path


def plan_text(jobctl: Run, *args: str) -> str:
    result = jobctl("plan", *args)
    assert result.exit_code == 0, result.stderr
    assert "\x1b[" not in result.stdout  # piped: no colour codes
    return result.stdout


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    return tmp_path / "specs"


def test_plan_create(jobctl: Run, specs: Path) -> None:
    spec = write(specs, job_doc())
    assert_snapshot("plan_create", plan_text(jobctl, str(spec)))


def applied_then_updated(jobctl: Run, specs: Path) -> Path:
    """A job applied, then changed only where OCI updates in place (description, labels, shape size)."""
    spec = write(specs, job_doc())
    assert jobctl("apply", str(spec)).exit_code == 0
    write(specs, job_doc(
        metadata={"description": "Train one model per run", "labels": {"team": "ml", "tier": "gpu"}},
        infrastructure={"ocpus": 4, "memoryInGBs": 64},
    ))
    return spec


def applied_then_replaced(jobctl: Run, specs: Path) -> Path:
    """A job applied, then changed in args, env (a secret among them), runtime and source: a replace."""
    spec = write(specs, job_doc())
    assert jobctl("apply", str(spec)).exit_code == 0
    write(specs, job_doc(
        metadata={"description": "Train one model per run"},
        runtime={
            "args": ["--epochs", "5"], "maxRuntimeInMinutes": 120,
            "env": {"MODEL": "rf", "API_TOKEN": "tok-456", "SEED": "7"},
        },
    ), source='print("training v2")\n')
    return spec


def test_plan_update(jobctl: Run, specs: Path) -> None:
    spec = applied_then_updated(jobctl, specs)
    assert_snapshot("plan_update", plan_text(jobctl, str(spec)))


def test_plan_replace(jobctl: Run, specs: Path) -> None:
    spec = applied_then_replaced(jobctl, specs)
    text = plan_text(jobctl, str(spec))
    assert "tok-" not in text
    assert_snapshot("plan_replace", text)


def test_plan_delete_with_prune(jobctl: Run, specs: Path) -> None:
    spec = write(specs, job_doc("train"), job_doc("evaluate"))
    assert jobctl("apply", str(spec), "--set-name", "team/specs").exit_code == 0
    write(specs, job_doc("train"))
    assert_snapshot("plan_prune", plan_text(jobctl, str(spec), "--prune", "--set-name", "team/specs"))
