"""Waiting on conditions in tests: generous deadlines, so a busy machine only makes a test slower."""

import time

DEADLINE_S = 180.0
"""Longest wait for something that happens within seconds on an idle machine (a model to load, a node to start)."""


def wait_for(condition, timeout=DEADLINE_S, poll=0.05):
    """Poll ``condition`` until it holds or ``timeout`` passes; its last value."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(poll)
    return condition()


def wait_done(future, timeout=DEADLINE_S):
    """The result of an rclpy future (a parameter client's answer), failing clearly when none comes."""
    assert wait_for(future.done, timeout), "no answer from the service"
    return future.result()
