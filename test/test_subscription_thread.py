"""SubscriptionThread: messages taken in its own thread, the watchdog run when it asks to be."""

import threading
import time

import pytest
import rclpy
from rclpy.serialization import serialize_message
from std_msgs.msg import Float32

from paindiffusion_ros.nodes.qos import LATEST, STREAM
from paindiffusion_ros.nodes.subscription_thread import SubscriptionThread
from waiting import wait_for


def test_messages_reach_the_callback_and_the_watchdog_runs_no_sooner_than_it_asked(context):
    node = rclpy.create_node("subscriber", context=context)
    talker = rclpy.create_node("talker", context=context)
    received, ticks = [], []
    asked = [0.15, 0.05, 0.3, 0.1]

    def on_tick() -> float:
        ticks.append(time.monotonic())
        return asked[(len(ticks) - 1) % len(asked)]

    thread = SubscriptionThread(node, Float32, "/numbers", lambda m: received.append((threading.current_thread().name, m.data)), LATEST, on_tick).start()
    publisher = talker.create_publisher(Float32, "/numbers", STREAM)
    try:
        assert wait_for(lambda: publisher.get_subscription_count() == 1)
        for value in range(5):
            publisher.publish(Float32(data=float(value)))
        assert wait_for(lambda: len(received) == 5 and len(ticks) >= 9)
    finally:
        thread.stop()
        talker.destroy_node()
        node.destroy_node()
    assert received == [("subscription-numbers", float(v)) for v in range(5)]
    gaps = [later - earlier for earlier, later in zip(ticks, ticks[1:])]
    assert all(gap >= asked[i % len(asked)] for i, gap in enumerate(gaps)), (gaps, asked)


@pytest.mark.parametrize("raw", [False, True], ids=["message", "serialised"])
def test_without_a_watchdog_messages_still_arrive(context, raw):
    node = rclpy.create_node("subscriber", context=context)
    received = []
    thread = SubscriptionThread(node, Float32, "/numbers", received.append, LATEST, raw=raw).start()
    talker = rclpy.create_node("talker", context=context)
    publisher = talker.create_publisher(Float32, "/numbers", STREAM)
    try:
        assert wait_for(lambda: publisher.get_subscription_count() == 1)
        publisher.publish(Float32(data=1.5))
        assert wait_for(lambda: len(received) == 1)
    finally:
        thread.stop()
        talker.destroy_node()
        node.destroy_node()
    expected = serialize_message(Float32(data=1.5)) if raw else Float32(data=1.5)
    assert received == [expected]
