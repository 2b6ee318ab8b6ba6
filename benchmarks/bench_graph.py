"""The node graph as launch runs it — one process per node — measured from another process.

Starts the four nodes with ``config/paindiffusion.yaml`` through ``session.processes``
(the simulated elbow running its exercise, the renderer at ``--image-size``) and, from
this separate process, measures over ``--duration`` seconds after the model is loaded:

- stimulus → face latency: the generator's own ``stimulus_to_face_p50_s``/``_p95_s``
  (/diagnostics, each over the last 10 s): median over the run, and the worst window;
- the 25 Hz clock: ``clock_jitter_p99_ms`` (median and worst window, and how many of the
  once-a-second reports, each over the last 10 s, were above the 2 ms goal), and the
  slipped frames, underruns and re-plans while measured;
- rates received here (least-squares slope of arrival times): /face/expression,
  /face/image/compressed and the raw /face/image (best effort), /joint_states,
  /pain/stimulus;
- cost: CPU (% of one core) of each node's process over the run — the generator's
  counted with its model process — and memory (RSS per process, and the graph's total
  RSS and PSS, shared pages counted once);
- with ``--recovery``: each node in turn is killed (SIGKILL) and respawned; the time from
  the kill until its stream is back at rate (the first 1 s window with ≥ 90 % of the rate
  measured before, the nominal rate at most), and for the generator until model frames
  are back (/pain/pspi non-zero).

``--set NAME=VALUE`` overrides a pain_generator parameter (e.g. ``--set replan=false``,
``--set horizon=16``) to measure alternatives. Numbers, not pass/fail; the machine may
be shared, so the load average is printed with them.

    .venv/bin/python benchmarks/bench_graph.py [--duration 60] [--recovery] [--set replan=false]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(150, 230)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

from paindiffusion_ros.session.processes import dds_profile_env  # noqa: E402

os.environ.update(dds_profile_env(os.environ))  # the watcher as a bench tool is set up (README): the nodes' Fast DDS profile

import numpy as np  # noqa: E402
import rclpy  # noqa: E402
import yaml  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.context import Context  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image, JointState, Temperature  # noqa: E402
from std_msgs.msg import Float32, Float32MultiArray  # noqa: E402

from paindiffusion_ros.nodes.graph import NodeThreads  # noqa: E402
from paindiffusion_ros.nodes.qos import LATEST, STREAM  # noqa: E402
from paindiffusion_ros.session.demo import default_params_file, graph  # noqa: E402
from paindiffusion_ros.session.processes import NodeProcesses, NodeSpec  # noqa: E402

STREAMS = {
    "/face/expression": (Float32MultiArray, STREAM, 25.0),
    "/face/image/compressed": (CompressedImage, STREAM, 25.0),
    "/face/image": (Image, LATEST, 25.0),
    "/joint_states": (JointState, STREAM, 100.0),
    "/pain/stimulus": (Temperature, STREAM, 100.0),
}
NODE_STREAM = {
    "elbow_driver": "/joint_states",
    "stimulus_mapper": "/pain/stimulus",
    "pain_generator": "/face/expression",
    "face_renderer": "/face/image/compressed",
}
JITTER_GOAL_MS = 2.0
"""The clock's p99 jitter goal (issue 10)."""
START_DEADLINE_S = 300.0
RECOVERY_DEADLINE_S = 60.0


class Watcher:
    """Arrival times of the streams, the generator's diagnostics and its PSPI, in this process."""

    def __init__(self, node: Any) -> None:
        self.lock = threading.Lock()
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.generator: list[tuple[float, dict[str, str]]] = []
        self.live_pspi: list[float] = []
        for topic, (kind, qos, _) in STREAMS.items():
            node.create_subscription(kind, topic, self._arrival(topic), qos, raw=True)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._diagnostics, STREAM)
        node.create_subscription(Float32, "/pain/pspi", self._pspi, STREAM)

    def _arrival(self, topic: str) -> Callable[[Any], None]:
        def store(_: Any) -> None:
            with self.lock:
                self.arrivals[topic].append(time.monotonic())

        return store

    def _diagnostics(self, message: DiagnosticArray) -> None:
        for status in message.status:
            if status.name == "pain_generator: generator":
                with self.lock:
                    self.generator.append((time.monotonic(), {kv.key: kv.value for kv in status.values}))

    def _pspi(self, message: Float32) -> None:
        if message.data != 0.0:
            with self.lock:
                self.live_pspi.append(time.monotonic())

    def times(self, topic: str, start: float, end: float = math.inf) -> np.ndarray:
        with self.lock:
            return np.array([t for t in self.arrivals[topic] if start <= t <= end])

    def generator_values(self, start: float, end: float = math.inf) -> list[dict[str, str]]:
        with self.lock:
            return [values for t, values in self.generator if start <= t <= end]


