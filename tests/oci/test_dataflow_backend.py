"""The OCI backend's Data Flow part (issue 17) through the real SDK against the fake's Data Flow API:
applications made, read back as they were sent, updated in place; runs started, followed, canceled, and
their output read once they have ended."""

from __future__ import annotations

import time
from pathlib import Path

from jobctl.backends.oci.dataflow import TAG_ARTIFACT
from jobctl.model.application import ApplicationDefinition
from jobctl.model.definition import replace
from jobctl.model.job import CANCELED, SUCCEEDED, TAG_MANAGED, TAG_NAME
from jobctl.spec.load import load_specs
from jobctl.testing.fake_oci import FakeOCI
from tests.conftest import EXAMPLES
from tests.contract.conftest import COMPARTMENT, oci_backend

TAGS = {TAG_MANAGED: "true", TAG_NAME: "wordcount", TAG_ARTIFACT: "sha256:abc"}


def wordcount() -> ApplicationDefinition:
    [app] = load_specs([str(EXAMPLES / "wordcount")], {}).applications
    return replace(app.definition, compartment_id=COMPARTMENT, code_uri="oci://dataflow-code@mytenancy/apps",
                   file_uri="oci://dataflow-code@mytenancy/apps/wordcount/abc/wordcount.py", owner_tags=TAGS,
                   artifact_digest="sha256:abc")


def ended(backend: object, run_id: str) -> object:
    deadline = time.monotonic() + 240  # a real Spark run (a cold JVM) takes 10-30 s on two loaded cores
    while not (run := backend.dataflow.run(run_id)).terminal:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, run
    return run


def test_an_application_is_made_read_back_as_sent_and_updated_in_place(tmp_path: Path) -> None:
    with FakeOCI() as fake:
        backend = oci_backend(fake, tmp_path)
        app = wordcount()
        app_id = backend.dataflow.create(app, app.tags, retry_token="t1")
        assert backend.dataflow.create(app, app.tags, retry_token="t1") == app_id  # a retried create: the same
        etag, read, current = backend.dataflow.read(app_id)
        assert read == app
        [listed] = backend.dataflow.applications(compartment=COMPARTMENT)
        assert (listed.id, listed.managed_name, listed.spec_hash) == (app_id, "wordcount", None)
        changed = replace(app, arguments=("--input", "${input}"), num_executors=4)
        backend.dataflow.update(app_id, changed, changed.tags, etag=etag, current=current)
        assert backend.dataflow.read(app_id)[1] == changed
        assert fake.application(app_id)["numExecutors"] == 4


def test_a_run_gets_the_env_and_overrides_and_its_output_once_it_has_ended(tmp_path: Path) -> None:
    with FakeOCI() as fake:
        backend = oci_backend(fake, tmp_path)
        app = wordcount()
        app_id = backend.dataflow.create(app, app.tags, retry_token="t2")
        run = backend.dataflow.start(app, app_id, name="wordcount-1", env={"MODEL": "rf"}, retry_token="r1",
                                     parameters={"input": "oci://data@mytenancy/other.txt"})
        assert (run.job_id, run.name) == (app_id, "wordcount-1")
        done = ended(backend, run.id)
        assert (done.state, done.exit_code) == (SUCCEEDED, 0)  # type: ignore[attr-defined]
        sent = fake.dataflow_run(run.id)
        assert sent["configuration"]["spark.driverEnv.MODEL"] == "rf"
        output = dict(backend.dataflow.output(run.id))
        assert "oci://data@mytenancy/other.txt" in output["stdout"]  # the echo workload: parameters filled in
        assert [r.id for r in backend.dataflow.runs(app_id, compartment=COMPARTMENT)] == [run.id]


def test_a_canceled_run_ends_canceled_and_a_late_cancel_reads_it_as_it_is(tmp_path: Path) -> None:
    with FakeOCI() as fake:
        backend = oci_backend(fake, tmp_path)
        app = replace(wordcount(), configuration={"spark.driverEnv.SLEEP": "1"})  # runs until canceled
        app_id = backend.dataflow.create(app, app.tags, retry_token="t3")
        run = backend.dataflow.start(app, app_id, name="wordcount-2", env={}, retry_token="r2")
        canceled = backend.dataflow.cancel(run.id)
        assert canceled.state in ("CANCELING", CANCELED)
        assert ended(backend, run.id).state == CANCELED  # type: ignore[attr-defined]
        assert backend.dataflow.cancel(run.id).state == CANCELED  # ended: read, not an error
