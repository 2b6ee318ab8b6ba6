"""Test cases for the evaluation: held-out sequences and the probe stimuli of the control checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..data.dataset import FPS, PainDataset
from ..model.conditions import STIMULUS_BASELINE_C

ONSET_MARGIN_C = 0.5
LEAD_IN_S = 2.0
SKIP_S = 20.0


@dataclass
class EvalCase:
    """One ground-truth sequence and the conditions it was recorded under."""

    name: str
    stimulus_c: np.ndarray
    latent: np.ndarray
    pspi: Optional[np.ndarray]
    expressiveness: float
    emotion: int


def segment_start(stimulus_c: np.ndarray, frames: int) -> int:
    """Start of a ``frames``-long stretch beginning 2 s before the first stimulus onset after 20 s.

    The paper evaluates on validation sequences "close to the moment the pain stimulus
    changes its intensity" (§IV-A); without an onset the stretch starts at 0.
    """
    hot = stimulus_c > STIMULUS_BASELINE_C + ONSET_MARGIN_C
    onsets = np.flatnonzero(hot[1:] & ~hot[:-1]) + 1
    onsets = onsets[onsets >= SKIP_S * FPS]
    last = len(stimulus_c) - frames
    start = int(onsets[0] - LEAD_IN_S * FPS) if len(onsets) else 0
    return int(np.clip(start, 0, max(last, 0)))


def held_out_cases(data: PainDataset, frames: int) -> list[EvalCase]:
    """One ``frames``-long case per recording (recordings shorter than that are skipped)."""
    cases = []
    for r in data.recordings:
        if r.frames < frames:
            continue
        start = segment_start(r.stimulus_c, frames)
        stop = start + frames
        cases.append(
            EvalCase(
                name=r.subject,
                stimulus_c=r.stimulus_c[start:stop].astype(np.float32),
                latent=r.latent[start:stop],
                pspi=None if r.pspi is None else r.pspi[start:stop],
                expressiveness=r.expressiveness,
                emotion=r.emotion,
            )
        )
    if not cases:
        raise ValueError(f"no held-out recording is {frames} frames long; lower --frames or use longer recordings")
    return cases


def periodic_stimulus(frames: int, period: int, peak_c: float) -> np.ndarray:
    """Identical range-of-motion cycles (ramp up, hold, ramp down, rest) of ``period`` frames."""
    phase = (np.arange(frames) % period) / period
    rise = np.clip(phase / 0.375, 0.0, 1.0)
    fall = np.clip((0.875 - phase) / 0.375, 0.0, 1.0)
    return (STIMULUS_BASELINE_C + (peak_c - STIMULUS_BASELINE_C) * np.minimum(rise, fall)).astype(np.float32)


def plateau_stimulus(frames: int, level_c: float, on_s: float = 4.0, off_s: float = 6.0, lead_s: float = 1.0) -> np.ndarray:
    """BioVid-like plateaus at one level: ``lead_s`` at baseline, then ``on_s`` at ``level_c`` and
    ``off_s`` at baseline, repeated."""
    phase = (np.arange(frames) / FPS - lead_s) % (on_s + off_s)
    on = (np.arange(frames) / FPS >= lead_s) & (phase < on_s)
    return np.where(on, level_c, STIMULUS_BASELINE_C).astype(np.float32)
