"""The contract suite runs once per backend: memory, local, and oci against the fake OCI server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobctl.backends.local import LocalBackend
from jobctl.backends.memory import MemoryBackend
from jobctl.backends.oci import OciBackend
from jobctl.backends.oci.clients import build_clients
from jobctl.backends.settings import OciSettings
from jobctl.testing.fake_oci import FakeOCI
from tests.contract.harness import Harness

BACKENDS = ["memory", "local", "oci"]
COMPARTMENT = "ocid1.compartment.oc1..contract"


def oci_backend(fake: FakeOCI, directory: Path) -> OciBackend:
    """The real OCI backend and SDK, pointed at the fake, with fast retries and a short log settle."""
    config = fake.write_config(directory / "oci")
    settings = OciSettings(config_file=str(config), endpoint=fake.url, compartment_id=COMPARTMENT, fast_retries=True)
    backend = OciBackend(settings, build_clients(settings))
    backend.poll_interval = 0.02
    backend.log_settle = 0.2
    backend.log_wait = 1.0
    return backend


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "memory":
        yield Harness(MemoryBackend())
    elif request.param == "local":
        yield Harness(LocalBackend(tmp_path / "home"))
    else:
        with FakeOCI() as fake:
            yield Harness(
                oci_backend(fake, tmp_path),
                missing_run_id="ocid1.datasciencejobrun.oc1.iad.doesnotexist",
                missing_job_id="ocid1.datasciencejob.oc1.iad.doesnotexist", fake=fake,
            )
