"""``ChunkStream`` (the authors' streaming) and the generator running an imported model."""

import dataclasses
import time

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
from paindiffusion_ros.model.realtime import FramePlayer, GenerationWorker, StimulusFeed
from paindiffusion_ros.model.schedule import floored_level_sigmas
from waiting import wait_for

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


NODE_STREAM = {"window": 64, "context": 24, "horizon": 4, "uncertainty": 1.67}
"""The node's token-by-token geometry (config/paindiffusion.yaml), which an imported model does not use."""


def test_the_configs_stream_geometry_does_not_override_an_imported_models_sampling(imported_tiny):
    generator = PainGenerator(GeneratorConfig(model=str(imported_tiny), backend="torch", threads=1, **NODE_STREAM))
    assert generator.imported_sampling and generator.horizon == SAMPLING.horizon
    assert generator.describe_stream().startswith("the model's own sampling: window 16, context 4, 12 new frames per call, 3 levels")
    assert generator.advance(np.full(SAMPLING.horizon, 40.0, np.float32)).expression.shape == (12, 100)
    with pytest.raises(ValueError, match="12 finite °C values"):
        generator.advance(np.full(NODE_STREAM["horizon"], 40.0, np.float32))


class RecordingPlayer(FramePlayer):
    """A ``FramePlayer`` that keeps the stimulus each chunk was last pushed with, by first frame."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pushed = {}

    def push(self, expression, jaw_pose, start=None, stimulus_seq=-1, stimulus_c=float("nan")):
        super().push(expression, jaw_pose, start, stimulus_seq, stimulus_c)
        self.pushed[start] = stimulus_c

    def replanned(self, queued, value):
        """Whether at least ``queued`` chunks are queued and every chunk from the first one pushed
        with ``value`` on has been pushed with it (the re-planned queue is complete)."""
        made = [self.pushed[start] for start in sorted(self.pushed)]
        return len(made) >= queued and value in made and set(made[made.index(value):]) == {value}


def test_the_realtime_worker_replans_an_imported_model_a_whole_call_at_a_time(imported_tiny):
    """A stimulus change while calls are queued: the worker restores the sampler's state from
    before the first uncommitted call and makes the queue again; the queued frames are then
    exactly a straight run of the generator with each call's final stimulus."""
    config = GeneratorConfig(model=str(imported_tiny), backend="torch", threads=1, seed=5, **NODE_STREAM)
    generator = PainGenerator(config)
    player, feed = RecordingPlayer(100, 3, fps=25, ease_time=0.04), StimulusFeed(32.0, timeout_s=600.0, threshold_c=0.1)
    worker = GenerationWorker(lambda: generator, player, feed)
    feed.receive(40.0, time.monotonic())
    worker.start()
    try:
        assert wait_for(lambda: player.buffered > worker.low_water)
        queued = len(player.pushed)
        feed.receive(45.0, time.monotonic())
        worker.poke()
        assert wait_for(lambda: worker.replans == 1 and player.replanned(queued, 45.0))
    finally:
        assert worker.stop()
    assert worker.error is None
    assert sorted(player.pushed) == list(range(0, 12 * len(player.pushed), 12)), "whole 12-frame calls, never the node's 4-frame tokens"
    made = [player.pushed[start] for start in sorted(player.pushed)]
    assert made[-1] == 45.0, made
    frames = [player.next_frame() for _ in range(player.buffered)]
    reference = PainGenerator(config)
    expected = np.concatenate([reference.advance(np.full(12, value, np.float32)).expression for value in made])
    np.testing.assert_allclose(np.stack([f.expression for f in frames]), expected, atol=1e-5)
    assert [f.stimulus_c for f in frames] == list(np.repeat(made, 12))
