"""`type: notebook` (ADS's NotebookRuntime): jobctl's driver executes the notebook with a real Jupyter
kernel (nbclient, the `notebook` extra), leaves out cells with excluded tags, prints what cells print,
and saves the executed notebook — to outputUri with the rest of its directory. Locally and on OCI (the
fake runs the artifact's code). Issue 15, item 3."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from jobctl.testing.fake_oci import FakeOCI
from jobctl.testing.fake_oci.workloads import artifact_workload
from tests.conftest import Result, ads_document, job_document, use_fake_oci

Run = Callable[..., Result]


def notebook(path: Path, *, fail: bool = False, die: bool = False) -> Path:
    cells = [nbformat.v4.new_code_cell("import os\nprint('running in', os.path.basename(os.getcwd()))"),
             nbformat.v4.new_code_cell("print('interactive only')", metadata={"tags": ["skip"]}),
             nbformat.v4.new_code_cell("open('result.txt', 'w').write('7')\n6 * 7")]
    if fail:
        cells.append(nbformat.v4.new_code_cell("raise ValueError('bad data')"))
    if die:  # the kernel dies, as when it runs out of memory
        cells.append(nbformat.v4.new_code_cell("import os\nos._exit(3)"))
    book = nbformat.v4.new_notebook()
    book.cells = cells
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(book, str(path))
    return path


def spec(tmp_path: Path, **runtime: Any) -> Path:
    notebook(tmp_path / "nbs" / "analysis.ipynb", fail=runtime.pop("fail", False), die=runtime.pop("die", False))
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job_document("analysis", {
        "type": "notebook", "source": "./nbs", "entrypoint": "analysis.ipynb", "excludeTags": ["skip"],
        "outputUri": "oci://results@mytenancy/nb/$JOB_RUN_OCID", **runtime})))
    return path


def run(jobctl: Run, path: Path, exit_code: int = 0) -> tuple[str, str]:
    assert jobctl("apply", str(path), "--yes").exit_code == 0
    ran = jobctl("-o", "json", "run", "analysis", "--wait")
    assert ran.exit_code == exit_code, ran.stderr
    [state] = json.loads(ran.stdout)["items"]
    return state["id"], str(jobctl("logs", state["id"]).stdout)


def executed(content: bytes) -> list[list[str]]:
    """Each code cell's text outputs, as the executed notebook holds them."""
    book = nbformat.reads(content.decode(), as_version=4)
    return [[out.get("text") or out.get("data", {}).get("text/plain") or out.get("evalue", "")
             for out in cell.get("outputs", [])] for cell in book.cells]


@pytest.mark.parametrize("backend", ["local", "oci"])
def test_a_notebook_runs_without_its_excluded_cells_and_is_saved_executed(
    jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str,
) -> None:
    with FakeOCI() as fake:
        if backend == "oci":
            fake.workload = artifact_workload(fake)
            fake.create_bucket("results", namespace="mytenancy")
            use_fake_oci(fake, tmp_path, monkeypatch, "notebook")
        path = spec(tmp_path)

        run_id, logs = run(jobctl, path)

        assert "running in nbs" in logs
        assert "42" in logs
        assert "interactive only" not in logs
        if backend == "oci":
            saved = {key[2]: item.content for key, item in fake.store.objects.items() if key[1] == "results"}
        else:
            bucket = Path(os.environ["JOBCTL_HOME"]) / "object-storage" / "mytenancy" / "results"
            saved = {str(p.relative_to(bucket)): p.read_bytes() for p in bucket.rglob("*") if p.is_file()}
        assert sorted(saved) == [f"nb/{run_id}/analysis.ipynb", f"nb/{run_id}/result.txt"]  # not the driver
        assert executed(saved[f"nb/{run_id}/analysis.ipynb"]) == [["running in nbs\n"], ["42"]]
        assert jobctl("plan", str(path), "--detailed-exitcode", "--refresh").exit_code == 0


def test_a_failing_cell_fails_the_run_and_the_notebook_is_still_saved(jobctl: Run, tmp_path: Path) -> None:
    run_id, logs = run(jobctl, spec(tmp_path, fail=True), exit_code=1)
    assert "a cell failed: ValueError: bad data" in logs
    saved = Path(os.environ["JOBCTL_HOME"]) / "object-storage" / "mytenancy" / "results" / "nb" / run_id
    assert executed((saved / "analysis.ipynb").read_bytes())[-1] == ["bad data"]


def test_a_kernel_that_dies_fails_the_run_and_the_notebook_is_still_saved(jobctl: Run, tmp_path: Path) -> None:
    """Review: a dead kernel raised out of the driver: a traceback, and nothing uploaded."""
    run_id, logs = run(jobctl, spec(tmp_path, die=True), exit_code=1)
    assert "the notebook could not run to its end: DeadKernelError" in logs
    assert "Traceback" not in logs
    saved = Path(os.environ["JOBCTL_HOME"]) / "object-storage" / "mytenancy" / "results" / "nb" / run_id
    assert executed((saved / "analysis.ipynb").read_bytes())[:2] == [["running in nbs\n"], ["42"]]


