"""A generator whose model cannot load keeps the 25 Hz face alive (neutral) and says why.

In a module of its own, so no other graph shares the process (and its GIL) with the clock
under test.
"""

import time

import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.context import Context
from rclpy.parameter import Parameter
from ros_probe import Probe, rate

from waiting import wait_for

from paindiffusion_ros.nodes.graph import NodeThreads
from paindiffusion_ros.nodes.pain_generator import PainGeneratorNode


WINDOW_S = 6.0


def test_bad_model_streams_a_neutral_face_with_error_diagnostics():
    context = Context()
    rclpy.init(context=context)
    generator = PainGeneratorNode(context=context, parameter_overrides=[Parameter("model", value="/nonexistent/model")])
    probe = Probe(context)
    threads = NodeThreads([generator, probe.node], context).start()

    def errors():
        return [s for s in probe.statuses("pain_generator") if s.level == DiagnosticStatus.ERROR]

    try:
        assert wait_for(errors), "no ERROR on /diagnostics for the missing model"
        start = time.monotonic()
        assert wait_for(lambda: time.monotonic() - start >= WINDOW_S)
    finally:
        threads.stop()
        rclpy.shutdown(context=context)
    assert "/nonexistent/model" in errors()[-1].message
    arrivals = probe.since("/face/expression", start)
    assert rate(arrivals) == pytest.approx(25.0, rel=0.02), generator.clock.slipped
    assert all(not any(m.data) for _, m in arrivals)
