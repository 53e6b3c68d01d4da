"""Data Flow applications in the SDK's models, both ways (issue 17): what the OCI backend will send and read."""

from __future__ import annotations

from oci.data_flow import models

from jobctl.backends.oci import dataflow
from jobctl.model.application import ApplicationDefinition
from jobctl.model.definition import replace
from jobctl.spec.load import load_specs
from tests.conftest import EXAMPLES

TAGS = {"jobctl-managed": "true", "jobctl-name": "wordcount", "jobctl-artifact": "sha256:abc", "team": "ml"}


def wordcount() -> ApplicationDefinition:
    [app] = load_specs([str(EXAMPLES / "wordcount")], {}).applications
    return replace(app.definition, compartment_id="ocid1.compartment.oc1..c",
                   file_uri="oci://dataflow-code@mytenancy/apps/wordcount/abc/wordcount.py",
                   log_group_id="ocid1.loggroup.oc1.iad.g", log_id="ocid1.log.oc1.iad.l")


def as_served(details: object) -> models.Application:
    """The Application the service answers with for these details (the same values, and its own)."""
    fields = {attr: getattr(details, attr) for attr in details.swagger_types  # type: ignore[attr-defined]
              if attr in models.Application().swagger_types}
    return models.Application(**fields, id="ocid1.dataflowapplication.oc1.iad.a", lifecycle_state="ACTIVE")


def test_an_application_is_sent_as_create_application_details_and_reads_back_the_same() -> None:
    app = wordcount()
    details = dataflow.create_details(models, app, TAGS)
    assert (details.language, details.spark_version, details.type, details.num_executors) == (
        "PYTHON", "3.5.0", "BATCH", 2)
    assert (details.driver_shape_config.ocpus, details.executor_shape_config.memory_in_gbs) == (1, 16)
    assert details.arguments == ["--input", "${input}", "--min-count", "2"]
    assert [(p.name, p.value) for p in details.parameters] == [("input", "oci://data@my-namespace/books.txt")]
    assert details.configuration == {"spark.sql.shuffle.partitions": "4"}
    assert (details.application_log_config.log_group_id, details.logs_bucket_uri) == (
        "ocid1.loggroup.oc1.iad.g", "oci://dataflow-logs@my-namespace/")
    read = dataflow.definition_from_application(as_served(details))
    assert read == replace(app, owner_tags={k: v for k, v in TAGS.items() if k.startswith("jobctl-")},
                           labels={"team": "ml"}, artifact_digest="sha256:abc",
                           code_uri="oci://dataflow-code@mytenancy/apps")  # the fileUri's, by its digest


def test_an_update_sends_what_update_application_details_carries_emptied_fields_empty() -> None:
    app = replace(wordcount(), arguments=(), parameters={}, configuration={})
    current = models.Application(defined_tags={"Oracle-Tags": {"CreatedBy": "me"}})
    details = dataflow.update_details(models, app, TAGS, current)
    assert not hasattr(details, "compartment_id")
    assert not hasattr(details, "type")  # neither is in UpdateApplicationDetails: a change is a replace
    assert (details.arguments, details.parameters, details.configuration) == ([], [], {})  # cleared, not kept
    assert details.defined_tags == {"Oracle-Tags": {"CreatedBy": "me"}}


def test_a_run_sends_its_env_as_spark_env_and_its_overrides_whole() -> None:
    app = wordcount()
    details = dataflow.run_details(models, app, application_id="ocid1.dataflowapplication.oc1.iad.a", name="wc-1",
                                   env={"MODEL": "rf"}, parameters={"input": "oci://b@n/other.txt"},
                                   configuration={"spark.x": "1"})
    assert details.configuration == {"spark.sql.shuffle.partitions": "4", "spark.x": "1",
                                     "spark.driverEnv.MODEL": "rf", "spark.executorEnv.MODEL": "rf"}
    assert [(p.name, p.value) for p in details.parameters] == [("input", "oci://b@n/other.txt")]
    assert details.spark_version is None  # with an application, the version is the application's
    assert details.arguments is None  # the application's


def test_code_uri_is_read_back_only_from_a_file_apply_put_under_it() -> None:
    from jobctl.model.application import code_location, code_uri_of

    put = code_location("oci://code@ns/apps/", "wordcount", "sha256:ab12", "wordcount.py")
    assert put == "oci://code@ns/apps/wordcount/ab12/wordcount.py"
    assert code_uri_of(put, "wordcount", "sha256:ab12") == "oci://code@ns/apps"
    assert code_uri_of(put, "wordcount", "sha256:ffff") is None  # another digest: not this code's place
    assert code_uri_of("oci://code@ns/mine/wordcount.py", "wordcount", None) is None  # a fileUri of one's own
