"""Secrets: masked in every output unless --show-secrets, never in jobctl's own files or debug output,
private state on disk, and artifacts that leave out VCS data, env files, keys and .jobctlignore'd paths.

What the local state database holds: the job's env and each run's env, secrets included — the local
runner needs them to start runs, and `--show-secrets` reads them back. So `state.db` (and its WAL) is
the one file allowed to contain them, and it is 0600 inside a 0700 directory. Nothing else jobctl
writes (run logs, supervisor logs, the parse cache, artifacts) may contain a secret value.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobctl.artifact import build_artifact
from jobctl.secrets import is_secret, mask_env
from jobctl.source import ArtifactError
from jobctl.testing.fake_oci import FakeOCI
from tests.conftest import EXAMPLES, Result, run_jobctl

Runner = Callable[..., Result]
FROM_ENV = "tok-from-the-environment-7f3a"  # interpolated into the spec from $SECRET_SOURCE
LITERAL = "pw-written-in-the-spec-91c2"
CHANGED = "pw-changed-in-the-spec-55d0"
RUN_SECRET = "run-override-secret-b6e4"
SECRETS = (FROM_ENV, LITERAL, CHANGED, RUN_SECRET)
SPEC = """\
apiVersion: jobctl/v1
kind: Job
metadata: {{name: secretive}}
spec:
  compartmentId: ${{OCI_COMPARTMENT_ID:-ocid1.compartment.oc1..placeholder}}
  projectId: ${{OCI_PROJECT_ID:-ocid1.datascienceproject.oc1.iad.placeholder}}
  infrastructure: {{shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}}
  logging: {{logGroupId: ocid1.loggroup.oc1.iad.secrets, autoCreateLog: true}}
  runtime:
    type: python
    source: ./hello.py
    env:
      API_TOKEN: ${{SECRET_SOURCE}}
      DB_PASSWORD: {password}
      aws_secret_access_key: {password}-2
      MODEL: visible-model
"""


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "hello.py").write_text((EXAMPLES / "hello" / "hello.py").read_text())
    (tmp_path / "job.yaml").write_text(SPEC.format(password=LITERAL))
    (tmp_path / "changed.yaml").write_text(SPEC.format(password=CHANGED))
    monkeypatch.setenv("SECRET_SOURCE", FROM_ENV)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- masking ----------------------------------------------------------------------------------------------

MASKED_COMMANDS = {
    "validate": ["validate", "job.yaml"],
    "validate -o json": ["validate", "job.yaml", "-o", "json"],
    "plan": ["plan", "job.yaml"],
    "plan -o json": ["plan", "job.yaml", "-o", "json"],
    "plan -o yaml": ["plan", "job.yaml", "-o", "yaml"],
    "apply": ["apply", "job.yaml"],
    "plan (secret changed)": ["plan", "changed.yaml"],
    "plan -o json (secret changed)": ["plan", "changed.yaml", "-o", "json"],
    "jobs -o json": ["-o", "json", "jobs"],
    "jobs -o yaml": ["-o", "yaml", "jobs"],
    "get job": ["get", "secretive"],
    "get job -o json": ["get", "secretive", "-o", "json"],
    "get job -o yaml": ["get", "secretive", "-o", "yaml"],
    "run --wait": ["run", "secretive", "--env", f"RUN_TOKEN={RUN_SECRET}", "--wait"],
    "run -o json": ["run", "secretive", "--env", f"RUN_TOKEN={RUN_SECRET}", "--wait", "-o", "json"],
    "run --follow -o jsonl": ["run", "secretive", "--env", f"RUN_TOKEN={RUN_SECRET}", "--follow", "-o", "jsonl"],
    "runs": ["runs"],
    "runs -o json": ["runs", "-o", "json"],
    "runs -o yaml": ["runs", "-o", "yaml"],
    "get run": ["get", "{run}"],
    "get run -o json": ["get", "{run}", "-o", "json"],
    "get run -o yaml": ["get", "{run}", "-o", "yaml"],
    "logs": ["logs", "{run}"],
    "apply -o json (secret changed)": ["apply", "changed.yaml", "--yes", "-o", "json"],
}
REVEALED_COMMANDS = {
    "plan -o json --show-secrets": (["plan", "job.yaml", "-o", "json", "--show-secrets"], [LITERAL, CHANGED]),
    "get job -o json --show-secrets": (["get", "secretive", "-o", "json", "--show-secrets"], [FROM_ENV, CHANGED]),
    "runs -o json --show-secrets": (["runs", "-o", "json", "--show-secrets"], [RUN_SECRET, FROM_ENV]),
    "get run --show-secrets": (["get", "{run}", "--show-secrets"], [RUN_SECRET]),
}


def test_secret_env_values_are_masked_in_every_output_unless_asked(jobctl: Runner, project: Path) -> None:
    seen: dict[str, Result] = {}
    run_id = ""
    for label, args in MASKED_COMMANDS.items():
        result = jobctl(*[a.replace("{run}", run_id) for a in args])
        assert result.exit_code == 0, f"{label}: {result.stderr}"
        seen[label] = result
        if label == "run -o json":
            run_id = json.loads(result.stdout)["items"][0]["id"]
    leaks = {label: leaked(r.stdout + r.stderr) for label, r in seen.items() if leaked(r.stdout + r.stderr)}
    assert not leaks, f"secret values printed by: {leaks}"
    assert "(sensitive)" in seen["plan"].stdout
    assert json.loads(seen["get job -o json"].stdout)["definition"]["runtime"]["env"]["API_TOKEN"] == "(sensitive)"
    assert json.loads(seen["get job -o json"].stdout)["definition"]["runtime"]["env"]["MODEL"] == "visible-model"
    assert "DB_PASSWORD" in seen["plan (secret changed)"].stdout  # the change is shown, its values are not

    for label, (args, expected) in REVEALED_COMMANDS.items():
        result = jobctl(*[a.replace("{run}", run_id) for a in args])
        assert result.exit_code == 0, f"{label}: {result.stderr}"
        for secret in expected:
            assert secret in result.stdout, f"{label} does not show {secret!r} with --show-secrets"


COPIED = "copied-secret-value-3e8d"
COPIES_SPEC = """\
apiVersion: jobctl/v1
kind: Job
metadata:
  name: copies
  description: uses {secret} for the database
