"""``paindiffusion generate``: face parameters for a stimulus CSV, written to an ``.npz``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .backends import BACKENDS
from .checkpoint import CheckpointError
from .conditions import EMOTIONS
from .generator import FPS, GeneratorConfig, PainGenerator
from .stimulus_csv import StimulusCSVError, read_stimulus_csv


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = GeneratorConfig()
    parser.add_argument("--stimulus", required=True, help="CSV with 'temperature_c' at 25 Hz, or 'time_s,temperature_c'")
    parser.add_argument("--out", required=True, help="output .npz (expression, jaw_pose, fps, pspi)")
    parser.add_argument("--model", default="", help="checkpoint directory (default: the shipped model)")
    parser.add_argument("--expressiveness", type=float, default=d.expressiveness, help="pain expressiveness (mean PSPI, 0–16)")
    parser.add_argument("--emotion", default=d.emotion, choices=EMOTIONS)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--steps", type=int, default=d.steps, help="denoising steps per frame")
    parser.add_argument("--backend", default=d.backend, choices=BACKENDS)
    parser.add_argument("--frames", type=int, default=0, help="frames to generate (default: the stimulus length; "
                        "a longer run holds the last temperature)")


def stimulus_frames(stimulus: np.ndarray, frames: int, horizon: int) -> np.ndarray:
    """``frames`` values (the CSV's length when 0), padded by holding the last one up to whole horizons."""
    frames = frames or len(stimulus)
    padded = -(-frames // horizon) * horizon
    return np.concatenate([stimulus[:padded], np.full(max(padded - len(stimulus), 0), stimulus[-1], np.float32)])


def run(args: argparse.Namespace) -> int:
    try:
        stimulus = read_stimulus_csv(args.stimulus, FPS)
        if args.frames < 0:
            raise ValueError(f"--frames must not be negative, got {args.frames}")
        config = GeneratorConfig(model=args.model, backend=args.backend, steps=args.steps, seed=args.seed,
                                 expressiveness=args.expressiveness, emotion=args.emotion)
        generator = PainGenerator(config)
    except (StimulusCSVError, CheckpointError, ValueError) as exc:
        print(f"paindiffusion generate: {exc}", file=sys.stderr)
        return 2
    frames = args.frames or len(stimulus)
    chunks = stimulus_frames(stimulus, frames, generator.horizon).reshape(-1, generator.horizon)
    generated = [generator.advance(chunk) for chunk in tqdm(chunks, desc="generating", unit="chunk")]
    result = {
        "expression": np.concatenate([c.expression for c in generated])[:frames],
        "jaw_pose": np.concatenate([c.jaw_pose for c in generated])[:frames],
        "fps": np.int64(FPS),
    }
    if generator.binding.pspi is not None:
        result["pspi"] = np.concatenate([c.pspi for c in generated])[:frames]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **result)
    print(f"wrote {out}: {frames} frames ({frames / FPS:.1f} s at {FPS} Hz)")
    return 0
