"""A full or read-only JOBCTL_HOME (issue 12 item 6): one clear error, exit 6, naming the path and the
cause; no internal error, no advice to throw an intact database away, no partial files left behind;
and once there is space again, everything is still there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLES
from tests.reliability.private_mount import run_with_tmpfs

SCENARIO = """\
hello, big_spec = sys.argv[1:3]
home = os.environ["JOBCTL_HOME"]
results = {"apply": jobctl("apply", hello)}
fill(os.path.dirname(home))
results["run_full"] = jobctl("run", "hello")
results["apply_full"] = jobctl("apply", big_spec)
results["apply_full_again"] = jobctl("apply", big_spec)
os.remove(os.path.join(os.path.dirname(home), "filler"))
fill(os.path.dirname(home), leave=512 * 1024)  # room for the database, not for the 2 MiB artifact
results["apply_tight"] = jobctl("apply", big_spec)
results["apply_tight_again"] = jobctl("apply", big_spec)
results["partials"] = [name for _, _, names in os.walk(home) for name in names if name.endswith(".partial")]
os.remove(os.path.join(os.path.dirname(home), "filler"))
results["run_after"] = jobctl("run", "hello", "--wait")
results["apply_after"] = jobctl("apply", big_spec)
subprocess.run(["mount", "-o", "remount,ro", os.path.dirname(home)], check=True)
results["jobs_readonly"] = jobctl("jobs")
results["run_readonly"] = jobctl("run", "hello")
print(json.dumps(results))
"""


def big_job(directory: Path) -> Path:
    """A job whose artifact (2 MiB of incompressible bytes) cannot fit on a full disk."""
    directory.mkdir()
    (directory / "main.py").write_text("print('big')\n")
    (directory / "weights.bin").write_bytes(bytes(range(256)) * 8 + __import__("os").urandom(2 * 1024 * 1024))
    (directory / "job.yaml").write_text(
        "apiVersion: jobctl/v1\nkind: Job\nmetadata: {name: big}\nspec:\n"
        "  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}\n"
        "  runtime: {type: python, source: ., entrypoint: main.py}\n")
    return directory / "job.yaml"


def assert_storage_error(result: dict[str, Any], *words: str) -> None:
    everything = result["out"] + result["err"]
    assert result["code"] == 6, everything
    assert "Traceback" not in everything
    assert "internal error" not in everything
    errors = [line for line in result["err"].splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result["err"]
    for word in words:
        assert word in errors[0], errors[0]
    assert "move it aside" not in everything, everything
    assert "damaged" not in everything, everything


def test_a_full_then_read_only_jobctl_home_gives_one_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    results = run_with_tmpfs(tmp_path, SCENARIO, str(EXAMPLES / "hello" / "job.yaml"),
                             str(big_job(tmp_path / "big")), size="3m")
    assert results["apply"]["code"] == 0, results["apply"]["err"]
    mount = str(tmp_path / "mnt")
    for step in ("run_full", "apply_full", "apply_full_again"):
        assert_storage_error(results[step], mount, "state.db", "no space left")
    for step in ("apply_tight", "apply_tight_again"):
        assert_storage_error(results[step], mount, "artifact", "no space left")
    assert results["partials"] == []
    assert results["run_after"]["code"] == 0, results["run_after"]["err"]
    assert results["apply_after"]["code"] == 0, results["apply_after"]["err"]
    for step in ("jobs_readonly", "run_readonly"):
        assert_storage_error(results[step], mount, "read-only")
