"""``paindiffusion demo``: the whole node graph on a simulated elbow, recorded and filmed.

On a plain machine (no ROS install; rclpy from the PyPI wheels) this starts the four
nodes that ``launch/bringup.launch.py`` starts, in one process, with the parameters
of the same YAML file (``rclpy.init(args=['--ros-args', '--params-file', F])``), plus
the bag recorder of every project topic. Only what a bench-free demo needs differs,
as node parameter overrides: the simulated elbow, no window, a modest face image.
After ``--duration`` seconds (or Ctrl-C) everything shuts down cleanly and the bag
``OUT/session/`` is turned into ``OUT/session.mp4`` (``session/video.py``).
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import rclpy
from rclpy.context import Context
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions
from tqdm import tqdm

from ..nodes.graph import NodeThreads
from ..paths import package_path
from .recorder import BagRecorder
from .signals import StopSignals
from .video import SessionVideoConfig, write_session_video

PROJECT_TOPICS: dict[str, str] = {
    "/joint_states": "sensor_msgs/msg/JointState",
    "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray",
    "/pain/stimulus": "sensor_msgs/msg/Temperature",
    "/face/expression": "std_msgs/msg/Float32MultiArray",
    "/face/expression_names": "std_msgs/msg/String",
    "/face/jaw_pose": "geometry_msgs/msg/Vector3Stamped",
    "/pain/pspi": "std_msgs/msg/Float32",
    "/face/image": "sensor_msgs/msg/Image",
    "/face/mesh": "visualization_msgs/msg/Marker",
    "/trainee/rating": "sensor_msgs/msg/Joy",
}
"""Every topic the node graph publishes, with its type (docs/topics.md)."""
CONSOLE_TOPICS = frozenset({"/trainee/rating"})
"""Published by the operator console only."""
SUBSCRIBE_TIMEOUT_S = 5.0
"""Longest wait for the recorder to subscribe to every topic before the nodes start."""


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph: executable name, class, and the demo's overrides."""

    name: str
    module: str
    cls: str
    overrides: tuple[tuple[str, Any], ...] = ()


def published_topics(console: bool) -> dict[str, str]:
    """The project topics that the demo's graph publishes, with or without the operator console."""
    return {topic: msgtype for topic, msgtype in PROJECT_TOPICS.items() if console or topic not in CONSOLE_TOPICS}


def graph(image_size: int = 256, console_dir: Path | None = None) -> tuple[NodeSpec, ...]:
    """The bringup graph as the demo runs it; with the operator console (recording into
    ``console_dir``) when that is given."""
    console = NodeSpec("operator_console", "paindiffusion_ros.nodes.operator_console", "OperatorConsoleNode", (("record_dir", str(console_dir)),))
    return (
        NodeSpec("elbow_driver", "paindiffusion_ros.nodes.elbow_driver", "ElbowDriverNode", (("backend", "sim"),)),
        NodeSpec("stimulus_mapper", "paindiffusion_ros.nodes.stimulus_mapper", "StimulusMapperNode"),
        NodeSpec("pain_generator", "paindiffusion_ros.nodes.pain_generator", "PainGeneratorNode"),
        NodeSpec(
            "face_renderer",
            "paindiffusion_ros.nodes.face_renderer",
            "FaceRendererNode",
            (("display", False), ("size", image_size)),
        ),
    ) + ((console,) if console_dir is not None else ())


def default_params_file() -> Path:
    """``config/paindiffusion.yaml`` of the source tree, else of the colcon install."""
    return package_path("config", "paindiffusion.yaml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``paindiffusion demo``."""
    parser.add_argument("--duration", type=float, default=30.0, help="seconds to run the graph (default 30)")
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="output directory (default runs/demo)")
    parser.add_argument(
        "--params-file", type=Path, default=None, help="node parameters YAML (default config/paindiffusion.yaml)"
    )
    parser.add_argument(
        "--image-size", type=int, default=256, help="rendered face size in px, kept modest so bags stay small"
    )
    parser.add_argument("--no-video", action="store_true", help="record the bag only, skip session.mp4")
    parser.add_argument(
        "--console", action="store_true", help="also start the operator console (http://127.0.0.1:8080; recordings in OUT/recordings)"
    )


def prepare_output(out: Path) -> tuple[Path, Path]:
    """``OUT/session`` and ``OUT/session.mp4``; a previous demo's pair is replaced."""
    bag, video = out / "session", out / "session.mp4"
    if bag.exists():
        if not (bag / "metadata.yaml").exists() and any(bag.iterdir()):
            raise SystemExit(f"{bag} exists and is not a recorded session; move it away or choose another --out")
        shutil.rmtree(bag)
    video.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    return bag, video


