"""``paindiffusion demo`` end to end, stopped by a terminal Ctrl-C.

The demo runs in its own session (process group) as a terminal would start it; after it
has recorded RECORD_S seconds (read from its progress bar) the whole group gets SIGINT,
as a Ctrl-C delivers it: every node process from the terminal and once more from the
demo, which forwards it. Every node must exit 0 without a traceback, the bag must be
closed with every topic, and the session video made from it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader

from paindiffusion_ros.session.demo import graph, prepare_output, recorded_topics

RECORD_S = 6.0
IMAGE_SIZE = 96
DEADLINE_S = 300.0
PROGRESS = re.compile(r"demo:.*?\| *([0-9.]+)/")


class DemoProcess:
    """``paindiffusion demo`` in a new session; its stderr read on a thread."""

    def __init__(self, out: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "paindiffusion_ros.cli", "demo", "--duration", "600", "--out", str(out), "--image-size", str(IMAGE_SIZE)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        self.output = {"stdout": "", "stderr": ""}
        self._readers = [threading.Thread(target=self._read, args=(name,), daemon=True) for name in self.output]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str) -> None:
        stream = getattr(self.process, name)
        while chunk := stream.read(64):
            self.output[name] += chunk

    @property
    def stderr(self) -> str:
        return self.output["stderr"]

    def recorded_seconds(self) -> float:
        found = PROGRESS.findall(self.stderr)
        return float(found[-1]) if found else 0.0

    def finish(self, timeout: float) -> tuple[int, str, str]:
        self.process.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return self.process.returncode, self.output["stdout"], self.stderr


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo's exit status, output folder, stdout and stderr after a Ctrl-C."""
    out = tmp_path_factory.mktemp("demo")
    demo = DemoProcess(out)
    try:
        deadline = time.monotonic() + DEADLINE_S
        while demo.recorded_seconds() < RECORD_S and demo.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert demo.process.poll() is None, demo.stderr
        assert demo.recorded_seconds() >= RECORD_S, demo.stderr
        os.killpg(demo.process.pid, signal.SIGINT)
        status, stdout, stderr = demo.finish(DEADLINE_S)
    finally:
        if demo.process.poll() is None:
            os.killpg(demo.process.pid, signal.SIGKILL)
    return status, out, stdout, stderr


def read_bag(bag):
    with AnyReader([bag]) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        counts = {c.topic: c.msgcount for c in reader.connections}
        last, stamps = {}, {}
        for connection, _, raw in reader.messages():
            message = reader.deserialize(raw, connection.msgtype)
            last[connection.topic] = message
            if hasattr(message, "header"):
                stamps.setdefault(connection.topic, []).append(message.header.stamp.sec * 10**9 + message.header.stamp.nanosec)
    return types, counts, last, stamps


def test_ctrl_c_stops_every_node_cleanly(demo_run):
    status, out, _, stderr = demo_run
    assert status == 0, stderr
    assert "SIGINT: closing the session" in stderr
    assert "Traceback" not in stderr
    for spec in graph():
        log = (out / "logs" / f"{spec.name}.log").read_text()
        assert "Traceback" not in log and "terminate called" not in log, (spec.name, log)


def test_demo_bag_has_every_recorded_topic_with_plausible_counts(demo_run):
    _, out, _, _ = demo_run
    bag = out / "session"
    metadata = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert metadata["storage_identifier"] == "mcap" and metadata["version"] == 9
    assert "/**/elbow_driver" in metadata["custom_data"]["paindiffusion.params_file"]
    types, counts, last, _ = read_bag(bag)
    assert types == recorded_topics(console=False)
    seconds = metadata["duration"]["nanoseconds"] / 1e9
    assert seconds >= RECORD_S
    # Every stream flowed while the graph ran (rates are measured in benchmarks/bench_graph.py).
    assert counts["/joint_states"] >= 25 * RECORD_S
    assert abs(counts["/pain/stimulus"] - counts["/joint_states"]) <= 0.1 * counts["/joint_states"]
    for topic in ("/face/expression", "/face/jaw_pose"):
        assert 12 * RECORD_S <= counts[topic] <= 25 * seconds + 5, (topic, counts[topic])
    assert 12 * RECORD_S <= counts["/pain/pspi"] <= counts["/face/expression"]
    assert counts["/face/image/compressed"] >= 2 * RECORD_S
    assert counts["/diagnostics"] >= RECORD_S
    assert counts["/face/mesh"] >= 1
    assert counts["/face/expression_names"] == 1  # latched, recorded once

    joint = last["/joint_states"]
    assert "elbow_joint" in list(joint.name) and np.all(np.isfinite(joint.position))
    assert 32.0 <= last["/pain/stimulus"].temperature <= 50.5
    assert len(last["/face/expression_names"].data.split(",")) == 50
    assert len(last["/face/expression"].data) == 50 and np.all(np.isfinite(last["/face/expression"].data))
    assert 0.0 <= last["/pain/pspi"].data <= 16.0
    image = last["/face/image/compressed"]
    assert image.format == "rgb8; jpeg compressed bgr8"
    face = cv2.imdecode(np.frombuffer(bytes(image.data), np.uint8), cv2.IMREAD_COLOR)
    assert face.shape == (IMAGE_SIZE, IMAGE_SIZE, 3)


def last_stamp(log: str) -> int:
    """The ``the last stamped SEC.NANOSEC`` a node logs when it stops, in ns."""
    sec, nanosec = re.search(r"the last stamped (\d+)\.(\d{9})", log).groups()
    return int(sec) * 10**9 + int(nanosec)


def test_demo_bag_holds_the_reliable_streams_to_their_last_message(demo_run):
    """The nodes stop first; the recorder then takes what DDS still delivers before the bag closes."""
    _, out, _, _ = demo_run
    _, _, _, stamps = read_bag(out / "session")
    generator_log = (out / "logs" / "pain_generator.log").read_text()
    slots = np.diff(stamps["/face/jaw_pose"]) / 40e6
    assert np.all(np.abs(slots - np.round(slots)) < 1e-4), "jaw poses stamped on the 25 Hz grid (to float64 rounding of epoch seconds)"
    slipped = int(re.search(r"\((\d+) slipped\)", generator_log).group(1))
    assert int(np.round(slots).sum()) - len(slots) <= slipped, "no frame missing but those the clock skipped"
    assert stamps["/face/jaw_pose"][-1] == last_stamp(generator_log)
    assert stamps["/joint_states"][-1] == last_stamp((out / "logs" / "elbow_driver.log").read_text())


def test_demo_video_has_frames_of_face_and_plots(demo_run):
    _, out, stdout, _ = demo_run
    assert "session video:" in stdout
    capture = cv2.VideoCapture(str(out / "session.mp4"))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) >= 25 * RECORD_S
    height, width = frames[0].shape[:2]
    assert (height, width) == (480, 480 + 640)
    assert frames[-1][:, :480].std() > 5  # a face, not a blank square


def test_prepare_output_replaces_a_previous_session_only(tmp_path):
    bag, video = prepare_output(tmp_path / "out")
    bag.mkdir()
    (bag / "metadata.yaml").write_text("rosbag2_bagfile_information: {}\n")
    video.write_bytes(b"old")
    assert prepare_output(tmp_path / "out") == (bag, video)
    assert not bag.exists() and not video.exists()
    bag.mkdir()
    (bag / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="not a recorded session"):
        prepare_output(tmp_path / "out")
    assert (bag / "notes.txt").exists()
