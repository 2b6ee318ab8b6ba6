"""The paper's evaluation metrics (PainDiffusion §IV-B, Table I).

PSPI modality (per generated sequence vs the ground truth under the same stimulus):
* Sim  — dynamic time warping distance between the PSPI signals: the least total
  |a_i − b_j| over monotone alignments (accumulated cost, not length-normalised). Lower
  is better.
* Corr — Pearson correlation coefficient of the PSPI signals. Higher is better.

Face-parameter modality (the 53-d frames):
* Dist  — mean squared error between a generated sequence and the ground truth.
* Divrs — mean squared error between pairs of generations for the same stimulus
  (diversity); 0 for a deterministic method.
* Var   — variance over time within one generated sequence, averaged over channels.

``score_sequences`` averages each metric over generations (Sim/Corr also give their
standard deviation over generations, the paper's ± values); ``average_scores`` averages
over test sequences.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Sequence

import numpy as np

METRICS = ("sim", "corr", "dist", "divrs", "var")


def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    """DTW accumulated cost with |a_i − b_j| and steps (1,0), (0,1), (1,1), by anti-diagonals."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        raise ValueError("dtw_distance: both signals need at least one sample")
    cost = np.abs(a[:, None] - b[None, :])
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for k in range(2, n + m + 1):
        i = np.arange(max(1, k - m), min(n, k - 1) + 1)
        j = k - i
        best = np.minimum(np.minimum(acc[i - 1, j - 1], acc[i - 1, j]), acc[i, j - 1])
        acc[i, j] = cost[i - 1, j - 1] + best
    return float(acc[n, m])


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; 0 when either signal is constant (no linear relation measurable)."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"pearson: signals differ in length ({len(a)} vs {len(b)})")
    da, db = a - a.mean(), b - b.mean()
    denominator = np.sqrt((da * da).sum() * (db * db).sum())
    return float((da * db).sum() / denominator) if denominator > 0 else 0.0


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error over all elements."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"mse: shapes differ {a.shape} vs {b.shape}")
    return float(((a - b) ** 2).mean())


def diversity(generations: Sequence[np.ndarray]) -> float:
    """Mean pairwise MSE between generations for one stimulus; 0 for a single generation."""
    pairs = list(combinations(range(len(generations)), 2))
    return float(np.mean([mse(generations[i], generations[j]) for i, j in pairs])) if pairs else 0.0


def temporal_variance(sequence: np.ndarray) -> float:
    """Variance over time (axis 0) averaged over channels."""
    return float(np.asarray(sequence, dtype=np.float64).var(axis=0).mean())


@dataclass
class Scores:
    """One method's metrics; ``*_std`` are the spreads of Sim/Corr over generations."""

    sim: float
    corr: float
    dist: float
    divrs: float
    var: float
    sim_std: float = 0.0
    corr_std: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {k: round(float(v), 6) for k, v in asdict(self).items()}


def score_sequences(generated: Sequence[np.ndarray], generated_pspi: Sequence[np.ndarray],
                    truth: np.ndarray, truth_pspi: np.ndarray) -> Scores:
    """Metrics of several generations (each (T, 53) + PSPI (T,)) for one ground-truth sequence."""
    if not generated or len(generated) != len(generated_pspi):
        raise ValueError("score_sequences: need one PSPI signal per generated sequence (at least one)")
    sims = [dtw_distance(p, truth_pspi) for p in generated_pspi]
    corrs = [pearson(p, truth_pspi) for p in generated_pspi]
    return Scores(
        sim=float(np.mean(sims)),
        corr=float(np.mean(corrs)),
        dist=float(np.mean([mse(g, truth) for g in generated])),
        divrs=diversity(generated),
        var=float(np.mean([temporal_variance(g) for g in generated])),
        sim_std=float(np.std(sims)),
        corr_std=float(np.std(corrs)),
    )


def average_scores(scores: Sequence[Scores]) -> Scores:
    """Mean of each metric over test sequences."""
    if not scores:
        raise ValueError("average_scores: no scores to average")
    return Scores(**{k: float(np.mean([getattr(s, k) for s in scores])) for k in asdict(scores[0])})
