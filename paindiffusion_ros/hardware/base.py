"""The elbow contract shared by every backend: settings, state, status and the backend protocol.

Units follow REP-103: joint angles in radians, velocities in rad/s, time in seconds,
temperature in °C. The joint angle is ``direction * (motor_angle - zero_offset)`` where
``motor_angle`` is the motor's own angle from its centre tick (2048 of 4096 on an MX-64).
"""

from __future__ import annotations

import importlib
import logging
import math
from dataclasses import dataclass, field
from typing import Optional, Protocol, runtime_checkable

LOG = logging.getLogger(__name__)

BACKENDS = ("sim", "dynamixel", "arduino")
MODES = ("compliant", "hold", "resist")

DIAGNOSTIC_OK = 0
DIAGNOSTIC_WARN = 1
DIAGNOSTIC_ERROR = 2


class ElbowError(RuntimeError):
    """A problem the operator must fix (missing port, permission, wrong motor, bad setting)."""


@dataclass
class ElbowConfig:
    """Settings of the elbow driver; one ROS parameter per field (see docs/interfaces.md)."""

    backend: str = field(default="sim", metadata={"help": "which elbow to read", "choices": BACKENDS})
    port: str = field(default="/dev/ttyUSB0", metadata={"help": "serial device of the U2D2 adapter or Arduino"})
    baudrate: int = field(default=1_000_000, metadata={"help": "serial baud rate (bit/s)", "range": (9600, 4_500_000)})
    protocol: int = field(default=2, metadata={"help": "Dynamixel protocol version (1 or 2)", "range": (1, 2)})
    motor_id: int = field(default=1, metadata={"help": "Dynamixel ID of the MX-64", "range": (0, 252)})
    mode: str = field(default="compliant", metadata={"help": "compliant: torque off; hold: keep the angle; resist: gentle limited resistance", "choices": MODES})
    lower_limit: float = field(default=0.0, metadata={"help": "lowest joint angle (rad); readings below are clamped", "range": (-math.pi, math.pi)})
    upper_limit: float = field(default=2.5, metadata={"help": "highest joint angle (rad); readings above are clamped", "range": (-math.pi, math.pi)})
    zero_offset: float = field(default=0.0, metadata={"help": "motor angle (rad from centre tick) at joint zero", "range": (-math.pi, math.pi)})
    direction: int = field(default=1, metadata={"help": "+1 or -1: sign between motor and joint angle", "range": (-1, 1)})
    resist_effort: float = field(default=0.3, metadata={"help": "resist mode: fraction of the motor's maximum torque/current", "range": (0.05, 1.0)})
    latency_timer_ms: float = field(default=16.0, metadata={"help": "USB adapter latency timer (ms; FTDI: 1–255) used for packet timeouts; set 1 on a tuned FTDI", "range": (0.0, 255.0)})
    retries: int = field(default=2, metadata={"help": "retries of a failed read before it counts as lost", "range": (0, 10)})
    reconnect_min_s: float = field(default=0.2, metadata={"help": "first wait before reconnecting after a lost link (s)", "range": (0.0, 10.0)})
    reconnect_max_s: float = field(default=5.0, metadata={"help": "longest wait between reconnect attempts (s)", "range": (0.0, 60.0)})
    sim_min_angle: float = field(default=0.3, metadata={"help": "simulated exercise: extended end angle (rad)", "range": (-math.pi, math.pi)})
    sim_max_angle: float = field(default=2.2, metadata={"help": "simulated exercise: flexed end angle (rad)", "range": (-math.pi, math.pi)})
    sim_cycle_s: float = field(default=8.0, metadata={"help": "simulated exercise: mean duration of one flexion+extension cycle (s)", "range": (0.5, 120.0)})
    sim_pause_s: float = field(default=1.0, metadata={"help": "simulated exercise: mean pause at each end of the range (s)", "range": (0.0, 30.0)})
    sim_variability: float = field(default=0.1, metadata={"help": "simulated exercise: relative human variability of range, speed and pauses", "range": (0.0, 0.5)})
    sim_follow_speed: float = field(default=1.5, metadata={"help": "simulated elbow: mean speed when following a commanded target (rad/s)", "range": (0.01, 10.0)})
    sim_seed: int = field(default=0, metadata={"help": "simulated exercise: random seed", "range": (0, 2**31 - 1)})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ElbowError` naming the first setting that is out of its range or choices."""
        for name, spec in self.__dataclass_fields__.items():
            value = getattr(self, name)
            meta = spec.metadata
            if "choices" in meta and value not in meta["choices"]:
                raise ElbowError(f"elbow setting {name}={value!r} is not one of {meta['choices']}")
            if "range" in meta and not meta["range"][0] <= value <= meta["range"][1]:
                raise ElbowError(f"elbow setting {name}={value!r} is outside {meta['range']}")
        if self.direction not in (-1, 1):
            raise ElbowError(f"elbow setting direction={self.direction!r} must be +1 or -1")
        if self.lower_limit >= self.upper_limit:
            raise ElbowError(f"elbow setting lower_limit={self.lower_limit} must be below upper_limit={self.upper_limit}")
        if self.sim_min_angle >= self.sim_max_angle:
            raise ElbowError(f"elbow setting sim_min_angle={self.sim_min_angle} must be below sim_max_angle={self.sim_max_angle}")

    def motor_to_joint(self, motor_angle: float) -> float:
        """Joint angle (rad) of a motor angle (rad from the centre tick)."""
        return self.direction * (motor_angle - self.zero_offset)

    def joint_to_motor(self, joint_angle: float) -> float:
        """Motor angle (rad from the centre tick) of a joint angle (rad)."""
        return self.direction * joint_angle + self.zero_offset


@dataclass(frozen=True)
class ElbowState:
    """One joint sample: angle (rad), velocity (rad/s), effort (N·m estimate), stamp (monotonic s)."""

    position: float
    velocity: float
    effort: float
    stamp: float


@dataclass
class ElbowStatus:
    """Health of the elbow link, turned into a ``diagnostic_msgs/DiagnosticStatus`` by the node."""

    connected: bool = False
    backend: str = ""
    port: str = ""
    errors: tuple[str, ...] = ()
    temperature_c: float = math.nan
    voltage_v: float = math.nan
    comm_errors: int = 0
    comm_error_rate: float = 0.0
    reconnects: int = 0
    torque_enabled: bool = False
    mode: str = "compliant"
    message: str = ""

    @property
    def level(self) -> int:
        """Diagnostic level: 0 OK, 1 WARN (limit clamp, comm errors), 2 ERROR (disconnected, error bits)."""
        if not self.connected or self.errors:
            return DIAGNOSTIC_ERROR
        if self.comm_error_rate > 0.0 or self.message:
            return DIAGNOSTIC_WARN
        return DIAGNOSTIC_OK

    def summary(self) -> str:
        """One line for DiagnosticStatus.message."""
        if not self.connected:
            return self.message or "disconnected"
        if self.errors:
            return "hardware error: " + ", ".join(self.errors)
        return self.message or "ok"

    def key_values(self) -> list[tuple[str, str]]:
        """(key, value) string pairs for DiagnosticStatus.values."""
        return [
            ("connected", str(self.connected)),
            ("backend", self.backend),
            ("port", self.port),
            ("errors", ",".join(self.errors) or "none"),
            ("temperature_c", f"{self.temperature_c:.1f}"),
            ("voltage_v", f"{self.voltage_v:.2f}"),
            ("comm_errors", str(self.comm_errors)),
            ("comm_error_rate", f"{self.comm_error_rate:.4f}"),
            ("reconnects", str(self.reconnects)),
            ("torque_enabled", str(self.torque_enabled)),
            ("mode", self.mode),
        ]


@runtime_checkable
class ElbowBackend(Protocol):
    """What the elbow driver node calls; every backend implements it."""

    def open(self) -> None:
        """Connect; raises :class:`ElbowError` when the port is missing, not permitted or the motor is wrong."""

    def read(self) -> Optional[ElbowState]:
        """Latest joint state, or None while disconnected (never raises for a lost link)."""

    def set_mode(self, mode: str) -> None:
        """Switch between ``compliant``, ``hold`` and ``resist``."""

    def status(self) -> ElbowStatus:
        """Current link health for diagnostics."""

    def close(self) -> None:
        """Torque off and port closed; safe to call more than once."""


class JointLimiter:
    """Clamps angles to the configured joint limits and warns once per excursion."""

    def __init__(self, config: ElbowConfig) -> None:
        self.lower = config.lower_limit
        self.upper = config.upper_limit
        self.outside = False

    def clamp(self, angle: float) -> float:
        """``angle`` clamped into [lower, upper]; logs a warning when an excursion begins."""
        clamped = min(max(angle, self.lower), self.upper)
        outside = clamped != angle
        if outside and not self.outside:
            LOG.warning("elbow angle %.3f rad is outside the limits [%.3f, %.3f]; clamped", angle, self.lower, self.upper)
        self.outside = outside
        return clamped

    @property
    def message(self) -> str:
        """Status text while the joint is outside its limits, else empty."""
        return f"angle outside limits [{self.lower:.3f}, {self.upper:.3f}] rad, clamped" if self.outside else ""


_BACKEND_CLASSES = {
    "sim": ("paindiffusion_ros.hardware.sim", "SimulatedElbow"),
    "dynamixel": ("paindiffusion_ros.hardware.dynamixel", "DynamixelElbow"),
    "arduino": ("paindiffusion_ros.hardware.arduino", "ArduinoElbow"),
}


def make_backend(config: ElbowConfig) -> ElbowBackend:
    """The backend named by ``config.backend`` (not yet opened)."""
    config.validate()
    module_name, class_name = _BACKEND_CLASSES[config.backend]
    return getattr(importlib.import_module(module_name), class_name)(config)
