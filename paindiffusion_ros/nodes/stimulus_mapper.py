"""``stimulus_mapper``: ``/joint_states`` → ``/pain/stimulus`` (sensor_msgs/Temperature, °C).

One stimulus per joint state, with the joint state's stamp, mapped by
``stimulus.angle_to_temperature``; the variance field carries the angle's quantisation
noise through the local slope of the map. A NaN angle, or no joint state for longer
than ``stale_timeout``, gives the baseline (published at ``idle_rate`` while stale), a
throttled warning and a WARN on ``/diagnostics`` (also for a stale spell that began and ended
between two reports, e.g. a driver respawned within a second). The map's settings, the patient
profile included, can change at run time; a bad profile is rejected with its reason.

``override_c`` (run time; 0 = off) is the heat override for demonstrations without the
arm: every stimulus is that temperature, published at ``idle_rate`` when no joint states
arrive, and ``/diagnostics`` reports it as a WARN for as long as it is on.

The joint states and the staleness watchdog are served by a thread of their own
(``subscription_thread.SubscriptionThread``): at 100 Hz the executor's per-message cost
was 13 % of a core; the executor keeps the diagnostics and the parameter services. While
joint states flow the watchdog sleeps until they would go stale (it used to wake at
``idle_rate``, a fifth of the thread's wake-ups). Joint states are taken and stimuli
published as CDR bytes (``cdr.py``): a Python message object each way cost ~220 µs of CPU
more per joint state.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from rclpy.node import Node
from sensor_msgs.msg import JointState, Temperature
from std_msgs.msg import Header

from ..stimulus import StimulusMap, StimulusMapConfig
from .cdr import StampedTemplate, joint_position, stamp_now
from .diagnostics import OK, WARN, DiagnosticsPublisher, status
from .elbow_driver import JOINT_NAME
from .params import ParameterGroup
from .qos import LATEST, STREAM
from .spin import run_node
from .subscription_thread import SubscriptionThread

MX64_ANGLE_STD = 2.0 * math.pi / 4096 / math.sqrt(12.0)
"""Standard deviation (rad) of the MX-64 encoder's quantisation, 4096 ticks per turn."""

WARN_THROTTLE_S = 5.0
WATCHDOG_MAX_S = 0.25
"""Longest sleep of the staleness watchdog while joint states flow."""
MAP_RUNTIME_FIELDS = ("lower_angle", "upper_angle", "baseline_c", "max_c", "patient_profile", "override_c")
"""``StimulusMapConfig`` fields that ``ros2 param set`` may change while the node runs."""


@dataclass
class StimulusMapperSettings:
    """Topic-side settings of the stimulus mapper node."""

    joint_name: str = field(default=JOINT_NAME, metadata={"help": "joint in /joint_states whose angle is the stimulus"})
    angle_std: float = field(default=MX64_ANGLE_STD, metadata={"help": "angle noise (rad, 1 sigma) propagated into the variance field", "range": (0.0, 0.5)})
    idle_rate: float = field(default=25.0, metadata={"help": "rate (Hz) of baseline stimuli while the input is stale", "range": (1.0, 200.0)})
    frame_id: str = field(default="elbow_link", metadata={"help": "frame_id of the published stimulus"})


