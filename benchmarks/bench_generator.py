"""Real-time factor of the pain generator at the default model size (numbers, not pass/fail).

RTF = seconds of 25 Hz face output per second of compute, for the torch and onnxruntime
backends at 10/15/20 denoising steps, default window 64 / context 16 / horizon 16,
guidance on (one batch-4 forward per row). Uses the shipped model when present, else
random weights of the default ``ModelConfig`` (speed does not depend on the weights).
Prints medians; the machine may be shared, so rerun when the load is high.

    .venv/bin/python benchmarks/bench_generator.py [--json results.json] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

from paindiffusion_ros.model.benchmark import random_checkpoint, run_grid
from paindiffusion_ros.model.generator import GeneratorConfig, default_model_dir

TARGET_RTF = 4.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=os.environ.get("PAINDIFFUSION_BENCH_JSON", ""),
                        help="also write the results to this JSON file (default: $PAINDIFFUSION_BENCH_JSON)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="CPU thread counts to compare")
    parser.add_argument("--chunks", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        shipped = default_model_dir()
        model = str(shipped) if shipped.is_dir() else str(random_checkpoint(f"{scratch}/random"))
        results = []
        for threads in args.threads:
            results += run_grid(GeneratorConfig(model=model, threads=threads), ("torch", "onnx"), (10, 15, 20), args.chunks)
    print(f"model: {'shipped' if shipped.is_dir() else 'random weights, default size'}, "
          f"{results[0]['parameters'] / 1e6:.2f} M parameters; load average {os.getloadavg()[0]:.1f}; target RTF ≥ {TARGET_RTF}")
    print(f"{'backend':<8} {'threads':>7} {'steps':>5} {'ms/16 frames':>13} {'p90 ms':>8} {'RTF':>6}")
    for r in results:
        print(f"{r['backend']:<8} {r['threads']:>7} {r['steps']:>5} {r['median_ms_per_advance']:>13.1f} "
              f"{r['p90_ms_per_advance']:>8.1f} {r['rtf']:>6.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({f"{r['backend']}.threads{r['threads']}.steps{r['steps']}": r for r in results}, handle, indent=2)


if __name__ == "__main__":
    main()
