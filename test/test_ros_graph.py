"""The node graph as launch runs it — one process per node (``session.processes``) — seen
from a probe in the test process: rates, mapping, diagnostics, run-time parameters.

The generator runs a tiny random checkpoint here (the clock and the plumbing are under
test, not the model); the shipped trained model is exercised in test_ros_reaction.py and
test_session_demo.py. Every wait is on a condition with a generous deadline.
"""

import math
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import torch
import yaml
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.context import Context
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.time import Time
from ros_probe import Probe, rate

from waiting import DEADLINE_S, wait_done, wait_for

from paindiffusion_ros.face.binding import BUILTIN_FACS
from paindiffusion_ros.model.checkpoint import save_checkpoint
from paindiffusion_ros.model.config import ModelConfig
from paindiffusion_ros.model.network import TemporalUNet
from paindiffusion_ros.model.normalization import LatentNormalization
from paindiffusion_ros.nodes.graph import NodeThreads
from paindiffusion_ros.session.processes import NodeProcesses, NodeSpec
from paindiffusion_ros.stimulus import StimulusMap, StimulusMapConfig

PARAMS = Path(__file__).resolve().parent.parent / "config" / "paindiffusion.yaml"
RUN_S = 10.0
TINY = ModelConfig(channels=(16, 32), embed_dim=16, cond_dim=16, heads=2, groups=4, window=16)
TINY_STREAM = (("backend", "torch"), ("threads", 1), ("window", 16), ("context", 8), ("horizon", 4), ("steps", 2))


def tiny_checkpoint(directory: Path) -> Path:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    normalization = LatentNormalization.fit(rng.uniform(0, 1, size=(200, 50)), rng.normal(0, 0.05, size=(200, 3)))
    return save_checkpoint(directory, TemporalUNet(TINY), TINY, normalization, BUILTIN_FACS, {})


def node_parameters(node: str) -> dict:
    """The parameters ``node`` reads from config/paindiffusion.yaml."""
    return yaml.safe_load(PARAMS.read_text())[f"/**/{node}"]["ros__parameters"]


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """The four nodes from config/paindiffusion.yaml (tiny model) in their own processes,
    recorded by the probe for RUN_S seconds once the model streams."""
    model = tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "ckpt")
    specs = [
        NodeSpec("elbow_driver", "paindiffusion_ros.nodes.elbow_driver"),
        NodeSpec("stimulus_mapper", "paindiffusion_ros.nodes.stimulus_mapper"),
        NodeSpec("pain_generator", "paindiffusion_ros.nodes.pain_generator", (("model", str(model)), *TINY_STREAM)),
        NodeSpec("face_renderer", "paindiffusion_ros.nodes.face_renderer", (("size", 128),)),
    ]
    context = Context()
    rclpy.init(context=context)
    probe = Probe(context)
    processes = NodeProcesses(specs, PARAMS, tmp_path_factory.mktemp("logs"))
    threads = NodeThreads([probe.node], context).start()
    try:
        processes.start()
        assert wait_for(lambda: probe.since("/face/expression_names", 0) and probe.since("/pain/pspi", 0)), processes.run_dir
        start = time.monotonic()
        assert wait_for(lambda: time.monotonic() - start >= RUN_S)
        yield probe, start, processes
    finally:
        processes.stop()
        threads.stop()
        rclpy.shutdown(context=context)


def test_expression_streams_at_25_hz_on_a_fixed_grid(graph):
    probe, start, _ = graph
    arrivals = probe.since("/face/expression", start)
    assert arrivals[-1][0] - arrivals[0][0] >= RUN_S - 0.5
    assert rate(arrivals) == pytest.approx(25.0, rel=0.02)
    stamps = np.array([Time.from_msg(m.header.stamp).nanoseconds for _, m in probe.since("/face/jaw_pose", start)])
    slots = np.diff(stamps) / 40e6
    assert np.all(np.abs(slots - np.round(slots)) < 1e-4), "jaw poses stamped on the 25 Hz grid"
    assert (len(stamps) - 1) / ((stamps[-1] - stamps[0]) * 1e-9) == pytest.approx(25.0, rel=0.02)


def test_expression_messages_are_labelled_and_finite(graph):
    probe, start, _ = graph
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
    probe, start, _ = graph
    arrivals = probe.since("/joint_states", start)
    assert rate(arrivals) >= 50.0
    elbow = node_parameters("elbow_driver")
    for _, message in arrivals:
        assert list(message.name) == ["elbow_joint"]
        assert elbow["lower_limit"] <= message.position[0] <= elbow["upper_limit"]


def test_stimulus_follows_the_angle_mapping_exactly(graph):
    probe, _, _ = graph
    angle_by_stamp = {(m.header.stamp.sec, m.header.stamp.nanosec): m.position[0] for _, m in probe.since("/joint_states", 0)}
    mapper = node_parameters("stimulus_mapper")
    mapping = StimulusMap(StimulusMapConfig(**{k: mapper[k] for k in ("lower_angle", "upper_angle", "baseline_c", "max_c", "patient_profile")}))
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


def test_face_images_compressed_and_mesh_are_published(graph):
    probe, start, _ = graph
    images = probe.since("/face/image/compressed", start)
    assert images and images[-1][1].format == "rgb8; jpeg compressed bgr8"
    assert len(probe.since("/face/image", start)) > 0, "the raw image goes to whoever subscribes to it"
    assert len(probe.since("/face/mesh", start)) > 0


def test_diagnostics_report_every_node_with_the_generator_timing(graph):
    probe, start, _ = graph
    for part in ("elbow_driver: elbow", "stimulus_mapper: stimulus", "pain_generator: generator", "face_renderer: face"):
        statuses = probe.statuses(part)
        assert statuses, part
        assert statuses[-1].level in (DiagnosticStatus.OK, DiagnosticStatus.WARN), (part, statuses[-1].message)
    values = {kv.key: kv.value for kv in probe.statuses("pain_generator: generator")[-1].values}
    for key in ("stimulus_to_face_p50_s", "stimulus_to_face_p95_s", "clock_jitter_p99_ms"):
        assert math.isfinite(float(values[key])), (key, values[key])
    assert float(values["stimulus_to_face_p50_s"]) <= float(values["stimulus_to_face_p95_s"])


def test_runtime_parameters_are_validated_while_streaming(graph):
    probe, _, _ = graph
    client = AsyncParameterClient(probe.node, "pain_generator")
    assert client.wait_for_services(DEADLINE_S)
    for parameter in (
        Parameter("emotion", value="joy"),
        Parameter("expressiveness", value=30.0),
        Parameter("guidance_stimulus", value="strong"),
        Parameter("horizon", value=8),
    ):
        (before,) = wait_done(client.get_parameters([parameter.name])).values
        (result,) = wait_done(client.set_parameters([parameter])).results
        assert not result.successful and result.reason, parameter.name
        (after,) = wait_done(client.get_parameters([parameter.name])).values
        assert after == before
    (result,) = wait_done(client.set_parameters([Parameter("emotion", value="fear")])).results
    assert result.successful
    (emotion,) = wait_done(client.get_parameters(["emotion"])).values
    assert emotion.string_value == "fear"
    count = len(probe.since("/face/expression", 0))
    assert wait_for(lambda: len(probe.since("/face/expression", 0)) > count + 10)
