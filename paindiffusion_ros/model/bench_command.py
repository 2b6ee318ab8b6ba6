"""``paindiffusion bench``: the generator's real-time factor per backend and step count."""

from __future__ import annotations

import argparse
import json
import tempfile

from .backends import BACKENDS
from .benchmark import random_checkpoint, run_grid
from .generator import GeneratorConfig, default_model_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="", help="checkpoint directory (default: the shipped model, "
                        "or random weights of the default size when none is shipped)")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--steps", nargs="+", type=int, default=[10, 15, 20])
    parser.add_argument("--chunks", type=int, default=20, help="timed advances per setting")
    parser.add_argument("--threads", type=int, default=GeneratorConfig.threads, help="CPU threads (0 = runtime default)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def run(args: argparse.Namespace) -> int:
    if args.chunks < 1:
        raise ValueError(f"--chunks must be at least 1, got {args.chunks}")
    with tempfile.TemporaryDirectory() as scratch:
        model = args.model
        if not model and not default_model_dir().is_dir():
            model = str(random_checkpoint(f"{scratch}/random"))
        base = GeneratorConfig(model=model, threads=args.threads)
        results = run_grid(base, tuple(args.backends), tuple(args.steps), args.chunks)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'backend':<8} {'steps':>5} {'ms/advance':>11} {'p90 ms':>8} {'RTF':>6}   ({base.horizon} frames per advance, medians)")
    for r in results:
        print(f"{r['backend']:<8} {r['steps']:>5} {r['median_ms_per_advance']:>11.1f} {r['p90_ms_per_advance']:>8.1f} {r['rtf']:>6.2f}")
    return 0
