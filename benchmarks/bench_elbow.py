"""Full elbow state reads per second against the emulators (target ≥ 100 Hz at 1 Mbps).

Each backend reads its emulator, which runs in its own process (like a real motor, it
does not share the driver's interpreter lock), for ``--seconds`` per run; the table gives
the median rate and median/p99 read latency over ``--runs`` runs. The emulator adds the
wire time (bytes × 10 / baud); a pty has no USB latency timer, so on a real U2D2/FTDI the
latency timer (1 ms when tuned, 16 ms default) bounds the rate instead. Packet timeouts use a
2 ms latency setting and 5 retries, so a loaded machine slows a run instead of aborting it.

    python benchmarks/bench_elbow.py [--runs 5] [--seconds 1.0] [--json out.json]

``--json`` defaults to ``$PAINDIFFUSION_BENCH_JSON`` (set by ``benchmarks/run_all.py``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from paindiffusion_ros.hardware.base import ElbowConfig, make_backend
from paindiffusion_ros.hardware.emulator import ArduinoBridgeEmulator, MX64Emulator

CASES = (
    ("dynamixel P1.0", "dynamixel", 1, 1_000_000),
    ("dynamixel P2.0", "dynamixel", 2, 1_000_000),
    ("arduino bridge", "arduino", 2, 115_200),
    ("sim", "sim", 2, 1_000_000),
)


def swinging_hand(t: float) -> float:
    return 0.8 * np.sin(t)


def serve(backend: str, protocol: int, baudrate: int, path: str, ready, stop) -> None:
    """Child process: run one emulator until ``stop`` is set."""
    if backend == "dynamixel":
        device = MX64Emulator(path, protocol=protocol, baudrate=baudrate, hand=swinging_hand)
    else:
        device = ArduinoBridgeEmulator(path, baudrate=baudrate, hand=swinging_hand)
    with device:
        ready.set()
        stop.wait()


def measure(elbow, seconds: float) -> tuple[float, list[float]]:
    """(reads per second, per-read latencies in ms) over ``seconds``."""
    latencies = []
    start = time.perf_counter()
    while (now := time.perf_counter()) - start < seconds:
        state = elbow.read()
        done = time.perf_counter()
        if state is not None:
            latencies.append((done - now) * 1e3)
    return len(latencies) / (time.perf_counter() - start), latencies


def read_runs(elbow, runs: int, seconds: float) -> dict:
    """``runs`` runs of :func:`measure` on an opened elbow: median rate, median/p99 latency, comm errors."""
    rates, latencies = [], []
    for _ in range(runs):
        rate, run_latencies = measure(elbow, seconds)
        rates.append(rate)
        latencies.extend(run_latencies)
    return {
        "reads_per_s_median": statistics.median(rates),
        "reads_per_s_runs": rates,
        "latency_ms_median": float(np.median(latencies)),
        "latency_ms_p99": float(np.percentile(latencies, 99)),
        "comm_errors": elbow.status().comm_errors,
    }


def bench_case(backend: str, protocol: int, baudrate: int, runs: int, seconds: float, directory: str) -> dict:
    path = str(Path(directory) / f"{backend}{protocol}")
    context = multiprocessing.get_context("fork")
    ready, stop = context.Event(), context.Event()
    server = None
    if backend != "sim":
        server = context.Process(target=serve, args=(backend, protocol, baudrate, path, ready, stop), daemon=True)
        server.start()
        ready.wait(10.0)
    config = ElbowConfig(backend=backend, port=path, protocol=protocol, baudrate=baudrate, latency_timer_ms=2.0, retries=5, lower_limit=-1.0)
    elbow = make_backend(config)
    elbow.open()
    try:
        return {**read_runs(elbow, runs, seconds), "baudrate": baudrate}
    finally:
        elbow.close()
        stop.set()
        if server is not None:
            server.join(5.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per backend (median reported)")
    parser.add_argument("--seconds", type=float, default=1.0, help="duration of one run (s)")
    parser.add_argument("--json", type=Path, default=os.environ.get("PAINDIFFUSION_BENCH_JSON") or None,
                        help="also write the results here (default: $PAINDIFFUSION_BENCH_JSON)")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for name, backend, protocol, baudrate in tqdm(CASES, desc="elbow backends"):
            results[name] = bench_case(backend, protocol, baudrate, args.runs, args.seconds, directory)
    print(f"{'backend':<16} {'baud':>9} {'reads/s (median)':>17} {'latency ms p50':>15} {'p99':>7} {'comm errors':>12} {'≥100 Hz':>8}")
    for name, row in results.items():
        print(
            f"{name:<16} {row['baudrate']:>9} {row['reads_per_s_median']:>17.0f} {row['latency_ms_median']:>15.3f} "
            f"{row['latency_ms_p99']:>7.3f} {row['comm_errors']:>12} {'yes' if row['reads_per_s_median'] >= 100 else 'NO':>8}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
