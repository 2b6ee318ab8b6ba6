"""The trainee's pain rating on ``/trainee/rating``: one standard message, read the same everywhere.

``sensor_msgs/msg/Joy`` — the reading of a hand-held input, stamped: ``header.stamp``
is when the console received the rating, ``header.frame_id`` is ``nrs``, and
``axes[0]`` is the trainee's rating on the 0–10 numeric rating scale (NRS, continuous);
``buttons`` is empty. A standard type, so ``ros2 bag``, rviz-free tools and the
``rosbags`` reader need nothing custom (docs/topics.md).
"""

from __future__ import annotations

import math
from typing import Any

RATING_TOPIC = "/trainee/rating"
RATING_TYPE = "sensor_msgs/msg/Joy"
RATING_FRAME = "nrs"
NRS_RANGE = (0.0, 10.0)


def check_rating(value: Any) -> float:
    """The rating as a float; ValueError naming the problem for anything but a number in 0–10."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"rating must be a number from {NRS_RANGE[0]:g} to {NRS_RANGE[1]:g}, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or not NRS_RANGE[0] <= value <= NRS_RANGE[1]:
        raise ValueError(f"rating {value!r} is outside {NRS_RANGE[0]:g}–{NRS_RANGE[1]:g} (NRS)")
    return value


def rating_value(message: Any) -> float:
    """The NRS rating of a ``/trainee/rating`` message (rclpy's or the rosbags reader's), NaN if it has none."""
    axes = list(message.axes)
    return float(axes[0]) if axes else math.nan
