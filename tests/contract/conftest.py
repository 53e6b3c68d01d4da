"""The contract suite runs once per backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.backends.local import LocalBackend
from jobctl.backends.memory import MemoryBackend
from tests.contract.harness import Harness

BACKENDS = ["memory", "local"]


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    if request.param == "memory":
        return Harness(MemoryBackend())
    return Harness(LocalBackend(tmp_path / "home"))