spec:
  infrastructure: {{shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}}
  runtime:
    type: python
    source: ./hello.py
    env:
      DB_PASS: {secret}
      CONNECTION: postgres://app:{secret}@db/prod
      QUOTED_TOKEN: 'QX"zy\\wv''ut'
    args: ["--password", "{secret}", 'QX"zy\\wv''ut']
"""


def test_a_secret_value_is_masked_wherever_it_was_copied(jobctl: Runner, project: Path) -> None:
    """Issue 12 item 9: masking by value, not only by name (DB_PASS's value copied into another env var,
    args and the description was printed by plan, markdown plans, get and -o json)."""
    (project / "copies.yaml").write_text(COPIES_SPEC.format(secret=COPIED))
    outputs = {}
    for args in (["plan", "copies.yaml"], ["plan", "copies.yaml", "-o", "markdown"],
                 ["plan", "copies.yaml", "-o", "json"], ["apply", "copies.yaml"], ["get", "copies"],
                 ["get", "copies", "-o", "json"], ["-o", "yaml", "jobs"],
                 ["run", "copies", "--env", f"EXTRA={COPIED}", "--wait", "-o", "json"], ["runs", "-o", "json"]):
        result = jobctl(*args)
        assert result.exit_code == 0, f"{args}: {result.stderr}"
        outputs[" ".join(args)] = result.stdout + result.stderr
    assert not [command for command, text in outputs.items() if COPIED in text], outputs
    # quotes, a backslash; upper case, because local ids hold base-36 time in lower case ("job-mx2vibqx...")
    assert not [command for command, text in outputs.items() if "QX" in text], outputs
    assert "postgres://app:(sensitive)@db/prod" in outputs["plan copies.yaml"]
    shown = json.loads(jobctl("get", "copies", "-o", "json", "--show-secrets").stdout)
    assert shown["definition"]["runtime"]["env"]["CONNECTION"] == f"postgres://app:{COPIED}@db/prod"


def test_a_listing_masks_a_secret_value_in_a_run_printed_before_the_run_that_holds_it(
        jobctl: Runner, project: Path) -> None:
    """Red team, session 14: a listing (newest first) printed a run whose env copies another run's secret before it
    read that run, so the copy was printed in clear; a page of runs is now read before any of it is printed."""
    (project / "copies.yaml").write_text(COPIES_SPEC.format(secret=COPIED))
    assert jobctl("apply", "copies.yaml").exit_code == 0
    assert jobctl("run", "copies", "-q").exit_code == 0
    assert jobctl("run", "copies", "-q", "--env", "DB_PASS=other-value-9k2m", "--env", f"NOTE={COPIED}").exit_code == 0
    for args in (["runs", "-o", "json"], ["runs", "-o", "yaml"], ["runs", "--all", "-o", "json"]):
        listed = run_jobctl(*args)  # a process of its own: it knows only what it reads
        assert listed.returncode == 0, listed.stderr
        assert "NOTE" in listed.stdout
        assert COPIED not in listed.stdout, args


def test_a_matrix_value_holding_a_secret_value_is_named_by_its_place(jobctl: Runner, project: Path) -> None:
    """Red team, session 14: a run's name (its OCI display name) carried a matrix value equal to a secret."""
    (project / "copies.yaml").write_text(COPIES_SPEC.format(secret=COPIED))
    assert jobctl("apply", "copies.yaml").exit_code == 0
    started = jobctl("run", "copies", "--matrix", f"X={COPIED},plain", "--name", "m", "-o", "json", "--show-secrets")
    assert started.exit_code == 0, started.stderr
    assert sorted(r["name"] for r in json.loads(started.stdout)["items"]) == ["m-X1", "m-plain"]


