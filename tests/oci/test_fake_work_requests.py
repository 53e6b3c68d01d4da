"""DeleteJob's work request in the fake, read through the real SDK (`get_work_request` and friends)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oci
import pytest

from jobctl.testing.fake_oci import ApiKey, FakeOCI, Limits
from tests.oci.conftest import SdkClients, sdk_clients
from tests.oci.test_fake_oci import COMPARTMENT, ready_job, service_error


def delete(clients: SdkClients, job: Any) -> str:
    response = clients.data_science.delete_job(job.id)
    assert response.status == 202
    return str(response.headers["opc-work-request-id"])


def test_a_deleted_job_is_deleting_until_its_work_request_succeeds(fake_oci: FakeOCI, clients: SdkClients) -> None:
    job = ready_job(clients)
    work_request_id = delete(clients, job)
    assert fake_oci.job(job.id)["lifecycleState"] == "DELETING"

    seen = [clients.data_science.get_work_request(work_request_id).data for _ in range(3)]

    assert [w.status for w in seen] == ["ACCEPTED", "IN_PROGRESS", "SUCCEEDED"]
    assert [w.percent_complete for w in seen] == [0.0, 50.0, 100.0]
    assert [w.resources[0].action_type for w in seen] == ["IN_PROGRESS", "IN_PROGRESS", "DELETED"]
    done = seen[-1]
    assert (done.operation_type, done.compartment_id, done.resources[0].identifier) == ("JOB_DELETE", COMPARTMENT,
                                                                                         job.id)
    assert done.resources[0].entity_type == "datasciencejob"
    assert done.time_accepted <= done.time_started <= done.time_finished
    assert clients.data_science.get_job(job.id).data.lifecycle_state == "DELETED"
    assert [e.message.split()[0] for e in clients.data_science.list_work_request_logs(work_request_id).data] == [
        "Deleting", "JOB_DELETE"]
    assert clients.data_science.list_work_request_errors(work_request_id).data == []
    error = service_error(lambda: clients.data_science.delete_job(job.id))
    assert (error.status, error.code) == (409, "Conflict")


def test_a_job_being_deleted_cannot_be_deleted_again_run_or_updated(clients: SdkClients) -> None:
    job = ready_job(clients)
    delete(clients, job)
    M = oci.data_science.models
    for call in (lambda: clients.data_science.delete_job(job.id),
                 lambda: clients.data_science.update_job(job.id, M.UpdateJobDetails(display_name="x")),
                 lambda: clients.data_science.create_job_run(M.CreateJobRunDetails(
                     project_id=job.project_id, compartment_id=COMPARTMENT, job_id=job.id))):
        assert service_error(call).status == 409


def test_without_auto_progress_a_work_request_moves_only_when_the_test_steps_it(fake_oci: FakeOCI,
                                                                                clients: SdkClients) -> None:
    fake_oci.auto_progress = False
    job = ready_job(clients)
    work_request_id = delete(clients, job)
    assert {clients.data_science.get_work_request(work_request_id).data.status for _ in range(3)} == {"ACCEPTED"}

    assert fake_oci.step_all() == 1
    assert fake_oci.step_all() == 1

    assert fake_oci.work_request(work_request_id)["status"] == "SUCCEEDED"
    assert fake_oci.job(job.id)["lifecycleState"] == "DELETED"
    assert fake_oci.step_all() == 0


def test_work_requests_are_listed_by_compartment_resource_and_status(clients: SdkClients) -> None:
    first, second = ready_job(clients), ready_job(clients)
    first_request, second_request = delete(clients, first), delete(clients, second)
    clients.data_science.get_work_request(first_request)

    def listed(**filters: Any) -> list[str]:
        return [w.id for w in clients.data_science.list_work_requests(COMPARTMENT, **filters).data]

    assert listed() == [second_request, first_request]  # newest first
    assert listed(resource_id=first.id) == [first_request]
    assert listed(status="ACCEPTED") == [second_request]
    assert listed(operation_type="JOB_DELETE", sort_by="timeAccepted", sort_order="ASC") == [first_request,
                                                                                              second_request]
    assert clients.data_science.list_work_requests("ocid1.compartment.oc1..other").data == []
    paged = clients.data_science.list_work_requests(COMPARTMENT, limit=1)
    assert len(paged.data) == 1
    assert paged.next_page
    assert service_error(lambda: clients.data_science.get_work_request("ocid1.datascienceworkrequest.oc1..x")
                         ).status == 404


@pytest.fixture
def tiny_fake() -> Iterator[FakeOCI]:
    with FakeOCI(limits=Limits(max_work_requests=1), auto_progress=False) as fake:
        yield fake


def test_the_work_request_store_is_bounded_and_forgets_finished_ones_first(tiny_fake: FakeOCI, tmp_path: Path,
                                                                            api_key: ApiKey) -> None:
    clients = sdk_clients(tiny_fake, tiny_fake.write_config(tmp_path, key=api_key))
    first, second, third = ready_job(clients), ready_job(clients), ready_job(clients)
    first_request = delete(clients, first)

    error = service_error(lambda: clients.data_science.delete_job(second.id))  # the one held has not finished

    assert (error.status, error.code) == (400, "LimitExceeded")
    assert tiny_fake.job(second.id)["lifecycleState"] == "ACTIVE"
    tiny_fake.step_all()
    tiny_fake.step_all()
    delete(clients, third)
    assert service_error(lambda: clients.data_science.get_work_request(first_request)).status == 404
