"""The diffusion-forcing stream runs indefinitely, exactly h frames per call, seeded."""

import numpy as np
import pytest
import torch

from paindiffusion_ros.model.config import TINY_CONFIG
from paindiffusion_ros.model.edm import EDMPrecond
from paindiffusion_ros.model.guidance import GuidedDenoiser
from paindiffusion_ros.model.network import TemporalUNet
from paindiffusion_ros.model.schedule import level_sigmas
from paindiffusion_ros.model.stream import DiffusionForcingStream, StreamConfig

torch.set_num_threads(1)  # tiny forwards: one thread avoids OpenMP spin contention on a shared 2-core CPU

STREAM = StreamConfig(window=32, context=8, horizon=8, steps=6, uncertainty=2.0)


class CountingDenoiser:
    def __init__(self):
        torch.manual_seed(0)
        net = TemporalUNet(TINY_CONFIG).eval()
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p) * 0.05)
        self.guided = GuidedDenoiser(EDMPrecond(net, TINY_CONFIG.sigma_data))
        self.calls = 0

    def __call__(self, *inputs):
        self.calls += 1
        with torch.inference_mode():
            return self.guided(*inputs)


def run_stream(seed: int, chunks: int, denoiser=None, config: StreamConfig = STREAM):
    denoiser = denoiser or CountingDenoiser()
    stream = DiffusionForcingStream(denoiser, TINY_CONFIG, config, seed=seed)
    stream.expressiveness, stream.emotion, stream.strengths = 4.0, 3, (0.5, 1.0, 2.0)
    frames, calls = [], []
    for chunk in range(chunks):
        before = denoiser.calls
        h = config.horizon
        stimulus = 32 + 18 * np.abs(np.sin(np.arange(chunk * h, chunk * h + h) / 40))
        out = stream.advance(stimulus)
        assert out.shape == (config.horizon, 53)
        frames.append(out)
        calls.append(denoiser.calls - before)
    return torch.cat(frames), calls, stream


def test_640_frames_finite_and_seeded():
    frames, calls, _ = run_stream(seed=7, chunks=80)
    assert frames.shape == (640, 53) and torch.isfinite(frames).all()
    again, _, _ = run_stream(seed=7, chunks=80)
    assert torch.equal(frames, again)
    other, _, _ = run_stream(seed=8, chunks=4)
    assert not torch.equal(frames[:32], other)


def test_rows_per_advance_follow_the_pyramid():
    _, calls, _ = run_stream(seed=0, chunks=5)
    # first advance: N + ⌊u·(h−1)⌋ rows (h = 2 tokens); then u·h rows
    assert calls == [6 + 2, 4, 4, 4, 4]


@pytest.mark.parametrize("config, expected", [
    # no look-ahead: every advance runs the whole pyramid of its fresh tokens, N + ⌊u·(h−1)⌋
    (StreamConfig(window=32, context=16, horizon=16, steps=5, uncertainty=1.0), [5 + 3] * 4),
    # a 2-token look-ahead holds only 4 levels at u = 2 < N = 8: slope raised to 8/2 = 4 → 4·h = 16 rows
    (StreamConfig(window=32, context=8, horizon=16, steps=8, uncertainty=2.0), [8 + 12, 16, 16, 16]),
    # u = 0 is raised the same way (6 / 4 tokens = 1.5 → 3 rows per 2-token advance)
    (StreamConfig(window=32, context=8, horizon=8, steps=6, uncertainty=0.0), [6 + 1, 3, 3, 3]),
])
def test_every_geometry_returns_clean_frames(config, expected):
    frames, calls, stream = run_stream(seed=0, chunks=4, config=config)
    assert calls == expected
    assert torch.isfinite(frames).all() and frames.abs().max() < 50


def test_reset_restarts_identically():
    denoiser = CountingDenoiser()
    first, _, stream = run_stream(seed=3, chunks=3, denoiser=denoiser)
    stream.reset()
    again = torch.cat([stream.advance(32 + 18 * np.abs(np.sin(np.arange(c * 8, c * 8 + 8) / 40))) for c in range(3)])
    assert torch.equal(first, again)


