"""The fault campaign's rig: the node graph in its own processes, on an MX-64 in a process of its own,
recorded, and watched by a probe that stores what users would see.

Nothing of the graph runs in the test process except the probe (one DDS participant, its own
executor thread): the nodes are ``session.processes.NodeProcesses`` children (respawned after a
crash, as under launch), the motor is ``hardware.emulator_process.EmulatorProcess``, the recorders
are ``python -m paindiffusion_ros.session.recorder`` processes. Waits poll for what they wait for,
with deadlines far beyond what a loaded 2-core machine needs; none is a fixed sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import cv2
import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Vector3Stamped
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.subscription import MessageInfo
from sensor_msgs.msg import CompressedImage, JointState, Temperature
from std_msgs.msg import Float32, Float32MultiArray, String

from paindiffusion_ros.face.appearance import Appearance
from paindiffusion_ros.face.models import FaceConfig, load_face
from paindiffusion_ros.face.render import FaceRenderer, RenderConfig
from paindiffusion_ros.hardware.emulator_process import EmulatorProcess
from paindiffusion_ros.session import demo
from paindiffusion_ros.session.processes import NodeProcesses, NodeSpec
from ros_probe import rate

IMAGE_SIZE = 128
START_TIMEOUT_S = 300.0
"""Longest wait for the graph to come up with its model loaded (seconds of a quiet machine)."""
RECOVERY_TIMEOUT_S = 120.0
"""Longest wait for a condition that must come back (a respawned model loading on a loaded machine)."""
FLEXED_RAD = 2.0
"""The scripted hand holds the elbow near full flexion: ~48.8 °C, a clear pain face."""
EXPRESSIVENESS = 8.0
"""A very expressive patient, so the pain face stands far from neutral in the image."""
STREAMS = {
    "/joint_states": (JointState, 100.0),
    "/pain/stimulus": (Temperature, 100.0),
    "/face/expression": (Float32MultiArray, 25.0),
    "/face/jaw_pose": (Vector3Stamped, 25.0),
    "/pain/pspi": (Float32, 25.0),
    "/face/image/compressed": (CompressedImage, 25.0),
}
"""Topics the probe stores, with their nominal rates."""
PUBLISHED_BY = {
    "elbow_driver": "/joint_states",
    "stimulus_mapper": "/pain/stimulus",
    "pain_generator": "/face/expression",
    "face_renderer": "/face/image/compressed",
}
"""The stream that shows each node is running."""


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, poll: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned); AssertionError naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(poll)


def gray(jpeg: bytes) -> np.ndarray:
    """A JPEG as a float32 grey image."""
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE).astype(np.float32)


def neutral_face(size: int = IMAGE_SIZE) -> np.ndarray:
    """The default face at rest as face_renderer renders it (grey), the reference for "neutral"."""
    renderer = FaceRenderer(load_face(FaceConfig().kind, appearance=Appearance()), size, RenderConfig(), "full")
    rgb = renderer.render(np.zeros(50, np.float32), np.zeros(3, np.float32))
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


@dataclass(frozen=True)
class Status:
    """One node's ``/diagnostics`` status as the probe received it."""

    time: float
    level: int
    message: str
    values: dict[str, str]


def stamp_of(message: Any) -> Optional[float]:
    """A message's header stamp (s since the epoch, the ROS clock), or None for a message without one."""
    header = getattr(message, "header", None)
    return None if header is None else header.stamp.sec + header.stamp.nanosec * 1e-9


