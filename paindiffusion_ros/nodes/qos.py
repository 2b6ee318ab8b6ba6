"""QoS profiles of the project's topics (the table is in docs/topics.md).

The rule: small streams are *published* reliable (keep last 10), so every kind of
subscriber matches — a best-effort subscriber (robot_state_publisher's SensorDataQoS)
matches a reliable publisher, the reverse does not — and a reliable subscriber such as
the recorder or rviz's default gets every message. Subscribers inside the graph that
only need the newest value subscribe with sensor-data QoS. The face image, ~0.8 MB per
frame at 25 Hz, is published best effort (sensor data): a late frame is worthless,
retransmitting it only delays the next one. Metadata that is published once is
reliable + transient local, so late joiners receive it.
"""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

STREAM = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
"""Publishers of small periodic streams: joint states, stimulus, expression, jaw, PSPI, mesh, diagnostics."""

LATEST = qos_profile_sensor_data
"""Subscribers that only need the newest sample, and the face image publisher."""

LATCHED = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
"""Metadata published once (the expression channel names)."""
