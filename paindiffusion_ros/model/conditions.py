"""The three conditions of PainDiffusion (paper §III-A) and their dropout for guidance training."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import torch

from .settings import EMOTIONS  # noqa: F401  (defined torch-free for the node's parameter declarations)

CONDITION_NAMES: tuple[str, ...] = ("emotion", "expressiveness", "stimulus")
"""Order of the columns of ``Conditions.keep`` and of the guidance strengths."""

STIMULUS_BASELINE_C = 32.0
STIMULUS_MAX_C = 50.5
EXPRESSIVENESS_MAX = 16.0


def normalize_stimulus(stimulus_c: torch.Tensor) -> torch.Tensor:
    """Fixed map of heat stimulus °C to the network's scale: (T − 32) / (50.5 − 32) (BioVid range → 0..1)."""
    return (stimulus_c - STIMULUS_BASELINE_C) / (STIMULUS_MAX_C - STIMULUS_BASELINE_C)


def normalize_expressiveness(expressiveness: torch.Tensor, maximum: float = EXPRESSIVENESS_MAX) -> torch.Tensor:
    """Pain expressiveness 𝒫 (mean PSPI, 0–16) to 0..1 at 𝒫 = ``maximum``."""
    return expressiveness / maximum


def emotion_index(name: str) -> int:
    """Index of an emotion name, with a clear error for an unknown one."""
    try:
        return EMOTIONS.index(name)
    except ValueError:
        raise ValueError(f"unknown emotion {name!r}; choose one of {', '.join(EMOTIONS)}") from None


@dataclass(frozen=True)
class Conditions:
    """A batch of conditions c = (C, 𝒫, ℰ).

    ``stimulus_c`` (B, T) °C per frame, ``expressiveness`` (B,) PSPI units, ``emotion`` (B,)
    long index into ``EMOTIONS``, ``keep`` (B, 3) bool for [emotion, expressiveness,
    stimulus]; a dropped condition is replaced by its learned null inside the network.
    """

    stimulus_c: torch.Tensor
    expressiveness: torch.Tensor
    emotion: torch.Tensor
    keep: Optional[torch.Tensor] = None

    def __post_init__(self) -> None:
        batch = self.stimulus_c.shape[0]
        if self.stimulus_c.dim() != 2:
            raise ValueError(f"Conditions: stimulus_c must be (B, T), got {tuple(self.stimulus_c.shape)}")
        for name in ("expressiveness", "emotion"):
            if tuple(getattr(self, name).shape) != (batch,):
                raise ValueError(f"Conditions: {name} must be ({batch},), got {tuple(getattr(self, name).shape)}")
        if self.keep is None:
            object.__setattr__(self, "keep", torch.ones(batch, 3, dtype=torch.bool, device=self.stimulus_c.device))
        elif tuple(self.keep.shape) != (batch, 3):
            raise ValueError(f"Conditions: keep must be ({batch}, 3), got {tuple(self.keep.shape)}")

    @property
    def batch_size(self) -> int:
        return self.stimulus_c.shape[0]

    def drop(self, p: float, generator: Optional[torch.Generator] = None) -> "Conditions":
        """Drop each condition of each sample independently with probability ``p`` (paper §III-D)."""
        draw = torch.rand(self.keep.shape, generator=generator, device=self.keep.device)
        return replace(self, keep=self.keep & (draw >= p))

    def to(self, device: torch.device | str) -> "Conditions":
        return Conditions(*(t.to(device) for t in (self.stimulus_c, self.expressiveness, self.emotion, self.keep)))
