"""``operator_console``: the instructor's web page and the trainee's rating page.

Serves ``http://HOST:PORT/`` (``console/server.py``; 127.0.0.1:8080 by default) and feeds
it from the graph: the face (``/face/image/compressed`` when someone publishes it, else
``/face/image`` encoded here, at most ``face_rate`` per second), the elbow angle, heat and
PSPI traces, every ``/diagnostics`` status. The page's controls are node parameters,
changed through the nodes' parameter services as ``ros2 param set`` does; the console
learns each one's type, range and choices from ``describe_parameters`` and follows changes
on ``/parameter_events``. Ratings from the trainee page are published on
``/trainee/rating`` (``session/rating.py``). Recording runs the project's recorder in a
process of its own (``console/recording.py``). Destroying the node closes a running
recording properly and stops the server.
"""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any, Optional, Sequence

import cv2
import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterEvent, ParameterType
from rclpy.node import Node
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.parameter_client import AsyncParameterClient
from rclpy.serialization import deserialize_message
from rclpy.task import Future
from sensor_msgs.msg import CompressedImage, Image, JointState, Joy, Temperature
from std_msgs.msg import Float32

from ..console.controls import ROLES, Control, ControlError, ControlPanel, ParameterSpec, choices_from_constraints
from ..console.live import LiveData
from ..console.recording import Recordings
from ..console.server import ConsoleServer
from ..console.settings import ConsoleSettings
from ..console.security import Tokens
from ..session.demo import PROJECT_TOPICS
from ..session.rating import RATING_FRAME, RATING_TOPIC
from ..session.video import image_to_rgb, joint_position
from .diagnostics import ERROR, OK, WARN, DiagnosticsPublisher, status
from .params import ParameterGroup
from .qos import LATEST, STREAM
from .spin import run_node

COMPRESSED_TOPIC = "/face/image/compressed"
RAW_TOPIC = "/face/image"
JPEG_QUALITY = 80
BIND_POLL_S = 0.05
BIND_RETRY_S = 5.0
"""Seconds between attempts to take a port that could not be taken."""
KINDS = {ParameterType.PARAMETER_BOOL: "bool", ParameterType.PARAMETER_INTEGER: "integer",
         ParameterType.PARAMETER_DOUBLE: "double", ParameterType.PARAMETER_STRING: "string"}


def qualified(namespace: str, name: str) -> str:
    """A node name as ``/parameter_events`` reports it."""
    return name if name.startswith("/") else f"{namespace.rstrip('/')}/{name}"


