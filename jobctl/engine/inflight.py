"""Calls under way in worker threads, for an interrupt to stop new ones and wait for the rest."""

from __future__ import annotations

import threading


class InFlight:
    """Which calls may still begin, and how many are under way: an interrupt (or a failure) stops new
    ones and waits for those under way, whatever the thread pool was doing when it landed — even
    starting a thread, which a pool's shutdown then does not know of and would not wait for."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.stopped = False
        self.under_way = 0

    def begin(self) -> bool:
        with self.condition:
            if self.stopped:
                return False
            self.under_way += 1
            return True

    def end(self) -> None:
        with self.condition:
            self.under_way -= 1
            self.condition.notify_all()

    def stop(self) -> int:
        """No call begins from now on; returns how many are under way."""
        with self.condition:
            self.stopped = True
            return self.under_way

    def drain(self) -> None:
        """Wait for the calls under way; a second Ctrl-C meanwhile must not cut the wait short, or a run
        would start (or a job change be made) unreported."""
        with self.condition:
            while self.under_way:
                try:
                    self.condition.wait()
                except KeyboardInterrupt:
                    continue
