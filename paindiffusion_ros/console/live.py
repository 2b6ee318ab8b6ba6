"""What the console page shows live: the newest face image, the last seconds of the traces,
the latest status of every part on ``/diagnostics``. Filled by the ROS node's callbacks,
read by the web server's WebSocket loop; thread-safe.

Times are seconds on the console's monotonic clock since it started. Each trace keeps at
most ``rate`` samples per second (the elbow and the stimulus arrive at 100 Hz; a browser
needs far fewer) over the last ``window`` seconds.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Optional

TRACES = ("angle", "heat", "pspi", "rating")
"""Elbow angle (°), heat stimulus (°C), PSPI (0–16), trainee rating (NRS 0–10)."""


@dataclass(frozen=True)
class Face:
    """One encoded face image for the browser."""

    sequence: int
    data: bytes
    mime: str


class LiveData:
    """Traces, face and diagnostics, with cursors so each browser gets only what is new."""

    def __init__(self, rate: float = 20.0, window: float = 30.0) -> None:
        self.min_interval = 1.0 / rate
        self.window = window
        self.start = time.monotonic()
        self._lock = threading.Lock()
        self._traces: dict[str, deque[tuple[float, float]]] = {name: deque() for name in TRACES}
        self._face: Optional[Face] = None
        self._face_time = -float("inf")
        self._diagnostics: dict[str, dict[str, Any]] = {}

    def now(self) -> float:
        return time.monotonic() - self.start

    def add(self, trace: str, value: float, force: bool = False) -> None:
        """Append a sample unless the previous one is younger than ``1/rate`` (``force``: always,
        for sparse signals such as ratings)."""
        t = self.now()
        with self._lock:
            samples = self._traces[trace]
            if not force and samples and t - samples[-1][0] < self.min_interval:
                return
            samples.append((t, float(value)))
            while samples and samples[0][0] < t - self.window:
                samples.popleft()

    def traces_after(self, cursors: dict[str, float]) -> dict[str, list[tuple[float, float]]]:
        """Per trace, the samples newer than its cursor (s; a trace without one: all), and
        moves the cursors past them, so the next call returns only what arrived since."""
        with self._lock:
            fresh = {name: [s for s in samples if s[0] > cursors.get(name, -math.inf)] for name, samples in self._traces.items()}
        for name, samples in fresh.items():
            if samples:
                cursors[name] = samples[-1][0]
        return fresh

    def face_due(self, min_interval: float) -> bool:
        """Whether a new face image should be kept: at most one per ``min_interval`` s."""
        with self._lock:
            return time.monotonic() - self._face_time >= min_interval

    def set_face(self, data: bytes, mime: str) -> None:
        with self._lock:
            sequence = self._face.sequence + 1 if self._face else 1
            self._face = Face(sequence, data, mime)
            self._face_time = time.monotonic()

    def face_age(self) -> Optional[float]:
        """Seconds since the newest face image arrived (None: none yet)."""
        with self._lock:
            return time.monotonic() - self._face_time if self._face else None

    @property
    def face(self) -> Optional[Face]:
        with self._lock:
            return self._face

    def set_status(self, name: str, level: int, message: str, values: dict[str, str]) -> None:
        """The newest ``/diagnostics`` status of one part (``node: part``)."""
        with self._lock:
            self._diagnostics[name] = {"name": name, "level": level, "message": message, "values": values, "t": self.now()}

    def diagnostics(self) -> list[dict[str, Any]]:
        """Latest status per part, sorted by name, each with its age (s)."""
        now = self.now()
        with self._lock:
            return [dict(status, age=now - status["t"]) for _, status in sorted(self._diagnostics.items())]
