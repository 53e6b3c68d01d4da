"""Fixtures for testing through the real `oci` SDK against `jobctl.testing.fake_oci`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oci
import pytest

from jobctl.testing.fake_oci import ApiKey, FakeOCI, generate_api_key

PROFILE = "DEFAULT"


def fast_retry_strategy() -> Any:
    """Four attempts within ~0.1 s: SDK retries without the default multi-second backoff."""
    return oci.retry.RetryStrategyBuilder(
        max_attempts=4, retry_base_sleep_time_seconds=0.01, retry_max_wait_between_calls_seconds=0.05,
        decorrelated_jitter=0,
    ).get_retry_strategy()


@dataclass
class SdkClients:
    config: dict[str, Any]
    data_science: oci.data_science.DataScienceClient
    log_search: oci.loggingsearch.LogSearchClient
    data_flow: oci.data_flow.DataFlowClient


def sdk_clients(fake: FakeOCI, config_path: Path, profile: str = PROFILE, retry_strategy: Any = None) -> SdkClients:
    """Real SDK clients pointed at the fake: fast retries (unless given) and no process-wide circuit breaker."""
    config = oci.config.from_file(str(config_path), profile)
    options = {
        "service_endpoint": fake.url,
        "retry_strategy": retry_strategy or fast_retry_strategy(),
        "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
    }
    data_science = oci.data_science.DataScienceClient(config, **options)
    return SdkClients(config, data_science, oci.loggingsearch.LogSearchClient(config, **options),
                      oci.data_flow.DataFlowClient(config, **options))


@pytest.fixture(scope="session")
def api_key() -> ApiKey:
    """One throwaway RSA key per session: generating one costs ~50 ms."""
    return generate_api_key()


@pytest.fixture
def fake_oci() -> Iterator[FakeOCI]:
    """A started fake on a free port of 127.0.0.1, stopped after the test."""
    with FakeOCI() as fake:
        yield fake


@pytest.fixture
def oci_config(fake_oci: FakeOCI, tmp_path: Path, api_key: ApiKey) -> tuple[Path, str]:
    """(config file path, profile): a config in tmp_path whose key the fake accepts."""
    return fake_oci.write_config(tmp_path / "oci", profile=PROFILE, key=api_key), PROFILE


@pytest.fixture
def clients(fake_oci: FakeOCI, oci_config: tuple[Path, str]) -> SdkClients:
    return sdk_clients(fake_oci, *oci_config)


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOCI]:
    """A fake OCI with jobctl (in-process and subprocesses) pointed at it."""
    from tests.conftest import use_fake_oci

    with FakeOCI() as running:
        use_fake_oci(running, tmp_path, monkeypatch, "oci")
        yield running


def train_spec(directory: Path, *, name: str = "tune-models", model: str = "xgb",
               description: str | None = None) -> Path:
    """The train example as `directory`/NAME.yaml (its source where it is), with its name, MODEL and
    description set."""
    from tests.conftest import EXAMPLES

    train = EXAMPLES / "train"
    text = (train / "job.yaml").read_text().replace("./src", str(train / "src"))
    text = text.replace("name: tune-models", f"name: {name}").replace("MODEL: xgb", f"MODEL: {model}")
    if description is not None:
        text = text.replace("description: Tune one model class per run", f"description: {description}")
    assert f"name: {name}" in text
    assert f"MODEL: {model}" in text
    directory.mkdir(parents=True, exist_ok=True)
    spec = directory / f"{name}.yaml"
    spec.write_text(text)
    return spec