def rate(times: np.ndarray) -> float:
    """Sustained rate (Hz): inverse least-squares slope of arrival time against index."""
    if len(times) < 3:
        return 0.0
    return float(1.0 / np.polyfit(np.arange(len(times)), times, 1)[0])


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of ``pid`` in kB."""
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            pss = next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
    except (OSError, StopIteration):
        pss = rss
    return rss, pss


def node_pids(processes: NodeProcesses) -> dict[str, list[int]]:
    """Each node's process and its children (the generator's model process)."""
    return {name: [processes.pid(name), *children(processes.pid(name))] for name in processes.names}


def summary(values: list[dict[str, str]], key: str) -> tuple[float, float]:
    """(median, max) over the diagnostics windows of a numeric key (nan-free)."""
    numbers = [float(v[key]) for v in values if key in v and math.isfinite(float(v[key]))]
    return (statistics.median(numbers), max(numbers)) if numbers else (math.nan, math.nan)


def recovery(processes: NodeProcesses, watcher: Watcher, rates: dict[str, float]) -> dict[str, dict[str, float]]:
    """Kill each node in turn; seconds until its stream is back at rate (and model frames, for the generator)."""
    results = {}
    for name, topic in NODE_STREAM.items():
        nominal = min(STREAMS[topic][2], rates[topic])
        killed = time.monotonic()
        processes.kill(name, signal.SIGKILL)

        def back() -> float:
            times = watcher.times(topic, killed + 0.05)
            for i, t in enumerate(times):
                if np.sum((times >= t) & (times < t + 1.0)) >= 0.9 * nominal:
                    return t - killed
            return math.nan

        wait_for(lambda: math.isfinite(back()), RECOVERY_DEADLINE_S)
        results[name] = {"stream_back_s": round(back(), 3)}
        if name == "pain_generator":
            wait_for(lambda: any(t > killed + 0.05 for t in watcher.live_pspi), RECOVERY_DEADLINE_S)
            live = [t for t in watcher.live_pspi if t > killed + 0.05]
            results[name]["model_frames_back_s"] = round(live[0] - killed, 3) if live else math.nan
        settle = time.monotonic()
        wait_for(lambda: time.monotonic() - settle >= 3.0, 5.0)
    return results


def parse_value(text: str) -> Any:
    """A --set value as YAML would read it (true, 16, 0.2, onnx)."""
    return yaml.safe_load(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured after the model is loaded (default 60)")
    parser.add_argument("--image-size", type=int, default=512, help="face image size in px (default 512, the bench's)")
    parser.add_argument("--recovery", action="store_true", help="also kill -9 each node and time its recovery")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="pain_generator parameter override")
    parser.add_argument("--json", default=os.environ.get("PAINDIFFUSION_BENCH_JSON", ""), help="write the results here")
    args = parser.parse_args()
    overrides = tuple((name, parse_value(value)) for name, value in (item.split("=", 1) for item in args.set))
    specs = []
    for spec in graph(args.image_size):
        if spec.name == "pain_generator" and overrides:
            spec = NodeSpec(spec.name, spec.module, spec.overrides + overrides)
        specs.append(spec)

    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node("bench_graph", context=context)
    watcher = Watcher(node)
    spinning = NodeThreads([node], context).start()
    with tempfile.TemporaryDirectory() as logs:
        processes = NodeProcesses(specs, default_params_file(), Path(logs)).start()
        try:
            if not wait_for(lambda: len(watcher.live_pspi) > 0 and len(watcher.generator_values(0)) > 0, START_DEADLINE_S):
                raise SystemExit(f"the graph did not stream model frames within {START_DEADLINE_S:.0f} s")
            warm = time.monotonic()
            wait_for(lambda: time.monotonic() - warm >= 10.0, 15.0)  # the 10 s diagnostics windows fill
            start = time.monotonic()
            pids = node_pids(processes)
            cpu_before = {name: sum(cpu_seconds(p) for p in group) for name, group in pids.items()}
            load_before = os.getloadavg()[0]
            wait_for(lambda: time.monotonic() - start >= args.duration, args.duration + 5.0)
            end = time.monotonic()
            cpu = {name: 100.0 * (sum(cpu_seconds(p) for p in group) - cpu_before[name]) / (end - start) for name, group in pids.items()}
            memory = {pid: memory_kb(pid) for group in pids.values() for pid in group}
            load = (load_before + os.getloadavg()[0]) / 2
            rates = {topic: rate(watcher.times(topic, start, end)) for topic in STREAMS}
            recovered = recovery(processes, watcher, rates) if args.recovery else {}
        finally:
            returncodes = processes.stop()
    spinning.stop()
    rclpy.shutdown(context=context)

    before = [v for v in watcher.generator_values(0, start) if v]
    values = [v for v in watcher.generator_values(start, end) if v]
    latency_p50, _ = summary(values, "stimulus_to_face_p50_s")
    latency_p95, latency_p95_worst = summary(values, "stimulus_to_face_p95_s")
    jitter, jitter_worst = summary(values, "clock_jitter_p99_ms")
    jitter_reports = [float(v["clock_jitter_p99_ms"]) for v in values if "clock_jitter_p99_ms" in v]
    over_goal = sum(j > JITTER_GOAL_MS for j in jitter_reports)
    last = values[-1] if values else {}
    first = before[-1] if before else {}

    def during(key: str) -> int:
        """How much a counter of the generator grew while measured."""
        return int(last.get(key, 0)) - int(first.get(key, 0))

    results: dict[str, Any] = {
        "duration_s": round(end - start, 1),
        "load_average": round(load, 2),
        "generator_overrides": dict(overrides),
        "stimulus_to_face_p50_s": round(latency_p50, 3),
        "stimulus_to_face_p95_s": round(latency_p95, 3),
        "stimulus_to_face_p95_worst_window_s": round(latency_p95_worst, 3),
        "clock_jitter_p99_ms": round(jitter, 2),
        "clock_jitter_p99_worst_window_ms": round(jitter_worst, 2),
        "clock_jitter_windows_over_goal": f"{over_goal} of {len(jitter_reports)}",
        "clock_slipped_frames": during("clock_slipped_frames"),
        "underruns": during("underruns"),
        "replans": during("replans"),
        "rates_hz": {topic: round(hz, 2) for topic, hz in rates.items()},
        "cpu_percent_of_a_core": {name: round(value, 1) for name, value in cpu.items()},
        "rss_mb": {name: round(sum(memory[p][0] for p in group) / 1024, 1) for name, group in pids.items()},
        "graph_rss_mb": round(sum(rss for rss, _ in memory.values()) / 1024, 1),
        "graph_pss_mb": round(sum(pss for _, pss in memory.values()) / 1024, 1),
        "recovery": recovered,
        "exit_statuses": returncodes,
    }
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs; {results['duration_s']} s measured; generator overrides {dict(overrides) or 'none'}")
    print(f"stimulus → face: p50 {latency_p50:.3f} s, p95 {latency_p95:.3f} s (medians of 10 s windows; worst p95 {latency_p95_worst:.3f} s)")
    print(f"25 Hz clock: jitter p99 {jitter:.2f} ms (worst window {jitter_worst:.2f}; over {JITTER_GOAL_MS:g} ms in "
          f"{results['clock_jitter_windows_over_goal']} windows), {results['clock_slipped_frames']} slipped, "
          f"{results['underruns']} underruns, {results['replans']} re-plans")
    for topic, hz in results["rates_hz"].items():
        print(f"  {topic:<24} {hz:6.2f} Hz received in another process")
    for name in cpu:
        print(f"  {name:<16} CPU {cpu[name]:5.1f} % of a core, RSS {results['rss_mb'][name]:6.1f} MB")
    print(f"graph memory: RSS {results['graph_rss_mb']} MB, PSS {results['graph_pss_mb']} MB")
    for name, numbers in recovered.items():
        print(f"  kill -9 {name:<16} " + ", ".join(f"{k} {v:.2f}" for k, v in numbers.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
