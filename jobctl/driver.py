"""jobctl's run driver: what a job's artifact starts when its spec asks for more than "run this file".

jobctl puts this file into the artifact, at `<root>/.jobctl/driver.py`, for a notebook job and for a
python job that sets `git`, `command`, `dependencies`, `inputs`, `workingDir`, `pythonPath`,
`entryFunction` or `outputDir`/`outputUri` (docs/runtimes.md). It runs the same way locally and on OCI.
Paths are relative to the start directory, where the artifact is unpacked (two levels above this file),
or to the repository with git. What to do comes from variables jobctl derives from the spec:

JOBCTL_GIT_URL         first clone this repository into <root>/ (the directory git names it:
JOBCTL_GIT_BRANCH      .../trainer.git -> <root>/trainer/), at this branch, or at this commit (which wins);
JOBCTL_GIT_COMMIT      JOBCTL_GIT_SECRET_ID: a Vault secret holding the SSH private key git uses (read with
JOBCTL_GIT_SECRET_ID   the run's resource principal)
JOBCTL_ENTRYPOINT      the entry file (`train/main.py`)
JOBCTL_WORKING_DIR     the directory the code runs in (default: the start directory)
JOBCTL_PYTHON_PATH     directories to import from, relative to the working directory, ':'-separated: on
                       sys.path after the entry file's directory and the working directory, and on PYTHONPATH
JOBCTL_PIP_REQUIREMENTS before the code: pip install -r this file, and these packages (space-separated);
JOBCTL_PIP_PACKAGES    then download JOBCTL_INPUTS, a JSON map URL -> destination
JOBCTL_COMMAND         run this shell command instead of the entry file (the run's arguments after it); a
                       torchrun command gets --nnodes/--node_rank/--master_addr/--master_port of the run
JOBCTL_NOTEBOOK        the entry file is a notebook: execute it in place (nbclient, a python3 kernel),
JOBCTL_EXCLUDE_TAGS    leaving out cells tagged with any of this JSON list, read with
JOBCTL_NOTEBOOK_ENCODING this encoding (utf-8); the executed notebook is saved, also after a failure
JOBCTL_ENTRY_FUNCTION  call this function of the entry file instead of running it as a script:
                       positional arguments as they come, `--name value` or `--name=value` as name=value,
                       a bare `--flag` as flag=None
JOBCTL_UPLOAD_DIR      after the code ends (also when it fails), every file under this directory (default .,
JOBCTL_UPLOAD_URI      relative to the working directory) goes to oci://bucket@namespace/prefix/,
                       `$VAR`/`${VAR}` filled from the run's environment ($JOB_RUN_OCID). Locally
                       (JOBCTL_LOCAL_OBJECT_STORE set) into that directory as <namespace>/<bucket>/<prefix>/.

In a workflow run on OCI Data Science Pipelines (docs/decisions/0014-pipeline-engine.md):

JOBCTL_REFS            values from earlier steps: {"env": {VAR: parts}, "args": [parts] | null}, where parts are
JOBCTL_WORKFLOW_RUN_URI ["text", t], ["ref", step, env|metrics|outputs|run, key] or ["env", VAR], looked up in
                       <JOBCTL_WORKFLOW_RUN_URI>/<step>/best.json before the code starts
JOBCTL_SELECT          instead of any code, pick the best of a step's runs: {"metric", "goal", "uri",
                       "candidates": [{"step", "key", "slug", "env"}]}; reads <uri>/<slug>/outputs.json of each,
                       writes <uri>/best.json

The exit code is the code's (a failed upload is 1 unless the code failed). Standard library only, so it
runs in any python environment; it imports `oci` only to read OCI (a secret, an object, an upload) and
nbclient only for a notebook, which the service's conda environments have.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import math
import os
import re
import runpy
import shutil
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_URI = re.compile(r"^oci://(?P<bucket>[^@/]+)@(?P<namespace>[^/]+)(?:/(?P<prefix>.*))?$")


def call_arguments(argv: Sequence[str]) -> tuple[list[str], dict[str, str | None]]:
    """Command-line arguments as a function call's: `a --k v --flag b` -> ([a, b], {k: v, flag: None})."""
    positional: list[str] = []
    named: dict[str, str | None] = {}
    items = list(argv)
    while items:
        item = items.pop(0)
        if item.startswith("--") and len(item) > 2:
            name, equals, value = item[2:].partition("=")
            name = name.replace("-", "_")
            if equals:
                named[name] = value
            else:
                named[name] = items.pop(0) if items and not items[0].startswith("--") else None
        else:
            positional.append(item)
    return positional, named


