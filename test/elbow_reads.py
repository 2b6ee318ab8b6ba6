"""Elbow backends in tests: a scripted hand for the emulators, and the first state a backend delivers."""

import time


class Hand:
    """A scripted hand: holds the joint at ``angle`` (motor rad) or, with ``speed``, sweeps it."""

    def __init__(self, angle=0.0):
        self.angle = angle
        self.speed = 0.0
        self.since = time.monotonic()

    def sweep(self, start, speed):
        self.angle, self.speed, self.since = start, speed, time.monotonic()

    def __call__(self, t):
        if self.angle is None:
            return None
        return self.angle + self.speed * (t - self.since)


def read_fresh(elbow, attempts=50):
    """The first non-None ``elbow.read()`` within ``attempts`` tries 10 ms apart."""
    for _ in range(attempts):
        state = elbow.read()
        if state is not None:
            return state
        time.sleep(0.01)
    raise AssertionError(f"no state: {elbow.status()}")
