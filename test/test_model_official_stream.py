"""``ChunkStream`` (the authors' streaming) and the generator running an imported model."""

import dataclasses

import numpy as np
import pytest
import torch

from paindiffusion_ros.face.binding import FLAME_EMOCA_100
from paindiffusion_ros.model.checkpoint import save_checkpoint
from paindiffusion_ros.model.chunk_stream import ChunkStream, ChunkStreamConfig
from paindiffusion_ros.model.config import OfficialUNetConfig
from paindiffusion_ros.model.generator import GeneratorConfig, PainGenerator
from paindiffusion_ros.model.official_latent import JawFirstLatent
from paindiffusion_ros.model.official_network import OfficialUNet1D
from paindiffusion_ros.model.schedule import floored_level_sigmas

TINY = OfficialUNetConfig(latent_dim=112, dim=4, heads=1, head_dim=4, cond_dim=8, window=16)
SAMPLING = ChunkStreamConfig(window=16, context=4, horizon=12, levels=3, uncertainty=4.0)


class Recorder:
    """A stand-in denoiser D(x) = x / 2 that keeps what it was given."""

    def __init__(self):
        self.calls = []

    def __call__(self, x, sigma, stimulus, expressiveness, emotion, strengths):
        self.calls.append((x.clone(), sigma.clone(), stimulus.clone(), float(expressiveness), int(emotion), strengths.clone()))
        return x / 2


def test_first_call_denoises_the_whole_window_then_each_call_its_new_tokens():
    denoise = Recorder()
    stream = ChunkStream(denoise, TINY, SAMPLING, seed=1)
    ladder = floored_level_sigmas(3, TINY.sigma_min, TINY.sigma_max, TINY.rho).float()
    first = stream.advance(np.full(12, 40.0, np.float32))
    assert first.shape == (12, 112) and torch.isfinite(first).all()
    assert len(denoise.calls) == 2 + 4 * 3  # levels − 1 + ⌊u·(tokens − 1)⌋ with 4 new tokens
    _, sigma0, stimulus0, *_ = denoise.calls[0]
    assert torch.equal(sigma0, ladder[-1].expand(1, 16)) and torch.equal(stimulus0, torch.full((1, 16), 40.0))
    denoise.calls.clear()
    second = stream.advance(np.linspace(41, 45, 12, dtype=np.float32))
    assert len(denoise.calls) == 2 + 4 * 2
    for x, sigma, stimulus, *_ in denoise.calls:
        assert torch.all(sigma[0, :4] == ladder[0])  # context held at σ_min, never moved
        assert torch.equal(stimulus[0, :4], torch.full((4,), 40.0))
        assert torch.equal(stimulus[0, 4:], torch.linspace(41, 45, 12))
    context = denoise.calls[0][0][0, :4]
    assert torch.equal(context, first[-4:])
    assert torch.equal(denoise.calls[-1][0][0, :4], context)
    assert torch.all(denoise.calls[0][1][0, 4:] == ladder[-1]) and second.shape == (12, 112)


def test_the_last_step_lands_on_sigma_min_with_a_first_order_step():
    """With D(x) = x/2 each move σ → σ' is x' = (σ'/σ)·x − expm1(−h)·x/2, h = ln σ − ln σ'; no 2M correction."""
    denoise = Recorder()
    stream = ChunkStream(denoise, TINY, SAMPLING, seed=1)
    out = stream.advance(np.full(12, 40.0, np.float32))
    last_x, last_sigma = denoise.calls[-1][0], denoise.calls[-1][1]
    sigma_next = torch.full_like(last_sigma, float(floored_level_sigmas(3, TINY.sigma_min, TINY.sigma_max, TINY.rho)[0]))
    h = last_sigma.log() - sigma_next.log()
    expected = (sigma_next / last_sigma).unsqueeze(-1) * last_x - torch.expm1(-h).unsqueeze(-1) * last_x / 2
    moving = (last_sigma > sigma_next)[0]
    expected = torch.where(moving.unsqueeze(-1), expected[0], last_x[0])
    torch.testing.assert_close(out, expected[-12:], rtol=1e-6, atol=1e-6)


def test_seed_reset_reseed_and_snapshot():
    stimulus = np.full(12, 38.0, np.float32)
    a = ChunkStream(Recorder(), TINY, SAMPLING, seed=3)
    b = ChunkStream(Recorder(), TINY, SAMPLING, seed=3)
    first = a.advance(stimulus)
    assert torch.equal(first, b.advance(stimulus))
    saved = a.snapshot()
    second = a.advance(stimulus)
    a.restore(saved)
    assert torch.equal(a.advance(stimulus), second)
    a.reset()
    assert torch.equal(a.advance(stimulus), first)
    a.reseed(4)
    assert not torch.equal(a.advance(stimulus), second)


def test_bad_input_and_settings_are_named():
    stream = ChunkStream(Recorder(), TINY, SAMPLING)
    with pytest.raises(ValueError, match="12 finite °C values"):
        stream.advance(np.full(12, np.nan, np.float32))
    with pytest.raises(ValueError, match="12 finite °C values"):
        stream.advance(np.full(8, 40.0, np.float32))
    with pytest.raises(ValueError, match="context \\+ horizon = 12 must equal window = 16"):
        ChunkStream(Recorder(), TINY, dataclasses.replace(SAMPLING, context=0))
    with pytest.raises(ValueError, match="sampling context = 6 must be a multiple of the model's stack 4"):
        ChunkStream(Recorder(), TINY, dataclasses.replace(SAMPLING, context=6, horizon=10))


@pytest.fixture(scope="module")
def imported_tiny(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny-official")
    torch.manual_seed(0)
    save_checkpoint(directory, OfficialUNet1D(TINY), TINY, JawFirstLatent(latent_dim=112), FLAME_EMOCA_100, {}, SAMPLING)
    return directory


def test_generator_streams_an_imported_model_with_its_own_sampling(imported_tiny):
    """(The ONNX runtime of an imported model: test_model_official_import.)"""
    generator = PainGenerator(GeneratorConfig(model=str(imported_tiny), backend="torch", threads=1, expressiveness=8.0))
    assert generator.horizon == 12 and generator.binding.name == "flame-emoca-100"
    chunk = generator.advance(np.full(12, 45.0, np.float32))
    assert chunk.expression.shape == (12, 100) and chunk.jaw_pose.shape == (12, 3) and chunk.pspi is None
    assert np.isfinite(chunk.expression).all() and np.isfinite(chunk.jaw_pose).all()


def test_generator_refuses_a_model_made_for_another_frame_rate(tmp_path):
    sampling = dataclasses.replace(SAMPLING, frame_rate=30.0)
    save_checkpoint(tmp_path, OfficialUNet1D(TINY), TINY, JawFirstLatent(latent_dim=112), FLAME_EMOCA_100, {}, sampling)
    with pytest.raises(ValueError, match="made for 30 frames per second; the face runs at 25"):
        PainGenerator(GeneratorConfig(model=str(tmp_path), backend="torch"))