def test_a_notebook_from_git_is_cloned_and_run_in_its_directory(jobctl: Run, tmp_path: Path) -> None:
    """ADS's gitPython with a notebook entrypoint (the guide's git_notebook example): a notebook job with git."""
    from tests.cli.test_git_runtime import git

    repo = tmp_path / "repo"
    notebook(repo / "nbs" / "analysis.ipynb")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "notebook")
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job_document("analysis", {
        "type": "notebook", "git": {"url": str(repo)}, "entrypoint": "nbs/analysis.ipynb", "excludeTags": ["skip"],
        "outputUri": "oci://results@mytenancy/git-nb"})))

    _, logs = run(jobctl, path)

    assert "running in nbs" in logs
    assert "interactive only" not in logs
    saved = Path(os.environ["JOBCTL_HOME"]) / "object-storage" / "mytenancy" / "results" / "git-nb"
    assert executed((saved / "analysis.ipynb").read_bytes()) == [["running in nbs\n"], ["42"]]
    assert jobctl("plan", str(path), "--detailed-exitcode").exit_code == 0


def test_a_notebook_at_a_url_is_downloaded_by_the_run(jobctl: Run, tmp_path: Path) -> None:
    """ADS's notebookPathURI at https:// (the guide's notebook example): the run downloads it (inputs)."""
    import functools
    import http.server
    import threading

    notebook(tmp_path / "served" / "analysis.ipynb")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "served"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # shutdown() waits for serve_forever to poll its flag: every 0.5 s unless told otherwise
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/analysis.ipynb"
        ads = tmp_path / "ads.yaml"
        ads.write_text(yaml.safe_dump(ads_document("Remote Notebook", "notebook", {
            "notebookPathURI": url, "excludeTags": ["skip"], "outputUri": "oci://results@mytenancy/remote"})))
        assert jobctl("apply", str(ads), "--yes").exit_code == 0
        ran = jobctl("run", "remote-notebook", "--wait")
        assert ran.exit_code == 0, ran.stderr
    finally:
        server.shutdown()
        server.server_close()
    saved = Path(os.environ["JOBCTL_HOME"]) / "object-storage" / "mytenancy" / "results" / "remote"
    assert executed((saved / "analysis.ipynb").read_bytes()) == [["running in remote-notebook\n"], ["42"]]
    # red team: its export held the driver as a source, which did not validate
    assert jobctl("export", "remote-notebook", "-d", str(tmp_path / "exported")).exit_code == 0
    exported = tmp_path / "exported" / "remote-notebook" / "job.yaml"
    assert "source" not in yaml.safe_load(exported.read_text())["spec"]["runtime"]
    assert jobctl("validate", str(exported)).exit_code == 0


def test_an_ads_notebook_file_runs_as_written_and_converts_to_the_same_job(jobctl: Run, tmp_path: Path) -> None:
    notebook(tmp_path / "analysis.ipynb")
    ads = tmp_path / "ads.yaml"
    ads.write_text(yaml.safe_dump(ads_document("Notebook Job", "notebook", {
        "notebookPathURI": "analysis.ipynb", "notebookEncoding": "utf-8", "excludeTags": ["skip"],
        "outputUri": "oci://results@mytenancy/ads", "conda": {"type": "service", "slug": "tensorflow28_p38_cpu_v1"},
    })))
    assert jobctl("apply", str(ads), "--yes", "--set-name", "nb").exit_code == 0
    ran = jobctl("run", "notebook-job", "--wait")
    assert ran.exit_code == 0, ran.stderr
    bucket = Path(os.environ["JOBCTL_HOME"]) / "object-storage" / "mytenancy" / "results" / "ads"
    assert (bucket / "analysis.ipynb").is_file()
    converted = tmp_path / "converted.yaml"
    assert jobctl("convert", str(ads), "-o", str(converted)).exit_code == 0
    assert yaml.safe_load(converted.read_text())["spec"]["runtime"]["type"] == "notebook"
    assert jobctl("plan", str(converted), "--detailed-exitcode", "--set-name", "nb").exit_code == 0


@pytest.mark.parametrize(("runtime", "message"), [
    ({"entrypoint": "analysis.py"}, "a notebook runtime's entrypoint is a .ipynb file"),
    ({"workingDir": "."}, "workingDir applies only to the python runtime"),
    ({"type": "python", "excludeTags": ["x"]}, "excludeTags applies only to the notebook runtime"),
])
def test_a_notebook_runtime_written_wrong_is_a_located_error(jobctl: Run, tmp_path: Path, runtime: dict[str, Any],
                                                             message: str) -> None:
    path = spec(tmp_path)
    document = yaml.safe_load(path.read_text())
    document["spec"]["runtime"].update(runtime)
    path.write_text(yaml.safe_dump(document))
    (tmp_path / "nbs" / "analysis.py").write_text("print(1)\n")
    result = jobctl("validate", str(path))
    assert result.exit_code == 3
    assert message in result.stderr, result.stderr