@pytest.mark.parametrize("args", [("--timeout", "zq9secret-1", "--wait"), ("--max-parallel", "zq9secret-1"),
                                  ("-o", "zq9secret-1")], ids=["timeout", "max-parallel", "output"])
def test_an_option_error_does_not_quote_a_secret_value_given_on_the_same_line(
        jobctl: Runner, project: Path, args: tuple[str, ...]) -> None:
    """Red team, session 14: `run X --env DB_TOKEN=S --timeout S` said "invalid duration 'S'": click checks the
    options before the command reads its --env."""
    result = jobctl("run", "secretive", "--env", "DB_TOKEN=zq9secret-1", *args)
    assert result.exit_code == 2
    assert "zq9secret" not in result.stdout + result.stderr
    assert "(sensitive)" in result.stderr


def test_validate_errors_do_not_quote_a_secret_value(jobctl: Runner, project: Path) -> None:
    text = COPIES_SPEC.format(secret=COPIED).replace("ocpus: 1", f"ocpus: {COPIED}")
    (project / "bad.yaml").write_text(text)
    for args in (["validate", "bad.yaml"], ["validate", "bad.yaml", "-o", "json"], ["plan", "bad.yaml"]):
        result = jobctl(*args)
        assert result.exit_code == 3, result.stderr
        assert "ocpus" in result.stdout + result.stderr
        assert COPIED not in result.stdout + result.stderr


@pytest.mark.parametrize("field", ["labels", "definedTags"])
@pytest.mark.parametrize("label", [f"{COPIED}", f"prefix-{COPIED}", "key"])
def test_a_secret_value_in_a_tag_is_refused_where_it_is(jobctl: Runner, project: Path, label: str, field: str) -> None:
    """Labels and defined tags become OCI tags, readable by anyone who can read the job."""
    entry = f"{COPIED}: v" if label == "key" else f"db: {label}"  # the secret as the key, or in the value
    tags = f"{{{entry}}}" if field == "labels" else f"{{Ops: {{{entry}}}}}"
    text = COPIES_SPEC.format(secret=COPIED).replace("  name: copies\n", f"  name: copies\n  {field}: {tags}\n")
    (project / "labelled.yaml").write_text(text)
    result = jobctl("validate", "labelled.yaml")
    assert result.exit_code == 3
    assert "labelled.yaml:5:" in result.stderr
    assert f"a {'label' if field == 'labels' else 'defined tag'} cannot hold a secret value" in result.stderr
    assert COPIED not in result.stdout + result.stderr


@pytest.mark.parametrize("name", ["DB_PASS", "DB_PASSWD", "MYSQL_PWD", "AUTH_HEADER", "PRIVATE_PEM", "api_key",
                                  "apiKey", "aws_secret_access_key", "GH_TOKEN"])
