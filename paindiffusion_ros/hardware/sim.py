"""Simulated elbow: a clinician's range-of-motion exercise, the demo's default elbow.

The arm is flexed from ``sim_min_angle`` to ``sim_max_angle`` and extended back, pausing at
each end of the range. Every movement follows the minimum-jerk profile of human reaching
(Flash & Hogan 1985, s(τ) = 10τ³ − 15τ⁴ + 6τ⁵); end angles, movement times and pauses vary
from cycle to cycle by ``sim_variability`` (seeded). The elbow can instead follow a
commanded target, and holds still in ``hold`` mode. A read costs a few microseconds.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .base import MODES, ElbowConfig, ElbowError, ElbowState, ElbowStatus, JointLimiter

MX64_STALL_TORQUE_NM = 6.0
"""MX-64 stall torque at 12 V (ROBOTIS e-Manual), the scale of the simulated resist effort."""

RESIST_VELOCITY_SCALE = 0.5
"""rad/s at which the simulated resistance reaches ~76 % of its maximum (tanh knee)."""


@dataclass(frozen=True)
class Segment:
    """A minimum-jerk move from ``p0`` at ``t0`` to ``p1`` at ``t1`` (a hold when p0 == p1)."""

    t0: float
    t1: float
    p0: float
    p1: float

    def sample(self, t: float) -> tuple[float, float]:
        """(position rad, velocity rad/s) at time ``t`` within the segment."""
        duration = self.t1 - self.t0
        if self.p0 == self.p1 or not math.isfinite(duration) or duration <= 0.0:
            return self.p1 if duration <= 0.0 else self.p0, 0.0
        tau = min(max((t - self.t0) / duration, 0.0), 1.0)
        shape = tau**3 * (10.0 - 15.0 * tau + 6.0 * tau**2)
        rate = 30.0 * tau**2 * (1.0 - tau) ** 2 / duration
        delta = self.p1 - self.p0
        return self.p0 + delta * shape, delta * rate


class ExercisePlanner:
    """Endless flexion/extension cycles with human variability, one segment at a time."""

    def __init__(self, config: ElbowConfig) -> None:
        move_s = config.sim_cycle_s / 2.0 - config.sim_pause_s
        if move_s <= 0.0:
            raise ElbowError(
                f"elbow setting sim_cycle_s={config.sim_cycle_s} leaves no time to move after two pauses of sim_pause_s={config.sim_pause_s}"
            )
        self.config = config
        self.move_s = move_s
        self.rng = np.random.default_rng(config.sim_seed)
        self.flexing = True

    def _jitter(self, value: float) -> float:
        return value * math.exp(self.config.sim_variability * float(self.rng.standard_normal()))

    def _end_angle(self) -> float:
        """Next end of range; people stop a little short of full range, never beyond it."""
        cfg = self.config
        shortfall = abs(float(self.rng.standard_normal())) * cfg.sim_variability * 0.25 * (cfg.sim_max_angle - cfg.sim_min_angle)
        return cfg.sim_max_angle - shortfall if self.flexing else cfg.sim_min_angle + shortfall

    def next_segments(self, t0: float, p0: float) -> list[Segment]:
        """A move from ``p0`` to the next end of range followed by the pause there."""
        end = self._end_angle()
        full_range = self.config.sim_max_angle - self.config.sim_min_angle
        move = self._jitter(self.move_s) * max(abs(end - p0) / full_range, 0.1)
        pause = self._jitter(self.config.sim_pause_s) if self.config.sim_pause_s > 0.0 else 0.0
        self.flexing = not self.flexing
        return [Segment(t0, t0 + move, p0, end), Segment(t0 + move, t0 + move + pause, end, end)]


class SimulatedElbow:
    """The ``sim`` backend: plays a seeded range-of-motion exercise or follows commanded targets."""

    def __init__(self, config: ElbowConfig, clock: Callable[[], float] = time.monotonic) -> None:
        config.validate()
        self.config = config
        self.clock = clock
        self.limiter = JointLimiter(config)
        self.planner = ExercisePlanner(config)
        self.mode = config.mode
        self.target: Optional[float] = None
        self.segments: deque[Segment] = deque()
        self.is_open = False

    def open(self) -> None:
        """Start the exercise at the extended end of the range, now."""
        self.planner = ExercisePlanner(self.config)
        self.is_open = True
        self._replan(self.clock(), self.config.sim_min_angle)

    def _replan(self, now: float, position: float) -> None:
        """Plan from ``position`` at ``now`` according to the mode and target."""
        self.segments.clear()
        if self.mode == "hold":
            self.segments.append(Segment(now, math.inf, position, position))
        elif self.target is not None:
            duration = 1.875 * abs(self.target - position) / self.config.sim_follow_speed
            self.segments.append(Segment(now, now + duration, position, self.target))
            self.segments.append(Segment(now + duration, math.inf, self.target, self.target))
        else:
            self.segments.extend(self.planner.next_segments(now, position))

    def _sample(self, now: float) -> tuple[float, float]:
        while True:
            segment = self.segments[0]
            if now < segment.t1:
                return segment.sample(now)
            self.segments.popleft()
            if not self.segments:
                self.segments.extend(self.planner.next_segments(segment.t1, segment.p1))

    def read(self) -> Optional[ElbowState]:
        """The joint state now, or None before :meth:`open` / after :meth:`close`."""
        if not self.is_open:
            return None
        now = self.clock()
        position, velocity = self._sample(now)
        effort = 0.0
        if self.mode == "resist":
            effort = -self.config.resist_effort * MX64_STALL_TORQUE_NM * math.tanh(velocity / RESIST_VELOCITY_SCALE)
        return ElbowState(self.limiter.clamp(position), velocity, effort, now)

    def _position_now(self) -> tuple[float, float]:
        now = self.clock()
        if not self.is_open:
            return now, self.config.sim_min_angle
        return now, self._sample(now)[0]

    def set_mode(self, mode: str) -> None:
        """``hold`` freezes the arm where it is; ``compliant``/``resist`` resume the exercise."""
        if mode not in MODES:
            raise ElbowError(f"elbow mode {mode!r} is not one of {MODES}")
        now, position = self._position_now()
        self.mode = mode
        self._replan(now, position)

    def set_target(self, target: Optional[float]) -> None:
        """Move to ``target`` (rad, clamped to the joint limits) and stay; None resumes the exercise."""
        now, position = self._position_now()
        self.target = None if target is None else min(max(target, self.limiter.lower), self.limiter.upper)
        self._replan(now, position)

    def status(self) -> ElbowStatus:
        """Healthy while open: a simulated link has no faults, temperature or voltage (NaN)."""
        return ElbowStatus(
            connected=self.is_open,
            backend="sim",
            port="",
            torque_enabled=self.is_open and self.mode != "compliant",
            mode=self.mode,
            message=self.limiter.message,
        )

    def close(self) -> None:
        """Stop the simulation (idempotent)."""
        self.is_open = False
