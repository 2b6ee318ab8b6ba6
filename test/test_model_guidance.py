"""Multi-condition guidance (paper eq. 7) on one batched forward."""

import torch

from paindiffusion_ros.model.conditions import Conditions
from paindiffusion_ros.model.config import TINY_CONFIG
from paindiffusion_ros.model.edm import EDMPrecond
from paindiffusion_ros.model.guidance import GuidedDenoiser, guidance_keep_mask
from paindiffusion_ros.model.network import TemporalUNet

torch.set_num_threads(1)  # tiny forwards: one thread avoids OpenMP spin contention on a shared 2-core CPU


def setup_module():
    global PRECOND, GUIDED, INPUTS
    torch.manual_seed(0)
    net = TemporalUNet(TINY_CONFIG).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    PRECOND = EDMPrecond(net, 1.0)
    GUIDED = GuidedDenoiser(PRECOND)
    g = torch.Generator().manual_seed(1)
    INPUTS = (
        torch.randn(1, 32, 53, generator=g),
        torch.full((1, 32), 2.0),
        32 + 18 * torch.rand(1, 32, generator=g),
        torch.tensor([5.0]),
        torch.tensor([2]),
    )


def plain(keep):
    x, sigma, stim, expr, emo = INPUTS
    with torch.no_grad():
        return PRECOND(x, sigma, Conditions(stim, expr, emo, torch.tensor([keep])))


def test_keep_mask_drops_one_condition_per_block():
    mask = guidance_keep_mask(2)
    assert mask.tolist() == [[True] * 3] * 2 + [[False, True, True]] * 2 + [[True, False, True]] * 2 + [[True, True, False]] * 2


def test_zero_strengths_equal_the_conditional_pass():
    with torch.no_grad():
        guided = GUIDED(*INPUTS, torch.zeros(3))
    torch.testing.assert_close(guided, plain([True, True, True]), atol=1e-5, rtol=1e-5)


def test_dropping_a_condition_changes_the_output():
    full = plain([True, True, True])
    for i in range(3):
        keep = [True, True, True]
        keep[i] = False
        assert (plain(keep) - full).abs().max() > 1e-3


def test_guided_output_is_equation_seven():
    lam = torch.tensor([0.5, 1.0, 2.0])
    with torch.no_grad():
        guided = GUIDED(*INPUTS, lam)
    dropped = [plain([i != j for j in range(3)]) for i in range(3)]
    expected = (1 + lam.sum()) * plain([True, True, True]) - sum(l * d for l, d in zip(lam, dropped))
    torch.testing.assert_close(guided, expected, atol=1e-4, rtol=1e-4)
