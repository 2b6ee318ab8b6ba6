"""``paindiffusion demo`` end to end: the graph runs, the bag has every topic, the mp4 has frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader

from paindiffusion_ros import cli
from paindiffusion_ros.session import demo
from paindiffusion_ros.session.demo import prepare_output

DURATION = 6.0
IMAGE_SIZE = 96


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo's exit status and output folder, and the graph's nodes (kept for their counters)."""
    out = tmp_path_factory.mktemp("demo")
    nodes = {}

    def build_and_keep(specs, context):
        made = build_nodes(specs, context)
        nodes.update(zip((spec.name for spec in specs), made))
        return made

    build_nodes = demo.build_nodes
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo, "build_nodes", build_and_keep)
        status = cli.main(["demo", "--duration", str(DURATION), "--out", str(out), "--image-size", str(IMAGE_SIZE)])
    return status, out, nodes


def read_bag(bag):
    with AnyReader([bag]) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        counts = {c.topic: c.msgcount for c in reader.connections}
        last = {}
        for connection, _, raw in reader.messages():
            last[connection.topic] = reader.deserialize(raw, connection.msgtype)
    return types, counts, last


def test_demo_bag_has_every_topic_with_plausible_counts(demo_run):
    status, out, _ = demo_run
    assert status == 0
    bag = out / "session"
    metadata = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert metadata["storage_identifier"] == "mcap" and metadata["version"] == 9
    assert "/**/elbow_driver" in metadata["custom_data"]["paindiffusion.params_file"]
    types, counts, last = read_bag(bag)
    assert types == demo.published_topics(console=False)
    seconds = metadata["duration"]["nanoseconds"] / 1e9
    assert DURATION - 1.5 < seconds < DURATION + 1.0
    # Plausible for the rates (100 Hz elbow, one stimulus per joint state, 25 Hz face clock)
    # with wide margins: the check is that every stream flowed all along, not its timing.
    assert counts["/joint_states"] >= 25 * (seconds - 1)
    assert abs(counts["/pain/stimulus"] - counts["/joint_states"]) <= 0.1 * counts["/joint_states"]
    for topic in ("/face/expression", "/face/jaw_pose"):
        assert 12 * (seconds - 1) <= counts[topic] <= 25 * seconds + 5, (topic, counts[topic])
    # PSPI comes with model frames, i.e. once the checkpoint has loaded.
    assert 1 <= counts["/pain/pspi"] <= counts["/face/expression"]
    assert counts["/face/image"] >= 2 * (seconds - 2)
    assert counts["/diagnostics"] >= seconds - 2
    assert counts["/face/mesh"] >= 1
    assert counts["/face/expression_names"] == 1  # latched, recorded once

    joint = last["/joint_states"]
    assert "elbow_joint" in list(joint.name) and np.all(np.isfinite(joint.position))
    assert 32.0 <= last["/pain/stimulus"].temperature <= 50.5
    assert len(last["/face/expression_names"].data.split(",")) == 50
    assert len(last["/face/expression"].data) == 50 and np.all(np.isfinite(last["/face/expression"].data))
    assert 0.0 <= last["/pain/pspi"].data <= 16.0
    image = last["/face/image"]
    assert (image.height, image.width, image.encoding) == (IMAGE_SIZE, IMAGE_SIZE, "rgb8")


def test_demo_bag_holds_every_message_of_the_reliable_streams_to_the_last(demo_run):
    """The recorder subscribes before the nodes start and drains after they stop."""
    _, out, nodes = demo_run
    _, counts, last = read_bag(out / "session")
    elbow, mapper, generator = nodes["elbow_driver"], nodes["stimulus_mapper"], nodes["pain_generator"]
    assert counts["/joint_states"] == elbow.samples
    assert counts["/pain/stimulus"] == mapper.mapped_count + mapper.stale_count
    assert counts["/face/expression"] == counts["/face/jaw_pose"] == generator.frames_published
    stamp = last["/face/jaw_pose"].header.stamp
    assert stamp.sec * 10**9 + stamp.nanosec == round(generator.clock.time_of(generator.clock.emitted - 1) * 1e9)


def test_demo_video_has_frames_of_face_and_plots(demo_run):
    _, out, _ = demo_run
    capture = cv2.VideoCapture(str(out / "session.mp4"))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) >= 25 * (DURATION - 2)
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
