"""Read commands load only what they use: the module graph that keeps them near `import click` (issue 18).

Start-up time is measured in benchmarks/startup.py; here the cause is held in place by naming modules, not
by timing: a listing must not load the spec layer, the plan, the engine that starts and follows runs, or a
heavy package; a command that reads no job definition must not load JobDefinition (its 52 fields); no read
command creates any dataclass at all (each costs 0.5-1 ms to create at import, JobDefinition's ~4 ms: what they
read is Records, NamedTuples and Definitions, so `dataclasses` itself stays unloaded); and reading specs needs
neither `decimal` (the compiled validator's number checks) nor a digest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

HELLO = "specs-examples/hello/job.yaml"
# what no read command needs: the engine that starts and follows runs, heavy packages, click's shell
# completion (only a <Tab> needs it), and the real `inspect` (ast, dis, tokenize: decision 21)
NEVER = ("jobctl.cli.watch", "jobctl.engine.follow", "jobctl.engine.runs", "oci", "rich", "jsonschema",
         "concurrent.futures", "zipfile", "click.shell_completion", "ast", "dis", "tokenize")
# what only commands that read specs need: the spec layer, desired state, the diff, building artifacts
SPEC_LAYER = ("jobctl.spec", "jobctl.plan.desired", "jobctl.plan.diff", "jobctl.engine.apply", "jobctl.artifact",
              "jobctl.cli.run", "yaml")
# JobDefinition and ApplicationDefinition, their field table and its base: only when a definition is read
DEFINITION = ("jobctl.model.job", "jobctl.model.application", "jobctl.model.table", "jobctl.model.definition")
# what a command that reads a definition loads no more than a listing does (decisions 19 and 20)
NO_DATACLASS = ("dataclasses",)

_PROBE = """
import json, sys
from jobctl.cli import standins
standins.install()  # as jobctl's entry point does
import jobctl.cli.app
code = 0
try:
    jobctl.cli.app.cli.main(sys.argv[1:], prog_name="jobctl", standalone_mode=False)
except SystemExit as exc:
    code = exc.code
sys.stdout = sys.__stdout__
made = sorted(f"{name}.{attr}" for name, module in list(sys.modules.items()) if name.startswith("jobctl")
              for attr, value in vars(module).items()
              if isinstance(value, type) and value.__module__ == name and "__dataclass_fields__" in value.__dict__)
stand_ins = sorted(name for name, module in sys.modules.items() if type(module) is standins.StandIn)
print(json.dumps({"modules": sorted(sys.modules), "dataclasses": made, "exit": code, "stand_ins": stand_ins}))
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str]:
    """A JOBCTL_HOME holding the hello job, applied, and one finished run of it: (environment, run id)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBCTL_", "OCI_"))}
    env["JOBCTL_HOME"] = str(tmp_path_factory.mktemp("read-imports-home"))
    env["JOBCTL_CACHE_DIR"] = str(tmp_path_factory.mktemp("read-imports-cache"))
    for args in (["apply", HELLO], ["-q", "run", "hello", "--wait"]):
        done = subprocess.run([sys.executable, "-m", "jobctl", *args], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    listed = subprocess.run([sys.executable, "-m", "jobctl", "runs", "-o", "json"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    return env, json.loads(listed.stdout)["items"][0]["id"]


def loaded(home: tuple[dict[str, str], str], *args: str, cwd: Path = REPO) -> set[str]:
    """The modules a fresh interpreter holds after running the command (RUN in args: the finished run)."""
    return set(probe(home, *args, cwd=cwd)["modules"])


def probe(home: tuple[dict[str, str], str], *args: str, cwd: Path = REPO) -> dict[str, Any]:
    """What a fresh interpreter holds after running the command: `modules`, and the `dataclasses` jobctl's
    modules created."""
    env, run_id = home
    argv = [run_id if arg == "RUN" else arg for arg in args]
    proc = subprocess.run([sys.executable, "-c", _PROBE, *argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    outcome: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    assert outcome["exit"] in (0, None), proc.stderr
    return outcome


def under(modules: set[str], packages: tuple[str, ...]) -> set[str]:
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)}


@pytest.mark.parametrize("args", [("runs",), ("runs", "hello"), ("get", "RUN"), ("jobs",), ("workflow", "status"),
                                  ("logs", "RUN"), ("applications",)], ids=" ".join)
def test_a_listing_or_a_log_loads_neither_specs_nor_definitions(home: tuple[dict[str, str], str],
                                                                args: tuple[str, ...]) -> None:
    found = probe(home, *args)

    assert under(set(found["modules"]), NEVER + SPEC_LAYER + DEFINITION + NO_DATACLASS) == set()
    assert found["stand_ins"] == ["inspect", "platform"]  # neither real module was needed (decision 21)


def test_reading_a_job_loads_its_definition_but_no_spec_layer_and_creates_no_dataclass(
        home: tuple[dict[str, str], str]) -> None:
    """A definition is a Definition (jobctl.model.definition), declared as a dataclass without creating one."""
    found = probe(home, "get", "hello")

    assert under(set(found["modules"]), NEVER + SPEC_LAYER + NO_DATACLASS) == set()
    assert "jobctl.model.job" in found["modules"]
    assert found["dataclasses"] == []


def test_logs_of_a_run_loads_the_spec_layer_only_for_a_spec(home: tuple[dict[str, str], str]) -> None:
    """`logs --file SPEC` reads the spec (to find its job, and warn when it changed since the apply)."""
    plain = loaded(home, "logs", "RUN")
    by_spec = loaded(home, "logs", "--file", HELLO)

    assert under(plain, ("jobctl.spec.load",)) == set()
    assert under(by_spec, ("jobctl.spec.load",)) == {"jobctl.spec.load"}
    assert under(by_spec, NEVER) == set()


@pytest.mark.parametrize("args", [("plan", HELLO), ("validate", HELLO)], ids=" ".join)
def test_reading_specs_loads_no_run_engine_and_no_thread_pool(home: tuple[dict[str, str], str],
                                                               args: tuple[str, ...]) -> None:
    modules = loaded(home, *args)

    assert under(modules, (*NEVER, "decimal")) == set()


def test_validating_builds_no_definition_and_computes_no_digest(home: tuple[dict[str, str], str]) -> None:
    modules = loaded(home, "validate", HELLO)

    assert under(modules, (*DEFINITION, "jobctl.plan", "jobctl.artifact", "hashlib")) == set()


@pytest.mark.parametrize("args", [("-q", "runs", "-n", "1", "-o", "json"), ("-q", "run", "hello", "--wait"),
                                  ("-o", "json", "get", "RUN")], ids=" ".join)
def test_a_short_option_loads_no_spelling_suggestions(home: tuple[dict[str, str], str], args: tuple[str, ...]) -> None:
    """click tries `-q` as a long option first; its miss must not build suggestions (difflib) that are never shown."""
    assert "difflib" not in loaded(home, *args)


def test_a_single_run_is_started_without_a_thread_pool(home: tuple[dict[str, str], str]) -> None:
    """A command's only run is started from one plain thread: no concurrent.futures, and so no logging, on the
    way to its record (a matrix still uses the pool)."""
    single = loaded(home, "-q", "run", "hello", "--wait")
    matrix = loaded(home, "-q", "run", "hello", "--matrix", "X=1,2", "--wait")

    assert under(single, ("concurrent.futures", "logging")) == set()
    assert "concurrent.futures" in matrix


def test_a_single_run_loads_no_socket_no_shutil_and_creates_no_dataclass(
        home: tuple[dict[str, str], str]) -> None:
    """What `run JOB --wait` reads and writes are Records and NamedTuples; its launcher is reached through
    `_socket`; the prune of old work dirs (every run of a job with more than 5, as here) removes them without
    shutil, which loads zlib, bz2 and lzma, and without gc.py's reports."""
    for _ in range(6):  # past JOBCTL_KEEP_WORKDIRS (5): the next run prunes a work dir
        found = probe(home, "-q", "run", "hello", "--wait")

    assert under(set(found["modules"]), ("socket", "shutil", "zlib", "bz2", "lzma",
                                         "jobctl.backends.local.gc")) == set()
    assert found["dataclasses"] == []