def _load_function(path: str, name: str) -> Callable[..., Any]:
    spec = importlib.util.spec_from_file_location("__jobctl_entry__", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"jobctl driver: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    function = getattr(module, name, None)
    if not callable(function):
        raise SystemExit(f"jobctl driver: {path} has no function {name!r}")
    return function  # type: ignore[no-any-return]


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def run_code(entry: str, function: str | None, argv: Sequence[str]) -> int:
    """Run the entry file as __main__ (or call its function, awaited if it is async); the code's exit code."""
    if not os.path.isfile(entry):
        print(f"jobctl driver: the entry file {entry} does not exist", file=sys.stderr)
        return 1
    try:
        if function:
            positional, named = call_arguments(argv)
            result = _load_function(entry, function)(*positional, **named)
            if inspect.iscoroutine(result):  # an async entry function: awaited
                import asyncio

                result = asyncio.run(result)
            if result is not None:
                print(result)
        else:
            sys.argv = [entry, *argv]
            runpy.run_path(entry, run_name="__main__")
    except SystemExit as exc:
        return _exit_code(exc)
    except BaseException:  # the code's own failure: shown as python would show it
        traceback.print_exc()
        return 1
    return 0


def _files(directory: str) -> list[tuple[str, str]]:
    """The files under `directory` to upload: not this driver's own directory (<root>/.jobctl)."""
    found = []
    mine = os.path.dirname(os.path.abspath(__file__))
    for top, dirs, names in os.walk(directory):
        # not this driver's own directory, nor a clone's .git (its config holds the remote URL)
        dirs[:] = sorted(d for d in dirs if d != ".git" and os.path.abspath(os.path.join(top, d)) != mine)
        for name in sorted(names):
            path = os.path.join(top, name)
            if os.path.isfile(path) and not os.path.islink(path):
                found.append((path, os.path.relpath(path, directory).replace(os.sep, "/")))
    return found


def upload(directory: str, uri: str) -> int:
    """Every file under `directory` to `uri`; how many. Raises ValueError for a URI that is not oci://."""
    match = _URI.match(uri)
    if match is None:
        raise ValueError(f"outputUri {uri!r} is not oci://bucket@namespace/prefix")
    if not os.path.isdir(directory):
        print(f"jobctl driver: outputDir {directory} does not exist; nothing to upload", file=sys.stderr)
        return 0
    prefix = (match["prefix"] or "").strip("/")
    if {match["namespace"], match["bucket"]} & {".", ".."} or ".." in prefix.split("/"):
        raise ValueError(f"outputUri {uri!r} has a '.' or '..' where a namespace, bucket or prefix goes")
    files = _files(directory)
    local = os.environ.get("JOBCTL_LOCAL_OBJECT_STORE")
    if local:
        store = os.path.realpath(local)
        for path, name in files:
            target = os.path.join(store, match["namespace"], match["bucket"], *filter(None, [prefix, name]))
            if not os.path.realpath(target).startswith(store + os.sep):
                raise ValueError(f"{name} would be written outside {local}")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(path, target)
        return len(files)
    import oci

    config, kwargs = _client_kwargs()
    client = oci.object_storage.ObjectStorageClient(config, **kwargs)
    for path, name in files:
        with open(path, "rb") as body:
            client.put_object(match["namespace"], match["bucket"], f"{prefix}/{name}" if prefix else name, body)
    return len(files)


def _client_kwargs() -> tuple[dict[str, Any], dict[str, Any]]:
    """(config, keyword arguments) for an OCI client: the run's resource principal on OCI, else the
    config file (tests, notebooks); JOBCTL_OCI_ENDPOINT points every client at one endpoint."""
    import oci

    endpoint = {"service_endpoint": os.environ["JOBCTL_OCI_ENDPOINT"]} if os.environ.get("JOBCTL_OCI_ENDPOINT") else {}
    if os.environ.get("OCI_RESOURCE_PRINCIPAL_VERSION"):
        return {}, {"signer": oci.auth.signers.get_resource_principals_signer(), **endpoint}
    return oci.config.from_file(os.environ.get("OCI_CLI_CONFIG_FILE", oci.config.DEFAULT_LOCATION)), endpoint


def read_secret(secret_id: str) -> bytes:
    """A Vault secret's current content (GetSecretBundle); JOBCTL_LOCAL_SECRETS: a directory of files named
    by secret OCID instead (the fake's stand-in for the run's resource principal)."""
    local = os.environ.get("JOBCTL_LOCAL_SECRETS")
    if local:
        with open(os.path.join(local, secret_id), "rb") as fh:
            return fh.read()
    import base64

    import oci

    config, kwargs = _client_kwargs()
    bundle = oci.secrets.SecretsClient(config, **kwargs).get_secret_bundle(secret_id).data
    return base64.b64decode(bundle.secret_bundle_content.content)


def _git(*args: str, env: dict[str, str], doing: str) -> str:
    import subprocess

    done = subprocess.run(["git", *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{doing} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout.strip()


def redact(text: str) -> str:
    """URLs as a log may show them: `https://user:token@host/p?sig=x` as `https://***@host/p?***`."""
    credentials = re.sub(r"((?<!oci)://)[^/@\s]+@", r"\1***@", text, flags=re.IGNORECASE)  # oci://bucket@ is none
    return re.sub(r"(://[^\s?#]*)\?[^\s#]*", r"\1?***", credentials)


def clone(url: str, branch: str | None, commit: str | None, secret_id: str | None, into: str) -> str:
    """Clone `url` under `into` (as git names the directory) at `commit`, else `branch`, else the default
    branch; the clone's path."""
    import shlex
    import tempfile

    name = re.sub(r"\.git$", "", re.split(r"[/:]", url.rstrip("/"))[-1])
    dest = os.path.join(into, re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "repo")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    if not secret_id:
        return _clone(url, branch, commit, dest, env)
    with tempfile.TemporaryDirectory(prefix="jobctl-git-") as private:  # the SSH key, kept only for the clone
        key = os.path.join(private, "key")
        content = read_secret(secret_id)
        with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
            fh.write(content if content.endswith(b"\n") else content + b"\n")  # OpenSSH needs the last newline
        env["GIT_SSH_COMMAND"] = (f"ssh -i {shlex.quote(key)} -o IdentitiesOnly=yes "
                                  "-o StrictHostKeyChecking=accept-new")
        return _clone(url, branch, commit, dest, env)


def _clone(url: str, branch: str | None, commit: str | None, dest: str, env: dict[str, str]) -> str:
    shown = redact(url)
    _git("clone", "--quiet", *(["--branch", branch] if branch else []), "--", url, dest, env=env,
         doing=f"git clone of {shown}" + (f" at branch {branch}" if branch else ""))
    if commit:  # a full clone holds the commits of every branch and tag
        _git("-C", dest, "checkout", "--quiet", "--detach", commit, env=env,
             doing=f"git checkout of commit {commit} (no branch or tag of {shown} holds it?)")
    head = _git("-C", dest, "rev-parse", "HEAD", env=env, doing="git rev-parse HEAD")
    print(f"jobctl driver: cloned {redact(url)} at {head}" + (f" ({branch})" if branch and not commit else ""),
          file=sys.stderr)
    return dest


def run_notebook(path: str, exclude: Sequence[str], encoding: str) -> int:
    """Execute the notebook at `path` in place with a Python kernel, its cells' output printed as they run;
    cells tagged with any of `exclude` are left out. The executed notebook is saved, also after a failure."""
    try:
        import nbclient
        import nbformat
    except ImportError:
        print("jobctl driver: the notebook runtime needs nbclient, nbformat and ipykernel in the job's python "
              "(pip install 'oci-jobctl[notebook]', or a conda environment that has them)", file=sys.stderr)
        return 1
    try:
        with open(path, encoding=encoding) as fh:
            notebook = nbformat.read(fh, as_version=4)  # type: ignore[no-untyped-call]
    except (OSError, LookupError, UnicodeDecodeError, ValueError) as exc:
        print(f"jobctl driver: cannot read the notebook {path} as {encoding}: {exc}", file=sys.stderr)
        return 1
    skipped = set(exclude)
    notebook.cells = [cell for cell in notebook.cells if not skipped & set(cell.get("metadata", {}).get("tags", []))]

    def show(cell: Any, cell_index: int, execute_reply: Any) -> None:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                print(re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(output.get("traceback", []))), file=sys.stderr)
            elif output.get("output_type") == "stream":
                print(output.get("text", ""), end="", file=sys.stderr if output.get("name") == "stderr" else sys.stdout)
            elif "text/plain" in output.get("data", {}):
                print(output["data"]["text/plain"])
        sys.stdout.flush()

    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=None, allow_errors=False,
                                     resources={"metadata": {"path": os.getcwd()}}, on_cell_executed=show,
                                     extra_arguments=["--IPKernelApp.log_level=ERROR"])
    code = 0
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        print(f"jobctl driver: a cell failed: {exc.ename}: {exc.evalue}", file=sys.stderr)
        code = 1
    except Exception as exc:  # the kernel died (os._exit, out of memory) or never started (no ipykernel)
        print(f"jobctl driver: the notebook could not run to its end: {type(exc).__name__}: {exc}", file=sys.stderr)
        code = 1
    _save(notebook, path, encoding)
    return code


def _save(notebook: Any, path: str, encoding: str) -> None:
    """Write the executed notebook over `path` atomically: a character the encoding lacks becomes a
    character reference, never a truncated file."""
    import nbformat

    text = nbformat.writes(notebook)  # type: ignore[no-untyped-call]
    partial = f"{path}.jobctl-partial"
    with open(partial, "wb") as fh:
        fh.write(text.encode(encoding, "xmlcharrefreplace"))
    os.replace(partial, path)


def install(requirements: str | None, packages: str | None) -> None:
    """dependencies: pip into the run's python, before the code runs."""
    import shlex
    import subprocess

    for extra in (["-r", requirements] if requirements else [], shlex.split(packages or "")):
        if extra:
            print(redact(f"jobctl driver: pip install {' '.join(extra)}"), file=sys.stderr)
            done = subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *extra],
                                  stdout=sys.stderr, check=False)
            if done.returncode != 0:
                raise RuntimeError(redact(f"pip install {' '.join(extra)} failed (exit {done.returncode})"))


