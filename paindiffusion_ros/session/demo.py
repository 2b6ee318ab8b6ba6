"""``paindiffusion demo``: the whole node graph on a simulated elbow, recorded and filmed.

On a plain machine (no ROS install; rclpy from the PyPI wheels) this starts the four
nodes that ``launch/bringup.launch.py`` starts, each in its own process as launch does
(``session.processes.NodeProcesses``: the node executables with the same YAML file,
respawned after a crash), and records every project topic with a bag recorder in this
process. Only what a bench-free demo needs differs, as node parameter overrides: the
simulated elbow, no window, a modest face image. After ``--duration`` seconds (or
Ctrl-C) the nodes are stopped, the recorder takes what they still sent, the bag
``OUT/session/`` is closed and turned into ``OUT/session.mp4`` (``session/video.py``).
Each node's output is in ``OUT/logs/<node>.log``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Sequence

import rclpy
from rclpy.context import Context
from rclpy.signals import SignalHandlerOptions
from tqdm import tqdm

from ..nodes.graph import NodeThreads
from ..paths import package_path
from .processes import NodeProcesses, NodeSpec, exited_cleanly
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
    "/face/image/compressed": "sensor_msgs/msg/CompressedImage",
    "/face/image": "sensor_msgs/msg/Image",
    "/face/mesh": "visualization_msgs/msg/Marker",
    "/trainee/rating": "sensor_msgs/msg/Joy",
}
"""Every topic the node graph publishes, with its type (docs/topics.md)."""
UNRECORDED_TOPICS = frozenset({"/face/image"})
"""Published but not recorded: the raw image repeats ``/face/image/compressed`` at ~50× its size."""
RECORDED_TOPICS: dict[str, str] = {t: kind for t, kind in PROJECT_TOPICS.items() if t not in UNRECORDED_TOPICS}
"""What the demo and ``bringup.launch.py record:=true`` record."""
CONSOLE_TOPICS = frozenset({"/trainee/rating"})
"""Published by the operator console only."""
START_TIMEOUT_S = 180.0
"""Longest wait for the graph to come up (every recorded topic published, the model loaded) before the timed run."""
READY_TOPIC = "/face/expression_names"
"""Published once the generator has loaded its model: from then on the face is model output."""


def recorded_topics(console: bool) -> dict[str, str]:
    """What the demo records: ``RECORDED_TOPICS``, less the console's when the console does not run."""
    return {topic: msgtype for topic, msgtype in RECORDED_TOPICS.items() if console or topic not in CONSOLE_TOPICS}


def graph(image_size: int = 256, console_dir: Path | None = None) -> tuple[NodeSpec, ...]:
    """The bringup graph as the demo runs it: ``bringup.launch.py``'s nodes with the demo's
    overrides, and the operator console (recording into ``console_dir``) when that is given."""
    nodes = (
        NodeSpec("elbow_driver", "paindiffusion_ros.nodes.elbow_driver", (("backend", "sim"),)),
        NodeSpec("stimulus_mapper", "paindiffusion_ros.nodes.stimulus_mapper"),
        NodeSpec("pain_generator", "paindiffusion_ros.nodes.pain_generator"),
        NodeSpec("face_renderer", "paindiffusion_ros.nodes.face_renderer", (("display", False), ("size", image_size))),
    )
    if console_dir is None:
        return nodes
    return nodes + (NodeSpec("operator_console", "paindiffusion_ros.nodes.operator_console", (("record_dir", str(console_dir)),)),)


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


def wait_with_progress(stop: StopSignals, duration: float) -> float:
    """Show a progress bar while the graph runs; Ctrl-C or SIGTERM ends early.

    Returns the seconds actually run.
    """
    start = time.monotonic()
    with tqdm(total=duration, desc="demo", unit="s", bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s") as bar:
        while True:
            elapsed = min(time.monotonic() - start, duration)
            bar.update(elapsed - bar.n)
            if elapsed >= duration or stop.event.wait(0.1):
                break
    if stop.received is not None:
        print(f"{stop.received.name}: closing the session", file=sys.stderr)
    return time.monotonic() - start


def wait_until_live(recorder: BagRecorder, processes: NodeProcesses, topics: Sequence[str], stop: StopSignals,
                    timeout: float = START_TIMEOUT_S) -> bool:
    """Wait, while the recorder spins on its thread, until it records every topic (each has a
    publisher: the nodes are up) and the generator has loaded its model; False on timeout or
    a stop request. A node that cannot start for its settings is a ValueError naming it."""
    deadline = time.monotonic() + timeout
    with tqdm(desc="starting the graph", bar_format="{desc}: {elapsed}", mininterval=1.0) as bar:
        while set(recorder.recording) != set(topics) or not recorder.counts.get(READY_TOPIC):
            bar.update(0)
            for name, reason in processes.cannot_start().items():
                raise ValueError(f"node {name}: {reason}")
            if time.monotonic() > deadline or stop.event.wait(0.1):
                return False
    return True


def record_graph(recorder: BagRecorder, processes: NodeProcesses, context: Context, stop: StopSignals, duration: float,
                 topics: Sequence[str]) -> float:
    """Run the node processes for ``duration`` seconds into ``recorder``'s bag; returns the seconds run.

    The recorder subscribes as the nodes come up and keeps only the latched metadata until
    the graph is live (every topic there, the model loaded); then the timed run starts and
    the bag records everything. On the way out the nodes are stopped first (SIGINT, each exits after its
    clean-up) while the recorder still spins; it then drains what DDS still delivers
    before the bag closes, so the bag ends where the graph did.
    """
    recording = NodeThreads([recorder], context)
    try:
        recording.start()
        processes.start()
        if not wait_until_live(recorder, processes, topics, stop):
            missing = sorted(set(topics) - set(recorder.recording)) or ["the model (no /face/expression_names)"]
            if not stop.event.is_set():
                print(f"the graph did not come up within {START_TIMEOUT_S:.0f} s (missing: {', '.join(missing)}); "
                      f"see the node logs in {processes.run_dir}", file=sys.stderr)
            return 0.0
        recorder.resume()
        return wait_with_progress(stop, duration)
    finally:
        processes.stop()
        recording.halt()
        recorder.drain(recording.executors[0])
        recording.stop()


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
    rclpy.init(context=context, args=["paindiffusion-demo"], signal_handler_options=SignalHandlerOptions.NO)
    with StopSignals() as stop:
        try:
            topics = recorded_topics(args.console)
            recorder = BagRecorder(
                bag,
                list(topics),
                msgtypes=topics,
                context=context,
                custom_data={"paindiffusion.params_file": params_file.read_text(), "paindiffusion.command": " ".join(sys.argv)},
                paused=True,
            )
            console_dir = args.out / "recordings" if args.console else None
            processes = NodeProcesses(graph(args.image_size, console_dir), params_file, args.out / "logs", stop_requested=stop.event,
                                      echo=("operator_console",))  # its addresses (and tokens) go to the terminal
            seconds = record_graph(recorder, processes, context, stop, args.duration, list(topics))
            counts = recorder.counts
        finally:
            context.try_shutdown()
    print_summary(counts, seconds, bag, list(topics))
    returncodes = processes.returncodes()
    if not exited_cleanly(returncodes):
        print(f"a node did not exit cleanly (exit statuses {returncodes}); see {processes.run_dir}", file=sys.stderr)
    if not args.no_video and counts.get(SessionVideoConfig.image_topic):
        frames = write_session_video(bag, video, SessionVideoConfig())
        print(f"session video: {video} ({frames} frames)")
    return 0 if exited_cleanly(returncodes) and seconds > 0 else 1