def test_secret_names(name: str) -> None:
    assert is_secret(name)
    assert mask_env({name: "hunter2!"}) == {name: "(sensitive)"}


@pytest.mark.parametrize("name", ["MONKEY_MODE", "AUTHOR", "KEYBOARD", "PASSPORT", "MODEL"])
def test_names_that_only_contain_a_secret_word_are_not_secret(name: str) -> None:
    assert not is_secret(name)


def test_a_rejected_env_option_does_not_echo_the_secret_value(jobctl: Runner, project: Path) -> None:
    assert jobctl("apply", "job.yaml").exit_code == 0
    for bad in (f"MY-API-TOKEN={RUN_SECRET}", f"1_TOKEN={RUN_SECRET}", f"DB PASSWORD={RUN_SECRET}"):
        result = jobctl("run", "secretive", "--env", bad)
        assert result.exit_code == 2, result.stderr
        assert "--env" in result.stderr
        assert RUN_SECRET not in result.stderr, f"the usage error for --env {bad!r} printed the value"


# --- jobctl's own files -----------------------------------------------------------------------------------

def files_containing(root: Path, secret: str) -> list[Path]:
    """Files under root holding `secret`. A file may vanish while we look (SQLite removes state.db-wal
    when a finished run's supervisor closes the last connection): it then holds nothing."""
    found = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and secret.encode() in path.read_bytes():
                found.append(path)
        except FileNotFoundError:
            continue
    return sorted(found)


def test_no_secret_reaches_jobctl_files_other_than_the_private_state_db(
    jobctl: Runner, project: Path, isolated_env: Path,
) -> None:
    assert jobctl("apply", "job.yaml").exit_code == 0
    assert jobctl("run", "secretive", "--env", f"RUN_TOKEN={RUN_SECRET}", "--wait").exit_code == 0
    verbose = run_jobctl("-vv", "run", "secretive", "--env", f"RUN_TOKEN={RUN_SECRET}", "--follow", cwd=project)
    assert verbose.returncode == 0, verbose.stderr
    assert not leaked(verbose.stdout + verbose.stderr), "-vv printed a secret"
    assert "jobctl:" in verbose.stderr  # debug output was on

    home, cache = isolated_env, Path(os.environ["JOBCTL_CACHE_DIR"])
    allowed = {home / "state.db", home / "state.db-wal"}
    for secret in (FROM_ENV, LITERAL, RUN_SECRET):
        holders = set(files_containing(home, secret))
        assert holders <= allowed, f"{secret!r} written to {sorted(holders - allowed)}"
        for holder in holders:
            with contextlib.suppress(FileNotFoundError):  # as in files_containing
                assert stat.S_IMODE(holder.stat().st_mode) == 0o600, holder
    assert not files_containing(cache, FROM_ENV), "the parse cache holds an interpolated secret"
    assert not files_containing(cache, RUN_SECRET)


# --- debug output against OCI -----------------------------------------------------------------------------

@pytest.fixture
def fake_oci_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeOCI, Path]]:
    with FakeOCI() as fake:
        config = fake.write_config(tmp_path / "oci")
        for name, value in {
            "JOBCTL_BACKEND": "oci", "OCI_CLI_CONFIG_FILE": str(config), "JOBCTL_OCI_ENDPOINT": fake.url,
            "JOBCTL_OCI_RETRY": "fast", "JOBCTL_OCI_POLL_SECONDS": "0.02", "JOBCTL_OCI_LOG_SETTLE": "0.2",
            "JOBCTL_OCI_LOG_WAIT": "1",
            "OCI_COMPARTMENT_ID": "ocid1.compartment.oc1..secrets",
            "OCI_PROJECT_ID": "ocid1.datascienceproject.oc1.iad.secrets",
        }.items():
            monkeypatch.setenv(name, value)
        yield fake, config


