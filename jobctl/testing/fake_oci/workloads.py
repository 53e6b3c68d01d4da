"""A workload that runs a job's real code, for tests that need what the code does (the fake's default
`echo_workload` only prints the run's configuration).

`artifact_workload(fake)` unpacks the job's uploaded artifact into a temporary directory and runs
`python $JOB_RUN_ENTRYPOINT` from there with the run's environment, as OCI's job runner does. What the
run would write to Object Storage with its resource principal — jobctl's driver uploading `outputDir`
(outputUri) and `jobctl.outputs` writing outputs.json (JOBCTL_OUTPUT_URI) — it writes to a directory
standing in for Object Storage, which the workload then puts into the fake's buckets; a bucket that does
not exist fails the run, as the upload would. The fake's Vault secrets are files the driver reads
(JOBCTL_LOCAL_SECRETS) instead of calling GetSecretBundle: the workload runs while the fake handles a
request, so the run cannot call the fake.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from jobctl.testing.fake_oci.api_objects import store_object
from jobctl.testing.fake_oci.errors import ApiError
from jobctl.testing.fake_oci.lifecycle import Workload, WorkloadRun

if TYPE_CHECKING:
    from jobctl.testing.fake_oci.fake import FakeOCI


def artifact_workload(fake: FakeOCI, timeout: float = 60) -> Workload:
    def run(view: WorkloadRun) -> tuple[list[str], int | None]:
        with tempfile.TemporaryDirectory() as scratch:
            work, store, outputs = (Path(scratch) / part for part in ("work", "object-storage", "outputs"))
            outputs.mkdir()
            with fake.store.lock:
                stored = fake.store.job(view.job_id).artifact
            artifact, entry = (stored.content, stored.filename) if stored else (b"", "")
            if zipfile.is_zipfile(io.BytesIO(artifact)):
                zipfile.ZipFile(io.BytesIO(artifact)).extractall(work)
                entry = view.env.get("JOB_RUN_ENTRYPOINT", "")
            else:  # one file, kept under the name it was uploaded with: the runner runs it
                work.mkdir()
                (work / Path(entry).name).write_bytes(artifact)
            seen = _objects_into(fake, store)  # what the run could read of Object Storage, as it was
            secrets = Path(scratch) / "secrets"  # what the run could read with its resource principal
            secrets.mkdir()
            for secret_id, content in fake.store.secrets.items():
                (secrets / secret_id).write_bytes(content)
            env = {**view.env, "JOB_RUN_OCID": view.id, "JOB_OCID": view.job_id, "PATH": "/usr/bin:/bin",
                   "JOBCTL_OUTPUT_DIR": str(outputs), "JOBCTL_LOCAL_OBJECT_STORE": str(store),
                   "JOBCTL_LOCAL_SECRETS": str(secrets)}
            proc = subprocess.run([sys.executable, entry, *_args(view)], cwd=work, env=env,
                                  capture_output=True, text=True, timeout=timeout, check=False)
            lines, code = proc.stdout.splitlines() + proc.stderr.splitlines(), proc.returncode
            report, uri = outputs / "outputs.json", _filled(view.env.get("JOBCTL_OUTPUT_URI", ""), env)
            uploads = [(path, path.relative_to(store).parts) for path in sorted(store.rglob("*"))
                       if path.is_file() and seen.get(path) != path.read_bytes()]  # what the run wrote
            if report.exists() and uri.startswith("oci://"):
                bucket, rest = uri[len("oci://"):].split("@", 1)
                namespace, _, prefix = rest.partition("/")
                uploads.append((report, (namespace, bucket, *filter(None, prefix.split("/")), "outputs.json")))
            with fake.store.lock:
                for path, (namespace, bucket, *name) in uploads:
                    try:
                        store_object(fake.store, namespace, bucket, "/".join(name), path.read_bytes(),
                                     content_type="application/octet-stream")
                    except ApiError as exc:
                        lines.append(f"upload to oci://{bucket}@{namespace}/ failed: {exc.code}")
                        code = code or 1
            return lines, code
    return run


def _objects_into(fake: FakeOCI, store: Path) -> dict[Path, bytes]:
    """Every object of the fake's buckets as a file under `store` (<namespace>/<bucket>/<name>)."""
    with fake.store.lock:
        objects = {key: stored.content for key, stored in fake.store.objects.items()}
    seen = {}
    for (namespace, bucket, name), content in objects.items():
        if {".", ".."} & {namespace, bucket, *name.split("/")} or name.startswith("/"):
            continue  # a name no file could stand for inside `store`
        path = store.joinpath(namespace, bucket, *name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        seen[path] = content
    return seen


def _filled(uri: str, env: dict[str, str]) -> str:
    """`${VAR}` in a URI, from the run's environment (${PIPELINE_RUN_OCID}, as jobctl.outputs fills it)."""
    import re

    return re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), m.group(0)), uri)


def _args(view: WorkloadRun) -> list[str]:
    import shlex

    return shlex.split(view.args or "")
