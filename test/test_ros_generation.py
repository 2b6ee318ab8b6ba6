"""The generator's model process: a killed one is started again while the face eases to neutral.

In a module of its own: the node under test shares this process with the probe only.
"""

import os
import signal
import time

import pytest
import rclpy
from rclpy.context import Context
from rclpy.parameter import Parameter
from ros_probe import Probe
from test_ros_graph import TINY_STREAM, tiny_checkpoint

from waiting import wait_for

from paindiffusion_ros.nodes.graph import NodeThreads
from paindiffusion_ros.nodes.pain_generator import PainGeneratorNode


@pytest.fixture
def streaming(tmp_path):
    """A generator node on a tiny checkpoint, and a probe, spinning until the test ends."""
    model = tiny_checkpoint(tmp_path / "ckpt")
    context = Context()
    rclpy.init(context=context)
    overrides = [Parameter("model", value=str(model)), *(Parameter(name, value=value) for name, value in TINY_STREAM)]
    generator = PainGeneratorNode(context=context, parameter_overrides=overrides)
    probe = Probe(context)
    threads = NodeThreads([generator, probe.node], context).start()
    try:
        assert wait_for(lambda: generator.generation.status.chunks >= 3)
        yield generator, probe, threads
    finally:
        threads.stop()
        rclpy.shutdown(context=context)


def test_a_killed_model_process_is_restarted_and_the_face_comes_back(streaming):
    generator, probe, _ = streaming
    first = generator.generation
    os.kill(first.process.pid, signal.SIGKILL)
    killed = time.monotonic()
    assert wait_for(lambda: generator.restarts == 1 and generator.generation is not first)
    assert wait_for(lambda: generator.generation.status.chunks >= 3), "the new model process generates"
    assert wait_for(lambda: any("restarting" in s.message for s in probe.statuses("pain_generator")))
    frames = probe.since("/face/expression", killed)
    assert len(frames) > 0, "the 25 Hz stream went on"
    assert any(not any(m.data) for _, m in frames), ("eased to neutral while no model ran", generator.player.underruns, [round(t - killed, 2) for t, m in frames if not any(m.data)][:5], len(frames))
    assert any(any(m.data) for _, m in frames), "model frames again"


def test_a_stalled_model_process_never_stops_the_clock_and_the_node_still_stops(streaming):
    generator, probe, threads = streaming
    child = generator.generation.process
    os.kill(child.pid, signal.SIGSTOP)
    stalled = time.monotonic()
    assert wait_for(lambda: generator.player.underruns >= 1), "the queue runs dry and the face eases to neutral"
    count = len(probe.since("/face/expression", stalled))
    assert wait_for(lambda: len(probe.since("/face/expression", stalled)) >= count + 50), "the 25 Hz stream goes on"
    threads.stop()
    assert child.poll() is not None, "stopping the node ended the stalled model process"