def fetch(inputs: dict[str, str]) -> None:
    """inputs: each URL (http(s)://, oci://bucket@namespace/object, or a path) to its destination."""
    for url, dest in sorted(inputs.items()):
        try:
            _fetch_one(url, dest)
        except Exception as exc:
            raise RuntimeError(f"input {redact(url)} -> {dest}: {exc}") from exc
        print(f"jobctl driver: fetched {redact(url)} to {dest}", file=sys.stderr)


def _fetch_one(url: str, dest: str) -> None:
    import urllib.request

    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    bucket = _URI.match(url)
    if bucket is None and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url):
        with urllib.request.urlopen(url, timeout=300) as response, open(dest, "wb") as fh:
            shutil.copyfileobj(response, fh)
    elif bucket is None:
        shutil.copyfile(url, dest)
    elif os.environ.get("JOBCTL_LOCAL_OBJECT_STORE"):
        parts = (bucket["namespace"], bucket["bucket"], *(bucket["prefix"] or "").split("/"))
        shutil.copyfile(os.path.join(os.environ["JOBCTL_LOCAL_OBJECT_STORE"], *parts), dest)
    else:
        import oci

        config, kwargs = _client_kwargs()
        body = oci.object_storage.ObjectStorageClient(config, **kwargs).get_object(
            bucket["namespace"], bucket["bucket"], bucket["prefix"] or "").data
        with open(dest, "wb") as fh:
            for chunk in body.raw.stream(1024 * 1024, decode_content=False):
                fh.write(chunk)


