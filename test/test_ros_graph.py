"""The node graph in one process (random ROS_DOMAIN_ID from conftest): rates, mapping, validation.

The generator runs a tiny random checkpoint here (the clock and the plumbing are under
test, not the model); the shipped trained model is exercised in test_ros_reaction.py.
"""

import math
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.context import Context
from rclpy.parameter import Parameter
from rclpy.time import Time
from ros_probe import Probe, rate

from paindiffusion_ros.face.binding import BUILTIN_FACS
from paindiffusion_ros.model.checkpoint import save_checkpoint
from paindiffusion_ros.model.config import ModelConfig
from paindiffusion_ros.model.network import TemporalUNet
from paindiffusion_ros.model.normalization import LatentNormalization
from paindiffusion_ros.nodes.elbow_driver import ElbowDriverNode
from paindiffusion_ros.nodes.face_renderer import FaceRendererNode
from paindiffusion_ros.nodes.graph import NodeThreads
from paindiffusion_ros.nodes.pain_generator import PainGeneratorNode
from paindiffusion_ros.nodes.stimulus_mapper import StimulusMapperNode
from paindiffusion_ros.stimulus import StimulusMap

PARAMS = Path(__file__).resolve().parent.parent / "config" / "paindiffusion.yaml"
RUN_S = 11.0
WARM_UP_S = 1.0
TINY = ModelConfig(channels=(16, 32), embed_dim=16, cond_dim=16, heads=2, groups=4, window=16)
TINY_STREAM = [
    Parameter("backend", value="torch"),
    Parameter("threads", value=1),
    Parameter("window", value=16),
    Parameter("context", value=8),
    Parameter("horizon", value=8),
    Parameter("steps", value=2),
]


def tiny_checkpoint(directory: Path) -> Path:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    normalization = LatentNormalization.fit(rng.uniform(0, 1, size=(200, 50)), rng.normal(0, 0.05, size=(200, 3)))
    return save_checkpoint(directory, TemporalUNet(TINY), TINY, normalization, BUILTIN_FACS, {})


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """The four nodes from config/paindiffusion.yaml (tiny model) running for RUN_S seconds."""
    model = tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "ckpt")
    context = Context()
    rclpy.init(context=context, args=["--ros-args", "--params-file", str(PARAMS)])
    nodes = {
        "elbow": ElbowDriverNode(context=context),
        "mapper": StimulusMapperNode(context=context),
        "generator": PainGeneratorNode(context=context, parameter_overrides=[Parameter("model", value=str(model)), *TINY_STREAM]),
        "face": FaceRendererNode(context=context, parameter_overrides=[Parameter("size", value=128)]),
    }
    probe = Probe(context)
    threads = NodeThreads([*nodes.values(), probe.node], context).start()
    try:
        start = time.monotonic()
        time.sleep(RUN_S)
        yield nodes, probe, start
    finally:
        threads.stop()
        rclpy.shutdown(context=context)


def test_expression_streams_at_25_hz(graph):
    nodes, probe, start = graph
    arrivals = probe.since("/face/expression", start + WARM_UP_S)
    assert arrivals[-1][0] - arrivals[0][0] >= 10.0 - 0.1
    assert rate(arrivals) == pytest.approx(25.0, rel=0.02), nodes["generator"].clock.slipped
    stamps = [Time.from_msg(m.header.stamp).nanoseconds * 1e-9 for _, m in probe.since("/face/jaw_pose", start + WARM_UP_S)]
    assert (len(stamps) - 1) / (stamps[-1] - stamps[0]) == pytest.approx(25.0, rel=0.02)


def test_expression_messages_are_labelled_and_finite(graph):
    _, probe, start = graph
    for _, message in probe.since("/face/expression", start):
        assert [(d.label, d.size) for d in message.layout.dim] == [("expression", 50)]
        assert len(message.data) == 50 and np.isfinite(message.data).all()
    for _, message in probe.since("/face/jaw_pose", start):
        assert message.header.frame_id == "head"
        assert all(math.isfinite(v) for v in (message.vector.x, message.vector.y, message.vector.z))
    names = probe.since("/face/expression_names", 0)
    assert names and names[-1][1].data.split(",") == list(BUILTIN_FACS.expression_names)
    pspi = [m.data for _, m in probe.since("/pain/pspi", start)]
    assert pspi and all(0.0 <= v <= 16.0 for v in pspi)


def test_joint_states_at_least_50_hz_in_radians(graph):
    nodes, probe, start = graph
    arrivals = probe.since("/joint_states", start + WARM_UP_S)
    assert rate(arrivals) >= 50.0
    config = nodes["elbow"].elbow.settings
    for _, message in arrivals:
        assert list(message.name) == ["elbow_joint"]
        assert config.lower_limit <= message.position[0] <= config.upper_limit


def test_stimulus_follows_the_angle_mapping_exactly(graph):
    nodes, probe, _ = graph
    angle_by_stamp = {(m.header.stamp.sec, m.header.stamp.nanosec): m.position[0] for _, m in probe.since("/joint_states", 0)}
    mapping = StimulusMap(nodes["mapper"].params.settings)
    matched = 0
    for _, message in probe.since("/pain/stimulus", 0):
        angle = angle_by_stamp.get((message.header.stamp.sec, message.header.stamp.nanosec))
        if angle is None:
            continue
        assert message.temperature == mapping(angle)
        assert message.variance >= 0.0
        matched += 1
    assert matched >= 0.9 * len(angle_by_stamp)
    temperatures = [m.temperature for _, m in probe.since("/pain/stimulus", 0)]
    assert min(temperatures) >= 32.0 and max(temperatures) <= 50.5 and max(temperatures) > 40.0


def test_face_image_and_mesh_are_published(graph):
    _, probe, start = graph
    assert len(probe.since("/face/image", start + WARM_UP_S)) > 0
    assert len(probe.since("/face/mesh", start + WARM_UP_S)) > 0


def test_diagnostics_report_every_node_ok(graph):
    _, probe, _ = graph
    for part in ("elbow_driver: elbow", "pain_generator: generator", "face_renderer: face"):
        statuses = probe.statuses(part)
        assert statuses, part
        assert statuses[-1].level in (DiagnosticStatus.OK, DiagnosticStatus.WARN), (part, statuses[-1].message)


def test_runtime_parameters_are_validated_while_streaming(graph):
    nodes, probe, _ = graph
    generator = nodes["generator"]
    bad = [
        Parameter("emotion", value="joy"),
        Parameter("expressiveness", value=30.0),
        Parameter("guidance_stimulus", value="strong"),
        Parameter("horizon", value=4),
    ]
    for parameter in bad:
        before = generator.get_parameter(parameter.name).value
        (result,) = generator.set_parameters([parameter])
        assert not result.successful and result.reason, parameter.name
        assert generator.get_parameter(parameter.name).value == before
    (result,) = generator.set_parameters([Parameter("emotion", value="fear")])
    assert result.successful and generator.params.settings.emotion == "fear"
    count = len(probe.since("/face/expression", 0))
    time.sleep(0.5)
    assert len(probe.since("/face/expression", 0)) > count
