"""Serialising a large TRIANGLE_LIST Marker straight from numpy arrays.

Filling ``Marker.points``/``colors`` with one Python object per corner costs ~0.5 s for
the built-in face (110k corners) and holds the GIL all that time. The CDR encoding of a
Marker (OMG DDS-XTypes XCDR1, as rmw uses) stores ``points`` as a uint32 count followed
by float64 x,y,z triples and ``colors`` as a count followed by float32 r,g,b,a, so those
two runs can be written from numpy in one copy each. Everything else is taken from the
rclpy serialisation of the same marker with a single sentinel corner. Sizes of a point
(24 bytes) and a colour (16 bytes) keep every later field's alignment unchanged, so the
bytes around the two runs do not depend on the corner count.
"""

from __future__ import annotations

import copy
import struct

import numpy as np
from geometry_msgs.msg import Point
from rclpy.serialization import serialize_message
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker

from .cdr import find_once

SENTINEL_POINT = (1.2345678901234567e-7, -7.654321098765432e-5, 3.141592653589793e-3)
SENTINEL_COLOR = (0.123456789, 0.23456789, 0.3456789, 0.456789)


def serialize_marker(marker: Marker, points: np.ndarray, colors: np.ndarray) -> bytes:
    """CDR bytes of ``marker`` with ``points`` (N,3) and per-corner ``colors`` (N,4) 0–1."""
    points = np.ascontiguousarray(points, dtype="<f8")
    colors = np.ascontiguousarray(colors, dtype="<f4")
    if points.ndim != 2 or points.shape[1] != 3 or colors.shape != (len(points), 4):
        raise ValueError(f"expected points (N,3) and colors (N,4), got {points.shape} and {colors.shape}")
    template = copy.copy(marker)
    template.points = [Point(x=SENTINEL_POINT[0], y=SENTINEL_POINT[1], z=SENTINEL_POINT[2])]
    template.colors = [ColorRGBA(r=SENTINEL_COLOR[0], g=SENTINEL_COLOR[1], b=SENTINEL_COLOR[2], a=SENTINEL_COLOR[3])]
    data = serialize_message(template)
    point_at = find_once(data, struct.pack("<3d", *SENTINEL_POINT), "points")
    color_at = find_once(data, struct.pack("<4f", *SENTINEL_COLOR), "colors")
    points_count_at = data.rfind(struct.pack("<I", 1), 0, point_at)
    colors_count_at = color_at - 4
    if points_count_at < 0 or data[colors_count_at:color_at] != struct.pack("<I", 1):
        raise RuntimeError("unexpected Marker encoding: sequence counts not found")
    count = struct.pack("<I", len(points))
    return b"".join(
        (
            data[:points_count_at],
            count,
            data[points_count_at + 4 : point_at],
            points.tobytes(),
            data[point_at + 24 : colors_count_at],
            count,
            colors.tobytes(),
            data[color_at + 16 :],
        )
    )