def test_verbose_output_against_oci_has_no_auth_headers_key_material_or_secrets(
    fake_oci_env: tuple[FakeOCI, Path], project: Path,
) -> None:
    fake, config = fake_oci_env
    # the fake's default workload echoes its env; this one keeps to itself, so any secret seen came from jobctl
    fake.workload = lambda run: (["working quietly"], None if run.env.get("SLEEP") else 0)
    key_file = next(line.split("=", 1)[1].strip() for line in config.read_text().splitlines()
                    if line.startswith("key_file"))
    key_lines = [line for line in Path(key_file).read_text().splitlines() if line and "-----" not in line]
    fingerprint = next(line.split("=", 1)[1].strip() for line in config.read_text().splitlines()
                       if line.startswith("fingerprint"))
    forbidden = ("Authorization", "authorization", "Signature", "signature=", "keyId", "BEGIN", "PRIVATE KEY",
                 "x-content-sha256", fingerprint, *key_lines[:3])
    outputs = []
    for args in (["apply", "job.yaml"], ["run", "secretive", "--env", f"RUN_TOKEN={RUN_SECRET}", "--wait"],
                 ["logs", "--job", "secretive"], ["run", "secretive", "--env", "SLEEP=1"],
                 ["cancel", "--job", "secretive", "--wait"], ["jobs"], ["runs"], ["get", "secretive"]):
        result = run_jobctl("-vv", *args, cwd=project)
        assert result.returncode in (0, 8), result.stderr
        assert "jobctl:" in result.stderr
        outputs.append((args[0], result.stdout + result.stderr))
    found = {command: [f for f in forbidden if f in text] for command, text in outputs}
    assert not any(found.values()), f"debug output showed credentials: {found}"
    assert not {command: leaked(text) for command, text in outputs if leaked(text)}
    # the secrets did reach OCI, where the job needs them
    [job] = [j for j in fake.jobs() if j["lifecycleState"] == "ACTIVE"]
    assert job["jobConfigurationDetails"]["environmentVariables"]["API_TOKEN"] == FROM_ENV


# --- modes on disk ----------------------------------------------------------------------------------------

