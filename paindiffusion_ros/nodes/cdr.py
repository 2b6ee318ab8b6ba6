"""The 100 Hz messages as CDR bytes: no Python message object per sample.

rclpy publishes ``bytes`` as an already serialised message and a ``raw`` subscription
takes one as ``bytes``. A thread that sleeps between samples runs each sample on cold
caches; there, on the 2-core VM, building a JointState, stamping it through rclpy's Clock
and publishing it cost ~420 µs of CPU (patching these bytes and publishing them ~240 µs),
and taking one into a Python object ~265 µs (as bytes ~100 µs): at 100 Hz that was most
of the driver's and the mapper's CPU.

The encoding is OMG XCDR1, the one rmw uses for ROS messages: a 4-byte encapsulation
header (``00 01`` little endian, ``00 00`` big endian), then each primitive aligned to its
size counted from the end of that header; a string is a uint32 length (NUL included) and
its bytes, a sequence a uint32 count and its elements.
"""

from __future__ import annotations

import math
import struct
import time
from typing import Any, Callable, Optional

from builtin_interfaces.msg import Time
from rclpy.clock import ROSClock
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import JointState

SENTINEL_STAMP = (0x7A5B3C1D, 0x1D2C3B4A)
"""sec and nanosec put in a template's header: a byte pattern no real message field repeats."""
SENTINEL_VALUES = (1.2345678901234567e-7, -7.654321098765432e-5, 3.141592653589793e-3, 2.718281828459045e-4)
ENCAPSULATION = {b"\x00\x01": "<", b"\x00\x00": ">"}
"""XCDR1 encapsulation identifiers and their byte orders."""


def find_once(data: bytes, needle: bytes, what: str) -> int:
    """Offset of the only occurrence of ``needle`` (a sentinel) in serialised ``data``."""
    index = data.find(needle)
    if index < 0 or data.find(needle, index + 1) >= 0:
        raise RuntimeError(f"cannot locate the {what} in the serialised message")
    return index


class StampedTemplate:
    """CDR bytes of one message layout whose header stamp and a few float64 fields change per
    sample. ``build(*values)`` makes the message with those values (everything else fixed, e.g.
    the joint name or frame_id); it is serialised once with sentinels, and ``encode`` writes the
    stamp and the values over them (fixed-size fields: no other byte moves)."""

    def __init__(self, build: Callable[..., Any], count: int) -> None:
        if not 0 < count <= len(SENTINEL_VALUES):
            raise ValueError(f"between 1 and {len(SENTINEL_VALUES)} values, not {count}")
        message = build(*SENTINEL_VALUES[:count])
        message.header.stamp = Time(sec=SENTINEL_STAMP[0], nanosec=SENTINEL_STAMP[1])
        self._template = serialize_message(message)
        order = ENCAPSULATION[self._template[:2]]
        self._stamp = struct.Struct(f"{order}iI")
        self._value = struct.Struct(f"{order}d")
        self._stamp_at = find_once(self._template, self._stamp.pack(*SENTINEL_STAMP), "stamp")
        self._values_at = [find_once(self._template, self._value.pack(v), f"value {i}") for i, v in enumerate(SENTINEL_VALUES[:count])]

    def encode(self, sec: int, nanosec: int, *values: float) -> bytes:
        """The message's bytes with this stamp and these values (as many as the template has)."""
        if len(values) != len(self._values_at):
            raise ValueError(f"expected {len(self._values_at)} values, got {len(values)}")
        data = bytearray(self._template)
        self._stamp.pack_into(data, self._stamp_at, sec, nanosec)
        for at, value in zip(self._values_at, values):
            self._value.pack_into(data, at, value)
        return bytes(data)


def stamp_now(clock: ROSClock) -> tuple[int, int]:
    """(sec, nanosec) of the node clock's time: the system time (without rclpy's Time
    objects) unless the node runs on simulated time (``use_sim_time``)."""
    nanoseconds = clock.now().nanoseconds if clock.ros_time_is_active else time.time_ns()
    return divmod(nanoseconds, 1_000_000_000)


class _Reader:
    """Reads XCDR1 primitives in order, aligning each to its size from the encapsulation's end."""

    ORIGIN = 4

    def __init__(self, data: bytes, order: str) -> None:
        self.data = data
        self.order = order
        self.at = self.ORIGIN

    def align(self, size: int) -> None:
        self.at += -(self.at - self.ORIGIN) % size

    def read(self, code: str, size: int) -> Any:
        self.align(size)
        (value,) = struct.unpack_from(self.order + code, self.data, self.at)
        self.at += size
        return value

    def string(self) -> bytes:
        length = self.read("I", 4)
        text = self.data[self.at : self.at + length - 1]
        self.at += length
        return text


def joint_position(data: bytes, joint: str) -> Optional[tuple[int, int, float]]:
    """(sec, nanosec, position) of ``joint`` in a serialised JointState; None when the joint is
    not named in it, NaN when it is named but has no position. Encodings other than XCDR1 go
    through rclpy's deserialisation."""
    order = ENCAPSULATION.get(bytes(data[:2]))
    if order is None:
        return _joint_position_of(deserialize_message(data, JointState), joint)
    reader = _Reader(data, order)
    sec, nanosec = reader.read("i", 4), reader.read("I", 4)
    reader.string()
    names = [reader.string() for _ in range(reader.read("I", 4))]
    wanted = joint.encode()
    if wanted not in names:
        return None
    index = names.index(wanted)
    positions = reader.read("I", 4)
    if index >= positions:
        return sec, nanosec, math.nan
    reader.align(8)
    return sec, nanosec, struct.unpack_from(order + "d", data, reader.at + 8 * index)[0]


def _joint_position_of(message: JointState, joint: str) -> Optional[tuple[int, int, float]]:
    if joint not in message.name:
        return None
    index = list(message.name).index(joint)
    position = float(message.position[index]) if index < len(message.position) else math.nan
    return message.header.stamp.sec, message.header.stamp.nanosec, position
