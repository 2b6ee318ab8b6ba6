"""A rosbag2 (format 9, MCAP storage) recorder that runs where ``ros2 bag`` does not.

The node subscribes with ``raw=True`` so messages arrive as the CDR bytes that went
over the wire and are stored as they are (no deserialise/serialise round trip),
exactly like ``ros2 bag record``. A topic is subscribed once a publisher for it
appears in the graph, with QoS adapted to the publishers (``session/qos.py``), and
its offered QoS profiles are written to the bag so ``ros2 bag play`` can reproduce
them. Message definitions and type hashes (RIHS01) come from the ``rosbags``
typestore of the ROS distribution the wheels provide, which match rclpy's.

Run stand-alone: ``python -m paindiffusion_ros.session.recorder OUT_DIR /topic ...``;
Ctrl-C (SIGINT) or SIGTERM closes the bag cleanly.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rosbags.interfaces import Connection
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin
from rosbags.typesys import Stores, get_typestore

from .qos import adapted_subscription_qos, offered_profiles
from .signals import StopSignals

BAG_VERSION = 9
TYPESTORE = Stores.ROS2_KILTED
SPIN_SLICE_S = 0.1
"""Longest wait between two looks at the stop request."""
DRAIN_QUIET_S = 0.3
"""On stop, keep taking delivered messages until none has arrived for this long."""
DRAIN_LIMIT_S = 3.0
"""... but no longer than this: a graph that is still publishing never goes quiet."""


@dataclass
class RecorderConfig:
    """Settings of the bag recorder."""

    compression: str = field(
        default="zstd",
        metadata={"help": "MCAP chunk compression (rosbag2 'storage' compression)", "choices": ("none", "zstd")},
    )
    discovery_period: float = field(
        default=0.1,
        metadata={"help": "seconds between looks at the graph for new publishers", "range": (0.01, 5.0)},
    )
    queue_depth: int = field(
        default=100,
        metadata={"help": "subscription history depth per topic (messages)", "range": (1, 10000)},
    )

    def __post_init__(self) -> None:
        """Check every field against the choices or range its metadata declares."""
        for item in fields(self):
            value, meta = getattr(self, item.name), item.metadata
            if "choices" in meta and value not in meta["choices"]:
                raise ValueError(f"recorder {item.name} must be one of {meta['choices']}, got {value!r}")
            if "range" in meta and not meta["range"][0] <= value <= meta["range"][1]:
                raise ValueError(f"recorder {item.name} must be in {list(meta['range'])}, got {value!r}")


class RecorderError(RuntimeError):
    """A topic or type the recorder cannot record."""


def message_class(msgtype: str) -> type:
    """Python class of a ROS 2 message type such as ``"sensor_msgs/msg/JointState"``."""
    parts = msgtype.split("/")
    if len(parts) != 3 or parts[1] != "msg":
        raise RecorderError(f"message type {msgtype!r} is not of the form 'package/msg/Name'")
    package, _, name = parts
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError):
        raise RecorderError(f"message type {msgtype!r} is not installed in this Python environment") from None


class BagRecorder(Node):
    """Records the named topics into a new rosbag2 MCAP bag at ``output``.

    ``msgtypes`` may pin a topic's type; otherwise it is taken from the graph when
    the first publisher appears. ``custom_data`` lands in the bag's metadata.
    ``close()`` (idempotent, also on ``destroy_node``) writes the summary and
    ``metadata.yaml``; until then the MCAP file holds every completed chunk.
    With ``paused=True`` it subscribes as usual but writes only messages of latched
    (transient-local) topics until ``resume()``: a session can begin when the graph is
    ready and still hold the metadata published before that.
    """

    def __init__(
        self,
        output: str | Path,
        topics: Sequence[str],
        msgtypes: Optional[Mapping[str, str]] = None,
        config: Optional[RecorderConfig] = None,
        custom_data: Optional[Mapping[str, str]] = None,
        node_name: str = "bag_recorder",
        paused: bool = False,
        **node_kwargs: Any,
    ) -> None:
        super().__init__(node_name, **node_kwargs)
        self._paused = paused
        self._latched: set[str] = set()
        self.skipped = 0
        """Messages received while paused and not written."""
        self.config = config or RecorderConfig()
        for topic in topics:
            if not topic.startswith("/"):
                raise RecorderError(f"record topic {topic!r} must be an absolute name starting with '/'")
        self._wanted = list(dict.fromkeys(topics))
        self._pinned = dict(msgtypes or {})
        for msgtype in self._pinned.values():
            message_class(msgtype)
        self._typestore = get_typestore(TYPESTORE)
        self._lock = threading.Lock()
        self._connections: dict[str, Connection] = {}
        self._subscriptions: list[Any] = []
        self._writer: Optional[Writer] = Writer(Path(output), version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        if self.config.compression == "zstd":
            self._writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        for key, value in (custom_data or {}).items():
            self._writer.set_custom_data(key, value)
        self._writer.open()
        self.path = self._writer.path
        self._counts = self._writer.counts
        self._discovery = self.create_timer(self.config.discovery_period, self._discover)
        self._discover()

    @property
    def recording(self) -> list[str]:
        """Topics subscribed so far."""
        return list(self._connections)

    @property
    def written(self) -> int:
        """Messages written so far, all topics together."""
        with self._lock:
            return sum(self._counts[conn.id] for conn in self._connections.values())

    def drain(self, executor: SingleThreadedExecutor, quiet_s: float = DRAIN_QUIET_S, limit_s: float = DRAIN_LIMIT_S) -> None:
        """Write what DDS has already delivered: spin until ``quiet_s`` passes without a message,
        or ``limit_s`` in all (recording a graph that goes on publishing, it never goes quiet).

        A reliable publisher counts a message as delivered once the subscription's
        DDS reader holds it, before rclpy has taken it; stopping without this loses
        that tail (seen: the last 8 of 30 acknowledged messages on a loaded machine).
        """
        written, quiet_since = self.written, time.monotonic()
        deadline = quiet_since + limit_s
        while time.monotonic() - quiet_since < quiet_s and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=quiet_s / 4)
            if self.written != written:
                written, quiet_since = self.written, time.monotonic()

    @property
    def counts(self) -> dict[str, int]:
        """Messages written per subscribed topic."""
        with self._lock:
            return {topic: self._counts[conn.id] for topic, conn in self._connections.items()}

    def _discover(self) -> None:
        """Subscribe to every wanted topic that has gained a publisher."""
        if self._writer is None:
            return
        graph = dict(self.get_topic_names_and_types())
        for topic in list(self._wanted):
            if topic in self._connections or topic not in graph:
                continue
            publishers = self.get_publishers_info_by_topic(topic)
            if not publishers:
                continue
            try:
                self._subscribe(topic, self._resolve_type(topic, graph[topic]), publishers)
            except RecorderError as error:
                self.get_logger().error(f"not recording {topic}: {error}")
                self._wanted.remove(topic)
        if all(topic in self._connections for topic in self._wanted):
            self._discovery.cancel()

    def _resolve_type(self, topic: str, graph_types: Sequence[str]) -> str:
        if topic in self._pinned:
            return self._pinned[topic]
        if len(graph_types) != 1:
            raise RecorderError(f"topic {topic} is published with several types {list(graph_types)}; pin one")
        return graph_types[0]

    def _subscribe(self, topic: str, msgtype: str, publishers: Sequence[Any]) -> None:
        if msgtype not in self._typestore.types:
            raise RecorderError(f"topic {topic}: type {msgtype} is not a standard {TYPESTORE.value} message")
        qos = adapted_subscription_qos([p.qos_profile for p in publishers], self.config.queue_depth)
        if qos.durability == DurabilityPolicy.TRANSIENT_LOCAL:
            self._latched.add(topic)
        with self._lock:
            if self._writer is None:
                return
            connection = self._writer.add_connection(
                topic,
                msgtype,
                typestore=self._typestore,
                serialization_format="cdr",
                offered_qos_profiles=offered_profiles(publishers),
            )
            self._connections[topic] = connection
        self._subscriptions.append(
            self.create_subscription(
                message_class(msgtype), topic, lambda data, c=connection: self._write(c, data), qos, raw=True
            )
        )
        self.get_logger().debug(f"recording {topic} [{msgtype}] as {qos.reliability.name.lower()}")

    def _write(self, connection: Connection, data: bytes) -> None:
        stamp = self.get_clock().now().nanoseconds
        with self._lock:
            if self._paused and connection.topic not in self._latched:
                self.skipped += 1
            elif self._writer is not None:
                self._writer.write(connection, stamp, data)

    def resume(self) -> None:
        """Write every topic from now on (see ``paused``)."""
        with self._lock:
            self._paused = False

    def close(self) -> None:
        """Stop recording and finish the bag (summary, index, ``metadata.yaml``)."""
        for subscription in self._subscriptions:
            self.destroy_subscription(subscription)
        self._subscriptions.clear()
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def destroy_node(self) -> None:
        self.close()
        super().destroy_node()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Command-line options of the stand-alone recorder."""
    parser.add_argument("output", help="bag directory to create (must not exist)")
    parser.add_argument("topics", nargs="+", help="absolute topic names to record")
    parser.add_argument(
        "--compression",
        choices=("none", "zstd"),
        default=RecorderConfig.compression,
        help="MCAP chunk compression",
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Record until SIGINT/SIGTERM, then close the bag."""
    parser = argparse.ArgumentParser(prog="paindiffusion_ros.session.recorder", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args, ros_args = parser.parse_known_args(argv)
    rclpy.init(args=["recorder", *ros_args], signal_handler_options=SignalHandlerOptions.NO)
    with StopSignals() as stop:
        recorder = BagRecorder(args.output, args.topics, config=RecorderConfig(compression=args.compression))
        executor = SingleThreadedExecutor()
        executor.add_node(recorder)
        try:
            while not stop.event.is_set() and rclpy.ok():
                executor.spin_once(timeout_sec=SPIN_SLICE_S)
            recorder.drain(executor)
        finally:
            executor.shutdown()
            recorder.destroy_node()
            rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
