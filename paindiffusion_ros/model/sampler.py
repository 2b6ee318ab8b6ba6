"""DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Alg. 2) on per-frame σ vectors.

Written in the data-prediction form of k-diffusion's ``sample_dpmpp_2m`` with t = −ln σ,
but every quantity is elementwise over frames, so one call can move each frame along
its own row of a diffusion-forcing scheduling matrix. A frame whose σ does not change
in a row is left untouched and keeps its multistep history; a frame's first step (or a
step to σ = 0) is first order, later steps use the 2M correction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

Denoise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""D(x (B,T,C), σ (B,T)) → denoised (B,T,C)."""


@dataclass
class SolverState:
    """Per-frame multistep history: the previous denoised estimate and the previous step size h."""

    old_denoised: torch.Tensor
    h_last: torch.Tensor

    @classmethod
    def empty(cls, x: torch.Tensor) -> "SolverState":
        return cls(torch.zeros_like(x), torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device))

    def drop_front(self, frames: int) -> None:
        """Forget the first ``frames`` frames (axis 1) and append as many frames without history."""
        self.old_denoised = torch.cat([self.old_denoised[:, frames:], torch.zeros_like(self.old_denoised[:, :frames])], 1)
        self.h_last = torch.cat([self.h_last[:, frames:], torch.zeros_like(self.h_last[:, :frames])], 1)


def dpmpp_2m_step(x: torch.Tensor, denoised: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor,
                  state: SolverState) -> torch.Tensor:
    """One DPM-Solver++(2M) step from σ to σ_next (both (B,T)); updates ``state`` in place.

    x_next = (σ_next/σ)·x − (e^{−h} − 1)·D̃, h = ln σ − ln σ_next,
    D̃ = (1 + 1/(2r))·D − 1/(2r)·D_prev with r = h_last/h (or D̃ = D on a first step).
    """
    moving = sigma_next < sigma
    safe_sigma = torch.where(moving, sigma, torch.ones_like(sigma))
    final = sigma_next <= 0
    ratio = sigma_next / safe_sigma
    h = torch.where(final | ~moving, torch.ones_like(sigma), safe_sigma.log() - sigma_next.clamp(min=1e-30).log())
    second = moving & ~final & (state.h_last > 0)
    half_inv_r = torch.where(second, h / state.h_last.clamp(min=1e-30) / 2, torch.zeros_like(h)).unsqueeze(-1)
    corrected = (1 + half_inv_r) * denoised - half_inv_r * state.old_denoised
    step = ratio.unsqueeze(-1) * x - torch.expm1(-h).unsqueeze(-1) * corrected
    x_next = torch.where(final.unsqueeze(-1), denoised, step)
    x_next = torch.where(moving.unsqueeze(-1), x_next, x)
    state.old_denoised = torch.where(moving.unsqueeze(-1), denoised, state.old_denoised)
    state.h_last = torch.where(moving, torch.where(final, torch.zeros_like(h), h), state.h_last)
    return x_next


def sample_dpmpp_2m(denoise: Denoise, x: torch.Tensor, sigma_rows: torch.Tensor,
                    state: Optional[SolverState] = None) -> torch.Tensor:
    """Integrate the probability-flow ODE through ``sigma_rows`` (R+1, B, T): one denoiser call per row."""
    state = state or SolverState.empty(x)
    for sigma, sigma_next in zip(sigma_rows[:-1], sigma_rows[1:]):
        x = dpmpp_2m_step(x, denoise(x, sigma), sigma, sigma_next, state)
    return x