def _master_address() -> str:
    """Rank 0's address in a multi-node run: from CLUSTER_NODES_METADATA_FILE, which OCI fills in as the
    nodes come up (waited for, up to 10 minutes)."""
    import time

    path = os.environ.get("CLUSTER_NODES_METADATA_FILE")
    deadline = time.monotonic() + 600
    while path:
        try:
            with open(path, encoding="utf-8") as fh:
                for node in json.load(fh):
                    if str(node.get("Rank")) == "0" and node.get("IPAddress"):
                        return str(node["IPAddress"])
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"rank 0 never appeared in {path}")
        time.sleep(1)
    return "127.0.0.1"


def launch_command(command: str) -> str:
    """A torchrun command gets this node's place in the run unless it says it itself: --nnodes,
    --node_rank, --master_addr and --master_port (29400), from OCI's multi-node variables."""
    import shlex

    words = shlex.split(command)
    nodes = os.environ.get("INITIAL_CLUSTER_SIZE") or os.environ.get("NODE_COUNT")
    if not words or os.path.basename(words[0]) != "torchrun" or not nodes or any(
            w.startswith(("--nnodes", "--rdzv", "--master_addr", "--standalone")) for w in words):
        return command
    extra = [f"--nnodes={nodes}", f"--node_rank={os.environ.get('NODE_RANK', '0')}",
             f"--master_addr={_master_address()}", "--master_port=29400"]
    return shlex.join([words[0], *extra, *words[1:]])


