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


def hold_first_requests(fake: FakeOCI, count: int) -> None:
    """The first `count` requests wait inside the fake until all of them are in flight together, so a
    concurrency measurement does not depend on how fast threads start on a loaded machine."""
    barrier = threading.Barrier(count, timeout=30)
    seen = iter(range(10**9))
    lock = threading.Lock()
    handle = fake.app._handle

    def held(*args: object) -> object:
        with lock:
            number = next(seen)
        if number < count:
            barrier.wait()
        return handle(*args)

    fake.app._handle = held  # type: ignore[method-assign]


def test_sequential_requests_never_overlap() -> None:
    with FakeOCI() as fake:
        assert fake.max_in_flight == 0
        for _ in range(5):
            _get(fake)
        assert fake.max_in_flight == 1
        assert fake.in_flight == 0


def test_counts_concurrent_requests_while_they_are_held() -> None:
    with FakeOCI() as fake:
        hold_first_requests(fake, 6)
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(lambda _: _get(fake), range(6)))
        assert len(statuses) == 6
        assert fake.max_in_flight == 6
        assert fake.in_flight == 0


def test_bounded_client_stays_within_its_bound() -> None:
    with FakeOCI() as fake:
        hold_first_requests(fake, 3)  # the bound is reached at least once
        fake.faults.latency = 0.05
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda _: _get(fake), range(12)))
        assert fake.max_in_flight == 3


def test_reset_starts_a_new_measurement_from_what_is_in_flight_now() -> None:
    with FakeOCI() as fake:
        hold_first_requests(fake, 4)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda _: _get(fake), range(4)))
        assert fake.max_in_flight == 4
        fake.reset_max_in_flight()
        assert fake.max_in_flight == 0

        release = threading.Event()
        handle = fake.app._handle

        def held_until_released(*args: object) -> object:
            release.wait(timeout=30)
            return handle(*args)

        fake.app._handle = held_until_released  # type: ignore[method-assign]
        slow = threading.Thread(target=_get, args=(fake,))
        slow.start()
        deadline = time.monotonic() + 30
        while fake.in_flight < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        fake.reset_max_in_flight()
        assert fake.max_in_flight == 1  # the held request is still being handled
        release.set()
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
