"""`fake.max_in_flight`: the most requests the fake handled at once, for concurrency bounds."""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from jobctl.testing.fake_oci import FakeOCI


def _get(fake: FakeOCI, path: str = "/20190101/jobs") -> int:
    """One unsigned request; the status does not matter here, only that the fake handled it."""
    try:
        with urllib.request.urlopen(fake.url + path, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_sequential_requests_never_overlap() -> None:
    with FakeOCI() as fake:
        assert fake.max_in_flight == 0
        for _ in range(5):
            _get(fake)
        assert fake.max_in_flight == 1
        assert fake.in_flight == 0


def test_counts_concurrent_requests_while_latency_holds_them() -> None:
    with FakeOCI() as fake:
        fake.faults.latency = 0.2
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(lambda _: _get(fake), range(6)))
        assert len(statuses) == 6
        assert fake.max_in_flight == 6
        assert fake.in_flight == 0


def test_bounded_client_stays_within_its_bound() -> None:
    with FakeOCI() as fake:
        fake.faults.latency = 0.05
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda _: _get(fake), range(12)))
        assert fake.max_in_flight == 3


def test_reset_starts_a_new_measurement_from_what_is_in_flight_now() -> None:
    with FakeOCI() as fake:
        fake.faults.latency = 0.1
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda _: _get(fake), range(4)))
        assert fake.max_in_flight == 4
        fake.reset_max_in_flight()
        assert fake.max_in_flight == 0

        fake.faults.clear()
        fake.faults.add(r"/jobs$", latency=0.5)
        slow = threading.Thread(target=_get, args=(fake,))
        slow.start()
        deadline = time.monotonic() + 5
        while fake.in_flight < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        fake.reset_max_in_flight()
        assert fake.max_in_flight == 1  # the slow request is still being handled
        slow.join()
        assert fake.in_flight == 0


def test_dropped_connections_leave_the_count() -> None:
    with FakeOCI() as fake:
        fake.faults.add(drop=True, times=2)
        for _ in range(2):
            with contextlib.suppress(urllib.error.URLError, ConnectionError):
                _get(fake)
        assert fake.in_flight == 0
        assert fake.max_in_flight == 1
