"""Fault injection per method and path: error statuses, latency and dropped connections.

Rules are checked in the order they were added. Every matching rule that fires adds its latency; the
first firing rule with a `status` or `drop` decides the outcome. `after=True` lets the request reach
the fake's state first (the create happens) and then loses the response, which is what exercises a
client's `opc-retry-token` handling.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass

from jobctl.testing.fake_oci.errors import ApiError, code_for


@dataclass
class FaultRule:
    path: re.Pattern[str]
    method: str | None = None
    status: int | None = None
    times: int | None = None
    rate: float | None = None
    latency: float = 0.0
    drop: bool = False
    after: bool = False
    code: str | None = None
    message: str | None = None
    skip: int = 0  # let this many matching requests through before the rule starts firing
    fired: int = 0
    seen: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and self.path.search(path) is not None

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


@dataclass(frozen=True)
class Fault:
    """What happens to one request: extra latency, then maybe an error or a dropped connection."""

    latency: float = 0.0
    status: int | None = None
    drop: bool = False
    after: bool = False
    code: str | None = None
    message: str | None = None

    def error(self) -> ApiError:
        status = self.status or 500
        return ApiError(status, self.code or code_for(status), self.message or f"injected fault ({status})")


NO_FAULT = Fault()


class FaultInjector:
    """`fake.faults`: add rules, set a global `latency`, `clear()` them; seeded so `rate` is repeatable."""

    def __init__(self, seed: int = 0) -> None:
        self.rules: list[FaultRule] = []
        self.latency = 0.0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def add(self, path: str = r".*", *, method: str | None = None, status: int | None = None,
            times: int | None = None, rate: float | None = None, latency: float = 0.0, drop: bool = False,
            after: bool = False, code: str | None = None, message: str | None = None, skip: int = 0) -> FaultRule:
        """Add a rule for requests whose path matches the regex `path` (re.search) and `method` (any if None).

        `skip=N` lets the first N matching requests through: `add(drop=True, skip=N)` is a client that
        dies after its N-th request.
        """
        if status is None and not drop and not latency:
            raise ValueError("a fault needs a status, drop=True or a latency")
        if status is not None and not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), got {status}")
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, got {rate}")
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        rule = FaultRule(re.compile(path), method.upper() if method else None, status, times, rate, latency, drop,
                         after, code, message, skip)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.latency = 0.0

    def seed(self, value: int) -> None:
        with self._lock:
            self._rng.seed(value)

    def decide(self, method: str, path: str) -> Fault:
        with self._lock:
            latency, outcome = self.latency, None
            for rule in self.rules:
                deciding = rule.status is not None or rule.drop
                if not rule.matches(method, path) or rule.exhausted or (deciding and outcome is not None):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                if rule.rate is not None and self._rng.random() >= rule.rate:
                    continue
                rule.fired += 1
                latency += rule.latency
                if deciding:
                    outcome = rule
        if outcome is None:
            return Fault(latency) if latency else NO_FAULT
        return Fault(latency, outcome.status, outcome.drop, outcome.after, outcome.code, outcome.message)
