"""Do the controls do what their names say, and does a long stream stay stable?

* Divergence (paper §IV: arbitrary-length generation "without divergence"): over a
  stimulus of identical 64-frame range-of-motion cycles, the last 64-frame window's
  statistics must stay within 0.5–2× of the first window's. The stream starts from the
  neutral face, so its very first cycle is the onset of the response (PSPI ~0.3 where
  later cycles settle at ~1.2–2); the measured frames follow one lead-in cycle.
* Stimulus strength: BioVid-like plateaus at rising temperatures should give more
  facial movement (paper Fig. 8; measured here in the latent as the mean absolute
  frame-to-frame change of the 53 face parameters instead of optical flow) and more PSPI.
* Expressiveness: a higher 𝒫 setting should give a larger mean PSPI.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from .baselines import Generation
from .cases import periodic_stimulus, plateau_stimulus

Generate = Callable[[np.ndarray, float, int, int], Generation]
"""(stimulus_c (T,), expressiveness, emotion index, seed) → Generation."""

STABLE_RATIO = (0.5, 2.0)
MIN_RISE = 0.02
"""A measure "rises" only when each step up is larger than this fraction of the previous value."""


def movement(latent: np.ndarray) -> float:
    """Mean absolute frame-to-frame change of the face parameters."""
    return float(np.abs(np.diff(latent, axis=0)).mean())


def _mean_pspi(generations: Sequence[Generation], frames: slice = slice(None)) -> Optional[float]:
    if generations[0].pspi is None:
        return None
    return float(np.mean([g.pspi[frames].mean() for g in generations]))


def window_statistics(generations: Sequence[Generation], frames: slice) -> dict[str, Optional[float]]:
    """PSPI mean, latent temporal std (mean over channels) and latent mean |x| in one window."""
    return {
        "pspi_mean": _mean_pspi(generations, frames),
        "latent_std": float(np.mean([g.latent[frames].std(axis=0).mean() for g in generations])),
        "latent_abs": float(np.mean([np.abs(g.latent[frames]).mean() for g in generations])),
    }


def divergence_check(generate: Generate, expressiveness: float, emotion: int, frames: int, seeds: Sequence[int],
                     window: int = 64, peak_c: float = 48.0) -> dict:
    """First vs last ``window`` of ``frames`` measured frames under identical periodic stimulus
    cycles, after a lead-in of one cycle (``window`` frames) from the stream's rest start."""
    stimulus = periodic_stimulus(window + frames, window, peak_c)
    generations = [generate(stimulus, expressiveness, emotion, s) for s in seeds]
    first = window_statistics(generations, slice(window, 2 * window))
    last = window_statistics(generations, slice(frames, window + frames))
    ratios = {k: (last[k] / first[k] if first[k] else None) for k in first if last[k] is not None}
    stable = all(r is not None and STABLE_RATIO[0] <= r <= STABLE_RATIO[1] for r in ratios.values())
    return {"frames": frames, "window": window, "lead_in": window, "first": first, "last": last, "ratios": ratios,
            "stable": stable}


def stimulus_response(generate: Generate, levels_c: Sequence[float], expressiveness: float, emotion: int,
                      frames: int, seeds: Sequence[int]) -> dict:
    """Movement and PSPI per plateau temperature; ``monotonic`` when both rise with the level."""
    rows = []
    for level in levels_c:
        generations = [generate(plateau_stimulus(frames, level), expressiveness, emotion, s) for s in seeds]
        rows.append({"level_c": float(level), "movement": float(np.mean([movement(g.latent) for g in generations])),
                     "pspi_mean": _mean_pspi(generations)})
    return {"levels": rows, "movement_increases": _increasing([r["movement"] for r in rows]),
            "pspi_increases": _increasing([r["pspi_mean"] for r in rows])}


def expressiveness_response(generate: Generate, settings: Sequence[float], stimulus_c: np.ndarray, emotion: int,
                            seeds: Sequence[int]) -> dict:
    """Mean PSPI per expressiveness setting under one stimulus."""
    rows = []
    for value in settings:
        generations = [generate(stimulus_c, value, emotion, s) for s in seeds]
        rows.append({"expressiveness": float(value), "pspi_mean": _mean_pspi(generations),
                     "movement": float(np.mean([movement(g.latent) for g in generations]))})
    return {"settings": rows, "pspi_increases": _increasing([r["pspi_mean"] for r in rows])}


def _increasing(values: Sequence[Optional[float]]) -> Optional[bool]:
    if any(v is None for v in values):
        return None
    return bool(all(b > a * (1.0 + MIN_RISE) for a, b in zip(values, values[1:])))
