"""What the contract tests need to know about each backend beyond the protocol."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from jobctl.backends.base import Backend
from jobctl.engine.follow import follow_logs
from jobctl.errors import NotFoundError


@dataclass
class Harness:
    backend: Backend
    timeout: float = 30.0
    missing_run_id: str = "run-doesnotexist"
    missing_job_id: str = "job-doesnotexist"
    fake: Any = None  # the fake OCI server behind an oci backend

    def log_text(self, run_id: str) -> str:
        """Every line the run wrote, once it is over and its log drained."""
        events = follow_logs(self.backend, [run_id], timeout=self.timeout)
        return "\n".join(e.line.text for e in events if e.line)

    def started(self, run_id: str) -> None:
        """Poll until the run has left ACCEPTED (its workload is running)."""
        deadline = time.monotonic() + self.timeout
        while self.backend.get_run(run_id=run_id).state == "ACCEPTED":
            assert time.monotonic() < deadline, f"run {run_id} never started"
            time.sleep(0.02)

    def assert_job_gone(self, job_id: str) -> None:
        try:
            job = self.backend.get_job(job_id=job_id)
        except NotFoundError:
            return
        assert job.lifecycle_state in ("DELETED", "DELETING"), job
