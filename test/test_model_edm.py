"""EDM preconditioning (paper eq. 3, Karras et al. 2022 Table 1) and the per-frame loss."""

import dataclasses
import math

import torch
from torch import nn

from paindiffusion_ros.model.conditions import Conditions
from paindiffusion_ros.model.config import ModelConfig
from paindiffusion_ros.model.edm import EDMPrecond, clean_context, edm_coefficients, edm_loss, sample_training_sigma
from paindiffusion_ros.model.network import TemporalUNet

torch.set_num_threads(1)  # tiny forwards: one thread avoids OpenMP spin contention on a shared 2-core CPU

TINY = ModelConfig(channels=(16, 32), embed_dim=16, cond_dim=16, heads=2, groups=4, window=16)


class ZeroNet(nn.Module):
    config = TINY

    def forward(self, x, c_noise, cond):
        return torch.zeros_like(x)


def conditions(batch: int, frames: int) -> Conditions:
    g = torch.Generator().manual_seed(3)
    return Conditions(
        32 + 18 * torch.rand(batch, frames, generator=g),
        16 * torch.rand(batch, generator=g),
        torch.randint(0, 8, (batch,), generator=g),
    )


def test_c_terms_match_the_formulas():
    sigma_data = 0.7
    for s in (0.002, 0.1, 1.0, 5.0, 80.0):
        c = edm_coefficients(torch.tensor([s], dtype=torch.float64), sigma_data)
        assert math.isclose(c.c_skip.item(), sigma_data**2 / (s**2 + sigma_data**2), rel_tol=1e-12)
        assert math.isclose(c.c_out.item(), s * sigma_data / math.sqrt(s**2 + sigma_data**2), rel_tol=1e-12)
        assert math.isclose(c.c_in.item(), 1 / math.sqrt(s**2 + sigma_data**2), rel_tol=1e-12)
        assert math.isclose(c.c_noise.item(), math.log(s) / 4, rel_tol=1e-12)


def test_denoiser_is_identity_when_f_is_zero_and_sigma_vanishes():
    precond = EDMPrecond(ZeroNet(), sigma_data=1.0)
    x = torch.randn(2, 16, 53, generator=torch.Generator().manual_seed(0))
    out = precond(x, torch.full((2, 16), 1e-6), conditions(2, 16))
    torch.testing.assert_close(out, x, atol=1e-6, rtol=1e-6)
    at_zero = precond(x, torch.zeros(2, 16), conditions(2, 16))
    torch.testing.assert_close(at_zero, x)


def test_each_frame_uses_its_own_sigma():
    precond = EDMPrecond(ZeroNet(), sigma_data=1.0)
    x = torch.ones(1, 16, 53)
    sigma = torch.linspace(0.0, 10.0, 16).unsqueeze(0)
    out = precond(x, sigma, conditions(1, 16))
    expected = 1.0 / (sigma**2 + 1.0)
    torch.testing.assert_close(out[..., 0], expected)


def test_training_sigma_is_shared_within_a_stacked_token_and_log_normal():
    sigma = sample_training_sigma(512, 64, 4, -1.2, 1.2, torch.Generator().manual_seed(1))
    tokens = sigma.reshape(512, 16, 4)
    assert torch.equal(tokens, tokens[..., :1].expand_as(tokens))
    log = tokens[..., 0].log()
    assert abs(log.mean().item() + 1.2) < 0.03 and abs(log.std().item() - 1.2) < 0.03


def test_loss_is_seeded_finite_and_trains():
    torch.manual_seed(0)
    net = TemporalUNet(TINY)
    precond = EDMPrecond(net, TINY.sigma_data)
    z0 = torch.randn(4, 16, 53, generator=torch.Generator().manual_seed(2))
    cond = conditions(4, 16)
    first = edm_loss(precond, z0, cond, torch.Generator().manual_seed(5))
    again = edm_loss(precond, z0, cond, torch.Generator().manual_seed(5))
    assert torch.isfinite(first) and first.item() == again.item()
    optim = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for step in range(30):
        loss = edm_loss(precond, z0, cond.drop(0.1, torch.Generator().manual_seed(step)), torch.Generator().manual_seed(step))
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) < sum(losses[:5])


def test_clean_context_zeroes_a_token_prefix_in_the_chosen_share_of_windows():
    sigma = sample_training_sigma(2000, 64, 4, 0.4, 1.7, torch.Generator().manual_seed(3))
    out = clean_context(sigma, 4, 0.5, torch.Generator().manual_seed(4))
    clean = out == 0
    tokens = clean.reshape(2000, 16, 4)
    assert torch.equal(tokens, tokens[..., :1].expand_as(tokens))
    lengths = tokens[..., 0].sum(1)
    # a prefix: every clean token precedes every noisy one
    assert torch.equal(tokens[..., 0], torch.arange(16) < lengths.unsqueeze(1))
    assert abs((lengths > 0).float().mean().item() - 0.5) < 0.04
    assert lengths.max().item() == 8 and lengths[lengths > 0].min().item() == 1
    assert torch.equal(out[~clean], sigma[~clean])


def test_loss_with_clean_context_is_the_mean_over_the_noisy_frames_only():
    torch.manual_seed(0)
    config = dataclasses.replace(TINY, p_context=1.0)
    precond = EDMPrecond(TemporalUNet(config), config.sigma_data)
    z0 = torch.randn(4, 32, 53, generator=torch.Generator().manual_seed(2))
    cond = conditions(4, 32)
    loss = edm_loss(precond, z0, cond, torch.Generator().manual_seed(5))

    g = torch.Generator().manual_seed(5)  # the same draws, in the loss's order
    sigma = clean_context(sample_training_sigma(4, 32, 4, config.p_mean, config.p_std, g), 4, 1.0, g)
    noise = torch.randn(z0.shape, generator=g) * sigma.unsqueeze(-1)
    error = (precond(z0 + noise, sigma, cond) - z0) ** 2
    noisy = sigma > 0
    assert (~noisy).any() and noisy.any()
    assert torch.equal(error[~noisy], torch.zeros_like(error[~noisy]))
    weight = (sigma[noisy] ** 2 + 1) / sigma[noisy] ** 2
    torch.testing.assert_close(loss, (weight.unsqueeze(-1) * error[noisy]).mean())
