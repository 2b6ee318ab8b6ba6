"""Single nodes against their failure modes: stale/NaN input, an unopenable port, SIGINT."""

import math
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.context import Context
from rclpy.exceptions import ParameterException
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image, JointState, Temperature
from std_msgs.msg import String

from paindiffusion_ros.face.binding import FLAME_EMOCA
from paindiffusion_ros.hardware.emulator import MX64Emulator

from paindiffusion_ros.nodes.elbow_driver import ElbowDriverNode
from paindiffusion_ros.nodes.face_renderer import FaceRendererNode
from paindiffusion_ros.nodes.graph import NodeThreads
from paindiffusion_ros.nodes.pain_generator import PainGeneratorNode
from paindiffusion_ros.nodes.qos import LATCHED, LATEST, STREAM
from paindiffusion_ros.nodes.stimulus_mapper import StimulusMapperNode


@pytest.fixture
def context():
    ctx = Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


class Listener:
    def __init__(self, context, topics, qos=STREAM):
        self.node = rclpy.create_node("listener", context=context)
        self.lock = threading.Lock()
        self.received = {topic: [] for topic in topics}
        for topic, kind in topics.items():
            self.node.create_subscription(kind, topic, self._store(topic), qos)

    def _store(self, topic):
        def store(message):
            with self.lock:
                self.received[topic].append(message)

        return store

    def get(self, topic):
        with self.lock:
            return list(self.received[topic])


def statuses(listener, name):
    return [s for m in listener.get("/diagnostics") for s in m.status if s.name == name]


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_stimulus_mapper_nan_and_stale_input_give_baseline_and_warn(context):
    mapper = StimulusMapperNode(context=context, parameter_overrides=[Parameter("stale_timeout", value=0.3)])
    listener = Listener(context, {"/pain/stimulus": Temperature, "/diagnostics": DiagnosticArray})
    joints = listener.node.create_publisher(JointState, "/joint_states", STREAM)
    with NodeThreads([mapper, listener.node], context):
        assert wait_for(lambda: listener.get("/pain/stimulus")), "no baseline while no joint states arrive"
        assert all(m.temperature == 32.0 for m in listener.get("/pain/stimulus"))
        assert wait_for(lambda: joints.get_subscription_count() > 0)
        for angle in (2.2, math.nan, 2.2):
            joints.publish(JointState(name=["elbow_joint"], position=[angle]))
            time.sleep(0.05)
        assert wait_for(lambda: sum(m.temperature == 50.5 for m in listener.get("/pain/stimulus")) == 2)
        hot = [i for i, m in enumerate(listener.get("/pain/stimulus")) if m.temperature == 50.5]
        assert listener.get("/pain/stimulus")[hot[0] + 1].temperature == 32.0
        assert wait_for(lambda: any(s.level == DiagnosticStatus.WARN for s in statuses(listener, "stimulus_mapper: stimulus")))
        time.sleep(0.6)
        assert listener.get("/pain/stimulus")[-1].temperature == 32.0
        assert mapper.nan_count == 1 and mapper.stale_count > 0


def test_stimulus_mapper_stale_timeout_runs_from_the_first_spin_not_from_construction(context):
    mapper = StimulusMapperNode(context=context, parameter_overrides=[Parameter("stale_timeout", value=0.3)])
    time.sleep(0.5)  # built, not yet spinning: a graph that starts its nodes after building them all
    with NodeThreads([mapper], context):
        time.sleep(0.2)
        assert mapper.stale_count == 0
        assert wait_for(lambda: mapper.stale_count > 0, timeout=2.0)


