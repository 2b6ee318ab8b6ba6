"""Soak: the node graph, one process per node, for ``--minutes`` (10), watched for what slowly goes wrong.

Starts the four nodes as ``paindiffusion demo`` does (``session.processes``, the simulated elbow
running its exercise, ``config/paindiffusion.yaml``) and, from this separate process, measures
from the moment the model is loaded:

- clock gaps: the generator's ``clock_slipped_frames`` (slots its 25 Hz clock skipped) and
  ``underruns`` (``/diagnostics``) at the end (target: zero gaps); and the slots missing here:
  every ``/face/jaw_pose`` is stamped with its frame's slot, so a missing one is a frame this
  subscriber never got (skipped by the clock, or lost on the way to a slow subscriber);
- memory: each node process's RSS (the generator's model process apart) after the first minute
  (caches, numba, model warm) and at the end; growth in % (target: < 5 %);
- open files: ``/proc/PID/fd`` of each, after the first minute and at the end (target: no growth);
- respawns (target: none).

Numbers, not pass/fail (``ok`` says whether each target held); the machine may be shared, so
the load average is printed with them.

    .venv/bin/python benchmarks/bench_soak.py [--minutes 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_graph import Watcher, memory_kb, node_pids  # noqa: E402  (sets ROS_DOMAIN_ID, discovery range)

import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from geometry_msgs.msg import Vector3Stamped  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.qos import QoSProfile  # noqa: E402
from tqdm import tqdm  # noqa: E402

from paindiffusion_ros.nodes.graph import NodeThreads  # noqa: E402
from paindiffusion_ros.nodes.qos import STREAM  # noqa: E402
from paindiffusion_ros.session.demo import default_params_file, graph  # noqa: E402
from paindiffusion_ros.session.processes import NodeProcesses  # noqa: E402

FPS = 25.0
WARM_UP_S = 60.0
SAMPLE_S = 10.0
START_TIMEOUT_S = 300.0
RSS_GROWTH_TARGET_PCT = 5.0


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def sample(processes: NodeProcesses) -> dict[str, dict[str, int]]:
    """RSS (kB) and open files of each node's process and of its children (``name/child``)."""
    found = {}
    for name, pids in node_pids(processes).items():
        for index, pid in enumerate(pids):
            try:
                found[name if index == 0 else f"{name}/child"] = {"rss_kb": memory_kb(pid)[0], "fds": open_files(pid)}
            except OSError:
                pass
    return found


def missing_slots(slots: np.ndarray) -> int:
    """Frames the 25 Hz grid had that the stream did not deliver."""
    if len(slots) < 2:
        return 0
    return int(np.sum(np.maximum(np.round(np.diff(np.sort(slots)) * FPS) - 1, 0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the soak after the model is loaded (default 10)")
    parser.add_argument("--image-size", type=int, default=256, help="rendered face size (px)")
    parser.add_argument("--json", type=Path, default=os.environ.get("PAINDIFFUSION_BENCH_JSON"), help="write the numbers here")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="bench_soak_"))
    context = Context()
    rclpy.init(context=context, args=["bench_soak"])
    node = rclpy.create_node("bench_soak", context=context)
    watcher = Watcher(node)
    slots: list[float] = []
    lock = threading.Lock()

    def store_slot(message: Vector3Stamped) -> None:
        with lock:
            slots.append(message.header.stamp.sec + message.header.stamp.nanosec * 1e-9)

    node.create_subscription(Vector3Stamped, "/face/jaw_pose", store_slot, QoSProfile(depth=1000, reliability=STREAM.reliability))
    spinning = NodeThreads([node], context).start()
    processes = NodeProcesses(graph(args.image_size), default_params_file(), run_dir / "logs").start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not any(values.get("binding", "none") != "none" for values in watcher.generator_values(0.0)):
            if time.monotonic() > deadline:
                raise SystemExit(f"the model did not load within {START_TIMEOUT_S:.0f} s; see {run_dir / 'logs'}")
            time.sleep(0.2)
        begin, wall_begin = time.monotonic(), time.time()
        seconds = args.minutes * 60.0
        samples = []
        with tqdm(total=seconds, desc="soak", unit="s", bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s") as bar:
            while (elapsed := time.monotonic() - begin) < seconds:
                samples.append((elapsed, sample(processes)))
                time.sleep(min(SAMPLE_S, seconds - elapsed))
                bar.update(min(time.monotonic() - begin, seconds) - bar.n)
        wall_end = time.time()
        samples.append((seconds, sample(processes)))
        ended = time.monotonic()
        while not watcher.generator_values(ended):  # the generator's diagnostics after the run (1 Hz)
            time.sleep(0.1)
        last = watcher.generator_values(ended)[-1]
        starts = {name: processes.starts(name) for name in processes.names}
    finally:
        processes.stop()
        spinning.stop()
        context.try_shutdown()
    warm = next((s for t, s in samples if t >= min(WARM_UP_S, seconds / 2)), samples[0][1])
    end = samples[-1][1]
    memory = {
        name: {
            "rss_mb_warm": warm[name]["rss_kb"] / 1024, "rss_mb_end": end[name]["rss_kb"] / 1024,
            "rss_growth_pct": 100.0 * (end[name]["rss_kb"] - warm[name]["rss_kb"]) / warm[name]["rss_kb"],
            "fds_warm": warm[name]["fds"], "fds_end": end[name]["fds"],
        }
        for name in warm if name in end
    }
    with lock:
        run_slots = np.array([s for s in slots if wall_begin <= s <= wall_end])
    result = {
        "minutes": args.minutes,
        "load_average": list(os.getloadavg()),
        "frames": int(len(run_slots)),
        "missing_slots": missing_slots(run_slots),
        "clock_slipped_frames": int(last["clock_slipped_frames"]),
        "underruns": int(last["underruns"]),
        "respawns": sum(count - 1 for count in starts.values()),
        "processes": memory,
    }
    result["ok"] = {
        "zero_clock_gaps": result["clock_slipped_frames"] == 0,
        "rss_growth_below_5_pct": all(m["rss_growth_pct"] < RSS_GROWTH_TARGET_PCT for m in memory.values()),
        "no_open_file_growth": all(m["fds_end"] <= m["fds_warm"] for m in memory.values()),
        "no_respawns": result["respawns"] == 0,
    }
    print(f"soak {args.minutes:g} min (load {', '.join(f'{x:.1f}' for x in result['load_average'])}): "
          f"{result['frames']} frames, {result['missing_slots']} missing slots, clock_slipped_frames "
          f"{result['clock_slipped_frames']}, underruns {result['underruns']}, respawns {result['respawns']}")
    for name, m in memory.items():
        print(f"  {name:<22} RSS {m['rss_mb_warm']:7.1f} → {m['rss_mb_end']:7.1f} MB ({m['rss_growth_pct']:+.1f} %)  "
              f"open files {m['fds_warm']} → {m['fds_end']}")
    print("targets: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in result["ok"].items()))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
