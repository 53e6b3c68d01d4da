"""The startup probe of a local run, as OCI runs it: a command run in the job run after an initial
delay, every period, until it succeeds once; after `failureThreshold` failures in a row the run fails.

OCI documents the fields (SDK JobExecProbeDetails) but not their defaults; jobctl uses Kubernetes'
(period 10 s, threshold 3, no delay) and says so in docs/oci-fidelity.md.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_PERIOD = 10
DEFAULT_FAILURE_THRESHOLD = 3


class StartupProbe:
    """Call `poll(now)` often; it starts each probe on time and returns why the run failed, once it has."""

    def __init__(self, details: Mapping[str, Any], *, cwd: Path, env: Mapping[str, str], started: float,
                 seconds: float = 1.0) -> None:
        self.command = [str(part) for part in details["command"]]
        self.period = float(details.get("periodInSeconds") or DEFAULT_PERIOD) * seconds
        self.threshold = int(details.get("failureThreshold") or DEFAULT_FAILURE_THRESHOLD)
        self.next_at = started + float(details.get("initialDelayInSeconds") or 0) * seconds
        self.cwd, self.env = cwd, dict(env)
        self.failures = 0
        self.passed = False
        self.running: subprocess.Popen[bytes] | None = None
        self.running_until = 0.0

    def poll(self, now: float) -> str | None:
        if self.passed:
            return None
        if self.running is not None:
            code = self.running.poll()
            if code is None and now < self.running_until:
                return None
            if code is None:  # a probe that outlives its period fails, as a timed-out probe does
                self.running.kill()
                self.running.wait()
            self.running = None
            if code == 0:
                self.passed = True
                return None
            self.failures += 1
            if self.failures >= self.threshold:
                return f"startup probe failed {self.failures} times: {' '.join(self.command)}"
        if now >= self.next_at:
            self.next_at = now + self.period
            self.running_until = self.next_at
            try:
                self.running = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except OSError as exc:
                self.failures += 1
                if self.failures >= self.threshold:
                    return f"startup probe failed {self.failures} times: {exc}"
        return None

    def stop(self) -> None:
        if self.running is not None and self.running.poll() is None:
            self.running.kill()
            self.running.wait()