def test_stimulus_mapper_heat_override_without_the_arm_is_published_and_reported(context):
    mapper = StimulusMapperNode(context=context, parameter_overrides=[Parameter("stale_timeout", value=0.3)])
    listener = Listener(context, {"/pain/stimulus": Temperature, "/diagnostics": DiagnosticArray})
    with NodeThreads([mapper, listener.node], context):
        (rejected,) = mapper.set_parameters([Parameter("override_c", value=20.0)])
        assert not rejected.successful and "between baseline_c (32.0) and max_c (50.5)" in rejected.reason
        (accepted,) = mapper.set_parameters([Parameter("override_c", value=44.5)])
        assert accepted.successful
        stale_ticks, start = mapper.stale_count, len(listener.get("/pain/stimulus"))
        assert wait_for(lambda: sum(m.temperature == 44.5 for m in listener.get("/pain/stimulus")[start:]) >= 5)
        assert wait_for(lambda: any("heat override 44.5" in s.message and s.level == DiagnosticStatus.WARN for s in statuses(listener, "stimulus_mapper: stimulus")))
        assert mapper.stale_count == stale_ticks  # no arm is no fault while the override holds the stimulus
        mapper.set_parameters([Parameter("override_c", value=0.0)])
        start = len(listener.get("/pain/stimulus"))
        assert wait_for(lambda: any(m.temperature == 32.0 for m in listener.get("/pain/stimulus")[start:]))


@pytest.mark.parametrize(
    "setting, reason, retries",
    [  # a missing port may appear (keep the backend, retry); a bad setting never works (no backend)
        (Parameter("port", value="/dev/paindiffusion-missing"), ("serial port /dev/paindiffusion-missing does not exist",), True),
        (Parameter("baudrate", value=123456), ("elbow setting baudrate=123456", "Dynamixel rate"), False),
    ],
    ids=["missing port", "bad baud rate"],
)
def test_elbow_driver_keeps_running_with_error_diagnostics_when_it_cannot_open_the_motor(context, capfd, setting, reason, retries):
    driver = ElbowDriverNode(
        context=context,
        parameter_overrides=[Parameter("backend", value="dynamixel"), setting, Parameter("reopen_period", value=0.2)],
    )
    listener = Listener(context, {"/joint_states": JointState, "/diagnostics": DiagnosticArray})
    with NodeThreads([driver, listener.node], context):
        assert wait_for(lambda: len(statuses(listener, "elbow_driver: elbow")) >= 2, timeout=6)
        status = statuses(listener, "elbow_driver: elbow")[-1]
        assert status.level == DiagnosticStatus.ERROR
        assert all(part in status.message for part in reason)
        assert listener.get("/joint_states") == []
        (mode,) = driver.set_parameters([Parameter("mode", value="hold")])
        assert mode.successful and driver.elbow.settings.mode == "hold"
    assert (driver.backend is not None) == retries
    assert capfd.readouterr().err.count(f"cannot open the dynamixel elbow: {reason[0]}") == 1


def test_elbow_driver_rejecting_an_out_of_range_setting_leaves_a_context_that_shuts_down_cleanly(context):
    with pytest.raises(ParameterException, match="baudrate"):
        ElbowDriverNode(context=context, parameter_overrides=[Parameter("baudrate", value=1)])
    assert rclpy.try_shutdown(context=context) is None  # destroys the half-built node


@pytest.mark.parametrize(
    "cls, name, value",
    [
        (ElbowDriverNode, "rate", 10.0),
        (StimulusMapperNode, "idle_rate", 0.0),
        (StimulusMapperNode, "max_c", 60.0),
        (PainGeneratorNode, "rate", 0.5),
        (PainGeneratorNode, "guidance_stimulus", 11.0),
        (FaceRendererNode, "size", 10),
        (FaceRendererNode, "size", "big"),
        (FaceRendererNode, "window.mode", "bogus"),
        (FaceRendererNode, "region", "nose"),
        (FaceRendererNode, "render.supersample", 9),
    ],
)
def test_a_node_refusing_a_parameter_names_it_and_its_half_built_node_shuts_down_cleanly(context, cls, name, value):
    """First or a later parameter group: whatever destroy_node needs exists before any is declared."""
    threads = threading.active_count()
    with pytest.raises((ParameterException, ValueError), match=re.escape(name)):
        cls(context=context, parameter_overrides=[Parameter(name, value=value)])
    assert rclpy.try_shutdown(context=context) is None  # destroys the half-built node
    assert threading.active_count() == threads


