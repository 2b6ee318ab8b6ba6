"""Shared pytest set-up: every test process gets its own isolated ROS 2 domain.

``PAINDIFFUSION_TEST_DOMAINS=LO-HI`` draws the domain from that range instead of 1–101,
so several developers' test runs on one machine cannot see each other's graphs.
"""

import os
import random
import tempfile

import pytest

_lo, _hi = (int(x) for x in os.environ.get("PAINDIFFUSION_TEST_DOMAINS", "1-101").split("-"))
os.environ["ROS_DOMAIN_ID"] = str(random.SystemRandom().randint(_lo, _hi))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
_face_cache = tempfile.TemporaryDirectory(prefix="paindiffusion-test-cache-")  # removed at exit
os.environ["PAINDIFFUSION_CACHE_DIR"] = _face_cache.name  # built faces: never ~/.cache, never a previous run's


@pytest.fixture
def context():
    """An rclpy context of the test's own (its nodes use it), shut down after the test."""
    import rclpy
    from rclpy.context import Context

    ctx = Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


def pytest_configure(config):
    config.addinivalue_line("markers", "faults: the fault campaign over the running multi-process graph (make faults)")
