"""How well a trainee's pain ratings agree with the simulated patient's pain.

The face's pain is its PSPI read-out (0–16, Prkachin & Solomon); the trainee rates on
the 0–10 numeric rating scale (NRS). For the bias, PSPI is mapped linearly onto the
NRS (``pspi_to_nrs``: 16 → 10), so a negative bias means the trainee under-estimates,
the clinical finding the training addresses.

Both signals are compared on a common grid (``grid_hz``): PSPI interpolated linearly
(it is a 25 Hz stream), the rating held from one message to the next (a slider keeps
its value until moved; ``hold``). The statistics:

* Pearson r and Spearman ρ (Pearson of average ranks) at lag 0, "as rated";
* the lag L in [−max_lag_s, max_lag_s] maximising r(L) = corr(PSPI(t), rating(t + L)):
  a positive lag is the trainee's delay behind the face;
* Bland–Altman agreement (Bland & Altman 1986) of rating(t + L) with PSPI→NRS(t), at the
  best lag so the delay does not count as disagreement: mean difference (bias) and
  95 % limits of agreement, bias ± 1.96 SD of the differences;
* per-episode detection: an episode is a stretch of PSPI ≥ ``episode_pspi`` lasting at
  least ``min_episode_s`` (stretches closer than ``merge_gap_s`` merge). Its onset is
  when the face began to show it: the start of the climb, within ``onset_window_s``
  before the threshold crossing, during which the PSPI stayed ``rise_nrs`` (in NRS
  units) above its lowest value there. The episode is detected when the rating rises
  ``rise_nrs`` above its value at the onset before the episode's end + ``grace_s``; the
  latency is that rise's time after the onset. Face and trainee are held to the same
  rise, so a trainee who copies the face d seconds late has a latency of d.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from ..data.settings import check_fields
from ..eval.metrics import pearson
from ..face.facs import PSPI_MAX

NRS_MAX = 10.0
"""Top of the 0–10 numeric rating scale."""
LIMITS_Z = 1.96
"""Bland–Altman 95 % limits of agreement: bias ± 1.96 SD."""


@dataclass
class AgreementConfig:
    """Settings of the trainee-agreement statistics."""

    grid_hz: float = field(default=10.0, metadata={"help": "rate (Hz) of the common time grid; sets the lag resolution", "range": (1.0, 100.0)})
    max_lag_s: float = field(default=5.0, metadata={"help": "largest trainee delay (s) searched for, either way", "range": (0.0, 60.0)})
    episode_pspi: float = field(default=3.0, metadata={"help": "PSPI at or above which the face is in a pain episode", "range": (0.1, PSPI_MAX)})
    min_episode_s: float = field(default=1.0, metadata={"help": "shortest pain episode (s)", "range": (0.0, 60.0)})
    merge_gap_s: float = field(default=1.0, metadata={"help": "episodes separated by less than this (s) count as one", "range": (0.0, 60.0)})
    rise_nrs: float = field(default=1.0, metadata={"help": "rise of the rating (NRS points) above its value at an episode's onset that detects it", "range": (0.1, NRS_MAX)})
    grace_s: float = field(default=3.0, metadata={"help": "seconds after an episode's end in which a rise still detects it", "range": (0.0, 60.0)})
    onset_window_s: float = field(default=5.0, metadata={"help": "seconds before an episode's threshold crossing searched for its onset", "range": (0.0, 60.0)})

    def __post_init__(self) -> None:
        check_fields(self, "agreement")


def pspi_to_nrs(pspi: np.ndarray) -> np.ndarray:
    """PSPI 0–16 mapped linearly onto the 0–10 NRS."""
    return np.asarray(pspi, dtype=np.float64) * (NRS_MAX / PSPI_MAX)


def hold(times: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Zero-order hold: the latest value at or before each time in ``at`` (NaN before the first)."""
    index = np.searchsorted(times, at, side="right") - 1
    held = np.asarray(values, dtype=np.float64)[np.clip(index, 0, None)]
    return np.where(index >= 0, held, np.nan)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1…n, ties sharing their average rank (as Spearman's ρ needs)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation ρ: Pearson's r of the average ranks."""
    return pearson(average_ranks(a), average_ranks(b))


@dataclass(frozen=True)
class Episode:
    """One pain episode of the face and how the trainee's rating answered it."""

    onset_s: float
    end_s: float
    peak_pspi: float
    rating_at_onset: Optional[float]
    """The held rating at the onset; None when the trainee had not rated yet."""
    peak_rating: Optional[float]
    detected: Optional[bool]
    """None: not assessable (no rating yet at the onset)."""
    latency_s: Optional[float]


@dataclass(frozen=True)
class BlandAltman:
    """Bland–Altman agreement of the rating with the mapped PSPI (both NRS)."""

    means: np.ndarray
    differences: np.ndarray
    """rating − PSPI→NRS, per grid point."""
    bias: float
    sd: float

    @property
    def limits(self) -> tuple[float, float]:
        return self.bias - LIMITS_Z * self.sd, self.bias + LIMITS_Z * self.sd


@dataclass(frozen=True)
class Agreement:
    """Every statistic of one session; ``to_dict`` gives the JSON-ready summary."""

    samples: int
    seconds: float
    pearson_r: float
    spearman_rho: float
    lags_s: np.ndarray
    lag_r: np.ndarray
    best_lag_s: float
    best_lag_r: float
    lag_at_limit: bool
    """The best lag is the edge of the search: the trainee may be slower than ``max_lag_s``."""
    bland_altman: BlandAltman
    episodes: list[Episode]

    @property
    def detected(self) -> list[Episode]:
        return [e for e in self.episodes if e.detected]

    @property
    def assessable(self) -> list[Episode]:
        return [e for e in self.episodes if e.detected is not None]

    def to_dict(self) -> dict:
        lo, hi = self.bland_altman.limits
        latencies = [e.latency_s for e in self.detected]
        return {
            "samples": self.samples,
            "seconds": self.seconds,
            "pearson_r": self.pearson_r,
            "spearman_rho": self.spearman_rho,
            "best_lag_s": self.best_lag_s,
            "best_lag_r": self.best_lag_r,
            "lag_at_limit": self.lag_at_limit,
            "bias_nrs": self.bland_altman.bias,
            "sd_nrs": self.bland_altman.sd,
            "limits_of_agreement_nrs": [lo, hi],
            "episodes_detected": len(self.detected),
            "episodes_assessable": len(self.assessable),
            "mean_latency_s": float(np.mean(latencies)) if latencies else None,
            "episodes": [asdict(e) for e in self.episodes],
        }


def grid(start: float, stop: float, hz: float) -> np.ndarray:
    """Times from ``start`` to ``stop`` (inclusive where it falls on the grid) every 1/hz s."""
    return start + np.arange(int(math.floor((stop - start) * hz + 1e-9)) + 1) / hz


def find_episodes(times: np.ndarray, pspi: np.ndarray, config: AgreementConfig) -> list[tuple[float, float, float]]:
    """(onset, end, peak PSPI) of each pain episode of a PSPI trace."""
    if len(times) == 0:
        return []
    t = grid(float(times[0]), float(times[-1]), config.grid_hz)
    values = np.interp(t, times, pspi)
    above = np.concatenate([[False], values >= config.episode_pspi, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    merged: list[list[int]] = []
    for a, b in zip(edges[::2], edges[1::2]):
        if merged and (a - merged[-1][1]) / config.grid_hz < config.merge_gap_s:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    episodes, previous_end = [], 0
    rise = config.rise_nrs * PSPI_MAX / NRS_MAX
    for a, b in merged:
        if (b - 1 - a) / config.grid_hz < config.min_episode_s:
            continue
        first = max(previous_end, a - int(round(config.onset_window_s * config.grid_hz)))
        level = values[first : a + 1].min() + rise
        onset = a
        while onset > first and values[onset - 1] >= level:
            onset -= 1
        episodes.append((float(t[onset]), float(t[b - 1]), float(values[a:b].max())))
        previous_end = b
    return episodes


def rate_episode(
    episode: tuple[float, float, float], rating_times: np.ndarray, ratings: np.ndarray, config: AgreementConfig
) -> Episode:
    """Did the rating rise ``rise_nrs`` above its onset value in time, and how late."""
    onset, end, peak = episode
    onset_value = float(hold(rating_times, ratings, np.array([onset]))[0])
    if not math.isfinite(onset_value):
        return Episode(onset, end, peak, None, None, None, None)
    window = (rating_times > onset) & (rating_times <= end + config.grace_s)
    times, values = rating_times[window], ratings[window]
    peak_rating = float(max(onset_value, values.max())) if len(values) else onset_value
    risen = np.flatnonzero(values >= onset_value + config.rise_nrs)
    latency = float(times[risen[0]] - onset) if len(risen) else None
    return Episode(onset, end, peak, onset_value, peak_rating, latency is not None, latency)


def assess(
    pspi_times: np.ndarray,
    pspi: np.ndarray,
    rating_times: np.ndarray,
    ratings: np.ndarray,
    config: Optional[AgreementConfig] = None,
) -> Agreement:
    """All statistics of a session; times in seconds on one clock, ascending.

    Raises ValueError when the two signals do not overlap for at least two grid points.
    """
    config = config or AgreementConfig()
    pspi_times, pspi = np.asarray(pspi_times, np.float64), np.asarray(pspi, np.float64)
    rating_times, ratings = np.asarray(rating_times, np.float64), np.asarray(ratings, np.float64)
    if len(pspi_times) < 2 or len(rating_times) == 0:
        raise ValueError(f"agreement needs a PSPI trace and ratings (got {len(pspi_times)} PSPI samples, {len(rating_times)} ratings)")
    t = grid(float(pspi_times[0]), float(pspi_times[-1]), config.grid_hz)
    reference = pspi_to_nrs(np.interp(t, pspi_times, pspi))
    end = max(pspi_times[-1], rating_times[-1])

    def rated(lag: float) -> tuple[np.ndarray, np.ndarray]:
        """PSPI→NRS(t) and rating(t + lag) where the rating exists (held after its last message to the end)."""
        inside = (t + lag >= rating_times[0]) & (t + lag <= end)
        return reference[inside], hold(rating_times, ratings, t[inside] + lag)

    now_ref, now_rating = rated(0.0)
    if len(now_ref) < 2:
        raise ValueError("the trainee's ratings and the PSPI trace do not overlap in time")
    steps = int(round(config.max_lag_s * config.grid_hz))
    lags = np.arange(-steps, steps + 1) / config.grid_hz
    lag_r = np.array([pearson(*pair) if len(pair[0]) > 1 else np.nan for pair in map(rated, lags)])
    ties = np.flatnonzero(lag_r == np.nanmax(lag_r))  # a constant rating ties every lag: take the smallest delay
    best = int(min(ties, key=lambda i: abs(lags[i])))
    aligned_ref, aligned_rating = rated(float(lags[best]))
    differences = aligned_rating - aligned_ref
    agreement = BlandAltman(
        means=(aligned_rating + aligned_ref) / 2,
        differences=differences,
        bias=float(differences.mean()),
        sd=float(differences.std(ddof=1)) if len(differences) > 1 else 0.0,
    )
    episodes = [rate_episode(e, rating_times, ratings, config) for e in find_episodes(pspi_times, pspi, config)]
    return Agreement(
        samples=len(now_ref),
        seconds=len(now_ref) / config.grid_hz,
        pearson_r=pearson(now_ref, now_rating),
        spearman_rho=spearman(now_ref, now_rating),
        lags_s=lags,
        lag_r=lag_r,
        best_lag_s=float(lags[best]),
        best_lag_r=float(lag_r[best]),
        lag_at_limit=steps > 0 and best in (0, len(lags) - 1),
        bland_altman=agreement,
        episodes=episodes,
    )