def test_a_state_directory_other_users_share_is_refused_not_locked(tmp_path: Path) -> None:
    """Red team: JOBCTL_HOME=/tmp (or a team's directory) was made 0700, locking everyone else out of it."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    result = run_jobctl("jobs", env={"JOBCTL_HOME": str(shared)})
    assert (result.returncode, result.stderr) == (6, (
        f"Error: {shared} is a directory other users share (mode 1777): jobctl keeps private files in it\n"
        "Hint: point it at a directory of your own\n"))
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777


def test_local_state_is_private_even_with_a_permissive_umask(jobctl: Runner, project: Path, isolated_env: Path) -> None:
    """The database is created by one process and kept open by others (here: this test process, as a
    long `jobctl run` or a supervisor would), so its WAL lives on with whatever mode it was created with."""
    home = isolated_env
    home.chmod(0o755)  # pre-existing and too open: jobctl tightens it
    previous = os.umask(0)
    try:
        assert jobctl("apply", "job.yaml").exit_code == 0  # in-process: the connection stays open
        started = run_jobctl("run", "secretive", "--env", "SLEEP=5", cwd=project)
        assert started.returncode == 0, started.stderr
        run_id = started.stdout.strip()
        modes = {str(p.relative_to(home)): stat.S_IMODE(p.stat().st_mode)
                 for p in [home, *home.glob("state.db*"), *home.glob("runs/*"), *home.glob("artifacts/*")]}
        canceled = run_jobctl("cancel", run_id, "--wait", cwd=project)
        assert canceled.returncode == 8, canceled.stderr
    finally:
        os.umask(previous)
    assert modes["."] == 0o700
    assert modes["state.db"] == 0o600
    assert modes[f"runs/{run_id}"] == 0o700
    wrong = {name: oct(mode) for name, mode in modes.items()
             if (name.startswith("state.db") and mode != 0o600) or (name.startswith("artifacts/") and mode != 0o700)}
    assert not wrong, f"state files readable or writable by others: {wrong}"
    cache = Path(os.environ["JOBCTL_CACHE_DIR"])
    cached = list(cache.rglob("*"))
    assert not cached or stat.S_IMODE(cache.stat().st_mode) == 0o700


# --- what artifacts leave out -----------------------------------------------------------------------------

KEPT = ["main.py", "keep.py", "sub/ok.py", "sub/environment.py", "config/settings.toml"]
ALWAYS_LEFT_OUT = [
    ".git/config", ".git/objects/ab/cdef", "sub/.git/HEAD", ".hg/store", ".svn/entries",
    ".env", ".env.local", "sub/.env", "server.pem", "sub/tls.key", "id_rsa", "id_rsa.pub", "id_ed25519",
    "__pycache__/main.cpython-311.pyc", "sub/mod.pyc", ".venv/bin/python", ".DS_Store", ".jobctlignore",
    # issue 12 item 11: the deny-list missed these
    "id_ecdsa", "sub/id_dsa", ".netrc", ".git-credentials", ".pypirc", ".npmrc", ".aws/credentials",
    ".oci/config", "sub/.oci/key.txt", "cert.p12", "sub/cert.pfx", ".ssh/known_hosts",
    # and these, from the red-team review: case variants and more credential files
    "Secret.PEM", "ID_RSA", "server.KEY", ".pgpass", ".kube/config", "kubeconfig", ".gnupg/pubring.kbx",
    "credentials.json", "terraform.tfstate", ".htpasswd",
]
IGNORED_BY_FILE = {  # .jobctlignore line -> a path it must leave out
    "data/": "data/train.parquet",
    "*.csv": "notes.csv",
    "*.log": "logs/deep/app.log",
    "secrets": "secrets/token.json",
    "/build": "build/out.bin",
    "docs/**": "docs/a/b.md",
    "credentials.json": "config/credentials.json",
    "**/fixtures/*.bin": "sub/deep/fixtures/blob.bin",  # gitignore semantics (pathspec), not fnmatch
    "cache/\n!cache/keep.txt": "cache/drop.txt",  # '!' re-includes; the pattern pair leaves the rest out
}


def make_source(root: Path) -> Path:
    source = root / "src"
    for name in [*KEPT, *ALWAYS_LEFT_OUT, *IGNORED_BY_FILE.values()]:
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {name}\n")
    (source / ".jobctlignore").write_text("# what the job does not need\n\n" + "\n".join(IGNORED_BY_FILE) + "\n")
    return source


def zip_names(source: Path) -> list[str]:
    artifact = build_artifact(source)
    buffer = io.BytesIO()
    artifact.write_to(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        names = archive.namelist()
    assert names == [e.name for e in artifact.entries], "the zip and the digest must cover the same entries"
    assert all(name.startswith(f"{source.name}/") for name in names)  # OCI's one root directory
    return [name.removeprefix(f"{source.name}/") for name in names]


def test_artifacts_leave_out_vcs_data_env_files_and_keys(tmp_path: Path) -> None:
    names = zip_names(make_source(tmp_path))
    assert not [n for n in names if n in ALWAYS_LEFT_OUT], names
    assert set(KEPT) <= set(names)


@pytest.mark.parametrize("pattern", sorted(IGNORED_BY_FILE))
def test_artifacts_follow_each_jobctlignore_line(pattern: str, tmp_path: Path) -> None:
    names = zip_names(make_source(tmp_path))
    assert IGNORED_BY_FILE[pattern] not in names, f".jobctlignore line {pattern!r} did not leave out its path"
    assert set(KEPT) <= set(names)


def test_a_negated_jobctlignore_line_re_includes_a_file(tmp_path: Path) -> None:
    source = tmp_path / "src"
    for name in ("main.py", "models/a.bin", "models/keep.bin"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(name)
    (source / ".jobctlignore").write_text("models/*\n!models/keep.bin\n")
    assert zip_names(source) == ["main.py", "models/keep.bin"]


SINGLE_FILE_SPEC = """\
apiVersion: jobctl/v1
kind: Job
metadata: {{name: single}}
spec:
  infrastructure: {{shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}}
  runtime: {{type: {kind}, source: {source}}}
