"""``elbow_driver``: the elbow backend → ``/joint_states`` (≥ 50 Hz) and ``/diagnostics`` (1 Hz).

The elbow is read and its state published by a sampling thread of its own at ``rate``
(absolute deadlines, no burst after a stall), not by an executor timer: an rclpy
executor costs ~0.5 ms of Python per wake-up, which at 100 Hz was 13 % of a core on
the 2-core machine; the thread costs a third of that. The executor only serves the 1 Hz
diagnostics, the re-open timer and parameter changes. One lock serialises every access
to the backend. Each joint state is published as CDR bytes patched from a template
(``cdr.StampedTemplate``): a JointState object per sample cost ~180 µs of CPU more.

Parameters: every field of ``hardware.base.ElbowConfig`` (start-up only, except ``mode``,
which switches compliant/hold/resist at run time) plus ``ElbowDriverSettings``. A port
that cannot be opened, or a setting the backend refuses (an unsupported Dynamixel baud
rate), is an ERROR on ``/diagnostics`` and is retried; the node never exits for it.
Destroying the node closes the backend (torque off, port closed).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from rclpy.node import Node
from sensor_msgs.msg import JointState

from ..hardware.base import ElbowBackend, ElbowConfig, ElbowError, ElbowStatus, make_backend
from .cdr import StampedTemplate, stamp_now
from .diagnostics import DiagnosticsPublisher, status
from .params import ParameterGroup
from .qos import STREAM
from .spin import run_node

JOINT_NAME = "elbow_joint"
"""The revolute joint of ``urdf/elbow_rig.urdf``."""


@dataclass
class ElbowDriverSettings:
    """Publishing settings of the elbow driver node."""

    rate: float = field(default=100.0, metadata={"help": "joint state publishing rate (Hz)", "range": (50.0, 1000.0)})
    joint_name: str = field(default=JOINT_NAME, metadata={"help": "joint name in /joint_states; must match the URDF"})
    reopen_period: float = field(default=2.0, metadata={"help": "seconds between attempts to open an elbow that failed to open", "range": (0.1, 60.0)})


class ElbowDriverNode(Node):
    """Reads the elbow backend on a timer and publishes its joint state and health."""

    def __init__(self, node_name: str = "elbow_driver", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.backend: Optional[ElbowBackend] = None  # before the parameters: a rejected one still destroys the node
        self.settings = ParameterGroup(self, ElbowDriverSettings()).settings
        self.elbow = ParameterGroup(self, ElbowConfig(), mutable=("mode",), apply=self._apply_elbow)
        self.open_error = ""
        self.joint_states = self.create_publisher(JointState, "/joint_states", STREAM)
        self.diagnostics = DiagnosticsPublisher(self)
        self.samples = 0
        self._last_stamp: Optional[tuple[int, int]] = None
        self._message = StampedTemplate(
            lambda position, velocity, effort: JointState(name=[self.settings.joint_name], position=[position], velocity=[velocity], effort=[effort]), 3
        )
        self._hardware = threading.Lock()
        self._stop = threading.Event()
        self._open()
        self.create_timer(1.0, self._publish_diagnostics)
        self.create_timer(self.settings.reopen_period, self._reopen)
        self._sampler = threading.Thread(target=self._sample, name="elbow-sampler", daemon=True)
        self._sampler.start()

    def _open(self) -> None:
        """Make the backend (once its settings are accepted) and open it; errors are logged once."""
        with self._hardware:
            self._open_locked()

    def _open_locked(self) -> None:
        try:
            if self.backend is None:
                self.backend = make_backend(self.elbow.settings)
            self.backend.open()
            self.open_error = ""
        except ElbowError as error:
            if str(error) != self.open_error:
                self.get_logger().error(f"cannot open the {self.elbow.settings.backend} elbow: {error}")
            self.open_error = str(error)

    def _reopen(self) -> None:
        if self.open_error:
            self._open()

    def _apply_elbow(self, changes: dict[str, Any]) -> None:
        """Run-time change of ``mode`` (the only mutable elbow field); a backend made later starts in it."""
        with self._hardware:
            if self.backend is None:
                return
            try:
                self.backend.set_mode(changes["mode"])
            except ElbowError as error:
                raise ValueError(str(error)) from None

    def _sample(self) -> None:
        """Read and publish at ``rate`` until the node is destroyed; after a stall (a slow read,
        a busy machine) the next sample is taken at once, then the period resumes. It sleeps
        with ``time.sleep`` and looks at the stop request once per period: a wake-up from
        ``Event.wait`` cost 150 µs of CPU on the 2-core VM, from ``time.sleep`` 83 µs."""
        period = 1.0 / self.settings.rate
        deadline = time.monotonic()
        while not self._stop.is_set():
            deadline = max(deadline + period, time.monotonic() - period)
            self._publish_state()
            time.sleep(max(deadline - time.monotonic(), 0.0))

    def _publish_state(self) -> None:
        with self._hardware:
            state = None if self.open_error else self.backend.read()
        if state is None or not math.isfinite(state.position):
            return
        stamp = stamp_now(self.get_clock())
        self.joint_states.publish(self._message.encode(*stamp, float(state.position), float(state.velocity), float(state.effort)))
        self.samples += 1
        self._last_stamp = stamp

    def elbow_status(self) -> ElbowStatus:
        """The backend's status, or a disconnected one carrying the open error."""
        with self._hardware:
            if self.open_error:
                config = self.elbow.settings
                return ElbowStatus(connected=False, backend=config.backend, port=config.port, mode=config.mode, message=self.open_error)
            return self.backend.status()

    def _publish_diagnostics(self) -> None:
        health = self.elbow_status()
        values = dict(health.key_values())
        values["samples"] = self.samples
        hardware_id = health.port if health.backend != "sim" else "sim"
        self.diagnostics.publish(status(self.diagnostics.name("elbow"), bytes([health.level]), health.summary(), values, hardware_id))

    def destroy_node(self) -> None:
        """Stop sampling, then close the backend (torque off, port closed) before the node goes."""
        if hasattr(self, "_sampler"):
            self._stop.set()
            self._sampler.join()
            last = f"{self._last_stamp[0]}.{self._last_stamp[1]:09d}" if self._last_stamp else "never"
            self.get_logger().info(f"stopped after {self.samples} joint states, the last stamped {last}")
        if self.backend is not None:
            with self._hardware:
                self.backend.close()
        super().destroy_node()


def main(args: Optional[Sequence[str]] = None) -> int:
    return run_node(ElbowDriverNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
