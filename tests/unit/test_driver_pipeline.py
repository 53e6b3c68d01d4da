"""jobctl's driver in a pipeline run: the selector step picks a best run, a later step's run is given its
values (docs/decisions/0014-pipeline-engine.md). Run as OCI would run them, with Object Storage stood in
for by a directory (JOBCTL_LOCAL_OBJECT_STORE)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from jobctl.workflow.pipeline import compile_workflow
from tests.workflow.test_pipeline_compile import JOBS, STATE, TRAIN, TUNE, workflow

DRIVER = Path(__file__).resolve().parents[2] / "jobctl" / "driver.py"
RUN_ID = "ocid1.datasciencepipelinerun.oc1.iad.run1"


def drive(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The driver as a job run starts it: <start>/code/.jobctl/driver.py, with code/main.py beside it."""
    code = tmp_path / "code"
    (code / ".jobctl").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DRIVER, code / ".jobctl" / "driver.py")
    (code / "main.py").write_text("import os, sys\nprint('MODEL=' + os.environ.get('MODEL', ''), "
                                  "'NOTE=' + os.environ.get('NOTE', ''), 'args=' + ' '.join(sys.argv[1:]))\n")
    full = {"PATH": "/usr/bin:/bin", "PIPELINE_RUN_OCID": RUN_ID, "JOBCTL_LOCAL_OBJECT_STORE": str(tmp_path / "os"),
            "JOBCTL_ENTRYPOINT": "code/main.py", **env}
    return subprocess.run([sys.executable, str(code / ".jobctl" / "driver.py"), *args], env=full,
                          capture_output=True, text=True, check=False, timeout=60)


def report(tmp_path: Path, model: str, outputs: dict[str, object]) -> None:
    where = tmp_path / "os" / "ns" / "state" / "jobctl" / "flow" / "pipeline-runs" / RUN_ID / "tune" / f"MODEL={model}"
    where.mkdir(parents=True)
    (where / "outputs.json").write_text(json.dumps(outputs))


def test_the_selector_picks_the_best_reported_run_and_a_later_run_gets_its_values(tmp_path: Path) -> None:
    compiled = compile_workflow(workflow(TUNE, TRAIN), JOBS, STATE, driven={"train"})  # type: ignore[arg-type]
    report(tmp_path, "a", {"metrics": {"auc": 0.7}})
    report(tmp_path, "b", {"auc": 0.9, "path": "oci://m@ns/b"})  # flat
    # c reported nothing: it is named, and the pick is among the others
    selected = drive(tmp_path, dict(compiled.step("tune-select").env))
    assert selected.returncode == 0, selected.stderr
    assert "selected tune-2 (MODEL=b) with auc=0.9; without it: tune-3: no outputs.json" in selected.stderr
    best = json.loads((tmp_path / "os" / "ns" / "state" / "jobctl" / "flow" / "pipeline-runs" / RUN_ID / "tune"
                       / "best.json").read_text())
    assert (best["env"]["MODEL"], best["metrics"], best["outputs"]["path"]) == ("b", {"auc": 0.9}, "oci://m@ns/b")
    assert "API_TOKEN" not in best["env"]

    train = compiled.step("train")
    ran = drive(tmp_path, {**train.env, "EXTRA": "x"}, *(train.args or ()))
    assert ran.returncode == 0, ran.stderr
    assert "MODEL=b NOTE=auc=0.9 in flow args=--model b" in ran.stdout


def test_a_selector_with_no_reports_fails_saying_how_to_report(tmp_path: Path) -> None:
    compiled = compile_workflow(workflow(TUNE, TRAIN), JOBS, STATE, driven={"train"})  # type: ignore[arg-type]
    selected = drive(tmp_path, dict(compiled.step("tune-select").env))
    assert selected.returncode == 1
    assert "no run reported 'auc' (tune-1: no outputs.json; tune-2: no outputs.json; tune-3: no outputs.json)" \
        in selected.stderr
    assert "jobctl.outputs.write" in selected.stderr


def test_a_later_run_before_any_pick_fails_naming_the_step(tmp_path: Path) -> None:
    train = compile_workflow(workflow(TUNE, TRAIN), JOBS, STATE, driven={"train"}).step("train")  # type: ignore[arg-type]
    ran = drive(tmp_path, dict(train.env))
    assert ran.returncode == 1
    assert "step 'tune' has not selected a run (no best.json)" in ran.stderr
