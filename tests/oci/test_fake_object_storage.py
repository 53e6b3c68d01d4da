"""Object Storage in the fake, through the real SDK: namespace, buckets that must exist, and listing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import oci
import pytest

from jobctl.testing.fake_oci import ApiKey, FakeOCI
from jobctl.testing.fake_oci.__main__ import main
from tests.oci.conftest import SdkClients
from tests.oci.test_fake_oci import COMPARTMENT, service_error

NAMES = ("a/1.csv", "a/2.csv", "a/deep/3.csv", "b/4.csv", "top.txt", "zz")


def object_storage(fake: FakeOCI, config: dict[str, Any]) -> Any:
    return oci.object_storage.ObjectStorageClient(
        config, service_endpoint=fake.url, circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy())


@pytest.fixture
def storage(fake_oci: FakeOCI, clients: SdkClients) -> Any:
    return object_storage(fake_oci, clients.config)


@pytest.fixture
def bucket(fake_oci: FakeOCI, storage: Any) -> str:
    fake_oci.create_bucket("data")
    for name in NAMES:
        storage.put_object(fake_oci.namespace, "data", name, name.encode())
    return "data"


def test_the_namespace_is_the_fakes_own(storage: Any, tmp_path: Path, api_key: ApiKey) -> None:
    assert storage.get_namespace().data == "fakenamespace"
    with FakeOCI(namespace="mytenancy") as other:
        config = oci.config.from_file(str(other.write_config(tmp_path, key=api_key)))
        assert object_storage(other, config).get_namespace(compartment_id=COMPARTMENT).data == "mytenancy"


def test_objects_need_their_bucket_to_exist(fake_oci: FakeOCI, storage: Any) -> None:
    ns = fake_oci.namespace
    for call in (lambda: storage.get_bucket(ns, "missing"), lambda: storage.put_object(ns, "missing", "a", b"x"),
                 lambda: storage.get_object(ns, "missing", "a"), lambda: storage.list_objects(ns, "missing")):
        error = service_error(call)
        assert (error.status, error.code) == (404, "BucketNotFound")

    created = storage.create_bucket(ns, oci.object_storage.models.CreateBucketDetails(
        name="made", compartment_id=COMPARTMENT)).data
    storage.put_object(ns, "made", "a", b"xyz")

    got = storage.get_bucket(ns, "made", fields=["approximateCount", "approximateSize"])
    assert (got.data.name, got.data.namespace, got.data.compartment_id) == ("made", ns, COMPARTMENT)
    assert got.headers["etag"] == created.etag == got.data.etag
    assert (got.data.approximate_count, got.data.approximate_size) == (1, 3)
    assert storage.get_bucket(ns, "made").data.approximate_count is None  # only when asked for
    assert service_error(lambda: storage.get_object(ns, "made", "b")).code == "ObjectNotFound"
    again = service_error(lambda: storage.create_bucket(ns, oci.object_storage.models.CreateBucketDetails(
        name="made", compartment_id=COMPARTMENT)))
    assert (again.status, again.code) == (409, "BucketAlreadyExists")


def test_a_delimiter_lists_the_top_level_and_folds_the_rest_into_prefixes(fake_oci: FakeOCI, storage: Any,
                                                                          bucket: str) -> None:
    ns = fake_oci.namespace
    top = storage.list_objects(ns, bucket, delimiter="/").data
    assert ([o.name for o in top.objects], top.prefixes, top.next_start_with) == (["top.txt", "zz"], ["a/", "b/"],
                                                                                 None)
    under_a = storage.list_objects(ns, bucket, prefix="a/", delimiter="/").data
    assert ([o.name for o in under_a.objects], under_a.prefixes) == (["a/1.csv", "a/2.csv"], ["a/deep/"])
    assert storage.list_objects(ns, bucket).data.prefixes is None  # no delimiter, no prefixes
    assert service_error(lambda: storage.list_objects(ns, bucket, delimiter=",")).status == 400


def test_pages_count_objects_and_prefixes_and_go_on_from_next_start_with(fake_oci: FakeOCI, storage: Any,
                                                                         bucket: str) -> None:
    pages, start = [], None
    while True:
        page = storage.list_objects(fake_oci.namespace, bucket, delimiter="/", limit=2,
                                    **({"start": start} if start else {})).data
        pages.append([o.name for o in page.objects] + (page.prefixes or []))
        start = page.next_start_with
        if not start:
            break
    assert pages == [["a/", "b/"], ["top.txt", "zz"]]
    ranged = storage.list_objects(fake_oci.namespace, bucket, start_after="a/2.csv", end="top.txt").data
    assert [o.name for o in ranged.objects] == ["a/deep/3.csv", "b/4.csv"]


def test_a_summary_holds_the_name_unless_fields_ask_for_more(fake_oci: FakeOCI, storage: Any, bucket: str) -> None:
    ns = fake_oci.namespace
    [plain] = storage.list_objects(ns, bucket, prefix="zz").data.objects
    assert (plain.name, plain.size, plain.md5) == ("zz", None, None)
    [full] = storage.list_objects(ns, bucket, prefix="zz", fields="name,Size,md5,timeCreated").data.objects
    md5 = storage.head_object(ns, bucket, "zz").headers["opc-content-md5"]
    assert (full.size, full.md5, full.etag) == (2, md5, None)
    assert full.time_created is not None


def test_conditional_puts_create_only_or_replace_only_the_version_read(fake_oci: FakeOCI, storage: Any,
                                                                       bucket: str) -> None:
    ns = fake_oci.namespace
    etag = storage.head_object(ns, bucket, "zz").headers["etag"]

    exists = service_error(lambda: storage.put_object(ns, bucket, "zz", b"new", if_none_match="*"))
    stale = service_error(lambda: storage.put_object(ns, bucket, "zz", b"new", if_match="0" * 32))
    storage.put_object(ns, bucket, "fresh", b"1", if_none_match="*")
    storage.put_object(ns, bucket, "zz", b"new", if_match=etag)

    assert (exists.status, exists.code) == (412, "IfNoneMatchFailed")
    assert (stale.status, stale.code) == (412, "IfMatchFailed")
    assert storage.get_object(ns, bucket, "zz").data.content == b"new"
    assert storage.get_object(ns, bucket, "fresh").data.content == b"1"


def test_the_command_line_refuses_a_bucket_oci_would_not_create(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--no-verify-signatures", "--bucket", "ns/bad name"])

    assert exited.value.code == 2
    assert "--bucket ns/bad name: bucket name 'bad name'" in capsys.readouterr().err


def test_the_command_line_fake_runs_a_jobs_uploaded_code_when_asked(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The red team: the command-line fake only echoed env, so a workflow's selection could not be tried."""
    import json
    import re
    import threading
    import time

    from tests.conftest import job_document, run_jobctl

    stop = threading.Event()
    server = threading.Thread(target=main, args=(["--port", "0", "--write-config", str(tmp_path / "oci"),
                                                  "--run-code"], stop), daemon=True)
    server.start()
    deadline = time.monotonic() + 30
    while not (found := re.search(r"listening on (\S+)", capsys.readouterr().out)):
        assert time.monotonic() < deadline, "the fake never said where it listens"
        time.sleep(0.02)
    try:
        (tmp_path / "fails.py").write_text("import sys\nsys.exit(3)\n")
        spec = tmp_path / "job.yaml"
        spec.write_text(json.dumps(job_document("fails", {"type": "python", "source": "./fails.py"})))
        env = {"JOBCTL_BACKEND": "oci", "OCI_CLI_CONFIG_FILE": str(tmp_path / "oci" / "config"),
               "JOBCTL_OCI_ENDPOINT": found[1], "JOBCTL_OCI_RETRY": "fast", "JOBCTL_OCI_POLL_SECONDS": "0.05",
               "OCI_COMPARTMENT_ID": COMPARTMENT, "OCI_PROJECT_ID": "ocid1.datascienceproject.oc1.iad.p"}
        assert run_jobctl("apply", str(spec), env=env).returncode == 0
        ran = run_jobctl("run", "fails", "--wait", env=env)
        assert ran.returncode == 1, ran.stderr  # its code exited 3: FAILED (echoing env would have SUCCEEDED)
    finally:
        stop.set()
        server.join(timeout=30)
