"""Operator console: what a browser receives, and how fast controls and ratings go through.

Runs ``paindiffusion demo --console`` (the whole graph on the simulated elbow, the console
on a free port) in its own process and measures from this one:

* the live WebSocket, as the page uses it: JSON updates and face images per second, and
  the bytes per second a browser receives;
* a control's round trip: ``POST /api/control`` until the node has answered (the console
  checks the value, the generator's parameter service sets it), median and 90th percentile;
* a trainee rating's way to ROS: ``POST /api/rating`` until the ``sensor_msgs/Joy`` message
  arrives on ``/trainee/rating`` at a probe node here;
* ``paindiffusion report`` on the demo's bag afterwards.

Prints a table and writes JSON to ``$PAINDIFFUSION_BENCH_JSON`` when set.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.request import Request, urlopen

import aiohttp
import numpy as np
import rclpy
import yaml
from rclpy.context import Context
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Joy

from paindiffusion_ros.nodes.graph import NodeThreads

ROOT = Path(__file__).resolve().parent.parent
LISTEN_S = 20.0
ROUND_TRIPS = 30


def start_demo(folder: Path) -> tuple[subprocess.Popen, str, list[str]]:
    """The demo with the console on a free port; its URL once it serves, and its output lines."""
    params = yaml.safe_load((ROOT / "config" / "paindiffusion.yaml").read_text())
    params["/**/operator_console"]["ros__parameters"]["port"] = 0
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    process = subprocess.Popen(
        [sys.executable, "-m", "paindiffusion_ros.cli", "demo", "--console", "--duration", "600", "--no-video",
         "--out", str(folder / "demo"), "--params-file", str(folder / "params.yaml")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    lines: list[str] = []

    def read() -> None:
        for raw in iter(lambda: process.stdout.readline(), b""):
            lines.extend(part for part in re.split(r"[\r\n]", raw.decode(errors="replace")) if part.strip())

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found = next((m.group(1) for line in list(lines) if (m := re.search(r"operator console: (http://\S+/)", line))), None)
        if found:
            return process, found, lines
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the demo's console did not start within 180 s:\n" + "\n".join(lines[-20:]))


def post(url: str, body: dict) -> tuple[int, dict]:
    request = Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST")
    with urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


def wait_for_controls(url: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with urlopen(url + "api/state", timeout=60) as response:
            if all(c["available"] for c in json.loads(response.read())["controls"]["controls"]):
                return
        time.sleep(0.5)
    raise SystemExit("the console did not reach every node within 180 s")


async def listen(url: str, seconds: float) -> dict[str, float]:
    """What a browser receives on the WebSocket in ``seconds``."""
    updates = faces = received = 0
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url.replace("http://", "ws://") + "ws") as socket:
            start = time.monotonic()
            while (left := seconds - (time.monotonic() - start)) > 0:
                try:
                    message = await socket.receive(timeout=left)
                except asyncio.TimeoutError:
                    break
                if message.type == aiohttp.WSMsgType.TEXT:
                    updates += 1
                    received += len(message.data)
                elif message.type == aiohttp.WSMsgType.BINARY:
                    faces += 1
                    received += len(message.data)
    return {"updates_per_s": updates / seconds, "faces_per_s": faces / seconds, "kbytes_per_s": received / seconds / 1e3}


def control_round_trips(url: str) -> list[float]:
    times = []
    for i in range(ROUND_TRIPS):
        start = time.perf_counter()
        status, _ = post(url + "api/control", {"key": "generator.expressiveness", "value": 2.0 + 0.5 * (i % 2)})
        times.append(time.perf_counter() - start)
        assert status == 200
    return times


def rating_latencies(url: str) -> list[float]:
    """POST a rating, time until the probe has the Joy message."""
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node("bench_console_probe", context=context)
    arrived: dict[float, float] = {}
    node.create_subscription(Joy, "/trainee/rating", lambda m: arrived.setdefault(round(float(m.axes[0]), 1), time.perf_counter()),
                             QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    threads = NodeThreads([node], context).start()
    latencies = []
    try:
        time.sleep(2.0)  # discovery of the console's publisher
        for i in range(ROUND_TRIPS):
            value = round(0.1 * (i + 1), 1)
            sent = time.perf_counter()
            post(url + "api/rating", {"value": value})
            deadline = time.monotonic() + 10
            while value not in arrived and time.monotonic() < deadline:
                time.sleep(0.001)
            if value in arrived:
                latencies.append(arrived[value] - sent)
    finally:
        threads.stop()
        rclpy.try_shutdown(context=context)
    return latencies


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        process, url, lines = start_demo(folder)
        try:
            wait_for_controls(url)
            received = asyncio.run(listen(url, LISTEN_S))
            controls = control_round_trips(url)
            ratings = rating_latencies(url)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(120)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "paindiffusion_ros.cli", "report", str(folder / "demo" / "session"),
                        "--out", str(folder / "report")], check=True, capture_output=True)
        report_s = time.perf_counter() - start
        bag_s = yaml.safe_load((folder / "demo" / "session" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]["duration"]["nanoseconds"] / 1e9
    results = {
        **received,
        "control_round_trip_ms_median": 1e3 * float(np.median(controls)),
        "control_round_trip_ms_p90": 1e3 * float(np.percentile(controls, 90)),
        "rating_to_ros_ms_median": 1e3 * float(np.median(ratings)),
        "rating_to_ros_ms_p90": 1e3 * float(np.percentile(ratings, 90)),
        "ratings_delivered": f"{len(ratings)}/{ROUND_TRIPS}",
        "report_s": report_s,
        "report_bag_s": bag_s,
    }
    for name, value in results.items():
        print(f"{name:<30} {value:.2f}" if isinstance(value, float) else f"{name:<30} {value}")
    if os.environ.get("PAINDIFFUSION_BENCH_JSON"):
        Path(os.environ["PAINDIFFUSION_BENCH_JSON"]).write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
