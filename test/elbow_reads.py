"""Reading an elbow backend in tests: the first state it delivers, failing with its status."""

import time


def read_fresh(elbow, attempts=50):
    """The first non-None ``elbow.read()`` within ``attempts`` tries 10 ms apart."""
    for _ in range(attempts):
        state = elbow.read()
        if state is not None:
            return state
        time.sleep(0.01)
    raise AssertionError(f"no state: {elbow.status()}")
