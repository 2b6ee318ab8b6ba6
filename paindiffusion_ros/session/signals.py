"""SIGINT/SIGTERM as a stop request that a polling loop checks.

rclpy's own handlers wake only executors that exist when the signal arrives; a
signal that lands between node construction and the first wait is lost and a
blocking ``spin()`` never returns (reproduced here: 1 in ~14 SIGTERMs sent right
after the recorder subscribed). So the session tools init rclpy without its
handlers, turn both signals into an event, and spin in short slices that look at it.
"""

from __future__ import annotations

import ctypes
import signal
import sys
import threading
from types import FrameType
from typing import Any, Optional

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
PR_SET_PDEATHSIG = 1
_PROCESS_STOP: Optional["StopSignals"] = None


class StopSignals:
    """Context manager: while active, SIGINT and SIGTERM set ``event`` instead of killing."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.received: Optional[signal.Signals] = None
        self._previous: dict[signal.Signals, Any] = {}

    def _handle(self, number: int, frame: Optional[FrameType]) -> None:
        self.received = signal.Signals(number)
        self.event.set()

    def __enter__(self) -> "StopSignals":
        for number in STOP_SIGNALS:
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def process_stop_signals() -> StopSignals:
    """The stop request of a node process: SIGINT and SIGTERM caught from the first call to
    the end of the process (clean-up included), the same object on every call. The node
    executables call it before their heavy imports (``nodes/entry.py``), so a Ctrl-C while
    a node is still starting stops it quietly too."""
    global _PROCESS_STOP
    if _PROCESS_STOP is None:
        _PROCESS_STOP = StopSignals().__enter__()
    return _PROCESS_STOP


def signal_on_parent_death(number: int) -> None:
    """Ask Linux to send this process signal ``number`` when its parent dies (``PR_SET_PDEATHSIG``;
    nothing on other systems)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, number)