def test_bad_stimulus_and_geometry():
    _, _, stream = run_stream(seed=0, chunks=1)
    with pytest.raises(ValueError, match="8 finite"):
        stream.advance(np.full(7, 40.0))
    with pytest.raises(ValueError, match="8 finite"):
        stream.advance(np.array([40.0] * 7 + [np.nan]))
    with pytest.raises(ValueError, match="horizon = 6 must be a multiple"):
        DiffusionForcingStream(CountingDenoiser(), TINY_CONFIG, StreamConfig(window=32, context=8, horizon=6))


@pytest.mark.parametrize("config", [
    StreamConfig(window=32, context=8, horizon=8, steps=6, uncertainty=2.0),
    StreamConfig(window=32, context=8, horizon=16, steps=8, uncertainty=2.0),  # slope raised to 4
    StreamConfig(window=32, context=16, horizon=16, steps=5, uncertainty=1.0),  # no look-ahead
    StreamConfig(window=32, context=0, horizon=4, steps=20, uncertainty=0.5),
])
def test_every_token_walks_the_whole_karras_ladder_once(config):
    """Over 120 advances every token passes through each σ of the N-step Karras ladder, in order, none skipped."""
    k, seen = TINY_CONFIG.stack, {}

    def recording(x, sigma, *conditions):
        future = sigma[0, config.context::k].double()
        for offset, value in enumerate(future.tolist()):
            seen.setdefault(stream._front + offset, []).append(value)
        return torch.zeros_like(x)

    stream = DiffusionForcingStream(recording, TINY_CONFIG, config, seed=0)
    for _ in range(120):
        assert stream.advance(np.full(config.horizon, 40.0)).shape == (config.horizon, 53)
    ladder = level_sigmas(config.steps, TINY_CONFIG.sigma_min, TINY_CONFIG.sigma_max, TINY_CONFIG.rho).flip(0)
    expected = [round(v, 5) for v in ladder[:-1].tolist()]
    finished = 119 * config.horizon // k
    for token in range(finished):
        walked = [round(v, 5) for v in seen[token] if v > 0]
        assert [v for i, v in enumerate(walked) if i == 0 or v != walked[i - 1]] == expected, token


def test_a_rest_face_starts_the_stream_as_clean_context_at_baseline_heat():
    rest = torch.linspace(-1.0, 1.0, 53)
    seen = []

    def recording(x, sigma, stimulus, *conditions):
        seen.append((x[0].clone(), sigma[0].clone(), stimulus[0].clone()))
        return torch.zeros_like(x)

    stream = DiffusionForcingStream(recording, TINY_CONFIG, STREAM, seed=0, rest=rest)
    stream.advance(np.full(STREAM.horizon, 45.0))
    c = STREAM.context
    for x, sigma, stimulus in seen:
        assert torch.equal(x[:c], rest.expand(c, -1)) and torch.equal(sigma[:c], torch.zeros(c))
        assert torch.equal(stimulus[:c], torch.full((c,), 32.0))
    with pytest.raises(ValueError, match="rest face"):
        DiffusionForcingStream(recording, TINY_CONFIG, STREAM, rest=torch.zeros(50))


def test_restoring_a_snapshot_replays_the_same_frames_and_a_new_stimulus_changes_them():
    denoiser = CountingDenoiser()
    stream = DiffusionForcingStream(denoiser, TINY_CONFIG, STREAM, seed=3)
    stream.expressiveness, stream.emotion, stream.strengths = 4.0, 3, (0.5, 1.0, 2.0)
    stream.advance(np.full(8, 32.0))
    saved = stream.snapshot()
    first = torch.cat([stream.advance(np.full(8, 40.0)) for _ in range(3)])
    stream.restore(saved)
    again = torch.cat([stream.advance(np.full(8, 40.0)) for _ in range(3)])
    assert torch.equal(first, again), "the same conditions after a restore must give the same frames"
    stream.restore(saved)
    hotter = torch.cat([stream.advance(np.full(8, 50.0)) for _ in range(3)])
    assert not torch.equal(first, hotter)
    assert torch.isfinite(hotter).all()
