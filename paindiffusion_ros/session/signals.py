"""SIGINT/SIGTERM as a stop request that a polling loop checks.

rclpy's own handlers wake only executors that exist when the signal arrives; a
signal that lands between node construction and the first wait is lost and a
blocking ``spin()`` never returns (reproduced here: 1 in ~14 SIGTERMs sent right
after the recorder subscribed). So the session tools init rclpy without its
handlers, turn both signals into an event, and spin in short slices that look at it.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any, Optional

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