class GraphProbe:
    """Subscribes to the project's streams and ``/diagnostics`` in this process and stores every
    message (deep reliable queues: a busy test process loses nothing the nodes send reliably).

    Times are wall-clock seconds (``time.time()``, the ROS clock): a message's time is its header
    stamp when it has one, else its DDS source timestamp (when its node published it): never its
    arrival here, so a probe that falls behind on a loaded machine does not move it, and the last
    message of a node killed with ``kill -9``, taken after the kill, is not mistaken for the
    respawned node's first (a loaded run failed that way)."""

    def __init__(self) -> None:
        self.context = Context()
        rclpy.init(context=self.context, args=["fault_probe"])
        self.node = rclpy.create_node("fault_probe", context=self.context)
        self.lock = threading.Lock()
        self.messages: dict[str, list[tuple[float, Any]]] = defaultdict(list)
        deep = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
        for topic, (kind, _) in STREAMS.items():
            self.node.create_subscription(kind, topic, self._store(topic), deep)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._store("/diagnostics"), deep)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.node.create_subscription(String, "/face/expression_names", self._store("/face/expression_names"), latched)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._running = True
        self.died: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._spin, name="fault-probe", daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        while self._running and self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.1)
            except ExternalShutdownException:
                break
            except Exception as error:
                self.died = error
                raise

    def messages_between(self, topic: str, since: float = -np.inf, until: float = np.inf) -> list[tuple[float, Any]]:
        """(time, message) of ``topic`` with since ≤ time < until, in time order; AssertionError
        once the probe's executor thread has died (it would never store another message)."""
        if self.died is not None:
            raise AssertionError(f"the probe stopped receiving: its executor thread died of {self.died!r}")
        with self.lock:
            return sorted(((t, m) for t, m in self.messages[topic] if since <= t < until), key=lambda item: item[0])

    def _store(self, topic: str) -> Callable[[Any], None]:
        def store(message: Any, info: MessageInfo) -> None:
            stamp = stamp_of(message)
            with self.lock:
                self.messages[topic].append((info["source_timestamp"] * 1e-9 if stamp is None else stamp, message))

        return store


    def times(self, topic: str, since: float = -np.inf, until: float = np.inf) -> np.ndarray:
        return np.array([t for t, _ in self.messages_between(topic, since, until)])

    def first_after(self, topic: str, since: float) -> Optional[float]:
        """Time of the first ``topic`` message after ``since``, or None."""
        times = self.times(topic, since)
        return float(times[0]) if len(times) else None

    def statuses(self, name: str, since: float = -np.inf) -> list[Status]:
        """Every status called ``name`` (e.g. ``"elbow_driver: elbow"``) stamped after ``since``."""
        found = []
        for t, array in self.messages_between("/diagnostics", since):
            for s in array.status:
                if s.name == name:
                    level = s.level[0] if isinstance(s.level, bytes) else int(s.level)
                    found.append(Status(t, level, s.message, {v.key: v.value for v in s.values}))
        return found

    def latest_status(self, name: str, since: float = -np.inf) -> Optional[Status]:
        statuses = self.statuses(name, since)
        return statuses[-1] if statuses else None

    def rate(self, topic: str, since: float, until: float) -> float:
        """Sustained rate of ``topic`` over [since, until) (least-squares slope, ``ros_probe.rate``)."""
        messages = self.messages_between(topic, since, until)
        return rate(messages) if len(messages) >= 3 else 0.0

    def longest_gap(self, topic: str, since: float, until: float) -> float:
        """Longest time without a ``topic`` message within [since, until)."""
        return float(np.max(np.diff([since, *self.times(topic, since, until), until])))

    def close(self) -> None:
        self._running = False
        self.thread.join(5.0)
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


def recorder_command(out: Path, topics: list[str], min_free_mb: float) -> list[str]:
    return [sys.executable, "-m", "paindiffusion_ros.session.recorder", str(out), *topics, "--min-free-mb", str(min_free_mb)]