def run_command(command: str, argv: Sequence[str]) -> int:
    """The command through the shell (as ADS runs it), the run's arguments after it; its exit code."""
    import shlex
    import subprocess

    line = launch_command(command) + "".join(f" {shlex.quote(a)}" for a in argv)
    print(f"jobctl driver: {line}", file=sys.stderr)
    sys.stderr.flush()
    return subprocess.run(["/bin/sh", "-c", line], check=False).returncode


def read_json(uri: str) -> Any:
    """The JSON object at oci://bucket@namespace/name, or None when there is none."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="jobctl-") as scratch:
        path = os.path.join(scratch, "object.json")
        try:
            _fetch_one(uri, path)
        except FileNotFoundError:
            return None
        except Exception as exc:  # the SDK's 404 (ObjectNotFound); anything else is an error
            if getattr(exc, "status", None) == 404:
                return None
            raise
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)


def reported(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """A run's metrics: outputs.json's `metrics` object, else its top-level numbers (the client engine's
    select reads them with this too: jobctl.workflow.runner)."""
    nested = outputs.get("metrics")
    if isinstance(nested, dict):
        return dict(nested)
    return {k: v for k, v in outputs.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def finite(value: Any) -> float | None:
    """A reported metric as a finite float, or None: text, booleans, NaN, infinities, and integers too large
    for a float (10**400) are no metric."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def select_best(spec: dict[str, Any]) -> int:
    """JOBCTL_SELECT: the candidate with the best metric (the first in matrix order on a tie) as best.json."""
    import tempfile

    uri = os.path.expandvars(spec["uri"])
    metric, scored, missing = spec["metric"], [], []
    for candidate in spec["candidates"]:
        outputs = read_json(f"{uri}{candidate['slug']}/outputs.json")
        value = reported(outputs).get(metric) if isinstance(outputs, dict) else None
        number = finite(value)
        if number is None:
            said = "no outputs.json" if outputs is None else f"no finite number {metric}"
            missing.append(f"{candidate['step']}: {said}")
            continue
        scored.append((number, candidate, outputs))
    if not scored:
        print(f"jobctl driver: no run reported {metric!r} ({'; '.join(missing)}); write "
              f'{{"{metric}": 0.9}} to outputs.json with jobctl.outputs.write', file=sys.stderr)
        return 1
    pick = max if spec.get("goal", "max") == "max" else min
    value, candidate, outputs = next(s for s in scored if s[0] == pick(v for v, _, _ in scored))
    best = {"step": candidate["step"], "key": candidate["key"], "env": candidate["env"], "outputs": outputs,
            "metrics": reported(outputs), "run": {"id": "", "name": candidate["step"]}}
    with tempfile.TemporaryDirectory(prefix="jobctl-") as scratch:
        with open(os.path.join(scratch, "best.json"), "w", encoding="utf-8") as fh:
            json.dump(best, fh, sort_keys=True)
        upload(scratch, uri)
    print(f"jobctl driver: selected {candidate['step']} ({candidate['key']}) with {metric}={value:g}"
          + (f"; without it: {', '.join(missing)}" if missing else ""), file=sys.stderr)
    return 0


def fill_refs(refs: dict[str, Any], run_uri: str, args: list[str]) -> list[str]:
    """JOBCTL_REFS: set each variable from the earlier steps' best.json; the run's arguments, filled in too."""
    picks: dict[str, Any] = {}

    def value(piece: list[str]) -> str:
        if piece[0] == "text":
            return piece[1]
        if piece[0] == "env":
            return os.environ.get(piece[1], "")
        _, step, part, key = piece
        if step not in picks:
            picks[step] = read_json(f"{os.path.expandvars(run_uri)}{step}/best.json")
            if picks[step] is None:
                raise RuntimeError(f"step {step!r} has not selected a run (no best.json)")
        found: Any = picks[step].get(part) or {}
        for name in key.split(".") if part == "outputs" else [key]:
            found = found.get(name) if isinstance(found, dict) else None
        if found is None:
            raise RuntimeError(f"the pick of step {step!r} has no {part}.{key}")
        return found if isinstance(found, str) else json.dumps(found)

    for name, pieces in refs.get("env", {}).items():
        os.environ[name] = "".join(value(p) for p in pieces)
    return args if refs.get("args") is None else ["".join(value(p) for p in pieces) for pieces in refs["args"]]


