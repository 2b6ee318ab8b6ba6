"""DPM-Solver++(2M) on per-frame σ vectors, the Karras ladder and the pyramid scheduling matrix."""

import numpy as np
import torch

from paindiffusion_ros.model.sampler import sample_dpmpp_2m
from paindiffusion_ros.model.schedule import karras_sigmas, level_sigmas, pyramid_levels

MU, S = 1.5, 0.5
SIGMA_MIN, SIGMA_MAX, RHO = 0.02, 5.0, 7.0  # the ModelConfig defaults


def gaussian_denoiser(x, sigma):
    """Ideal denoiser for data ~ N(μ, s²): E[x0 | x] = μ + s²/(s²+σ²)·(x − μ)."""
    shrink = (S**2 / (S**2 + sigma**2)).unsqueeze(-1)
    return MU + shrink * (x - MU)


def test_karras_ladder_endpoints_and_order():
    sigmas = karras_sigmas(20, 0.002, 80.0, 7.0)
    assert sigmas.shape == (21,) and sigmas[0] == 80.0 and abs(sigmas[-2] - 0.002) < 1e-12 and sigmas[-1] == 0
    assert torch.all(sigmas[1:] < sigmas[:-1])
    assert torch.equal(level_sigmas(20, 0.002, 80.0, 7.0), sigmas.flip(0))


def test_second_order_convergence():
    """Variance error of one trajectory shrinks ≈ 4× per doubling of steps (DPM-Solver++(2M) is second order)."""
    exact = S / (S**2 + 80.0**2) ** 0.5
    errors = []
    for steps in (20, 40, 80):
        rows = karras_sigmas(steps, 0.002, 80.0, 7.0).reshape(-1, 1, 1)
        out = sample_dpmpp_2m(gaussian_denoiser, torch.full((1, 1, 1), MU + 1.0, dtype=torch.float64), rows)
        errors.append(abs(((out.item() - MU) / exact) ** 2 - 1))
    assert 3.0 < errors[0] / errors[1] < 5.0 and 3.0 < errors[1] / errors[2] < 5.0


def test_twenty_steps_reproduce_a_gaussian():
    n = 200_000
    sigmas = karras_sigmas(20, SIGMA_MIN, SIGMA_MAX, RHO)
    x = MU + torch.randn(1, n, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * (S**2 + SIGMA_MAX**2) ** 0.5
    rows = sigmas.reshape(-1, 1, 1).expand(-1, 1, n)
    out = sample_dpmpp_2m(gaussian_denoiser, x, rows).flatten()
    assert abs(out.mean().item() / MU - 1) < 0.02
    assert abs(out.var().item() / S**2 - 1) < 0.02


def test_per_frame_pyramid_schedule_gives_every_frame_the_plain_trajectory():
    """Frames that wait at σ_max while others step, then take the same 20 steps, end exactly where a plain run ends."""
    levels = pyramid_levels(20, 6, 6, 2.0)
    sigmas = level_sigmas(20, SIGMA_MIN, SIGMA_MAX, RHO)[torch.as_tensor(levels)]
    start = MU + torch.randn(1000, 1, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * SIGMA_MAX
    out = sample_dpmpp_2m(gaussian_denoiser, start.expand(-1, 6, -1), sigmas.unsqueeze(1).expand(-1, 1000, -1))
    plain = sample_dpmpp_2m(gaussian_denoiser, start, karras_sigmas(20, SIGMA_MIN, SIGMA_MAX, RHO).reshape(-1, 1, 1))
    torch.testing.assert_close(out, plain.expand(-1, 6, -1), rtol=1e-12, atol=1e-12)


def test_pyramid_matches_the_documented_example():
    expected = np.array([[3, 3, 3, 3, 3], [2, 3, 3, 3, 3], [1, 2, 3, 3, 3], [0, 1, 2, 3, 3], [0, 0, 1, 2, 3]])
    np.testing.assert_array_equal(pyramid_levels(3, 5, 2, 1.0), expected)
    assert pyramid_levels(15, 12, 4, 2.0).shape[0] == 15 + 6 + 1