class StimulusMapperNode(Node):
    """Maps each elbow angle to a heat stimulus; falls back to the baseline when input stops."""

    def __init__(self, node_name: str = "stimulus_mapper", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.input: Optional[SubscriptionThread] = None  # before the parameters: a rejected one still destroys the node
        self.settings = ParameterGroup(self, StimulusMapperSettings()).settings
        self.params = ParameterGroup(
            self, StimulusMapConfig(), mutable=MAP_RUNTIME_FIELDS, apply=self._apply_map
        )
        self.map = StimulusMap(self.params.settings)
        self.last_input: Optional[float] = None
        """Monotonic time of the last joint state; the first watchdog tick sets it, so the stale
        timeout runs from the first spin, not from construction (the demo builds nodes first)."""
        self.stale_count = 0
        self.nan_count = 0
        self._reported_nan = 0
        self._reported_stale = 0
        self.mapped_count = 0
        self.stimulus = self.create_publisher(Temperature, "/pain/stimulus", STREAM)
        self._message = StampedTemplate(
            lambda temperature, variance: Temperature(header=Header(frame_id=self.settings.frame_id), temperature=temperature, variance=variance), 2
        )
        self.diagnostics = DiagnosticsPublisher(self)
        self.create_timer(1.0, self._publish_diagnostics)
        self.input = SubscriptionThread(self, JointState, "/joint_states", self._on_joint_state, LATEST, self._watchdog, raw=True).start()

    def _apply_map(self, changes: dict[str, Any]) -> None:
        mapping = StimulusMap(dataclasses.replace(self.params.settings, **changes))
        if mapping.override != self.map.override:
            text = f"heat override {mapping.override:.1f} °C: the elbow is ignored" if mapping.override else "heat override off: the elbow drives the stimulus"
            self.get_logger().info(text)
        self.map = mapping

    @property
    def stale(self) -> bool:
        return self.last_input is not None and time.monotonic() - self.last_input > self.params.settings.stale_timeout

    def _publish(self, sec: int, nanosec: int, angle: float) -> None:
        current = self.map
        self.stimulus.publish(self._message.encode(sec, nanosec, current(angle), current.variance(angle, self.settings.angle_std)))

    def _on_joint_state(self, data: bytes) -> None:
        reading = joint_position(data, self.settings.joint_name)
        if reading is None:
            return
        sec, nanosec, angle = reading
        if not math.isfinite(angle):
            self.nan_count += 1
            self.get_logger().warning(f"{self.settings.joint_name} angle is {angle}; stimulus at baseline", throttle_duration_sec=WARN_THROTTLE_S)
        self.last_input = time.monotonic()
        self.mapped_count += 1
        self._publish(sec, nanosec, angle)

    def _watchdog(self) -> float:
        """Publish the baseline (or the override) while the input is stale; returns the seconds
        until the next look: one ``idle_rate`` period while stale, else until the input would go
        stale (at most ``WATCHDOG_MAX_S``, so a shorter ``stale_timeout`` set meanwhile applies soon)."""
        if self.last_input is None:
            self.last_input = time.monotonic()
        if not self.stale:
            return min(self.last_input + self.params.settings.stale_timeout - time.monotonic(), WATCHDOG_MAX_S)
        self._publish(*stamp_now(self.get_clock()), math.nan)
        if self.map.override is None:
            self.stale_count += 1
            self.get_logger().warning(
                f"no {self.settings.joint_name} joint state for over {self.params.settings.stale_timeout} s; stimulus at baseline",
                throttle_duration_sec=WARN_THROTTLE_S,
            )
        return 1.0 / self.settings.idle_rate

    def _publish_diagnostics(self) -> None:
        config = self.params.settings
        if self.map.override is not None:
            level, message = WARN, f"heat override {self.map.override:.1f} °C: the elbow is ignored"
        elif self.stale:
            level, message = WARN, "joint states stale: stimulus at baseline"
        elif self.stale_count > self._reported_stale:
            level, message = WARN, "joint states were stale since the last report: stimulus was at baseline"
        elif self.nan_count > self._reported_nan:
            level, message = WARN, "non-finite joint angles: stimulus at baseline for them"
        else:
            level, message = OK, "mapping"
        self._reported_nan, self._reported_stale = self.nan_count, self.stale_count
        values = {
            "profile": self.map.profile.name if self.map.profile else "linear",
            "range_rad": f"{config.lower_angle:.3f}..{config.upper_angle:.3f}",
            "range_c": f"{config.baseline_c:.1f}..{config.max_c:.1f}",
            "mapped": self.mapped_count,
            "nan_inputs": self.nan_count,
            "stale_ticks": self.stale_count,
            "override_c": f"{self.map.override:.1f}" if self.map.override else "off",
        }
        self.diagnostics.publish(status(self.diagnostics.name("stimulus"), level, message, values))

    def destroy_node(self) -> None:
        """Stop the input thread before the node goes."""
        if self.input is not None:
            self.input.stop()
        super().destroy_node()


def main(args: Optional[Sequence[str]] = None) -> int:
    return run_node(StimulusMapperNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