class Recorder:
    """A stand-alone recorder process of the recorded topics, its output in ``log``."""

    def __init__(self, out: Path, log: Path, min_free_mb: float = 64.0) -> None:
        self.out, self.log = out, log
        self._log = open(log, "w")
        self.process = subprocess.Popen(
            recorder_command(out, list(demo.RECORDED_TOPICS), min_free_mb), stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def interrupt(self, timeout: float = 60.0) -> int:
        """SIGINT (Ctrl-C) and wait; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


class Rig:
    """The campaign's graph (see the module doc): ``start()``, faults, ``stop()``."""

    def __init__(self, run_dir: Path, params_file: Optional[Path] = None, emulated_elbow: bool = True,
                 overrides: Optional[dict[str, dict[str, Any]]] = None, nodes: Optional[list[str]] = None) -> None:
        self.run_dir = run_dir
        self.emulator: Optional[EmulatorProcess] = None
        node_overrides: dict[str, dict[str, Any]] = {
            "face_renderer": {"display": False, "size": IMAGE_SIZE},
            "pain_generator": {"expressiveness": EXPRESSIVENESS},
            "elbow_driver": {"backend": "sim"},
        }
        if emulated_elbow:
            port = str(run_dir / "ttyU2D2")
            self.emulator = EmulatorProcess(port, protocol=2)
            # Packet timeout 0.51 s (the longest): far beyond a loaded machine's scheduling delays, so
            # the comm errors the campaign counts are the ones it injects.
            node_overrides["elbow_driver"] = {"backend": "dynamixel", "port": port, "protocol": 2,
                                              "latency_timer_ms": 255.0, "reconnect_max_s": 2.0}
        for name, values in (overrides or {}).items():
            node_overrides.setdefault(name, {}).update(values)
        specs = [NodeSpec(spec.name, spec.module, tuple(node_overrides.get(spec.name, {}).items()))
                 for spec in demo.graph(IMAGE_SIZE) if nodes is None or spec.name in nodes]
        self.nodes = NodeProcesses(specs, params_file or demo.default_params_file(), run_dir / "logs")
        self.probe: Optional[GraphProbe] = None
        self.recorders: dict[str, Recorder] = {}

    def start(self, recorders: Optional[dict[str, tuple[Path, float]]] = None) -> "Rig":
        """Start the motor, the probe, the recorders (name: (bag directory, min_free_mb)), then the nodes."""
        if self.emulator is not None:
            self.emulator.start()
            self.emulator.call("hand", FLEXED_RAD)
        self.probe = GraphProbe()
        for name, (out, min_free_mb) in (recorders or {}).items():
            self.recorders[name] = Recorder(out, self.run_dir / f"recorder_{name}.log", min_free_mb)
        self.nodes.start()
        return self

    def wait_live(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until the model is loaded and every node's stream flows."""
        wait_until(lambda: self.probe.times("/face/expression_names").size, timeout, "the model loaded (/face/expression_names)")
        since = time.time()
        for node, topic in PUBLISHED_BY.items():
            if node in self.nodes.names:
                wait_until(lambda: self.probe.first_after(topic, since), timeout, f"{topic} flowing")

    def log(self, node: str) -> str:
        path = self.nodes.log_path(node)
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> dict[str, list[int]]:
        """Stop the nodes (SIGINT, as a Ctrl-C), the recorders, the probe and the motor; the nodes' exit statuses."""
        try:
            return self.nodes.stop()
        finally:
            for recorder in self.recorders.values():
                recorder.kill()
            if self.probe is not None:
                self.probe.close()
            if self.emulator is not None:
                self.emulator.stop()


def tmpfs(path: Path, size_mb: int) -> Callable[[], None]:
    """Mount a ``size_mb`` MB tmpfs at ``path`` (root only); returns the unmount."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)], check=True, capture_output=True)

    def unmount() -> None:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)

    return unmount


def can_mount() -> str:
    """Why a tmpfs cannot be mounted here ('' when it can)."""
    if os.geteuid() != 0:
        return "mounting a small tmpfs (the disk that fills) needs root"
    return ""


class ParameterClient:
    """``ros2 param`` for the campaign: list, describe, get and set a node's parameters through its
    parameter services, from the probe's node (its executor thread completes the calls)."""

    def __init__(self, probe: GraphProbe, node: str, timeout: float = 30.0) -> None:
        from rcl_interfaces.srv import DescribeParameters, GetParameters, ListParameters, SetParameters

        self.node, self.timeout = node, timeout
        make = probe.node.create_client
        self._list = make(ListParameters, f"/{node}/list_parameters")
        self._describe = make(DescribeParameters, f"/{node}/describe_parameters")
        self._get = make(GetParameters, f"/{node}/get_parameters")
        self._set = make(SetParameters, f"/{node}/set_parameters")
        self._requests = (ListParameters.Request, DescribeParameters.Request, GetParameters.Request, SetParameters.Request)
        for client in (self._list, self._describe, self._get, self._set):
            wait_until(lambda: client.service_is_ready(), timeout, f"{client.srv_name} ready")

    def _call(self, client: Any, request: Any) -> Any:
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _: done.set())
        if not done.wait(self.timeout):
            raise AssertionError(f"{client.srv_name} did not answer within {self.timeout:.0f} s (is {self.node} alive?)")
        return future.result()

    def names(self) -> list[str]:
        return list(self._call(self._list, self._requests[0]()).result.names)

    def describe(self, names: list[str]) -> list[Any]:
        return list(self._call(self._describe, self._requests[1](names=names)).descriptors)

    def get(self, names: list[str]) -> list[Any]:
        return list(self._call(self._get, self._requests[2](names=names)).values)

    def set(self, parameter: Any) -> Any:
        """One ``rcl_interfaces/Parameter``; the ``SetParametersResult``."""
        return self._call(self._set, self._requests[3](parameters=[parameter])).results[0]