"""


@pytest.mark.parametrize("case", ["link-to-key-outside", "key-file", "ignored-by-file", "bad-name-in-dir"])
def test_validate_and_plan_refuse_the_same_sources(case: str, jobctl: Runner, tmp_path: Path) -> None:
    """A single-file source skipped every exclusion; a symlinked one uploaded its target; validate did
    not run plan's source checks; a non-UTF-8 file name crashed plan (UnicodeEncodeError)."""
    project = tmp_path / "project"
    project.mkdir()
    outside = tmp_path / "home" / ".ssh"
    outside.mkdir(parents=True)
    (outside / "id_rsa.py").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    kind, source, expected = {
        "link-to-key-outside": ("python", "./main.py", "is a symlink to"),
        "key-file": ("shell", "./id_ecdsa.sh", "never uploads"),
        "ignored-by-file": ("python", "./scratch.py", "excluded by .jobctlignore"),
        "bad-name-in-dir": ("python", "./app", "is not valid UTF-8"),
    }[case]
    if case == "link-to-key-outside":
        (project / "main.py").symlink_to(outside / "id_rsa.py")
    elif case == "key-file":
        (project / "id_ecdsa.sh").write_text("echo hi\n")
    elif case == "ignored-by-file":
        (project / "scratch.py").write_text("print(1)\n")
        (project / ".jobctlignore").write_text("scratch.py\n")
    else:
        (project / "app").mkdir()
        (project / "app" / "main.py").write_text("print(1)\n")
        (project / "app" / os.fsdecode(b"caf\xe9.py")).write_text("x = 1\n")
        source = "./app, entrypoint: main.py"
    (project / "job.yaml").write_text(SINGLE_FILE_SPEC.format(kind=kind, source=source))
    for command in ("validate", "plan"):
        result = jobctl(command, str(project / "job.yaml"))
        assert result.exit_code == 3, f"{command}: {result.stdout}{result.stderr}"
        assert "Traceback" not in result.stderr
        assert "job.yaml:6:" in result.stderr, result.stderr
        assert "spec.runtime.source" in result.stderr
        assert expected in result.stderr, result.stderr
        assert "BEGIN OPENSSH" not in result.stdout + result.stderr


def test_a_link_to_a_left_out_file_is_left_out_too(tmp_path: Path) -> None:
    """notes.txt -> secret.pem uploaded the key under a harmless name."""
    source = tmp_path / "src"
    (source / ".aws").mkdir(parents=True)
    (source / "main.py").write_text("print(1)\n")
    (source / "secret.pem").write_text("KEY\n")
    (source / ".aws" / "credentials").write_text("KEY\n")
    (source / "notes.txt").symlink_to(source / "secret.pem")
    (source / "creds-link").symlink_to(source / ".aws" / "credentials")
    assert zip_names(source) == ["main.py"]


@pytest.mark.parametrize("case", ["ignored-entrypoint", "key-entrypoint", "single-file-under-ssh"])
def test_an_entrypoint_or_source_the_artifact_leaves_out_is_refused_by_validate(
    case: str, jobctl: Runner, tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    (project / "src" / ".ssh").mkdir(parents=True)
    (project / "src" / "main.py").write_text("print(1)\n")
    (project / "src" / "run.key").write_text("print(1)\n")
    (project / "src" / ".ssh" / "tool.py").write_text("print(1)\n")
    source, entrypoint, expected = {
        "ignored-entrypoint": ("./src", "main.py", "left out of the artifact"),
        "key-entrypoint": ("./src", "run.key", "left out of the artifact"),
        "single-file-under-ssh": ("./src/.ssh/tool.py", None, "never uploads from"),
    }[case]
    if case == "ignored-entrypoint":
        (project / "src" / ".jobctlignore").write_text("*.py\n")
    runtime = f"type: python, source: {source}" + (f", entrypoint: {entrypoint}" if entrypoint else "")
    (project / "job.yaml").write_text(SINGLE_FILE_SPEC.replace("type: {kind}, source: {source}", runtime)
                                      .replace("{{", "{").replace("}}", "}"))
    for command in ("validate", "plan"):
        result = jobctl(command, str(project / "job.yaml"))
        assert result.exit_code == 3, f"{command}: {result.stdout}{result.stderr}"
        assert expected in result.stderr, result.stderr


def test_artifacts_never_include_files_outside_the_source(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    (source / "sub" / "again").symlink_to(source / "config", target_is_directory=True)
    assert not [n for n in zip_names(source) if n.startswith("sub/again")], "a linked directory was copied in"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "private.txt").write_text("not part of the job\n")
    (source / "sub" / "escape").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ArtifactError, match="outside the source directory"):
        build_artifact(source)


