"""QoS for recording: what publishers offer, what a recorder subscribes with.

rosbag2 stores each topic's *offered* QoS profiles in the bag so that ``ros2 bag
play`` can republish with compatible settings, and its recorder adapts the
subscription to the publishers it finds: reliable only when every publisher is
reliable, transient-local only when every publisher is (rosbag2 design doc,
"QoS in rosbag2"). A best-effort subscription matches both reliable and
best-effort publishers, so it is the safe choice whenever the publishers differ.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from rclpy.duration import Duration
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)
from rclpy.topic_endpoint_info import TopicEndpointInfo
from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)

NS_PER_S = 1_000_000_000


def _qos_time(duration: Duration) -> QosTime:
    """rclpy duration (``Infinite`` is INT64_MAX ns, as in rmw) → rosbag2 sec/nsec."""
    sec, nsec = divmod(int(duration.nanoseconds), NS_PER_S)
    return QosTime(sec, nsec)


def offered_qos(profile: QoSProfile) -> Qos:
    """One publisher's QoS profile in the form rosbag2 metadata stores it.

    rclpy and rosbag2 number the policies alike, so each converts by name.
    """
    return Qos(
        history=QosHistory[profile.history.name],
        depth=int(profile.depth),
        reliability=QosReliability[profile.reliability.name],
        durability=QosDurability[profile.durability.name],
        deadline=_qos_time(profile.deadline),
        lifespan=_qos_time(profile.lifespan),
        liveliness=QosLiveliness[profile.liveliness.name],
        liveliness_lease_duration=_qos_time(profile.liveliness_lease_duration),
        avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions),
    )


def offered_profiles(publishers: Iterable[TopicEndpointInfo]) -> list[Qos]:
    """Offered QoS of every publisher of a topic, for the bag's topic metadata."""
    return [offered_qos(info.qos_profile) for info in publishers]


def adapted_subscription_qos(offered: Sequence[QoSProfile], depth: int = 100) -> QoSProfile:
    """The subscription QoS rosbag2 would choose for these publishers.

    Reliable and transient-local only when *all* publishers offer them (a reliable
    subscriber would not match a best-effort publisher); best-effort and volatile
    otherwise, including when no publisher is known yet.
    """
    all_reliable = bool(offered) and all(p.reliability == ReliabilityPolicy.RELIABLE for p in offered)
    all_latched = bool(offered) and all(p.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in offered)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE if all_reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if all_latched else DurabilityPolicy.VOLATILE,
    )
