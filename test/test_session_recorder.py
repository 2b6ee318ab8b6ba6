"""The rosbag2 MCAP recorder: what it writes must read back with rosbags and mcap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import rclpy
import yaml
from mcap.reader import make_reader
from rclpy.duration import Duration, Infinite
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from rosbags.highlevel import AnyReader
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float32, String

from paindiffusion_ros.session.qos import adapted_subscription_qos, offered_qos
from paindiffusion_ros.session.recorder import BagRecorder, RecorderConfig, RecorderError
from paindiffusion_ros.session.signals import StopSignals

N = 30



def spin_until(executor, condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.02)
    return condition()


def joint_state(i: int) -> JointState:
    msg = JointState(name=["elbow_joint"], position=[0.01 * i], velocity=[0.5], effort=[float(i)])
    msg.header.stamp.sec = 100 + i
    return msg


def image(i: int) -> Image:
    return Image(height=8, width=6, encoding="rgb8", step=18, data=bytes([i % 256]) * (8 * 18))


def test_records_known_messages_readable_by_rosbags_and_mcap(context, tmp_path):
    pub_node = rclpy.create_node("known_publisher", context=context)
    publishers = {
        "/joint_states": pub_node.create_publisher(JointState, "/joint_states", qos_profile_sensor_data),
        "/pain/pspi": pub_node.create_publisher(Float32, "/pain/pspi", 10),
        "/face/image": pub_node.create_publisher(Image, "/face/image", qos_profile_sensor_data),
    }
    make = {"/joint_states": joint_state, "/pain/pspi": lambda i: Float32(data=0.25 * i), "/face/image": image}
    bag = tmp_path / "bag"
    recorder = BagRecorder(bag, [*publishers, "/never/published"], context=context, custom_data={"k": "v"})
    executor = SingleThreadedExecutor(context=context)
    for node in (pub_node, recorder):
        executor.add_node(node)
    assert spin_until(executor, lambda: len(recorder.recording) == 3)
    assert spin_until(executor, lambda: all(p.get_subscription_count() for p in publishers.values()))
    for i in range(N):
        for topic, publisher in publishers.items():
            publisher.publish(make[topic](i))
        executor.spin_once(timeout_sec=0.01)
    assert spin_until(executor, lambda: all(recorder.counts[t] == N for t in publishers)), recorder.counts
    recorder.destroy_node()
    recorder.destroy_node()  # closing twice is harmless
    pub_node.destroy_node()
    executor.shutdown()

    metadata = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert metadata["version"] == 9 and metadata["storage_identifier"] == "mcap"
    assert metadata["custom_data"] == {"k": "v"}
    topics = {t["topic_metadata"]["name"]: t for t in metadata["topics_with_message_count"]}
    assert set(topics) == set(publishers)
    assert topics["/pain/pspi"]["topic_metadata"]["offered_qos_profiles"][0]["reliability"] == "reliable"
    assert topics["/joint_states"]["topic_metadata"]["offered_qos_profiles"][0]["reliability"] == "best_effort"
    assert all(t["topic_metadata"]["type_description_hash"].startswith("RIHS01_") for t in topics.values())

    with AnyReader([bag]) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        assert types == {
            "/joint_states": "sensor_msgs/msg/JointState",
            "/pain/pspi": "std_msgs/msg/Float32",
            "/face/image": "sensor_msgs/msg/Image",
        }
        seen: dict[str, list] = {t: [] for t in types}
        for connection, _, raw in reader.messages():
            seen[connection.topic].append(reader.deserialize(raw, connection.msgtype))
    assert [m.position[0] for m in seen["/joint_states"]] == pytest.approx([0.01 * i for i in range(N)])
    assert [m.header.stamp.sec for m in seen["/joint_states"]] == [100 + i for i in range(N)]
    assert [m.data for m in seen["/pain/pspi"]] == pytest.approx([0.25 * i for i in range(N)])
    assert [m.data[0] for m in seen["/face/image"]] == list(range(N))

    with open(bag / "bag.mcap", "rb") as stream:
        reader = make_reader(stream)
        summary = reader.get_summary()
        counts = {summary.channels[cid].topic: n for cid, n in summary.statistics.channel_message_counts.items()}
        assert counts == {t: N for t in publishers}
        schema_names = {ch.topic: summary.schemas[ch.schema_id].name for ch in summary.channels.values()}
        assert schema_names == types
        assert all(ch.message_encoding == "cdr" for ch in summary.channels.values())
        positions = [
            deserialize_message(message.data, JointState).position[0]
            for _, channel, message in reader.iter_messages(topics=["/joint_states"])
        ]
    assert positions == pytest.approx([0.01 * i for i in range(N)])


def test_a_paused_recorder_keeps_only_latched_topics_until_resumed(context, tmp_path):
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    latched_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    pub_node = rclpy.create_node("paused_publisher", context=context)
    names = pub_node.create_publisher(String, "/names", latched_qos)
    values = pub_node.create_publisher(Float32, "/values", 10)
    recorder = BagRecorder(tmp_path / "bag", ["/names", "/values"], context=context, paused=True)
    executor = SingleThreadedExecutor(context=context)
    for node in (pub_node, recorder):
        executor.add_node(node)
    assert spin_until(executor, lambda: len(recorder.recording) == 2 and values.get_subscription_count() and names.get_subscription_count())
    names.publish(String(data="a,b"))
    for i in range(5):
        values.publish(Float32(data=float(i)))
    assert spin_until(executor, lambda: recorder.counts["/names"] == 1 and recorder.skipped == 5)
    recorder.resume()
    for i in range(5, 8):
        values.publish(Float32(data=float(i)))
    assert spin_until(executor, lambda: recorder.counts["/values"] == 3), recorder.counts
    recorder.destroy_node()
    pub_node.destroy_node()
    executor.shutdown()
    with AnyReader([tmp_path / "bag"]) as reader:
        data = [reader.deserialize(raw, c.msgtype).data for c, _, raw in reader.messages() if c.topic == "/values"]
    assert data == [5.0, 6.0, 7.0], "nothing from before resume() but the latched topic"


RECORDER_SCRIPT = "from paindiffusion_ros.session.recorder import main; raise SystemExit(main())"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_bag_is_complete_after_interrupt(context, tmp_path, stop):
    bag = tmp_path / "interrupted"
    process = subprocess.Popen(
        [sys.executable, "-c", RECORDER_SCRIPT, str(bag), "/chatter"], env=dict(os.environ), cwd=tmp_path
    )
    node = rclpy.create_node("chatter", context=context)
    publisher = node.create_publisher(String, "/chatter", QoSProfile(depth=50))
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        # The recorder subscribes once it sees the publisher; wait for the match.
        assert spin_until(executor, lambda: publisher.get_subscription_count() > 0, timeout=30)
        for i in range(N):
            publisher.publish(String(data=f"hello {i}"))
        assert publisher.wait_for_all_acked(Duration(seconds=10))
        process.send_signal(stop)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        node.destroy_node()
        executor.shutdown()

    assert (bag / "metadata.yaml").exists()
    with AnyReader([bag]) as reader:
        texts = [reader.deserialize(raw, c.msgtype).data for c, _, raw in reader.messages()]
    assert texts == [f"hello {i}" for i in range(N)]
    with open(bag / "interrupted.mcap", "rb") as stream:
        assert make_reader(stream).get_summary().statistics.message_count == N


def test_recording_a_graph_that_goes_on_publishing_stops_on_sigint(context, tmp_path):
    """Stopping must not wait for a quiet graph: the operator console stops recordings of a live one."""
    bag = tmp_path / "live"
    process = subprocess.Popen([sys.executable, "-c", RECORDER_SCRIPT, str(bag), "/chatter"], env=dict(os.environ), cwd=tmp_path)
    node = rclpy.create_node("chatter", context=context)
    publisher = node.create_publisher(String, "/chatter", QoSProfile(depth=50))
    node.create_timer(0.01, lambda: publisher.publish(String(data="still talking")))
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        assert spin_until(executor, lambda: publisher.get_subscription_count() > 0, timeout=30)
        spin_until(executor, lambda: False, timeout=0.5)
        process.send_signal(signal.SIGINT)
        assert spin_until(executor, lambda: process.poll() is not None, timeout=30), "the recorder kept draining a live graph"
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
        node.destroy_node()
        executor.shutdown()
    with AnyReader([bag]) as reader:
        assert reader.message_count > 10


def test_rejects_relative_topics_and_existing_output(context, tmp_path):
    with pytest.raises(RecorderError, match="chatter"):
        BagRecorder(tmp_path / "a", ["chatter"], context=context)
    (tmp_path / "exists").mkdir()
    with pytest.raises(Exception, match="exists"):
        BagRecorder(tmp_path / "exists", ["/chatter"], context=context)
    with pytest.raises(RecorderError, match="not/a/type"):
        BagRecorder(tmp_path / "b", ["/chatter"], msgtypes={"/chatter": "not/a/type"}, context=context)
    with pytest.raises(ValueError, match="compression"):
        RecorderConfig(compression="lz5")
    with pytest.raises(ValueError, match="queue_depth"):
        RecorderConfig(queue_depth=0)


def test_subscription_adapts_to_publishers():
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    assert adapted_subscription_qos([reliable, latched]).reliability == ReliabilityPolicy.RELIABLE
    assert adapted_subscription_qos([reliable, latched]).durability == DurabilityPolicy.VOLATILE
    assert adapted_subscription_qos([latched]).durability == DurabilityPolicy.TRANSIENT_LOCAL
    mixed = adapted_subscription_qos([reliable, qos_profile_sensor_data])
    assert mixed.reliability == ReliabilityPolicy.BEST_EFFORT
    assert adapted_subscription_qos([]).reliability == ReliabilityPolicy.BEST_EFFORT


def test_offered_qos_keeps_infinite_durations():
    qos = offered_qos(QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
    assert qos.reliability.name == "RELIABLE" and qos.depth == 5
    assert (qos.deadline.sec, qos.deadline.nsec) == (0, 0)
    forever = offered_qos(QoSProfile(depth=1, deadline=Infinite, reliability=ReliabilityPolicy.BEST_EFFORT))
    assert forever.reliability.name == "BEST_EFFORT"
    assert (forever.deadline.sec, forever.deadline.nsec) == (9223372036, 854775807)  # rmw's infinite


def test_stop_signals_turn_sigint_and_sigterm_into_an_event():
    before = signal.getsignal(signal.SIGTERM)
    with StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.event.wait(5.0) and stop.received == signal.SIGTERM
        stop.event.clear()
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.event.wait(5.0) and stop.received == signal.SIGINT
    assert signal.getsignal(signal.SIGTERM) is before