def _select(spec: str) -> int:
    try:
        return select_best(json.loads(spec))
    except Exception as exc:
        print(f"jobctl driver: selecting failed: {redact(str(exc))}", file=sys.stderr)
        return 1


def main() -> int:
    env = os.environ
    if env.get("JOBCTL_SELECT"):
        return _select(env["JOBCTL_SELECT"])
    here = os.path.dirname(os.path.abspath(__file__))  # <start>/<root>/.jobctl
    root = os.path.dirname(here)
    start = os.path.dirname(root)  # where the artifact is unpacked: what the paths below are relative to
    if env.get("JOBCTL_GIT_URL"):
        try:  # into the artifact's root, which holds nothing else: no clash with the job's own name
            start = clone(env["JOBCTL_GIT_URL"], env.get("JOBCTL_GIT_BRANCH"), env.get("JOBCTL_GIT_COMMIT"),
                          env.get("JOBCTL_GIT_SECRET_ID"), root)
        except Exception as exc:  # no code to run: the run fails, saying why
            print(f"jobctl driver: {redact(str(exc))}", file=sys.stderr)
            return 1
    entry = os.path.join(start, env.get("JOBCTL_ENTRYPOINT") or ".")
    workdir = os.path.abspath(os.path.join(start, env.get("JOBCTL_WORKING_DIR") or "."))
    try:
        os.chdir(workdir)
    except OSError as exc:
        print(f"jobctl driver: cannot run in the working directory {workdir}: {exc.strerror}", file=sys.stderr)
        return 1
    paths = [os.path.abspath(p) for p in (env.get("JOBCTL_PYTHON_PATH") or "").split(":") if p]
    # as `python ENTRY` would have it (its directory first, in place of this driver's), then the working
    # directory and pythonPath, which PYTHONPATH passes on to subprocesses
    sys.path[0:1] = [os.path.dirname(entry), workdir, *paths]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [env.get("PYTHONPATH")])])
    try:
        if env.get("JOBCTL_REFS"):
            sys.argv[1:] = fill_refs(json.loads(env["JOBCTL_REFS"]), env.get("JOBCTL_WORKFLOW_RUN_URI", ""),
                                     sys.argv[1:])
        install(env.get("JOBCTL_PIP_REQUIREMENTS"), env.get("JOBCTL_PIP_PACKAGES"))
        if env.get("JOBCTL_INPUTS"):
            fetch(json.loads(env["JOBCTL_INPUTS"]))
    except Exception as exc:  # the code would not find what it needs: the run fails, saying why
        print(f"jobctl driver: {redact(str(exc))}", file=sys.stderr)
        return 1
    if env.get("JOBCTL_COMMAND"):
        code = run_command(env["JOBCTL_COMMAND"], sys.argv[1:])
    elif env.get("JOBCTL_NOTEBOOK"):
        code = run_notebook(entry, json.loads(env.get("JOBCTL_EXCLUDE_TAGS") or "[]"),
                            env.get("JOBCTL_NOTEBOOK_ENCODING") or "utf-8")
    else:
        code = run_code(entry, env.get("JOBCTL_ENTRY_FUNCTION"), sys.argv[1:])
    sys.stdout.flush()
    directory, uri = env.get("JOBCTL_UPLOAD_DIR") or ".", env.get("JOBCTL_UPLOAD_URI")
    if uri:  # from the working directory as it was before the code ran: the code may have changed it
        target = os.path.expandvars(uri)
        try:
            count = upload(os.path.join(workdir, directory), target)
            print(f"jobctl driver: uploaded {count} file(s) from {directory} to {target}", file=sys.stderr)
        except Exception as exc:  # the code's result stands; a failed upload fails a run that succeeded
            print(f"jobctl driver: uploading {directory} to {target} failed: {exc}", file=sys.stderr)
            code = code or 1
    return code


if __name__ == "__main__":
    sys.exit(main())
