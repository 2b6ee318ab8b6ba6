"""The authors' model on the ROS graph: 100 expression values on the face topics, FLAME renders them."""

import subprocess
import sys

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
from test_ros_nodes import Listener, statuses
from waiting import wait_for


@pytest.fixture
def official_model(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(tmp_path, OfficialUNet1D(TINY), TINY, JawFirstLatent(latent_dim=TINY.latent_dim), FLAME_EMOCA_100, {}, SAMPLING)
    return tmp_path


def test_the_generator_nodes_process_reads_the_models_expression_size_without_torch(official_model):
    """The node sizes its topics from the checkpoint's config.json; its process never imports torch
    (the model runs in the generation process), and reading the binding must not change that."""
    script = (
        "import sys; from paindiffusion_ros.nodes.pain_generator import read_face_binding; "
        f"binding = read_face_binding({str(official_model)!r}); "
        "print(len(binding.expression_names), binding.jaw_dim, 'torch' in sys.modules, 'onnxruntime' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["100", "3", "False", "False"]


NODE_STREAM = (("window", 64), ("context", 24), ("horizon", 4), ("uncertainty", 1.67))
"""The parameters file's token-by-token geometry, which an imported model's own sampling must win over."""


def test_pain_generator_streams_the_bindings_100_values_with_the_models_own_sampling(context, official_model):
    overrides = [Parameter("model", value=str(official_model)), Parameter("backend", value="torch"), Parameter("threads", value=1),
                 *(Parameter(name, value=value) for name, value in NODE_STREAM)]
    generator = PainGeneratorNode(context=context, parameter_overrides=overrides)
    listener = Listener(context, {"/face/expression": Float32MultiArray, "/diagnostics": DiagnosticArray})
    names = []
    listener.node.create_subscription(String, "/face/expression_names", lambda m: names.append(m.data), LATCHED)
    with NodeThreads([generator, listener.node], context):
        assert wait_for(lambda: names and generator.generation.status.chunks >= 1), generator.generator_error
        assert wait_for(lambda: any("own sampling" in dict((v.key, v.value) for v in s.values).get("stream", "")
                                    for s in statuses(listener, "pain_generator: generator")))
    assert names[-1].split(",") == list(FLAME_EMOCA_100.expression_names)
    messages = listener.get("/face/expression")
    assert messages and all(len(m.data) == 100 and m.layout.dim[0].size == 100 for m in messages)
    assert generator.generation.info.horizon == SAMPLING.horizon, "the checkpoint's 12 new frames per call, not the node's 4"
    assert f"window {SAMPLING.window}, context {SAMPLING.context}, {SAMPLING.horizon} new frames" in generator.stream
    assert generator.generator_error == ""


def test_face_renderer_draws_100_flame_coefficients_and_the_human_and_procedural_faces_refuse_them(context, tmp_path):
    flame = write(tmp_path, small_model())
    small = [Parameter("size", value=64), Parameter("mesh_rate", value=0.0)]
    flame_face = FaceRendererNode(node_name="flame_face", context=context, parameter_overrides=[
        *small, Parameter("kind", value="flame"), Parameter("flame_path", value=str(flame)), Parameter("flame_expression", value=100)])
    refusing = [FaceRendererNode(node_name=f"{kind}_face", context=context, parameter_overrides=[*small, Parameter("kind", value=kind)])
                for kind in ("human", "builtin")]
    listener = Listener(context, {"/diagnostics": DiagnosticArray})
    names = listener.node.create_publisher(String, "/face/expression_names", LATCHED)
    expression = listener.node.create_publisher(Float32MultiArray, "/face/expression", 10)
    names.publish(String(data=",".join(FLAME_EMOCA_100.expression_names)))
    values = Float32MultiArray(data=list(np.linspace(-1, 1, 100, dtype=np.float32)))
    with NodeThreads([flame_face, *refusing, listener.node], context):
        assert wait_for(lambda: all(any(s.level == DiagnosticStatus.ERROR for s in statuses(listener, f"{face.get_name()}: face"))
                                    for face in refusing))

        def all_saw_it():
            expression.publish(values)
            return np.allclose(flame_face.expression, values.data) and all(face.bad_messages > 0 for face in refusing)

        assert wait_for(all_saw_it)
    assert flame_face.mismatch == "" and flame_face.bad_messages == 0
    for face in refusing:
        assert "are not those of face 'builtin-facs-53'" in face.mismatch
        assert not face.expression.any(), "the refused values never reach the face"
