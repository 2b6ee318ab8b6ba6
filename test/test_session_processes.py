"""``NodeProcesses``: the graph as one process per node — respawn, signals, exit statuses.

Real node executables in their own processes (each its own GIL); every wait is on a
condition with a generous deadline, so a busy machine only makes the test slower.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import rclpy
from rclpy.context import Context
from sensor_msgs.msg import JointState, Temperature

from waiting import wait_for

from paindiffusion_ros.hardware.emulator import MX64Emulator
from paindiffusion_ros.nodes.graph import NodeThreads
from paindiffusion_ros.nodes.qos import LATEST
from paindiffusion_ros.session.processes import NodeProcessError, NodeProcesses, NodeSpec, exited_cleanly

ROOT = Path(__file__).resolve().parent.parent
PARAMS = ROOT / "config" / "paindiffusion.yaml"
DRIVER = NodeSpec("elbow_driver", "paindiffusion_ros.nodes.elbow_driver", (("backend", "sim"), ("rate", 50.0)))
MAPPER = NodeSpec("stimulus_mapper", "paindiffusion_ros.nodes.stimulus_mapper")


class Arrivals:
    """Arrival times of a topic in this (test) process."""

    def __init__(self, node, kind, topic):
        self.lock = threading.Lock()
        self.times = []
        node.create_subscription(kind, topic, self._store, LATEST)

    def _store(self, _):
        with self.lock:
            self.times.append(time.monotonic())

    def since(self, start):
        with self.lock:
            return [t for t in self.times if t >= start]


@pytest.fixture
def listener():
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node("listener", context=context)
    arrivals = {"/joint_states": Arrivals(node, JointState, "/joint_states"), "/pain/stimulus": Arrivals(node, Temperature, "/pain/stimulus")}
    with NodeThreads([node], context):
        yield arrivals
    rclpy.try_shutdown(context=context)


def logs(processes):
    return {name: processes.log_path(name).read_text() for name in processes.names}


def test_a_killed_node_is_respawned_and_its_stream_comes_back(tmp_path, listener):
    processes = NodeProcesses([DRIVER, MAPPER], PARAMS, tmp_path, respawn_delay=0.2).start()
    try:
        assert wait_for(lambda: listener["/pain/stimulus"].since(0)), logs(processes)
        first = processes.pid("stimulus_mapper")
        processes.kill("stimulus_mapper", signal.SIGKILL)
        killed = time.monotonic()
        assert wait_for(lambda: processes.starts("stimulus_mapper") == 2)
        assert processes.pid("stimulus_mapper") != first
        assert wait_for(lambda: len(listener["/pain/stimulus"].since(killed + 0.5)) >= 10), logs(processes)
    finally:
        returncodes = processes.stop()
    assert returncodes["stimulus_mapper"] == [-signal.SIGKILL, 0]
    assert returncodes["elbow_driver"] == [0]
    kinds = [(e.node, e.what) for e in processes.events if e.node == "stimulus_mapper"]
    assert kinds == [("stimulus_mapper", "start"), ("stimulus_mapper", "exit"), ("stimulus_mapper", "respawn"), ("stimulus_mapper", "exit")]


def test_a_double_sigint_stops_every_node_cleanly_and_nothing_is_respawned(tmp_path, listener):
    """A terminal Ctrl-C under launch: each node gets SIGINT from the terminal, then again from launch."""
    processes = NodeProcesses([DRIVER, MAPPER], PARAMS, tmp_path).start()
    try:
        assert wait_for(lambda: listener["/pain/stimulus"].since(0) and listener["/joint_states"].since(0)), logs(processes)
        processes.forward(signal.SIGINT)
    finally:
        returncodes = processes.stop()
    assert returncodes == {"elbow_driver": [0], "stimulus_mapper": [0]}, logs(processes)
    for name, text in logs(processes).items():
        assert "Traceback" not in text and "terminate called" not in text, (name, text)
    assert "stopped after" in logs(processes)["elbow_driver"]


def test_a_double_sigint_switches_the_motor_torque_off(tmp_path, listener):
    """The real Dynamixel backend in the driver's own process, against the MX-64 emulator on a pty."""
    emulator = MX64Emulator(str(tmp_path / "ttyUSB0"), protocol=2, hand=lambda t: 1.0).start()
    try:
        driver = NodeSpec("elbow_driver", "paindiffusion_ros.nodes.elbow_driver", (
            ("backend", "dynamixel"), ("port", emulator.path), ("latency_timer_ms", 16.0), ("mode", "hold")))
        processes = NodeProcesses([driver], PARAMS, tmp_path / "logs").start()
        try:
            assert wait_for(lambda: emulator.peek("torque_enable") == 1 and listener["/joint_states"].since(0)), logs(processes)
            processes.forward(signal.SIGINT)
        finally:
            returncodes = processes.stop()
        assert returncodes == {"elbow_driver": [0]}, logs(processes)
        assert "Traceback" not in logs(processes)["elbow_driver"]
        torque_writes = [value for name, value in emulator.writes if name == "torque_enable"]
        assert torque_writes[-1] == 0 and emulator.peek("torque_enable") == 0, "stopping the driver switches the torque off"
    finally:
        emulator.stop()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_one_node_stopped_by_a_signal_exits_0_and_is_respawned(tmp_path, listener, sig):
    processes = NodeProcesses([MAPPER], PARAMS, tmp_path, respawn_delay=0.2).start()
    try:
        assert wait_for(lambda: listener["/pain/stimulus"].since(0)), logs(processes)
        processes.kill("stimulus_mapper", sig)
        assert wait_for(lambda: processes.starts("stimulus_mapper") == 2)
    finally:
        returncodes = processes.stop()
    assert returncodes == {"stimulus_mapper": [0, 0]}, logs(processes)
    assert "Traceback" not in logs(processes)["stimulus_mapper"]