def test_planning_a_cached_spec_parses_no_yaml_and_creates_no_dataclass(home: tuple[dict[str, str], str]) -> None:
    """The plan, its changes, the specs and the artifact are Records and NamedTuples, the job definition a
    Definition; digests come from jobctl.digest, not hashlib (OpenSSL); the spec is in the parse cache (the
    fixture applied it)."""
    found = probe(home, "plan", HELLO)

    # nor the schema's validator: the cache knows the spec (it has no ${VAR}) passes it
    assert under(set(found["modules"]), (*NEVER, *NO_DATACLASS, "decimal", "hashlib", "yaml", "tempfile",
                                         "encodings.utf_8_sig", "jobctl.spec.schema", "jobctl.spec._fastschema",
                                         "shutil")) == set()
    assert "jobctl.model.job" in found["modules"]
    assert found["dataclasses"] == []


def test_exporting_a_job_again_loads_no_pyyaml(home: tuple[dict[str, str], str], tmp_path: Path) -> None:
    """An exported spec as plain as hello's is written by jobctl.spec.yamlwrite, and read back (to validate it)
    from the parse cache once it was exported before."""
    first = probe(home, "export", "hello", "--dir", str(tmp_path))
    spec = (tmp_path / "hello" / "job.yaml").read_text()
    again = probe(home, "export", "hello", "--dir", str(tmp_path))

    assert "yaml" in first["modules"]  # the new file is parsed to validate it
    assert (tmp_path / "hello" / "job.yaml").read_text() == spec
    assert under(set(again["modules"]), (*NEVER, *NO_DATACLASS, "decimal", "hashlib", "tempfile", "yaml",
                                         "jobctl.spec._fastschema", "shutil")) == set()
    assert again["dataclasses"] == []


def test_the_supervisor_launcher_loads_no_shutil_no_dataclasses_no_socket_and_no_ctypes() -> None:
    """A single run's command forks its launcher, which imports the supervisor before it can serve: when that
    took longer than the command's way to its record, the command waited (issue 18). shutil (with zlib, bz2 and
    lzma) and dataclasses were ~5 ms of it, `socket` ~4 (`_socket` does) and ctypes ~3 (imported while the
    launcher waits for its request, not before)."""
    program = ("import sys, jobctl.backends.local.launcher\n"
               "print(sorted(m for m in sys.modules if m.split('.')[0] in ('shutil', 'dataclasses', 'zlib', 'bz2', "
               "'lzma', 'socket', 'ctypes')))\n")
    found = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=REPO)
    assert found.stdout == "[]\n", found.stdout
