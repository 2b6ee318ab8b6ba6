"""Multi-condition classifier-free guidance, paper eq. 7 (Ho & Salimans 2021).

ẑ = (1 + Σ_c λ_c)·D(z, C) − Σ_c λ_c·D(z, C|c=∅), one λ per condition in the order of
``conditions.CONDITION_NAMES`` (emotion, expressiveness, stimulus). Applied to D rather
than F: D = c_skip·z + c_out·F is affine in F with the same z and σ, so both are equal.
The conditional pass and the three condition-dropped passes run as ONE batched forward.
"""

from __future__ import annotations

import torch
from torch import nn

from .conditions import CONDITION_NAMES, Conditions
from .edm import EDMPrecond

DEFAULT_STRENGTHS: tuple[float, float, float] = (0.5, 1.0, 2.0)
"""λ for (emotion, expressiveness, stimulus), the paper's ablation optimum (§IV, Table II)."""


def guidance_keep_mask(batch: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``keep`` (4·B, 3): block 0 keeps everything, block 1 + i drops condition i."""
    n = len(CONDITION_NAMES)
    blocks = torch.cat([torch.ones(1, n, dtype=torch.bool, device=device), ~torch.eye(n, dtype=torch.bool, device=device)])
    return blocks.repeat_interleave(batch, dim=0)


class GuidedDenoiser(nn.Module):
    """The guided denoiser step D̂(x; σ, c, λ) of eq. 7, with flat tensor inputs (exportable to ONNX)."""

    def __init__(self, precond: EDMPrecond) -> None:
        super().__init__()
        self.precond = precond

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, stimulus_c: torch.Tensor, expressiveness: torch.Tensor,
                emotion: torch.Tensor, strengths: torch.Tensor) -> torch.Tensor:
        """``x`` (B,T,53), ``sigma`` (B,T), ``stimulus_c`` (B,T) °C, ``expressiveness`` (B,), ``emotion`` (B,) long,
        ``strengths`` (3,) λ → guided denoised (B,T,53)."""
        passes = 1 + len(CONDITION_NAMES)
        batch = x.shape[0]
        cond = Conditions(
            stimulus_c.repeat(passes, 1),
            expressiveness.repeat(passes),
            emotion.repeat(passes),
            guidance_keep_mask(batch, x.device),
        )
        denoised = self.precond(x.repeat(passes, 1, 1), sigma.repeat(passes, 1), cond)
        denoised = denoised.reshape(passes, batch, *x.shape[1:])
        weights = strengths.to(x.dtype).reshape(-1, 1, 1, 1)
        return (1 + strengths.sum()) * denoised[0] - (weights * denoised[1:]).sum(0)
