"""EDM preconditioning and training loss (Karras et al. 2022, "Elucidating the design space…"; paper eqs. 3–6).

Everything here works per frame: σ has shape (B, T), one noise level per frame
(diffusion forcing, paper §III-E).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import nn

from .conditions import Conditions

SIGMA_FLOOR = 1e-3
"""σ below this (clean context frames, σ = 0) is embedded as this level in c_noise; c_out → 0 there anyway."""


class Coefficients(NamedTuple):
    c_skip: torch.Tensor
    c_out: torch.Tensor
    c_in: torch.Tensor
    c_noise: torch.Tensor


def edm_coefficients(sigma: torch.Tensor, sigma_data: float) -> Coefficients:
    """Karras et al. 2022, Table 1: c_skip = σ_d²/(σ²+σ_d²), c_out = σ·σ_d/√(σ²+σ_d²),
    c_in = 1/√(σ²+σ_d²), c_noise = ¼·ln σ (σ clamped at ``SIGMA_FLOOR`` for c_noise only)."""
    total = sigma**2 + sigma_data**2
    return Coefficients(
        c_skip=sigma_data**2 / total,
        c_out=sigma * sigma_data / total.sqrt(),
        c_in=total.rsqrt(),
        c_noise=sigma.clamp(min=SIGMA_FLOOR).log() / 4,
    )


class EDMPrecond(nn.Module):
    """D_θ(z; σ, c) = c_skip(σ)·z + c_out(σ)·F_θ(c_in(σ)·z, c_noise(σ), c) — paper eq. 3."""

    def __init__(self, net: nn.Module, sigma_data: float) -> None:
        super().__init__()
        self.net = net
        self.sigma_data = float(sigma_data)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, cond: Conditions) -> torch.Tensor:
        """``x`` (B, T, 53) noisy latent, ``sigma`` (B, T) per-frame σ → denoised (B, T, 53)."""
        c = edm_coefficients(sigma.to(x.dtype), self.sigma_data)
        f = self.net(c.c_in.unsqueeze(-1) * x, c.c_noise, cond)
        return c.c_skip.unsqueeze(-1) * x + c.c_out.unsqueeze(-1) * f


def sample_training_sigma(batch: int, frames: int, stack: int, p_mean: float, p_std: float,
                          generator: Optional[torch.Generator] = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """ln σ ~ N(P_mean, P_std²) drawn independently per token and shared by its ``stack`` frames → (B, T)."""
    if frames % stack:
        raise ValueError(f"edm_loss: {frames} frames is not a multiple of the stack size {stack}")
    draw = torch.randn(batch, frames // stack, generator=generator, device=device)
    return (draw * p_std + p_mean).exp().repeat_interleave(stack, dim=1)


def clean_context(sigma: torch.Tensor, stack: int, p_context: float,
                  generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """σ (B, T) with, in a fraction ``p_context`` of the windows, a clean prefix (σ = 0) of
    1 … T/(2·stack) tokens — the clean context the diffusion-forcing stream conditions on
    (Chen et al. 2024, §3.3: a token at noise level 0 is an observed one)."""
    batch, frames = sigma.shape
    tokens = frames // stack
    has_context = torch.rand(batch, generator=generator, device=sigma.device) < p_context
    length = torch.randint(1, max(tokens // 2, 1) + 1, (batch,), generator=generator, device=sigma.device)
    index = torch.arange(tokens, device=sigma.device)
    clean = (has_context.unsqueeze(1) & (index < length.unsqueeze(1))).repeat_interleave(stack, dim=1)
    return sigma.masked_fill(clean, 0.0)


def edm_loss(precond: EDMPrecond, z0: torch.Tensor, cond: Conditions,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """EDM training loss (paper eqs. 4–6) with an independent log-normal σ per frame.

    E[λ(σ)·‖D_θ(z0 + n; σ, c) − z0‖²], n ~ N(0, σ²I), λ(σ) = (σ²+σ_d²)/(σ·σ_d)², which
    equals eq. 4's ‖F_pred − F_target‖². Frames of one stacked token share σ (see
    ``network``). With ``p_context`` > 0 some windows start with clean context tokens
    (``clean_context``); they condition the others and are left out of the mean, since
    D = z there by construction. Condition dropout is the caller's: pass ``cond.drop(p, generator)``.
    """
    cfg = precond.net.config
    batch, frames, dim = z0.shape
    sigma = sample_training_sigma(batch, frames, cfg.stack, cfg.p_mean, cfg.p_std, generator, z0.device)
    if cfg.p_context > 0:
        sigma = clean_context(sigma, cfg.stack, cfg.p_context, generator)
    noise = torch.randn(z0.shape, generator=generator, device=z0.device) * sigma.unsqueeze(-1)
    denoised = precond(z0 + noise, sigma, cond)
    sd = precond.sigma_data
    noisy = sigma > 0
    weight = torch.where(noisy, (sigma**2 + sd**2) / (sigma * sd).clamp(min=1e-12) ** 2, 0.0)
    return (weight.unsqueeze(-1) * (denoised - z0) ** 2).sum() / (noisy.sum() * dim)
