"""The authors' model on the ROS graph: 100 expression values on the face topics, FLAME renders them."""

import numpy as np
import pytest
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.parameter import Parameter
from std_msgs.msg import Float32MultiArray, String

from paindiffusion_ros.face.binding import FLAME_EMOCA_100
from paindiffusion_ros.model.checkpoint import save_checkpoint
from paindiffusion_ros.model.official_latent import JawFirstLatent
from paindiffusion_ros.model.official_network import OfficialUNet1D
from paindiffusion_ros.nodes.face_renderer import FaceRendererNode
from paindiffusion_ros.nodes.graph import NodeThreads
from paindiffusion_ros.nodes.pain_generator import PainGeneratorNode
from paindiffusion_ros.nodes.qos import LATCHED
from test_face_flame import small_model, write
from test_model_official_stream import SAMPLING, TINY
from test_ros_nodes import Listener, context, statuses, wait_for  # noqa: F401 (context: fixture)

LOAD_TIMEOUT = 120.0
"""Upper bound for loading a tiny model and publishing on a busy machine; the checks are what must hold."""


@pytest.fixture
def official_model(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(tmp_path, OfficialUNet1D(TINY), TINY, JawFirstLatent(latent_dim=TINY.latent_dim), FLAME_EMOCA_100, {}, SAMPLING)
    return tmp_path


def test_pain_generator_streams_the_bindings_100_expression_values(context, official_model):
    overrides = [Parameter("model", value=str(official_model)), Parameter("backend", value="torch"), Parameter("threads", value=1)]
    generator = PainGeneratorNode(context=context, parameter_overrides=overrides)
    listener = Listener(context, {"/face/expression": Float32MultiArray})
    names = []
    listener.node.create_subscription(String, "/face/expression_names", lambda m: names.append(m.data), LATCHED)
    with NodeThreads([generator, listener.node], context):
        assert wait_for(lambda: names and generator.worker.chunks >= 1, LOAD_TIMEOUT), generator.generator_error
    assert names[-1].split(",") == list(FLAME_EMOCA_100.expression_names)
    messages = listener.get("/face/expression")
    assert messages and all(len(m.data) == 100 and m.layout.dim[0].size == 100 for m in messages)
    assert generator.generator_error == ""


def test_face_renderer_draws_100_flame_coefficients_and_the_builtin_face_refuses_them(context, tmp_path):
    flame = write(tmp_path, small_model())
    overrides = [Parameter("size", value=64), Parameter("mesh_rate", value=0.0), Parameter("kind", value="flame"),
                 Parameter("flame_path", value=str(flame)), Parameter("flame_expression", value=100)]
    flame_face = FaceRendererNode(node_name="flame_face", context=context, parameter_overrides=overrides)
    builtin_face = FaceRendererNode(node_name="builtin_face", context=context,
                                    parameter_overrides=[Parameter("size", value=64), Parameter("mesh_rate", value=0.0)])
    listener = Listener(context, {"/diagnostics": DiagnosticArray})
    names = listener.node.create_publisher(String, "/face/expression_names", LATCHED)
    expression = listener.node.create_publisher(Float32MultiArray, "/face/expression", 10)
    names.publish(String(data=",".join(FLAME_EMOCA_100.expression_names)))
    values = Float32MultiArray(data=list(np.linspace(-1, 1, 100, dtype=np.float32)))
    with NodeThreads([flame_face, builtin_face, listener.node], context):
        assert wait_for(lambda: any(s.level == DiagnosticStatus.ERROR for s in statuses(listener, "builtin_face: face")), LOAD_TIMEOUT)

        def both_saw_it():
            expression.publish(values)
            return np.allclose(flame_face.expression, values.data) and builtin_face.bad_messages > 0

        assert wait_for(both_saw_it, LOAD_TIMEOUT)
    assert flame_face.mismatch == "" and flame_face.bad_messages == 0
    assert "builtin-facs-53" in builtin_face.mismatch
