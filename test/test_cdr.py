"""CDR bytes of the 100 Hz messages: exactly what rclpy serialises, and read back as rclpy reads them."""

import math
import struct
import time

import pytest
from builtin_interfaces.msg import Time
from rclpy.clock import ROSClock
from rclpy.serialization import deserialize_message, serialize_message
from rclpy.time import Time as RclpyTime
from sensor_msgs.msg import JointState, Temperature
from std_msgs.msg import Header

from paindiffusion_ros.nodes.cdr import StampedTemplate, joint_position, stamp_now


@pytest.mark.parametrize("joint", ["j", "elbow_joint", "a_joint_name_of_odd_length"])
def test_a_joint_state_template_encodes_what_rclpy_serialises(joint):
    template = StampedTemplate(lambda p, v, e: JointState(name=[joint], position=[p], velocity=[v], effort=[e]), 3)
    for sec, nanosec, values in ((0, 0, (0.0, 0.0, 0.0)), (1796195607, 431608108, (1.25, -3.5, math.nan)), (-5, 999_999_999, (math.inf, 2.0, -0.0))):
        expected = JointState(header=Header(stamp=Time(sec=sec, nanosec=nanosec)), name=[joint], position=[values[0]], velocity=[values[1]], effort=[values[2]])
        assert template.encode(sec, nanosec, *values) == serialize_message(expected)


def test_a_temperature_template_keeps_its_frame_id():
    template = StampedTemplate(lambda t, v: Temperature(header=Header(frame_id="elbow_link"), temperature=t, variance=v), 2)
    message = deserialize_message(template.encode(12, 34, 44.5, 0.01), Temperature)
    assert (message.header.stamp.sec, message.header.stamp.nanosec, message.header.frame_id) == (12, 34, "elbow_link")
    assert (message.temperature, message.variance) == (44.5, 0.01)


def test_a_template_refuses_the_wrong_number_of_values():
    template = StampedTemplate(lambda t, v: Temperature(temperature=t, variance=v), 2)
    with pytest.raises(ValueError, match="expected 2 values, got 1"):
        template.encode(0, 0, 1.0)
    with pytest.raises(ValueError, match="between 1 and 4 values"):
        StampedTemplate(lambda: Temperature(), 0)


@pytest.mark.parametrize(
    "message",
    [
        JointState(name=["elbow_joint"], position=[2.2]),
        JointState(header=Header(stamp=Time(sec=7, nanosec=8), frame_id="base"), name=["shoulder", "elbow_joint", "wrist"], position=[0.1, -1.5, 3.0], velocity=[1.0, 2.0, 3.0]),
        JointState(name=["a", "bb", "elbow_joint"], position=[0.0, 1.0]),  # named, no position
        JointState(name=["a", "bb", "ccc"], position=[0.0, 1.0, 2.0]),  # not named
        JointState(name=["elbow_joint"], position=[math.nan]),
        JointState(),
    ],
    ids=["one joint", "three joints", "no position", "other joints", "nan", "empty"],
)
def test_joint_position_reads_what_rclpy_reads(message):
    expected = None
    if "elbow_joint" in message.name:
        index = list(message.name).index("elbow_joint")
        position = message.position[index] if index < len(message.position) else math.nan
        expected = (message.header.stamp.sec, message.header.stamp.nanosec, position)
    got = joint_position(serialize_message(message), "elbow_joint")
    if expected is None or math.isnan(expected[2]):
        assert got == expected or (got[:2] == expected[:2] and math.isnan(got[2]))
    else:
        assert got == expected


def test_joint_position_reads_big_endian_cdr():
    body = struct.pack(">iII4xII12sId", 7, 8, 1, 1, 12, b"elbow_joint\0", 1, -1.5)  # frame_id "" and its padding
    assert joint_position(b"\x00\x00\x00\x00" + body, "elbow_joint") == (7, 8, -1.5)


def test_joint_position_of_another_encoding_goes_through_rclpy(monkeypatch):
    monkeypatch.setattr("paindiffusion_ros.nodes.cdr.ENCAPSULATION", {})
    data = serialize_message(JointState(header=Header(stamp=Time(sec=3)), name=["x", "elbow_joint"], position=[0.5, 0.25]))
    assert joint_position(data, "elbow_joint") == (3, 0, 0.25)
    assert joint_position(data, "knee") is None


def test_stamp_now_is_the_system_time_unless_the_clock_is_simulated():
    clock = ROSClock()
    before = time.time_ns()
    sec, nanosec = stamp_now(clock)
    assert before <= sec * 1_000_000_000 + nanosec <= time.time_ns() and 0 <= nanosec < 1_000_000_000
    clock._set_ros_time_is_active(True)
    clock.set_ros_time_override(RclpyTime(seconds=12, nanoseconds=345))
    assert stamp_now(clock) == (12, 345)
