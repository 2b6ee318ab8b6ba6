"""The PSPI figure in the style of the paper's Fig. 6: ground truth vs the spread of generations."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend must be chosen first)
import numpy as np  # noqa: E402

from ..data.dataset import FPS  # noqa: E402
from ..model.conditions import STIMULUS_BASELINE_C, STIMULUS_MAX_C  # noqa: E402
from .cases import EvalCase  # noqa: E402


def _shade_stimulus(ax: plt.Axes, stimulus_c: np.ndarray) -> None:
    """Orange bands where the stimulus is above baseline, darker for hotter (Fig. 6)."""
    t = np.arange(len(stimulus_c) + 1) / FPS
    strength = np.clip((stimulus_c - STIMULUS_BASELINE_C) / (STIMULUS_MAX_C - STIMULUS_BASELINE_C), 0.0, 1.0)
    for level in np.linspace(0.1, 1.0, 10):
        mask = strength >= level - 0.05
        if mask.any():
            ax.fill_between(t[:-1], 0, 1, where=mask, step="post", color="tab:orange", alpha=0.07,
                            transform=ax.get_xaxis_transform(), linewidth=0)


def plot_pspi(cases: Sequence[EvalCase], generations: Sequence[Sequence[np.ndarray]], path: Path,
              label: str = "PainDiffusion", panels: int = 4) -> Path:
    """One panel per case: ground-truth PSPI, min–max band and mean of the generations."""
    shown = min(panels, len(cases))
    fig, axes = plt.subplots(shown, 1, figsize=(10, 2.3 * shown), sharex=True, squeeze=False)
    for ax, case, gens in zip(axes[:, 0], cases, generations):
        t = np.arange(len(case.stimulus_c)) / FPS
        stack = np.stack(gens)
        _shade_stimulus(ax, case.stimulus_c)
        ax.fill_between(t, stack.min(0), stack.max(0), color="tab:green", alpha=0.35, linewidth=0,
                        label=f"{label} ({len(gens)} generations)")
        ax.plot(t, stack.mean(0), color="tab:green", linewidth=1.0)
        if case.pspi is not None:
            ax.plot(t, case.pspi, color="black", linewidth=1.2, label="ground truth")
        ax.set_ylabel("PSPI")
        ax.set_title(f"{case.name}  (expressiveness {case.expressiveness:.2f}, peak {case.stimulus_c.max():.1f} °C)", fontsize=9)
        ax.set_ylim(bottom=0)
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("time (s); orange: heat stimulus above baseline, darker = hotter")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
