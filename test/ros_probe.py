"""A probe node for in-process graph tests: every project topic, stored with arrival times."""

import threading
import time
from collections import defaultdict

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Vector3Stamped
from rclpy.context import Context
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CompressedImage, Image, JointState, Temperature
from std_msgs.msg import Float32, Float32MultiArray, String
from visualization_msgs.msg import Marker

from paindiffusion_ros.nodes.qos import LATCHED, LATEST, STREAM


class Probe:
    """A node that stores what arrives, with its monotonic arrival time (deep queues, so a
    busy test process loses nothing of the reliable streams)."""

    def __init__(self, context: Context) -> None:
        self.node = rclpy.create_node("probe", context=context)
        self.messages = defaultdict(list)
        self.lock = threading.Lock()
        for topic, kind, qos, raw in (
            ("/joint_states", JointState, STREAM, False),
            ("/pain/stimulus", Temperature, STREAM, False),
            ("/face/expression", Float32MultiArray, STREAM, False),
            ("/face/jaw_pose", Vector3Stamped, STREAM, False),
            ("/pain/pspi", Float32, STREAM, False),
            ("/face/expression_names", String, LATCHED, False),
            ("/diagnostics", DiagnosticArray, STREAM, False),
            ("/face/image/compressed", CompressedImage, STREAM, False),
            ("/face/image", Image, LATEST, True),
            ("/face/mesh", Marker, STREAM, True),
        ):
            deep = QoSProfile(depth=200, reliability=qos.reliability, durability=qos.durability)
            self.node.create_subscription(kind, topic, self._store(topic), deep, raw=raw)

    def _store(self, topic):
        def store(message):
            with self.lock:
                self.messages[topic].append((time.monotonic(), message))

        return store

    def since(self, topic, start):
        with self.lock:
            return [(t, m) for t, m in self.messages[topic] if t >= start]

    def statuses(self, name_part):
        with self.lock:
            return [s for _, m in self.messages["/diagnostics"] for s in m.status if name_part in s.name]


def rate(arrivals):
    """Sustained rate (Hz): the inverse of the least-squares slope of arrival time against
    message index, so one late delivery at either end of the window (a busy 2-core CI
    machine) does not read as a slower stream, while lost or skipped messages still do."""
    times = np.array([t for t, _ in arrivals])
    period = np.polyfit(np.arange(len(times)), times, 1)[0]
    return 1.0 / period
