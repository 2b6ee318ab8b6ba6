"""Two hosts: the bench PC (elbow_driver + stimulus_mapper) and the generator PC (pain_generator +
face_renderer) in two network namespaces joined by a veth pair, talking DDS across it.

The test builds both "hosts" itself (root, iproute2): namespaces ``bench`` 10.77.0.1/24 and
``gpu`` 10.77.0.2/24, loopback up, a multicast route so Fast DDS's default discovery (multicast
SPDP) finds the other side, ``ROS_AUTOMATIC_DISCOVERY_RANGE`` unset (SUBNET). A probe on the bench
side watches the face come back from the generator PC while the elbow moves. The veth counters
show the traffic crossed the link (not shared memory): the generator side sent at least the image
bytes the bench received, the bench side at least its stimuli. Namespaces are removed whatever
happens.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from fault_rig import START_TIMEOUT_S, wait_until

HERE = Path(__file__).resolve().parent
WATCH_S = 8.0
FPS = 25.0
SUBNET = "10.77.0"


def why_not() -> str:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (the ip command) is not installed: apt-get install iproute2"
    return ""


def ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class TwoHosts:
    """Two namespaces and a veth pair between them; ``remove()`` undoes all of it."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.namespaces = {"bench": f"pd-bench-{tag}", "gpu": f"pd-gpu-{tag}"}
        self.links = {"bench": f"pdb{tag}", "gpu": f"pdg{tag}"}

    def create(self) -> "TwoHosts":
        for ns in self.namespaces.values():
            ip("netns", "add", ns)
        ip("link", "add", self.links["bench"], "type", "veth", "peer", "name", self.links["gpu"])
        for host, address in (("bench", 1), ("gpu", 2)):
            ns, link = self.namespaces[host], self.links[host]
            ip("link", "set", link, "netns", ns)
            ip("-n", ns, "addr", "add", f"{SUBNET}.{address}/24", "dev", link)
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", link, "up")
            ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", link)
        return self

    def tx_bytes(self, host: str) -> int:
        stats = json.loads(ip("-n", self.namespaces[host], "-s", "-j", "link", "show", "dev", self.links[host]).stdout)
        return int(stats[0]["stats64"]["tx"]["bytes"])

    def run(self, host: str, *args: str, log: Path) -> subprocess.Popen:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("ROS_AUTOMATIC_DISCOVERY_RANGE", None)  # SUBNET: the other host is on the veth
        with open(log, "w") as out:
            return subprocess.Popen(["ip", "netns", "exec", self.namespaces[host], sys.executable, str(HERE / "netns_child.py"), *args],
                                    env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def remove(self) -> None:
        for ns in self.namespaces.values():
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture
def hosts():
    reason = why_not()
    if reason:
        pytest.skip(reason)
    two = TwoHosts()
    try:
        yield two.create()
    finally:
        two.remove()


def stop(processes: dict[str, subprocess.Popen], timeout: float = 60.0) -> dict[str, int]:
    """SIGINT all (Ctrl-C on both PCs at once), then wait for each; their exit statuses."""
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    codes = {}
    for name, process in processes.items():
        try:
            codes[name] = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            codes[name] = process.wait()
    return codes


def test_bench_and_generator_pc_in_two_namespaces_keep_the_face_at_25_hz(hosts, tmp_path):
    bench = hosts.run("bench", "nodes", str(tmp_path / "bench"), "elbow_driver,stimulus_mapper", log=tmp_path / "bench.log")
    gpu = hosts.run("gpu", "nodes", str(tmp_path / "gpu"), "pain_generator,face_renderer", log=tmp_path / "gpu.log")
    probe = None
    try:
        out = tmp_path / "probe.json"
        sent_before = {host: hosts.tx_bytes(host) for host in ("bench", "gpu")}  # the probe's watch lies within
        probe = hosts.run("bench", "probe", str(out), str(WATCH_S), log=tmp_path / "probe.log")
        wait_until(lambda: probe.poll() is not None, 2 * START_TIMEOUT_S, "the probe on the bench side watching the face")
        sent = {host: hosts.tx_bytes(host) - sent_before[host] for host in ("bench", "gpu")}
        assert probe.returncode == 0, (tmp_path / "probe.log").read_text()[-3000:]
        seen = json.loads(out.read_text())
    finally:
        codes = stop({"bench": bench, "gpu": gpu, **({"probe": probe} if probe is not None else {})})
    rates = seen["rates"]
    # Every frame is stamped with its slot on the 25 Hz grid: the slots are whole periods apart,
    # and (almost) none is missing here — a reliable writer keeps the last 10 frames for a slow
    # reader, so a watcher that falls 0.4 s behind on a loaded machine loses a few.
    assert seen["slots_off_grid"] == 0, seen
    assert seen["frames"] >= 0.9 * FPS * seen["seconds"] and seen["longest_frame_gap_s"] < 0.5, seen
    assert rates["/face/image/compressed"] > 0.5 * FPS and rates["/joint_states"] > 50.0, seen
    low, high = seen["stimulus_range_c"]
    assert high - low > 1.0, "the elbow did not move the stimulus"
    in_generator = [value for value in seen["generator_stimuli_c"] if low - 0.5 <= value <= high + 0.5]
    assert len(in_generator) == len(seen["generator_stimuli_c"]) > 0 and max(in_generator) - min(in_generator) > 0.5, seen
    assert codes == {"bench": 0, "gpu": 0, "probe": 0}, codes
    # Over the veth, not shared memory: the generator PC sent at least the image bytes the bench
    # received, the bench at least its stimuli (a sensor_msgs/Temperature is > 40 bytes of CDR).
    assert sent["gpu"] >= seen["image_bytes"] > 0, (sent, seen["image_bytes"])
    assert sent["bench"] >= 40 * seen["stimuli"] > 0, (sent, seen["stimuli"])
