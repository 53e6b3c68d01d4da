"""Signals as interrupts: the first one raises KeyboardInterrupt, any later one is ignored.

A command that must finish what it started (the changes of an apply, the cancels after Ctrl-C) takes
its signals through here, so a second Ctrl-C, or the SIGTERM a CI runner sends after it, cannot cut
that short.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any


@contextlib.contextmanager
def interrupt_on(*signals: signal.Signals) -> Iterator[None]:
    """While inside, the first of `signals` raises KeyboardInterrupt in the main thread; the rest are ignored.

    A signal the process started with ignored (nohup, a shell's `&`) stays ignored; outside the main
    thread the handlers are left alone.
    """
    interrupted = False

    def once(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            raise KeyboardInterrupt

    previous: list[tuple[signal.Signals, Any]] = []
    with contextlib.suppress(ValueError):  # not the main thread
        for sig in signals:
            if signal.getsignal(sig) is not signal.SIG_IGN:
                previous.append((sig, signal.signal(sig, once)))
    try:
        yield
    finally:
        for sig, handler in previous:
            signal.signal(sig, handler)
