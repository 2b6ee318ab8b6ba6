"""The port against the authors' own code: outputs it produced on the same weights and inputs.

``fixtures/official_parity.npz`` was written by ``fixtures/make_official_parity.py`` running
ais-lab/paindiffusion (commit 730762f) with the weights and inputs of ``official_reference``;
``fixtures/official_layout.json`` is the state-dict layout of their module at the published
sizes. See ``fixtures/README.md``.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import official_reference as ref
from official_files import REDUCED, REDUCED_SAMPLING, official_layout, one_thread, ported_net  # noqa: F401 (one_thread: autouse fixture)
from paindiffusion_ros.model.chunk_stream import ChunkStream
from paindiffusion_ros.model.conditions import Conditions
from paindiffusion_ros.model.config import OfficialUNetConfig
from paindiffusion_ros.model.edm import EDMPrecond
from paindiffusion_ros.model.guidance import GuidedDenoiser
from paindiffusion_ros.model.official_latent import JawFirstLatent
from paindiffusion_ros.model.schedule import floored_level_sigmas, pyramid_levels

FIXTURES = Path(__file__).parent / "fixtures"
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def expected():
    with np.load(FIXTURES / "official_parity.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def guided():
    return GuidedDenoiser(EDMPrecond(ported_net(), REDUCED.sigma_data)).eval()


def test_the_random_draws_are_the_ones_the_fixture_was_made_with(expected):
    first, _, _, _ = ref.stream_stimuli()
    now = [
        float(ref.network_inputs()["x"][0, 0, 0, 0]), float(ref.guided_inputs()["x"][0, 0, 0, 0]), float(first[0]),
        float(ref.fill("model.init_conv.weight", (8, 4, 7))[0, 0, 0]), float(ref.fill("model.final_conv.weight", (4, 8, 1))[0, 0, 0]),
        float(torch.randn(1, generator=torch.Generator().manual_seed(ref.NOISE_SEED))[0]),
    ]
    np.testing.assert_array_equal(now, expected["checks"], err_msg="torch draws other numbers now: remake the fixture")


def test_the_port_has_every_tensor_of_the_published_module_by_prefix_rename():
    published = {k: tuple(v) for k, v in json.loads((FIXTURES / "official_layout.json").read_text()).items()}
    ours = official_layout(OfficialUNetConfig())
    assert ours == published
    assert len(published) == 464 and sum(int(np.prod(s)) for s in published.values()) == 5_430_148


def test_network_forward_matches_the_authors_unet(expected):
    net = ported_net()
    inputs = ref.network_inputs()
    batch, tokens, k, dim = inputs["x"].shape
    cond = Conditions(inputs["stimulus"], inputs["expressiveness"], inputs["emotion"], inputs["keep"])
    with torch.no_grad():
        out = net(inputs["x"].reshape(batch, tokens * k, dim), inputs["c_noise"].repeat_interleave(k, 1), cond)
    np.testing.assert_allclose(out.reshape(batch, tokens, k, dim).numpy(), expected["network"], rtol=0, atol=TOLERANCE)
    assert np.abs(expected["network"]).max() > 1.0


def test_guided_denoiser_matches_the_authors_follow(expected, guided):
    inputs = ref.guided_inputs()
    x = inputs["x"].reshape(1, ref.FRAMES, ref.LATENT)
    with torch.no_grad():
        out = guided(x, inputs["sigma"].repeat_interleave(ref.STACK, 1), inputs["stimulus"], inputs["expressiveness"],
                     inputs["emotion"], torch.tensor(ref.GUIDE))
    np.testing.assert_allclose(out.reshape(expected["guided"].shape).numpy(), expected["guided"], rtol=0, atol=TOLERANCE)


def test_streamed_chunks_match_the_authors_sample_a_chunk(expected, guided):
    """Call 1 (no context: a whole window) and call 2 (its last 2 tokens as context), same noise."""
    first, second, expressiveness, emotion = ref.stream_stimuli()
    stream = ChunkStream(guided, REDUCED, REDUCED_SAMPLING, seed=ref.NOISE_SEED)
    stream.expressiveness, stream.emotion = expressiveness, emotion
    latent = JawFirstLatent()
    with torch.no_grad():
        outputs = [stream.advance(first), stream.advance(second)]
    for z, theirs in zip(outputs, (expected["stream1"][0, -ref.HORIZON:], expected["stream2"][0])):
        frames = latent.decode(z.numpy())
        np.testing.assert_allclose(frames[:, :100], theirs[:, 3:103], rtol=0, atol=TOLERANCE)
        np.testing.assert_allclose(frames[:, 100:], theirs[:, :3], rtol=0, atol=TOLERANCE / 100)
        np.testing.assert_allclose(z[:, 103:].numpy(), 2 * theirs[:, 103:] - 1, rtol=0, atol=2 * TOLERANCE)


def test_ladder_and_pyramids_of_the_published_sampling_match(expected):
    ladder = floored_level_sigmas(ref.PUBLISHED_LEVELS, 0.002, 80.0, 7.0).float().numpy()
    np.testing.assert_allclose(ladder, expected["ladder"], rtol=1e-6)
    for tokens in (8, 6):
        np.testing.assert_array_equal(pyramid_levels(ref.PUBLISHED_LEVELS - 1, tokens, tokens, 4.0), expected[f"pyramid{tokens}"])
