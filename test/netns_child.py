"""What test_two_hosts.py runs inside a network namespace (``ip netns exec NS python test/netns_child.py ...``).

``nodes RUN_DIR NODE[,NODE...] [NODE.param=value ...]``: those nodes of the bringup graph, each in
its own process (``session.processes.NodeProcesses``, the YAML of ``config/``) until SIGINT/SIGTERM;
exit status 0 when every node exited cleanly.

``probe OUT_JSON SECONDS``: a ``fault_rig.GraphProbe`` that waits until the model is loaded and the
face flows, then watches for SECONDS and writes what it saw (rates, counts, bytes, stimuli and
the generator's view of them) to OUT_JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from fault_rig import IMAGE_SIZE, RECOVERY_TIMEOUT_S, START_TIMEOUT_S, GraphProbe, wait_until
from paindiffusion_ros.session import demo
from paindiffusion_ros.session.processes import NodeProcesses, NodeSpec, exited_cleanly
from paindiffusion_ros.session.signals import StopSignals

FPS = 25.0


def run_nodes(run_dir: Path, names: list[str], settings: list[str]) -> int:
    overrides: dict[str, dict] = {"face_renderer": {"display": False, "size": IMAGE_SIZE}, "elbow_driver": {"backend": "sim"}}
    for setting in settings:
        key, _, value = setting.partition("=")
        node, _, parameter = key.partition(".")
        overrides.setdefault(node, {})[parameter] = yaml.safe_load(value)
    specs = [NodeSpec(s.name, s.module, tuple(overrides.get(s.name, {}).items())) for s in demo.graph(IMAGE_SIZE) if s.name in names]
    with StopSignals() as stop:
        nodes = NodeProcesses(specs, demo.default_params_file(), run_dir, stop_requested=stop.event).start()
        stop.event.wait()
        return 0 if exited_cleanly(nodes.stop()) else 1


def watch(out: Path, seconds: float) -> int:
    probe = GraphProbe()
    try:
        wait_until(lambda: probe.times("/face/expression_names").size, START_TIMEOUT_S, "the model loaded")
        since = time.time()
        for topic in ("/joint_states", "/pain/stimulus", "/face/jaw_pose", "/face/image/compressed"):
            wait_until(lambda: probe.first_after(topic, since), RECOVERY_TIMEOUT_S, f"{topic} flowing")
        begin = time.time()
        wait_until(lambda: time.time() >= begin + seconds, seconds + 10.0, "the watch window")
        end = time.time()
        wait_until(lambda: probe.latest_status("pain_generator: generator", end), RECOVERY_TIMEOUT_S, "generator diagnostics")
        images = probe.messages_between("/face/image/compressed", begin, end)
        stimuli = probe.messages_between("/pain/stimulus", begin, end)
        periods = np.diff(probe.times("/face/jaw_pose", begin, end)) * FPS
        result = {
            "seconds": end - begin,
            "rates": {topic: probe.rate(topic, begin, end) for topic in ("/joint_states", "/pain/stimulus", "/face/jaw_pose", "/face/image/compressed")},
            "image_bytes": sum(len(m.data) for _, m in images),
            "images": len(images),
            "stimulus_range_c": [min(m.temperature for _, m in stimuli), max(m.temperature for _, m in stimuli)],
            "generator_stimuli_c": [float(s.values["stimulus_c"]) for s in probe.statuses("pain_generator: generator", begin)],
            "stimuli": len(stimuli),
            "frames": int(len(periods) + 1),
            "slots_off_grid": int(np.sum(np.abs(periods - np.round(periods)) > 0.05)),
            "longest_frame_gap_s": float(periods.max() / FPS) if len(periods) else float("inf"),
        }
        out.write_text(json.dumps(result))
    finally:
        probe.close()
    return 0


def main(argv: list[str]) -> int:
    mode, *args = argv
    if mode == "nodes":
        return run_nodes(Path(args[0]), args[1].split(","), args[2:])
    if mode == "probe":
        return watch(Path(args[0]), float(args[1]))
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