class OperatorConsoleNode(Node):
    """The web console's ROS side: live data in, parameters and ratings out."""

    def __init__(self, node_name: str = "operator_console", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.server: Optional[ConsoleServer] = None  # before the parameters: a rejected one still destroys the node
        self.settings = ParameterGroup(self, ConsoleSettings()).settings
        s = self.settings
        names = {"generator": s.generator_node, "mapper": s.mapper_node, "elbow": s.elbow_node}
        self.panel = ControlPanel(names)
        self.live = LiveData(rate=s.trace_rate, window=s.window)
        self.param_clients = {role: AsyncParameterClient(self, names[role]) for role in ROLES}
        self.qualified = {qualified(self.get_namespace(), name): role for role, name in names.items()}
        self._describing: set[str] = set()
        self.ratings = self.create_publisher(Joy, RATING_TOPIC, STREAM)
        self.rating_count = 0
        self.diagnostics = DiagnosticsPublisher(self)
        self.create_subscription(JointState, "/joint_states", self._on_joint_state, LATEST)
        self.create_subscription(Temperature, "/pain/stimulus", lambda m: self.live.add("heat", m.temperature), LATEST)
        self.create_subscription(Float32, "/pain/pspi", lambda m: self.live.add("pspi", m.data), LATEST)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, STREAM)
        self.create_subscription(ParameterEvent, "/parameter_events", self._on_parameter_event, STREAM)
        self.create_subscription(CompressedImage, COMPRESSED_TOPIC, self._on_compressed, LATEST)
        self.raw_images = None
        self._choose_image_source()
        self.create_timer(1.0, self._choose_image_source)
        self.create_timer(1.0, self._refresh_controls)
        self.create_timer(1.0, self._publish_diagnostics)
        self.tokens = Tokens.for_host(s.host, s.token, s.trainee_token)
        self.recordings = Recordings(s.record_dir, list(PROJECT_TOPICS), self.ratings.get_subscription_count)
        self.server = ConsoleServer(s.host, s.port, self.tokens, self.panel, self.live, self, self.recordings)
        self.serve_error = ""
        self._next_bind = 0.0
        self._binding = self.create_timer(BIND_POLL_S, self._serve)

    def _serve(self) -> None:
        """Start the web server on the first spin; a port it cannot take (in use, not permitted)
        is an ERROR on /diagnostics and is retried, as the elbow driver retries its port."""
        if time.monotonic() < self._next_bind:
            return
        try:
            self.server.start()
        except OSError as error:
            message = f"cannot serve the console on {self.settings.host}:{self.settings.port}: {error.strerror or error}"
            if message != self.serve_error:
                self.get_logger().error(f"{message}; retrying every {BIND_RETRY_S:.0f} s")
            self.serve_error, self._next_bind = message, time.monotonic() + BIND_RETRY_S
            return
        self.serve_error = ""
        self._binding.cancel()
        self.get_logger().info(f"operator console: {self.server.url('/', self.tokens.operator)}")
        self.get_logger().info(f"trainee page: {self.server.url('/trainee', self.tokens.trainee)}")

    # --- live data ---------------------------------------------------------------------

    def _on_joint_state(self, message: JointState) -> None:
        angle = joint_position(message, self.settings.joint_name)
        if np.isfinite(angle):
            self.live.add("angle", float(np.degrees(angle)))

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        for item in message.status:
            level = item.level[0] if isinstance(item.level, bytes) else int(item.level)
            self.live.set_status(item.name, level, item.message, {kv.key: kv.value for kv in item.values})

    def _on_compressed(self, message: CompressedImage) -> None:
        if self.live.face_due(1.0 / self.settings.face_rate):
            mime = "image/png" if "png" in message.format else "image/jpeg"
            self.live.set_face(bytes(message.data), mime)

    def _on_raw_image(self, data: bytes) -> None:
        """Raw ``/face/image``, taken as bytes and decoded only when a frame is due."""
        if not self.live.face_due(1.0 / self.settings.face_rate):
            return
        try:
            rgb = image_to_rgb(deserialize_message(data, Image))
        except ValueError as error:
            self.get_logger().warning(f"{RAW_TOPIC}: {error}", throttle_duration_sec=10.0)
            return
        encoded, jpeg = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if encoded:
            self.live.set_face(jpeg.tobytes(), "image/jpeg")

    def _choose_image_source(self) -> None:
        """Subscribe to the raw image only while nobody publishes the compressed one (0.8 MB frames
        at 25 Hz are not worth receiving twice)."""
        compressed = self.count_publishers(COMPRESSED_TOPIC) > 0
        if compressed and self.raw_images is not None:
            self.destroy_subscription(self.raw_images)
            self.raw_images = None
        elif not compressed and self.raw_images is None:
            self.raw_images = self.create_subscription(Image, RAW_TOPIC, self._on_raw_image, LATEST, raw=True)

    # --- controls ----------------------------------------------------------------------

    def _refresh_controls(self) -> None:
        """Learn the controls of nodes that (re)appeared; mark those of vanished nodes."""
        for role, client in self.param_clients.items():
            name = self.panel.node_names[role]
            if not client.services_are_ready():
                self.panel.unavailable(role, f"{name} is not running (no parameter services)")
            elif not self.panel.known(role) and role not in self._describing:
                self._describing.add(role)
                names = [c.parameter for c in self.panel.for_role(role)]
                client.describe_parameters(names, callback=lambda f, r=role, n=names: self._on_described(r, n, f))

    def _on_described(self, role: str, names: list[str], future: Future) -> None:
        descriptors = future.result().descriptors if future.exception() is None else []
        if len(descriptors) != len(names):
            self._describing.discard(role)
            return
        self.param_clients[role].get_parameters(names, callback=lambda f: self._on_values(role, descriptors, f))

    def _on_values(self, role: str, descriptors: list, future: Future) -> None:
        self._describing.discard(role)
        if future.exception() is not None:
            return
        node = self.panel.node_names[role]
        for control, descriptor, value in zip(self.panel.for_role(role), descriptors, future.result().values):
            kind = KINDS.get(descriptor.type)
            if kind is None:
                self.panel.unavailable(role, f"{node} has no parameter {control.parameter}")
                return
            ranges = list(descriptor.floating_point_range) or list(descriptor.integer_range)
            self.panel.describe(control, ParameterSpec(
                kind=kind,
                value=parameter_value_to_python(value),
                minimum=ranges[0].from_value if ranges else None,
                maximum=ranges[0].to_value if ranges else None,
                step=float(ranges[0].step) if ranges else 0.0,
                choices=choices_from_constraints(descriptor.additional_constraints),
                read_only=descriptor.read_only,
                description=descriptor.description,
            ))

    def _on_parameter_event(self, event: ParameterEvent) -> None:
        role = self.qualified.get(event.node)
        if role is None:
            return
        for parameter in [*event.new_parameters, *event.changed_parameters]:
            self.panel.reported(role, parameter.name, parameter_value_to_python(parameter.value))

    # --- RosActions (called from the web server's thread) ------------------------------

    def set_parameter(self, control: Control, value: Any) -> concurrent.futures.Future:
        """Set ``control`` on its node; the future gives (successful, reason)."""
        result: concurrent.futures.Future = concurrent.futures.Future()
        client = self.param_clients[control.role]
        if not client.services_are_ready():
            result.set_exception(ControlError(f"{self.panel.node_names[control.role]} is not running"))
            return result

        def answered(future: Future) -> None:
            if future.exception() is not None:
                result.set_exception(ControlError(f"{self.panel.node_names[control.role]}: {future.exception()}"))
                return
            (outcome,) = future.result().results
            if outcome.successful:
                self.panel.reported(control.role, control.parameter, value)
                self.get_logger().info(f"{self.panel.node_names[control.role]} {control.parameter} = {value!r} (from the console)")
            result.set_result((outcome.successful, outcome.reason))

        client.set_parameters([Parameter(control.parameter, value=value)], callback=answered)
        return result

    def publish_rating(self, value: float) -> None:
        message = Joy(axes=[float(value)], buttons=[])
        message.header.stamp = self.get_clock().now().to_msg()
        message.header.frame_id = RATING_FRAME
        self.ratings.publish(message)
        self.rating_count += 1

    # --- own health --------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        recording = self.recordings.state()
        if self.serve_error:
            level, text = ERROR, self.serve_error
        elif recording["error"]:
            level, text = ERROR, recording["error"]
        elif recording["recording"]:
            level, text = OK, f"recording {recording['current']['name']}"
        else:
            level, text = OK, "serving"
        unavailable = sorted({c["node"] for c in self.panel.snapshot()["controls"] if not c["available"]})
        if unavailable and level == OK:
            level, text = WARN, f"cannot reach {', '.join(unavailable)}"
        values = {
            "url": self.server.url() if self.server.serving else "",
            "token_required": self.tokens.required,
            "browsers": self.server.clients,
            "ratings": self.rating_count,
            "record_dir": recording["record_dir"],
            "face_age_s": "none" if (age := self.live.face_age()) is None else f"{age:.1f}",
        }
        self.diagnostics.publish(status(self.diagnostics.name("console"), level, text, values))

    def destroy_node(self) -> None:
        """Close a running recording and stop the web server before the node goes."""
        if self.server is not None:
            self.server.stop()
        super().destroy_node()


def main(args: Optional[Sequence[str]] = None) -> int:
    return run_node(OperatorConsoleNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
