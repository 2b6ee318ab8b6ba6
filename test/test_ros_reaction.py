"""End to end with the shipped trained model: bending the simulated elbow to end range
raises the published PSPI within the reaction time the generator settings promise.

Promise = the pipeline's worst case (``GenerationWorker.reaction_time``: one horizon of
waiting for the next request + the chunk's compute + the frames queued ahead) + the
face's own response: in the training world, facial reactions lag the heat by up to
1.6 s and rise with a time constant of up to 0.8 s (``data/synthetic.py``, after BioVid).
"""

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from sensor_msgs.msg import Temperature
from std_msgs.msg import Float32

from paindiffusion_ros.model.generator import default_model_dir
from paindiffusion_ros.nodes.elbow_driver import ElbowDriverNode
from paindiffusion_ros.nodes.graph import NodeThreads
from paindiffusion_ros.nodes.pain_generator import PainGeneratorNode
from paindiffusion_ros.nodes.qos import STREAM
from paindiffusion_ros.nodes.stimulus_mapper import StimulusMapperNode

PARAMS = Path(__file__).resolve().parent.parent / "config" / "paindiffusion.yaml"
FACE_LATENCY_S = 1.6
FACE_RISE_S = 0.8
REST_S = 7.0
BENT_C = 48.0
RISE_PSPI = 1.0
SMOOTH_FRAMES = 5

pytestmark = pytest.mark.skipif(not (default_model_dir() / "config.json").is_file(), reason="the shipped model is not in models/ yet")


def first_time(series, predicate, after):
    return next((t for t, value in series if t >= after and predicate(value)), None)


def test_bending_to_end_range_raises_pspi_in_time():
    context = Context()
    rclpy.init(context=context, args=["--ros-args", "--params-file", str(PARAMS)])
    elbow = ElbowDriverNode(
        context=context,
        parameter_overrides=[Parameter("mode", value="hold"), Parameter("sim_cycle_s", value=14.0), Parameter("sim_pause_s", value=5.0)],
    )
    generator = PainGeneratorNode(context=context, parameter_overrides=[Parameter("expressiveness", value=4.0)])
    nodes = [elbow, StimulusMapperNode(context=context), generator]
    probe = rclpy.create_node("probe", context=context)
    lock = threading.Lock()
    stimulus, pspi = [], []

    def keep(series):
        def store(message):
            with lock:
                series.append((time.monotonic(), message.temperature if isinstance(message, Temperature) else message.data))

        return store

    probe.create_subscription(Temperature, "/pain/stimulus", keep(stimulus), STREAM)
    probe.create_subscription(Float32, "/pain/pspi", keep(pspi), STREAM)
    elbow_parameters = AsyncParameterClient(probe, "elbow_driver")
    threads = NodeThreads([*nodes, probe], context).start()
    try:
        deadline = time.monotonic() + 30
        while generator.worker.chunks < 3 and time.monotonic() < deadline:
            assert not generator.generator_error, generator.generator_error
            time.sleep(0.1)
        time.sleep(REST_S)
        bend = time.monotonic()
        assert elbow_parameters.wait_for_services(5.0)
        future = elbow_parameters.set_parameters([Parameter("mode", value="compliant")])
        while not future.done():
            time.sleep(0.01)
        assert future.result().results[0].successful
        time.sleep(3.0)
        promise = generator.worker.reaction_time + FACE_LATENCY_S + FACE_RISE_S
        time.sleep(promise + 1.0)
    finally:
        threads.stop()
        rclpy.shutdown(context=context)

    with lock:
        stimulus, pspi = list(stimulus), list(pspi)
    rest = np.array([v for t, v in pspi if bend - REST_S / 2 <= t < bend])
    assert rest.size > 25 and generator.player.underruns <= 2, "generation could not keep up"
    times = np.array([t for t, _ in pspi])
    smoothed = np.convolve([v for _, v in pspi], np.ones(SMOOTH_FRAMES) / SMOOTH_FRAMES, mode="same")
    hot = first_time(stimulus, lambda c: c >= BENT_C, bend)
    assert hot is not None, "the elbow never reached end range"
    reacted = first_time(zip(times, smoothed), lambda v: v >= rest.mean() + RISE_PSPI, hot)
    assert reacted is not None, f"PSPI never rose above {rest.mean():.2f} + {RISE_PSPI}"
    assert reacted - hot <= promise, f"reaction {reacted - hot:.2f} s, promised {promise:.2f} s"