def test_a_missing_parameters_file_is_a_clear_error(tmp_path):
    with pytest.raises(NodeProcessError, match="parameters file .*nowhere.yaml does not exist"):
        NodeProcesses([MAPPER], tmp_path / "nowhere.yaml", tmp_path)


def test_overrides_keep_their_types_and_a_node_that_cannot_start_is_not_respawned(tmp_path):
    bad = NodeSpec("elbow_driver", "paindiffusion_ros.nodes.elbow_driver", (("rate", 5.0),))
    processes = NodeProcesses([bad], PARAMS, tmp_path, respawn_delay=0.0).start()
    assert wait_for(lambda: processes.cannot_start())
    assert "rate" in processes.cannot_start()["elbow_driver"]
    returncodes = processes.stop()
    assert returncodes == {"elbow_driver": [2]}, "exit status 2 (CANNOT_START), started once"
    assert "Traceback" not in logs(processes)["elbow_driver"]
    assert not exited_cleanly(returncodes)


def test_a_stopped_node_still_stops_cleanly(tmp_path, listener):
    """A fault campaign may SIGSTOP a node; stopping the graph resumes it (SIGCONT) so it exits 0."""
    processes = NodeProcesses([MAPPER], PARAMS, tmp_path).start()
    try:
        assert wait_for(lambda: listener["/pain/stimulus"].since(0)), logs(processes)
        processes.kill("stimulus_mapper", signal.SIGSTOP)
    finally:
        returncodes = processes.stop()
    assert returncodes == {"stimulus_mapper": [0]}, logs(processes)


RUNNER = """
import sys, time
from pathlib import Path
from paindiffusion_ros.session.processes import NodeProcesses, NodeSpec
driver = NodeSpec("elbow_driver", "paindiffusion_ros.nodes.elbow_driver", (
    ("backend", "dynamixel"), ("port", sys.argv[1]), ("latency_timer_ms", 16.0), ("mode", "hold")))
processes = NodeProcesses([driver], Path(sys.argv[2]), Path(sys.argv[3])).start()
print(processes.pid("elbow_driver"), flush=True)
time.sleep(3600)
"""


def test_a_runner_killed_with_sigkill_takes_its_nodes_with_it_and_the_torque_goes_off(tmp_path):
    """No node outlives a runner that dies without stopping it: the driver holding the motor
    stops as on Ctrl-C (exit, torque off) instead of running on, parented to init."""
    emulator = MX64Emulator(str(tmp_path / "ttyUSB0"), protocol=2, hand=lambda t: 1.0).start()
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, emulator.path, str(PARAMS), str(tmp_path / "logs")],
                              stdout=subprocess.PIPE, text=True)
    try:
        node = int(runner.stdout.readline())
        assert wait_for(lambda: emulator.peek("torque_enable") == 1), (tmp_path / "logs" / "elbow_driver.log").read_text()
        runner.kill()
        runner.wait()
        assert wait_for(lambda: not Path(f"/proc/{node}").exists() or "(Z)" in Path(f"/proc/{node}/stat").read_text()), \
            "the driver outlived its runner"
        torque_writes = [value for name, value in emulator.writes if name == "torque_enable"]
        assert torque_writes[-1] == 0 and emulator.peek("torque_enable") == 0, "the driver switched the torque off as it stopped"
        assert "Traceback" not in (tmp_path / "logs" / "elbow_driver.log").read_text()
    finally:
        if runner.poll() is None:
            runner.kill()
        emulator.stop()
