"""The latent of the authors' BioVid model: jaw and EMOCA expression, padded, in [-1, 1] (ais-lab/paindiffusion).

Their data loader stores per frame [100·θ_jaw (3), ψ (100)] and pads it with zeros to 128
values; the model works on z = 2·x − 1 (their ``norm_forward``). Decoding inverts both and
hands back the binding's layout, expression first, then jaw: [ψ (100), θ_jaw (3) in radians].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .normalization import Array

KIND = "official-jaw-first"


@dataclass(frozen=True)
class JawFirstLatent:
    """z = 2·[jaw_scale·θ_jaw, ψ, 0 …] − 1 with ``latent_dim`` values per frame."""

    expression_dim: int = 100
    jaw_dim: int = 3
    latent_dim: int = 128
    jaw_scale: float = 100.0

    def __post_init__(self) -> None:
        if self.expression_dim + self.jaw_dim > self.latent_dim:
            raise ValueError(
                f"normalisation: {self.expression_dim} expression + {self.jaw_dim} jaw values do not fit a {self.latent_dim}-d latent"
            )
        if not self.jaw_scale > 0:
            raise ValueError(f"normalisation: jaw_scale must be positive, got {self.jaw_scale}")

    @property
    def frame_dim(self) -> int:
        """Values per decoded frame (expression + jaw)."""
        return self.expression_dim + self.jaw_dim

    def encode(self, frames: Array) -> Array:
        """Frames (…, E + J) [ψ, θ_jaw] → latent (…, latent_dim); numpy or torch in, same out."""
        e, j = self.expression_dim, self.jaw_dim
        pad_shape = (*frames.shape[:-1], self.latent_dim - e - j)
        if isinstance(frames, torch.Tensor):
            raw = torch.cat([frames[..., e:] * self.jaw_scale, frames[..., :e], frames.new_zeros(pad_shape)], dim=-1)
        else:
            raw = np.concatenate([frames[..., e:] * self.jaw_scale, frames[..., :e], np.zeros(pad_shape, frames.dtype)], axis=-1)
        return 2.0 * raw - 1.0

    def decode(self, z: Array) -> Array:
        """Latent (…, latent_dim) → frames (…, E + J): ψ, then θ_jaw in radians (the padding is dropped)."""
        e, j = self.expression_dim, self.jaw_dim
        raw = 0.5 * (1 + z)
        parts = [raw[..., j:j + e], raw[..., :j] / self.jaw_scale]
        return torch.cat(parts, dim=-1) if isinstance(z, torch.Tensor) else np.concatenate(parts, axis=-1)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "expression_dim": self.expression_dim, "jaw_dim": self.jaw_dim,
                "latent_dim": self.latent_dim, "jaw_scale": self.jaw_scale}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JawFirstLatent":
        """Inverse of ``to_dict``; names an unknown key."""
        fields = {"expression_dim", "jaw_dim", "latent_dim", "jaw_scale"}
        unknown = sorted(set(data) - fields - {"kind"})
        if unknown:
            raise ValueError(f"normalisation: unknown key(s) {', '.join(unknown)} for kind {KIND!r}")
        return cls(**{k: data[k] for k in fields if k in data})
