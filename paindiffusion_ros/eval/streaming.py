"""Run a ``PainGenerator`` over a whole stimulus sequence, as the evaluation needs it."""

from __future__ import annotations

import numpy as np

from ..model.conditions import EMOTIONS
from ..model.generator import PainGenerator
from .baselines import Generation

MAX_EXPRESSIVENESS = 16.0


def generate_sequence(generator: PainGenerator, stimulus_c: np.ndarray, expressiveness: float, emotion: int,
                      seed: int) -> Generation:
    """Frames (T, 53) and PSPI for ``stimulus_c`` (T,) from a fresh stream with these settings."""
    generator.update(expressiveness=float(np.clip(expressiveness, 0.0, MAX_EXPRESSIVENESS)),
                     emotion=EMOTIONS[int(emotion)], seed=int(seed))
    generator.reset()
    h = generator.horizon
    frames = len(stimulus_c)
    padded = np.concatenate([stimulus_c, np.full(-frames % h, stimulus_c[-1])]).astype(np.float32)
    chunks = [generator.advance(padded[i:i + h]) for i in range(0, len(padded), h)]
    latent = np.concatenate([np.concatenate([c.expression, c.jaw_pose], axis=1) for c in chunks])[:frames]
    pspi = None if chunks[0].pspi is None else np.concatenate([c.pspi for c in chunks])[:frames]
    return Generation(latent.astype(np.float32), pspi)