def build_nodes(specs: Sequence[NodeSpec], context: Context) -> list[Node]:
    """Instantiate the graph's nodes; on failure the ones already made are destroyed.

    A parameter that rclpy refuses (out of its range, wrong type) is a ValueError naming
    the node and the parameter; the half-built node goes with the context's shutdown.
    """
    nodes: list[Node] = []
    try:
        for spec in specs:
            cls = getattr(importlib.import_module(spec.module), spec.cls)
            overrides = [Parameter(name, value=value) for name, value in spec.overrides]
            try:
                nodes.append(cls(node_name=spec.name, context=context, parameter_overrides=overrides))
            except ParameterException as error:
                raise ValueError(f"node {spec.name}: {error}") from error
    except BaseException:
        for node in reversed(nodes):
            node.destroy_node()
        raise
    return nodes


def wait_with_progress(stop: StopSignals, threads: Sequence[threading.Thread], duration: float) -> float:
    """Show a progress bar while the graph runs; Ctrl-C, SIGTERM or a dead spinner ends early.

    Returns the seconds actually run.
    """
    start = time.monotonic()
    with tqdm(total=duration, desc="demo", unit="s", bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s") as bar:
        while all(t.is_alive() for t in threads):
            elapsed = min(time.monotonic() - start, duration)
            bar.update(elapsed - bar.n)
            if elapsed >= duration or stop.event.wait(0.1):
                break
    if stop.received is not None:
        print(f"{stop.received.name}: closing the session", file=sys.stderr)
    return time.monotonic() - start


def wait_until_subscribed(recorder: BagRecorder, topics: Sequence[str], timeout: float = SUBSCRIBE_TIMEOUT_S) -> None:
    """Wait, while the recorder spins on its thread, until it has subscribed to every one of ``topics``."""
    deadline = time.monotonic() + timeout
    while set(recorder.recording) != set(topics) and time.monotonic() < deadline:
        time.sleep(0.02)


def record_graph(recorder: BagRecorder, nodes: Sequence[Node], context: Context, stop: StopSignals, duration: float, topics: Sequence[str]) -> float:
    """Run ``nodes`` for ``duration`` seconds into ``recorder``'s bag; returns the seconds run.

    The recorder subscribes to every topic before the nodes start, and on the way out the
    nodes stop publishing first; the recorder then drains what DDS still delivers (their
    endpoints are still there) before the bag closes, so the bag ends where the graph did.
    Every node is destroyed on return (the recorder first, closing the bag).
    """
    recording, running = NodeThreads([recorder], context), NodeThreads(nodes, context)
    try:
        recording.start()
        wait_until_subscribed(recorder, topics)
        # One executor thread per node, as one process per node under launch (nodes/graph.py).
        running.start()
        try:
            return wait_with_progress(stop, [*recording.threads, *running.threads], duration)
        finally:
            running.halt()
            recording.halt()
            recorder.drain(recording.executors[0])
    finally:
        recording.stop()
        running.stop()


def print_summary(counts: dict[str, int], seconds: float, bag: Path, topics: Sequence[str]) -> None:
    """Messages and rates per topic, and the bag's size."""
    size = sum(f.stat().st_size for f in bag.iterdir()) / 1e6
    print(f"recorded {sum(counts.values())} messages in {seconds:.1f} s into {bag} ({size:.1f} MB):")
    for topic in topics:
        count = counts.get(topic, 0)
        print(f"  {topic:<24} {count:6d}  {count / max(seconds, 1e-9):6.1f} Hz")


def run(args: argparse.Namespace) -> int:
    """The demo: run, record, shut down, then write the session video."""
    if args.duration <= 0:
        raise SystemExit(f"--duration must be positive, got {args.duration}")
    params_file = (args.params_file or default_params_file()).resolve()
    if not params_file.is_file():
        raise SystemExit(f"parameters file {params_file} does not exist")
    bag, video = prepare_output(args.out)
    context = Context()
    rclpy.init(
        context=context,
        args=["paindiffusion-demo", "--ros-args", "--params-file", str(params_file)],
        signal_handler_options=SignalHandlerOptions.NO,
    )
    with StopSignals() as stop:
        try:
            topics = published_topics(args.console)
            recorder = BagRecorder(
                bag,
                list(topics),
                msgtypes=topics,
                context=context,
                custom_data={"paindiffusion.params_file": params_file.read_text(), "paindiffusion.command": " ".join(sys.argv)},
            )
            try:
                nodes = build_nodes(graph(args.image_size, args.out / "recordings" if args.console else None), context)
            except BaseException:
                recorder.destroy_node()
                raise
            seconds = record_graph(recorder, nodes, context, stop, args.duration, list(topics))
            counts = recorder.counts
        finally:
            context.try_shutdown()
    print_summary(counts, seconds, bag, list(topics))
    if not args.no_video:
        frames = write_session_video(bag, video, SessionVideoConfig())
        print(f"session video: {video} ({frames} frames)")
    return 0