def test_sdk_loggers_stay_quiet_even_when_the_root_logger_is_at_debug(
    fake_oci_env: tuple[FakeOCI, Path], project: Path,
) -> None:
    """docs/security.md: the SDK's and urllib3's loggers are held at WARNING, so a root logger at DEBUG
    (a sitecustomize, a notebook) shows none of their request logging."""
    program = ("import logging, sys; logging.basicConfig(level=logging.DEBUG, format='%(name)s: %(message)s');"
               "sys.argv = ['jobctl', '-vv', 'jobs']; from jobctl.cli.app import main; main()")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60,
                            cwd=project, check=False)
    assert result.returncode == 0, result.stderr
    assert "jobctl: listing jobs" in result.stderr or "jobctl:" in result.stderr
    sdk_lines = [line for line in result.stderr.splitlines() if line.startswith(("oci", "urllib3", "requests"))]
    assert sdk_lines == [], sdk_lines


LOGGED = "printed-by-the-workload-c3f0"


def test_secret_values_the_workload_prints_are_masked_in_its_logs(jobctl: Runner, project: Path) -> None:
    (project / "leaky.py").write_text("import os\nprint('token is', os.environ['LEAK_TOKEN'])\n"
                                      "print('done')\n")
    (project / "leaky.yaml").write_text(
        "apiVersion: jobctl/v1\nkind: Job\nmetadata: {name: leaky}\nspec:\n"
        "  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}\n"
        f"  runtime: {{type: python, source: ./leaky.py, env: {{LEAK_TOKEN: {LOGGED}}}}}\n")
    assert jobctl("apply", "leaky.yaml").exit_code == 0
    followed = jobctl("run", "leaky", "--follow")
    assert followed.exit_code == 0, followed.stderr
    assert "token is (sensitive)" in followed.stdout
    run_id = json.loads(jobctl("-o", "json", "runs", "leaky").stdout)["items"][0]["id"]
    fast = run_jobctl("logs", run_id, cwd=project)  # piped: the byte-copying fast path
    assert fast.returncode == 0, fast.stderr
    flag_sets = (["--tail", "2"], ["-o", "jsonl"], ["--timestamps"], ["--stream", "stdout"], ["--since", "1h"],
                 ["--timestamps", "--stream", "stdout", "--tail", "2"], ["-o", "jsonl", "--tail", "2"])
    for output in (fast.stdout, jobctl("logs", run_id).stdout, *(jobctl("logs", run_id, *f).stdout for f in flag_sets)):
        assert LOGGED not in output
        assert "(sensitive)" in output
    assert f"token is {LOGGED}" in jobctl("logs", run_id, "--show-secrets").stdout


def test_terminal_escapes_in_a_spec_do_not_reach_human_output(jobctl: Runner, project: Path) -> None:
    """From the red-team review: plan printed `env: MODEL=x<ESC>[2Jy`, get printed `Args: <ESC>[31m`."""
    (project / "escapes.yaml").write_text(
        "apiVersion: jobctl/v1\nkind: Job\nmetadata: {name: escapes, description: \"a\\e[2Jb\"}\nspec:\n"
        "  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}\n"
        "  runtime: {type: python, source: ./hello.py, env: {MODEL: \"x\\e[2Jy\"}, args: [\"\\e[31m\"]}\n")
    outputs = [jobctl("plan", "escapes.yaml"), jobctl("apply", "escapes.yaml"), jobctl("get", "escapes")]
    for result in outputs:
        assert result.exit_code == 0, result.stderr
        assert "\x1b" not in result.stdout + result.stderr
    assert "MODEL=x[2Jy" in outputs[0].stdout


def test_a_secret_whose_value_is_a_boolean_is_masked_by_name_and_json_stays_valid(jobctl, tmp_path: Path) -> None:
    spec = tmp_path / "job.yaml"
    (tmp_path / "hello.py").write_text("print('hi')\n")
    spec.write_text("apiVersion: jobctl/v1\nkind: Job\nmetadata: {name: flags}\nspec:\n"
                    "  infrastructure: {shape: VM.Standard2.1}\n"
                    "  runtime: {type: python, source: ./hello.py, env: {FEATURE_TOKEN: true}}\n")
    assert jobctl("apply", str(spec), "--yes").exit_code == 0

    shown = jobctl("get", "flags", "-o", "json")
    jobs = jobctl("jobs", "-o", "json")

    assert json.loads(shown.stdout)["definition"]["runtime"]["env"]["FEATURE_TOKEN"] == "(sensitive)"
    assert json.loads(jobs.stdout)["items"][0]["managed"] is True  # "true" is not replaced everywhere
