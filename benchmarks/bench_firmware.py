"""Full elbow state reads per second through the real bridge firmware, simulated in simavr.

The ``arduino`` backend reads the compiled sketch (Mega 2560: USART1 at 115200 baud; Uno:
SoftwareSerial at 57600) running in ``firmware/sim/bridge_sim`` at real-time pace, which
reads an MX-64(2.0) emulator in its own process on the Dynamixel line (1 Mbps). The table
gives the median rate and median/p99 read latency over ``--runs`` runs. On a board, the
USB-serial adapter's latency timer adds to each round trip.

    python benchmarks/bench_firmware.py [--runs 5] [--seconds 1.0] [--json out.json]

``--json`` defaults to ``$PAINDIFFUSION_BENCH_JSON`` (set by ``benchmarks/run_all.py``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
from pathlib import Path

from tqdm import tqdm

from bench_elbow import read_runs, serve
from paindiffusion_ros.hardware.base import ElbowConfig, make_backend
from paindiffusion_ros.hardware.firmware_sim import BOARDS, REPLY_TIMEOUT_S, SimulatedBridge, build


def bench_board(board: str, runs: int, seconds: float, directory: Path) -> dict:
    context = multiprocessing.get_context("fork")
    ready, stop = context.Event(), context.Event()
    dxl_path = str(directory / f"dxl-{board}")
    server = context.Process(target=serve, args=("dynamixel", 2, 1_000_000, dxl_path, ready, stop), daemon=True)
    server.start()
    ready.wait(10.0)
    bridge = SimulatedBridge(board, directory / f"host-{board}", directory / f"bridge_sim-{board}.log", dxl_path=dxl_path)
    elbow = make_backend(ElbowConfig(backend="arduino", port=bridge.path, baudrate=bridge.baudrate, retries=5, lower_limit=-1.0))
    elbow.reply_timeout = REPLY_TIMEOUT_S
    try:
        elbow.open()
        return {**read_runs(elbow, runs, seconds), "baudrate": bridge.baudrate}
    finally:
        elbow.close()
        bridge.stop()
        stop.set()
        server.join(5.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per board (median reported)")
    parser.add_argument("--seconds", type=float, default=1.0, help="duration of one run (s)")
    parser.add_argument("--json", type=Path, default=os.environ.get("PAINDIFFUSION_BENCH_JSON") or None,
                        help="also write the results here (default: $PAINDIFFUSION_BENCH_JSON)")
    args = parser.parse_args()
    build()
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for board in tqdm(BOARDS, desc="bridge firmware"):
            results[board] = bench_board(board, args.runs, args.seconds, Path(directory))
    print(f"{'board':<6} {'baud':>7} {'reads/s (median)':>17} {'latency ms p50':>15} {'p99':>7} {'comm errors':>12}")
    for board, row in results.items():
        print(f"{board:<6} {row['baudrate']:>7} {row['reads_per_s_median']:>17.0f} {row['latency_ms_median']:>15.2f} "
              f"{row['latency_ms_p99']:>7.2f} {row['comm_errors']:>12}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
