"""A subscription served by a thread of its own instead of the node's executor.

rclpy's executor spends ~0.5 ms of Python per wake-up rebuilding its wait set from every
entity of the node (parameter services, timers, ...): for a 100 Hz input that was 13 % of
a core on the 2-core machine, for a node whose own work per message is a few dozen
microseconds (the stimulus mapper). ``SubscriptionThread`` waits on a wait set holding
only this subscription and a stop guard, takes a message when one is ready and calls the
callback in that thread: a third of the cost. One take per wake-up: the wait returns at
once while more are queued, so while messages flow no take comes back empty. It is what
rclpy's own ``wait_for_message`` does (the ``WaitSet`` of rclpy's C extension, the same in Humble,
Jazzy and Kilted). The subscription belongs to a callback group no executor runs, so
the node's executor never takes its messages; the node's other work (timers, parameter
services) stays on the executor, so the callback must be thread-safe against it. An
``on_tick`` (a watchdog) can run in the same thread, between two waits, as often as it
asks: it returns the seconds until it wants to run again (a watchdog that only needs to
wake when its input would go stale costs no wake-ups while the input flows). With
``raw=True`` the callback gets each message as its serialised bytes (``cdr.py`` reads them).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable, Optional

from rclpy.callback_groups import CallbackGroup
from rclpy.guard_condition import GuardCondition
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile

WAIT_S = 0.5
"""Longest single wait; the stop guard normally ends a wait at once."""


class _NoExecutor(CallbackGroup):
    """A callback group that executors never run, so they leave its entities out of their wait sets."""

    def can_execute(self, entity: Any) -> bool:
        return False

    def beginning_execution(self, entity: Any) -> bool:
        return False

    def ending_execution(self, entity: Any) -> None:
        """Nothing to release: nothing ever began."""


class SubscriptionThread:
    """Subscribes ``node`` to ``topic`` and calls ``callback(message)`` from a dedicated thread,
    and, when given, ``on_tick()`` once at the start and then again after the seconds each call returns."""

    def __init__(self, node: Node, msg_type: type, topic: str, callback: Callable[[Any], None], qos: QoSProfile,
                 on_tick: Optional[Callable[[], float]] = None, raw: bool = False) -> None:
        self.node = node
        self.callback = callback
        self.on_tick = on_tick
        self.subscription = node.create_subscription(msg_type, topic, callback, qos, callback_group=_NoExecutor(), raw=raw)
        self._stop = threading.Event()
        self._wake = GuardCondition(None, None, context=node.context)
        self._thread = threading.Thread(target=self._run, name=f"subscription{topic.replace('/', '-')}", daemon=True)

    def start(self) -> "SubscriptionThread":
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the thread (before the node is destroyed)."""
        self._stop.set()
        self._wake.trigger()
        if self._thread.ident is not None:
            self._thread.join()
        self._wake.destroy()

    def _run(self) -> None:
        handle, msg_type, raw = self.subscription.handle, self.subscription.msg_type, self.subscription.raw
        callback, stopping, context = self.callback, self._stop.is_set, self.node.context
        wait_set = _rclpy.WaitSet(1, 1, 0, 0, 0, 0, context.handle)
        tick = time.monotonic() if self.on_tick is not None else math.inf
        while not stopping() and context.ok():
            wait_set.clear_entities()
            wait_set.add_subscription(handle)
            wait_set.add_guard_condition(self._wake.handle)
            wait_set.wait(max(round(min(tick - time.monotonic(), WAIT_S) * 1e9), 0))
            if stopping():
                break
            taken = handle.take_message(msg_type, raw)
            if taken is not None:
                callback(taken[0])
            if time.monotonic() >= tick:
                tick = time.monotonic() + self.on_tick()
