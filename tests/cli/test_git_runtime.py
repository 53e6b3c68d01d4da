"""python jobs whose code comes from git (`runtime.git`, ADS's gitPython): cloned by jobctl's driver when
the run starts, at a commit, a branch or the default branch — locally with your git, on OCI (the fake runs
the artifact's code) the same, a private repository with an SSH key from a Vault secret. Issue 15, item 2.
Tests use local repositories: no network."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobctl import driver
from jobctl.testing.fake_oci import FakeOCI
from jobctl.testing.fake_oci.workloads import artifact_workload
from tests.conftest import Result, ads_document, job_document, use_fake_oci

Run = Callable[..., Result]
CODE = 'import os, sys\nprint("{version}", os.path.basename(os.getcwd()), sys.argv[1:])\n'


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> dict[str, Any]:
    """A repository with v1 then v2 on main, and v3 on branch `next`: its path and commits."""
    path = tmp_path / "trainer"
    (path / "src").mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    commits = {}
    for version in ("v1", "v2"):
        (path / "src" / "train.py").write_text(CODE.format(version=version))
        git(path, "add", ".")
        git(path, "commit", "-q", "-m", version)
        commits[version] = git(path, "rev-parse", "HEAD")
    git(path, "checkout", "-q", "-b", "next")
    (path / "src" / "train.py").write_text(CODE.format(version="v3"))
    git(path, "commit", "-q", "-am", "v3")
    git(path, "checkout", "-q", "main")
    return {"url": str(path), **commits}


def spec(tmp_path: Path, name: str, git_fields: dict[str, str], **runtime: Any) -> Path:
    path = tmp_path / "specs" / f"{name}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(job_document(
        name, {"type": "python", "git": git_fields, "entrypoint": "src/train.py", **runtime})))
    return path


def output_of(jobctl: Run, name: str, exit_code: int = 0) -> str:
    ran = jobctl("-o", "json", "run", name, "--wait")
    assert ran.exit_code == exit_code, ran.stderr
    [run] = json.loads(ran.stdout)["items"]
    return str(jobctl("logs", run["id"]).stdout)


@pytest.mark.parametrize("backend", ["local", "oci"])
def test_a_run_clones_the_commit_or_branch_the_spec_names(
    jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo: dict[str, Any], backend: str,
) -> None:
    with FakeOCI() as fake:
        if backend == "oci":
            fake.workload = artifact_workload(fake)
            use_fake_oci(fake, tmp_path, monkeypatch, "git")
        specs = [spec(tmp_path, "pinned", {"url": repo["url"], "commit": repo["v1"], "branch": "next"},
                      workingDir="src", args=["a"]),  # the commit wins over the branch
                 spec(tmp_path, "branch", {"url": repo["url"], "branch": "next"}),
                 spec(tmp_path, "trainer", {"url": repo["url"]})]  # named as the repository (review)
        assert jobctl("apply", *map(str, specs), "--yes").exit_code == 0

        pinned = output_of(jobctl, "pinned")
        assert f"jobctl driver: cloned {repo['url']} at {repo['v1']}" in pinned
        assert "v1 src ['a']" in pinned  # workingDir src, of the repository
        assert "v3 trainer []" in output_of(jobctl, "branch")  # without workingDir: the repository's root
        assert "v2 trainer []" in output_of(jobctl, "trainer")
        plan = jobctl("plan", *map(str, specs), "--detailed-exitcode", "--refresh")
        assert plan.exit_code == 0, plan.stdout  # the git fields read back from the job as written

        if backend == "oci":
            job = next(j for j in fake.jobs() if j["displayName"] == "pinned")
            env = job["jobConfigurationDetails"]["environmentVariables"]
            assert (env["JOBCTL_GIT_URL"], env["JOBCTL_GIT_COMMIT"]) == (repo["url"], repo["v1"])
            assert env["JOB_RUN_ENTRYPOINT"] == "pinned/.jobctl/driver.py"
            names = zipfile.ZipFile(io.BytesIO(fake.artifact(job["id"]) or b"")).namelist()
            assert names == ["pinned/.jobctl/driver.py"]  # the code is in git, not in the artifact


def test_a_clone_that_fails_fails_the_run_saying_why(jobctl: Run, tmp_path: Path, repo: dict[str, Any]) -> None:
    assert jobctl("apply", str(spec(tmp_path, "nobranch", {"url": repo["url"], "branch": "nope"})),
                  "--yes").exit_code == 0
    logs = output_of(jobctl, "nobranch", exit_code=1)
    assert f"jobctl driver: git clone of {repo['url']} at branch nope failed:" in logs
    assert "Remote branch nope not found" in logs


def test_a_commit_the_repository_lacks_fails_the_run_naming_it(jobctl: Run, tmp_path: Path,
                                                                repo: dict[str, Any]) -> None:
    missing = "0123456789abcdef0123456789abcdef01234567"
    assert jobctl("apply", str(spec(tmp_path, "nocommit", {"url": repo["url"], "commit": missing})),
                  "--yes").exit_code == 0
    logs = output_of(jobctl, "nocommit", exit_code=1)
    assert f"jobctl driver: git checkout of commit {missing} (no branch or tag of {repo['url']} holds it?) " \
           "failed:" in logs


def test_a_private_repository_is_cloned_with_the_ssh_key_of_a_vault_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo: dict[str, Any],
) -> None:
    """The driver reads the secret (the fake's GetSecretBundle, through the real SDK) and gives git the key;
    an `ssh` on PATH that records the key and serves the repository stands in for the git host."""
    record = tmp_path / "key-seen"
    ssh = tmp_path / "bin" / "ssh"
    ssh.parent.mkdir()
    ssh.write_text('#!/bin/sh\n'
                   'while [ $# -gt 0 ]; do case "$1" in\n'
                   '  -i) cp "$2" "$RECORD"; echo "$2" > "$RECORD.path"; shift 2;;\n'
                   '  -o) shift 2;; -*) shift;; *) break;; esac; done\n'
                   'shift\nexec sh -c "$*"\n')
    ssh.chmod(ssh.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{ssh.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("RECORD", str(record))
    monkeypatch.delenv("JOBCTL_LOCAL_SECRETS", raising=False)
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "ssh")
        # pasted into Vault without its last newline, which OpenSSH needs (review)
        secret = fake.add_secret(b"-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----")
        work = tmp_path / "run"
        work.mkdir()

        cloned = driver.clone(f"git@git.example.com:{repo['url']}", None, repo["v1"], secret, str(work))

    assert Path(cloned, "src", "train.py").read_text() == CODE.format(version="v1")
    assert record.read_bytes().startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    assert record.read_bytes().endswith(b"-----END OPENSSH PRIVATE KEY-----\n")
    assert not Path(Path(f"{record}.path").read_text().strip()).exists()  # the key is kept only for the clone
    assert fake.count("GET", r"/secretbundles/") == 1


def test_an_ads_git_python_file_runs_and_converts_to_the_same_job(jobctl: Run, tmp_path: Path,
                                                                   repo: dict[str, Any]) -> None:
    ads = tmp_path / "ads.yaml"
    ads.write_text(yaml.safe_dump(ads_document("Git Training", "gitPython", {
        "url": repo["url"], "branch": "next", "entrypoint": "src/train.py", "workingDir": "src",
        "skipMetadataUpdate": True, "conda": {"type": "service", "slug": "generalml_p311_cpu_x86_64_v1"},
        "args": ["--x"]})))
    assert jobctl("apply", str(ads), "--yes", "--set-name", "g").exit_code == 0
    assert "v3 src ['--x']" in output_of(jobctl, "git-training")
    converted = tmp_path / "converted.yaml"
    assert jobctl("convert", str(ads), "-o", str(converted)).exit_code == 0
    runtime = yaml.safe_load(converted.read_text())["spec"]["runtime"]
    assert runtime["git"] == {"url": repo["url"], "branch": "next"}
    assert jobctl("plan", str(converted), "--detailed-exitcode", "--set-name", "g").exit_code == 0


@pytest.mark.parametrize(("runtime", "message"), [
    ({"source": "./x.py"}, "give source or git, not both"),
    ({"type": "shell"}, "git applies only to the python and notebook runtimes"),
    ({"entrypoint": None}, "a git runtime needs entrypoint"),
    ({"entrypoint": "../outside.py"}, "a path in the repository: relative, without '..'"),
    ({"git": {"url": "https://me:s3cret@git.example.com/r.git"}}, "without credentials in it"),
    ({"git": {"url": "https://ghp_t0ken@github.com/o/r.git"}}, "no user or token in an https URL"),  # red team
    ({"git": {"url": "https://example.com/r.git?access_token=t0k"}}, "no query: use secretId"),
])
def test_a_git_runtime_written_wrong_is_a_located_error(jobctl: Run, tmp_path: Path, runtime: dict[str, Any],
                                                        message: str) -> None:
    path = spec(tmp_path, "bad", {"url": "https://example.com/r.git"})
    document = yaml.safe_load(path.read_text())
    document["spec"]["runtime"].update(runtime)
    document["spec"]["runtime"] = {k: v for k, v in document["spec"]["runtime"].items() if v is not None}
    (tmp_path / "specs" / "x.py").write_text("print(1)\n")
    path.write_text(yaml.safe_dump(document))
    result = jobctl("validate", str(path))
    assert result.exit_code == 3
    assert message in result.stderr, result.stderr


def test_exporting_a_git_job_writes_no_source_and_plans_no_changes(jobctl: Run, tmp_path: Path,
                                                                   repo: dict[str, Any]) -> None:
    """Review: the export held the driver as a source beside `git`, which validate refused."""
    path = spec(tmp_path, "pinned", {"url": repo["url"], "commit": repo["v1"]}, workingDir="src")
    assert jobctl("apply", str(path), "--yes", "--set-name", "x").exit_code == 0
    assert jobctl("export", "pinned", "-d", str(tmp_path / "exported")).exit_code == 0
    exported = tmp_path / "exported" / "pinned" / "job.yaml"
    runtime = yaml.safe_load(exported.read_text())["spec"]["runtime"]
    assert "source" not in runtime
    assert runtime["git"] == {"url": repo["url"], "commit": repo["v1"]}
    plan = jobctl("plan", str(exported), "--detailed-exitcode", "--set-name", "x")
    assert plan.exit_code == 0, plan.stdout + plan.stderr
