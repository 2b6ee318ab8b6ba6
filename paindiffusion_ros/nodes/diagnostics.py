"""Building ``/diagnostics`` messages (diagnostic_msgs/DiagnosticArray) for the nodes."""

from __future__ import annotations

from typing import Any, Mapping

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

from .qos import STREAM

OK = DiagnosticStatus.OK
WARN = DiagnosticStatus.WARN
ERROR = DiagnosticStatus.ERROR

TOPIC = "/diagnostics"


def status(name: str, level: bytes, message: str, values: Mapping[str, Any], hardware_id: str = "") -> DiagnosticStatus:
    """One DiagnosticStatus; ``values`` become KeyValue strings."""
    return DiagnosticStatus(
        level=level,
        name=name,
        message=message,
        hardware_id=hardware_id,
        values=[KeyValue(key=str(key), value=str(value)) for key, value in values.items()],
    )


class DiagnosticsPublisher:
    """Publishes a node's statuses on ``/diagnostics``, named ``<node>: <part>``."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.publisher = node.create_publisher(DiagnosticArray, TOPIC, STREAM)

    def publish(self, *statuses: DiagnosticStatus) -> None:
        message = DiagnosticArray(status=list(statuses))
        message.header.stamp = self.node.get_clock().now().to_msg()
        self.publisher.publish(message)

    def name(self, part: str) -> str:
        return f"{self.node.get_name()}: {part}"
