"""Real-time factor of the authors' network (official-unet1d) streamed as they sampled (numbers, not pass/fail).

The published sizes (dim 32, mults 1/2/4/8, 4 heads of 32; 5.4 M parameters) with random
weights (speed does not depend on them), streamed by ``ChunkStream``: 32-frame windows,
24 new frames per call, 35 σ levels, uncertainty 4, so 54 guided denoiser calls (one
batch-4 forward each) per call after the first. RTF = seconds of 25 Hz face per second
of compute; real time needs RTF ≥ 1 with headroom. Prints medians; the machine may be
shared, so read them with the load average printed beside them.

    .venv/bin/python benchmarks/bench_official.py [--json results.json] [--threads 1 2] [--chunks 3] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

from paindiffusion_ros.face.binding import FLAME_EMOCA_100
from paindiffusion_ros.model.benchmark import measure
from paindiffusion_ros.model.checkpoint import save_checkpoint
from paindiffusion_ros.model.chunk_stream import ChunkStreamConfig
from paindiffusion_ros.model.config import OfficialUNetConfig
from paindiffusion_ros.model.generator import GeneratorConfig
from paindiffusion_ros.model.official_latent import JawFirstLatent
from paindiffusion_ros.model.official_network import OfficialUNet1D
from paindiffusion_ros.model.schedule import pyramid_levels


def random_official_checkpoint(directory: str) -> str:
    config, sampling = OfficialUNetConfig(), ChunkStreamConfig()
    save_checkpoint(directory, OfficialUNet1D(config), config, JawFirstLatent(), FLAME_EMOCA_100, {"random_weights": True}, sampling)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=os.environ.get("PAINDIFFUSION_BENCH_JSON", ""),
                        help="also write the results to this JSON file (default: $PAINDIFFUSION_BENCH_JSON)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="CPU thread counts to compare")
    parser.add_argument("--chunks", type=int, default=3, help="timed calls per setting (after one warm-up)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="compute device (cuda: a GPU, as real time needs)")
    args = parser.parse_args()
    sampling = ChunkStreamConfig()
    tokens = sampling.horizon // OfficialUNetConfig().stack
    rows = len(pyramid_levels(sampling.levels - 1, tokens, tokens, sampling.uncertainty)) - 1
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as scratch:
        model = random_official_checkpoint(f"{scratch}/official")
        results = [measure(GeneratorConfig(model=model, backend=backend, threads=threads, device=args.device), args.chunks, warmup=1)
                   for threads in args.threads for backend in ("torch", "onnx")]
    for r in results:
        r["guided_calls_per_advance"] = rows
        r["median_ms_per_guided_call"] = round(r["median_ms_per_advance"] / rows, 2)
    print(f"official-unet1d on {args.device}, {results[0]['parameters'] / 1e6:.2f} M parameters (port), {rows} guided calls per "
          f"{sampling.horizon}-frame call; load average {load_before:.1f} → {os.getloadavg()[0]:.1f}")
    print(f"{'backend':<8} {'threads':>7} {'ms/24 frames':>13} {'p90 ms':>8} {'ms/call':>8} {'RTF':>6}")
    for r in results:
        print(f"{r['backend']:<8} {r['threads']:>7} {r['median_ms_per_advance']:>13.1f} {r['p90_ms_per_advance']:>8.1f} "
              f"{r['median_ms_per_guided_call']:>8.1f} {r['rtf']:>6.3f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({f"{r['backend']}.threads{r['threads']}": r for r in results}, handle, indent=2)


if __name__ == "__main__":
    main()
