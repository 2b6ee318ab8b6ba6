"""Latent normalisation: ψ and θ_jaw to one unit-variance space and back (paper §III-B)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

EXPRESSION_DIM = 50
JAW_DIM = 3
_MIN_STD = 1e-6

Array = np.ndarray | torch.Tensor


@dataclass(frozen=True)
class LatentNormalization:
    """z = ((ψ − μ_ψ), (θ_jaw − μ_jaw)·jaw_scale) / scale.

    ``jaw_scale`` = std(ψ)/std(θ_jaw) (pooled over channels) lifts the small-variance jaw
    to ψ's variance as the paper does; ``scale`` = std(ψ) then makes the latent unit
    variance, which is the EDM σ_data = 1 the default model assumes.
    """

    mean: np.ndarray
    scale: float
    jaw_scale: float

    @classmethod
    def fit(cls, expression: np.ndarray, jaw: np.ndarray) -> "LatentNormalization":
        """Statistics from frames ``expression`` (N, 50) and ``jaw`` (N, 3)."""
        expression = np.asarray(expression, dtype=np.float64)
        jaw = np.asarray(jaw, dtype=np.float64)
        if expression.ndim != 2 or expression.shape[1] != EXPRESSION_DIM:
            raise ValueError(f"LatentNormalization.fit: expression must be (N, 50), got {expression.shape}")
        if jaw.shape != (expression.shape[0], JAW_DIM):
            raise ValueError(f"LatentNormalization.fit: jaw must be ({expression.shape[0]}, 3), got {jaw.shape}")
        if expression.shape[0] < 2 or not (np.isfinite(expression).all() and np.isfinite(jaw).all()):
            raise ValueError("LatentNormalization.fit: needs at least 2 finite frames")
        mean = np.concatenate([expression.mean(0), jaw.mean(0)])
        psi_std = max(float(np.sqrt(((expression - mean[:EXPRESSION_DIM]) ** 2).mean())), _MIN_STD)
        jaw_std = max(float(np.sqrt(((jaw - mean[EXPRESSION_DIM:]) ** 2).mean())), _MIN_STD)
        return cls(mean=mean.astype(np.float32), scale=psi_std, jaw_scale=psi_std / jaw_std)

    @property
    def frame_dim(self) -> int:
        """Values per decoded frame: 50 expression + 3 jaw."""
        return EXPRESSION_DIM + JAW_DIM

    @property
    def latent_dim(self) -> int:
        """Values per latent frame: the same 53, channel by channel."""
        return EXPRESSION_DIM + JAW_DIM

    def _channel_factor(self) -> np.ndarray:
        factor = np.full(EXPRESSION_DIM + JAW_DIM, 1.0 / self.scale, dtype=np.float32)
        factor[EXPRESSION_DIM:] *= self.jaw_scale
        return factor

    def encode(self, x53: Array) -> Array:
        """Raw frames (…, 53) → normalised latent (…, 53); numpy or torch in, same out."""
        return (x53 - _like(self.mean, x53)) * _like(self._channel_factor(), x53)

    def decode(self, z53: Array) -> Array:
        """Normalised latent (…, 53) → raw frames (…, 53): ψ and θ_jaw in radians."""
        return z53 / _like(self._channel_factor(), z53) + _like(self.mean, z53)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": [float(v) for v in self.mean], "scale": float(self.scale), "jaw_scale": float(self.jaw_scale)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LatentNormalization":
        """Inverse of ``to_dict``; names the key that is missing or malformed."""
        for key in ("mean", "scale", "jaw_scale"):
            if key not in data:
                raise ValueError(f"normalisation: missing key {key!r}")
        mean = np.asarray(data["mean"], dtype=np.float32)
        if mean.shape != (EXPRESSION_DIM + JAW_DIM,):
            raise ValueError(f"normalisation: 'mean' must have 53 values, got {mean.shape}")
        scale, jaw_scale = float(data["scale"]), float(data["jaw_scale"])
        if not (scale > 0 and jaw_scale > 0):
            raise ValueError(f"normalisation: 'scale' ({scale}) and 'jaw_scale' ({jaw_scale}) must be positive")
        return cls(mean=mean, scale=scale, jaw_scale=jaw_scale)

    @classmethod
    def identity(cls) -> "LatentNormalization":
        """No-op normalisation (zero mean, unit scales)."""
        return cls(mean=np.zeros(EXPRESSION_DIM + JAW_DIM, dtype=np.float32), scale=1.0, jaw_scale=1.0)


def _like(values: np.ndarray, reference: Array) -> Array:
    if isinstance(reference, torch.Tensor):
        return torch.as_tensor(values, dtype=reference.dtype, device=reference.device)
    return values.astype(reference.dtype if np.issubdtype(reference.dtype, np.floating) else np.float32)