def test_elbow_driver_on_an_emulated_mx64(context, tmp_path):
    """The real Dynamixel backend against the pty emulator: rate, angle, fault, torque off."""
    emulator = MX64Emulator(str(tmp_path / "ttyUSB0"), protocol=2, hand=lambda t: 1.0).start()
    try:
        driver = ElbowDriverNode(
            context=context,
            parameter_overrides=[
                Parameter("backend", value="dynamixel"),
                Parameter("port", value=emulator.path),
                Parameter("latency_timer_ms", value=1.0),
                Parameter("mode", value="hold"),
            ],
        )
        listener = Listener(context, {"/joint_states": JointState, "/diagnostics": DiagnosticArray})
        with NodeThreads([driver, listener.node], context):
            assert wait_for(lambda: len(listener.get("/joint_states")) > 10)
            start, count = time.monotonic(), len(listener.get("/joint_states"))
            time.sleep(2.0)
            assert (len(listener.get("/joint_states")) - count) / (time.monotonic() - start) >= 50.0
            assert listener.get("/joint_states")[-1].position[0] == pytest.approx(1.0, abs=0.01)
            assert emulator.peek("torque_enable") == 1
            emulator.overheat()
            assert wait_for(
                lambda: any(s.level == DiagnosticStatus.ERROR for s in statuses(listener, "elbow_driver: elbow")), timeout=4
            )
        torque_writes = [value for name, value in emulator.writes if name == "torque_enable"]
        assert torque_writes[-1] == 0, "destroying the node must switch the torque off"
    finally:
        emulator.stop()


def test_elbow_mode_changes_at_run_time_and_bad_modes_are_rejected(context):
    driver = ElbowDriverNode(context=context)
    (bad,) = driver.set_parameters([Parameter("mode", value="limp")])
    assert not bad.successful and "limp" in bad.reason
    (good,) = driver.set_parameters([Parameter("mode", value="hold")])
    assert good.successful and driver.backend.status().mode == "hold"
    (read_only,) = driver.set_parameters([Parameter("backend", value="arduino")])
    assert not read_only.successful
    driver.destroy_node()


def test_face_renderer_reports_a_model_for_another_face(context):
    renderer = FaceRendererNode(context=context, parameter_overrides=[Parameter("size", value=64), Parameter("mesh_rate", value=0.0)])
    listener = Listener(context, {"/diagnostics": DiagnosticArray})
    names = listener.node.create_publisher(String, "/face/expression_names", LATCHED)
    names.publish(String(data=",".join(FLAME_EMOCA.expression_names)))
    with NodeThreads([renderer, listener.node], context):
        assert wait_for(lambda: any(s.level == DiagnosticStatus.ERROR for s in statuses(listener, "face_renderer: face")))
        assert "builtin-facs-53" in renderer.mismatch


@pytest.mark.parametrize("region, background, square", [("full", 0xFF0000, True), ("mouth", 0x0000FF, False)])
def test_face_renderer_frames_its_region_with_the_configured_render_settings(context, region, background, square):
    overrides = [Parameter("size", value=96), Parameter("mesh_rate", value=0.0), Parameter("region", value=region),
                 Parameter("render.background", value=background)]
    renderer = FaceRendererNode(context=context, parameter_overrides=overrides)
    listener = Listener(context, {"/face/image": Image}, LATEST)
    with NodeThreads([renderer, listener.node], context):
        assert wait_for(lambda: listener.get("/face/image"))
    image = listener.get("/face/image")[0]
    assert image.width == 96 and (image.height == 96) == square
    pixels = np.frombuffer(bytes(image.data), np.uint8).reshape(image.height, image.width, 3)
    is_background = np.all(pixels == np.frombuffer(background.to_bytes(3, "big"), np.uint8), axis=-1)
    assert is_background.any() and not is_background[image.height // 2, image.width // 2]


def test_sigint_shuts_a_node_process_down_cleanly():
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "paindiffusion_ros.nodes.elbow_driver", "--ros-args", "-p", "backend:=sim"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(3.0)
        assert process.poll() is None, process.stdout.read().decode()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output.decode()
    assert b"Traceback" not in output
