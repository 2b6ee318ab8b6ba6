"""Noise-level schedules: the Karras σ ladder and the diffusion-forcing scheduling matrix."""

from __future__ import annotations

import numpy as np
import torch


def karras_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float) -> torch.Tensor:
    """Karras et al. 2022, eq. 5: σ_i = (σ_max^{1/ρ} + i/(N−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, then σ_N = 0.

    Returns ``steps + 1`` decreasing values, float64, ending in 0.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho if steps > 1 else torch.tensor([sigma_max], dtype=torch.float64)
    return torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)])


def level_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float) -> torch.Tensor:
    """σ of noise *level* ℓ = 0…N: level 0 is clean (σ = 0), level N is σ_max (the Karras ladder reversed)."""
    return karras_sigmas(steps, sigma_min, sigma_max, rho).flip(0)


def pyramid_level(steps: int, row: int, tokens: torch.Tensor, uncertainty: float) -> torch.Tensor:
    """Noise level of tokens (global index g, float64) at row τ of the pyramid: clip(N − τ + ⌊u·g⌋, 0, N)."""
    return (steps - row + torch.floor(uncertainty * tokens)).clamp(0, steps).long()


def pyramid_levels(steps: int, tokens: int, finish: int, uncertainty: float) -> np.ndarray:
    """Diffusion-forcing "pyramid" scheduling matrix (Chen et al. 2024, §3.3 / App. D; paper §III-E).

    Row m, future token j: ℓ[m, j] = clip(N + ⌊u·j⌋ − m, 0, N) (``pyramid_level``, which the
    stream evaluates row by row). Each row lowers every token by at most one level, tokens
    further in the future start later (more uncertainty), and the last row is the first one
    where tokens 0…finish−1 are all clean. N = ``steps``, u = ``uncertainty``. Returned as
    int (rows, ``tokens``).
    """
    if not 1 <= finish <= tokens:
        raise ValueError(f"finish must be within 1…{tokens}, got {finish}")
    index = torch.arange(tokens, dtype=torch.float64)
    rows = steps + int(np.floor(uncertainty * (finish - 1))) + 1
    return torch.stack([pyramid_level(steps, m, index, uncertainty) for m in range(rows)]).numpy()


def floored_level_sigmas(levels: int, sigma_min: float, sigma_max: float, rho: float) -> torch.Tensor:
    """σ of noise level ℓ = 0 … levels−1 on a ladder that stops at σ_min: the Karras ladder of
    ``levels`` values (eq. 5) without its final 0, reversed, so level 0 is σ_min, not clean.

    The authors' sampler (ais-lab/paindiffusion ``get_timesteps``) works on this ladder: its
    last step lands on σ_min and the context it conditions on is held at σ_min.
    """
    if levels < 2:
        raise ValueError(f"a floored ladder needs at least 2 levels, got {levels}")
    return karras_sigmas(levels, sigma_min, sigma_max, rho)[:-1].flip(0)
