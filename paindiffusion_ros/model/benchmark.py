"""Real-time factor of ``PainGenerator``: seconds of 25 Hz face per second of compute."""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ..face.binding import BUILTIN_FACS
from .checkpoint import save_checkpoint
from .config import ModelConfig
from .generator import FPS, GeneratorConfig, PainGenerator
from .network import TemporalUNet
from .normalization import LatentNormalization


def random_checkpoint(directory: str | Path, config: ModelConfig = ModelConfig(), seed: int = 0,
                      scale: float = 0.05) -> Path:
    """A checkpoint with seeded random weights (every weight perturbed, so F ≠ 0): for tests and speed runs."""
    torch.manual_seed(seed)
    net = TemporalUNet(config)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(torch.randn_like(parameter) * scale)
    return save_checkpoint(directory, net, config, LatentNormalization.identity(), BUILTIN_FACS, {"random_weights": seed})


def ramp_stimulus(chunk: int, horizon: int) -> np.ndarray:
    """A repeating 32 → 50 °C ramp, ``horizon`` frames of it for chunk number ``chunk``."""
    frames = np.arange(chunk * horizon, (chunk + 1) * horizon)
    return (32.0 + 18.0 * (frames % 250) / 250).astype(np.float32)


def measure(config: GeneratorConfig, chunks: int = 20, warmup: int = 3) -> dict[str, Any]:
    """Time ``chunks`` advances after ``warmup``; medians (the machine may be shared and noisy)."""
    generator = PainGenerator(config)
    for chunk in range(warmup):
        generator.advance(ramp_stimulus(chunk, generator.horizon))
    seconds = []
    for chunk in tqdm(range(chunks), desc=f"{config.backend} {config.steps} steps", leave=False):
        start = time.perf_counter()
        generator.advance(ramp_stimulus(chunk, generator.horizon))
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    return {
        "backend": config.backend,
        "steps": config.steps,
        "horizon": generator.horizon,
        "threads": config.threads or torch.get_num_threads(),
        "median_ms_per_advance": round(1e3 * median, 2),
        "p90_ms_per_advance": round(1e3 * float(np.quantile(seconds, 0.9)), 2),
        "rtf": round(generator.horizon / FPS / median, 2),
        "parameters": sum(p.numel() for p in generator.checkpoint.net.parameters()),
    }


def run_grid(base: GeneratorConfig, backends: tuple[str, ...], steps: tuple[int, ...], chunks: int) -> list[dict[str, Any]]:
    """``measure`` for every backend × steps combination."""
    return [measure(dataclasses.replace(base, backend=b, steps=s), chunks) for b in backends for s in steps]
