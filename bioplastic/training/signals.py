"""Ctrl-C and SIGTERM during training: noted by a handler, acted on between updates."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["StopRequest", "stop_on_signal"]


class StopRequest:
    """Ctrl-C or SIGTERM, noted by a handler and acted on by the loop between updates.

    The handler only sets a flag, so a signal that lands anywhere (inside numpy, a save, or a
    garbage-collection callback, where a raised KeyboardInterrupt would be swallowed) is never
    lost, and the loop stops on a committed update.  A second signal raises at once.  A signal
    that arrives after the last update (during the final evaluation or save) is delivered again
    once the run is saved, so that a sweep or script around it still stops.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.acted = False

    def __call__(self, signum, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt(f"signal {signum} (second)")
        self.signum = signum

    def check(self) -> None:
        if self.signum is not None:
            self.acted = True
            raise KeyboardInterrupt(f"signal {self.signum}")


@contextmanager
def stop_on_signal() -> Iterator[StopRequest]:
    """Within the block, SIGINT and SIGTERM request a stop (main thread only)."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if stop.signum is not None and not stop.acted:
        signal.raise_signal(stop.signum)  # the run is saved; now let the signal act
