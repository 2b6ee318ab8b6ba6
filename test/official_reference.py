"""Shared inputs of the official-port parity fixture (``test/fixtures/official_parity.npz``).

Imported by ``test/test_model_official_parity.py`` and by ``test/fixtures/make_official_parity.py``,
which ran the authors' code (ais-lab/paindiffusion) on exactly these weights and inputs to
write the fixture. Only torch is imported here, so the producer runs in a separate venv.
Everything is seeded: the same torch build draws the same numbers (the fixture records a
few of them, ``checks``, to tell a changed random generator from a broken port).
"""

from __future__ import annotations

import zlib

import torch

REDUCED_CONFIG: dict = {
    "MODEL": {
        "type": "video", "dim": 8, "dim_mults": [1, 2, 4, 8], "channels": 4, "context_channels": 12, "context_dim": 128,
        "attn_heads": 2, "attn_dim_head": 8, "dropout": 0, "self_condition": False, "learned_variance": False,
        "sinusoidal_pos_emb_theta": 10000,
    },
    "DIFFUSION": {
        "ode_solver": "dpm++", "sample_steps": 8, "frame_stack": 4, "window_size": 8, "context_size": 2,
        "guide": [0.25, 0.5, 1.0], "drop_probs": [0.1, 0.1, 0.1], "self_cond": False, "loss_type": "L1",
        "img_size": 11, "time_delta": 0.1, "warmup_steps": 1000, "data_key": "x", "ctrl_key": "ctrl",
    },
    "DATA_STATS": {
        "emotion": {"mean": 4.6183, "std": 1.3559},
        "expressiveness": {"mean": 8.33, "std": 0.674},
        "stimulus_abs": {"mean": 37.2281, "std": 7.0676},
    },
    "DATASET": {"batch_size": 1},
}
"""The authors' configuration layout (their ``configure/*.yml``) at reduced width (dim 8, 2 heads
of 8) and with 8 σ levels instead of their 35, so the two streamed calls take 62 denoiser
calls, not 116; the 35-level ladder and the pyramids are checked on their own."""

PUBLISHED_LEVELS = 35
"""``sample_steps`` of the published configuration."""

GUIDE = (0.25, 0.5, 1.0)
FRAMES = 32
LATENT = 128
STACK = 4


OUTPUT_GAIN = 0.01
"""Extra gain of the output conv: F stays O(1) as a trained denoiser's does (the random
U-Net's skips otherwise pile up to |F| ~ 400, and sampling with such a D diverges)."""


def fill(name: str, shape: tuple[int, ...]) -> torch.Tensor:
    """Deterministic weights by tensor name (authors' key): gains 1 + 0.1·n, biases 0.1·n,
    weights n/√fan_in (× ``OUTPUT_GAIN`` for the output conv), n ~ N(0, 1) seeded by the name."""
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    noise = torch.randn(shape, generator=g)
    if name.endswith(".g"):
        return 1 + 0.1 * noise
    if name.endswith(".bias"):
        return 0.1 * noise
    fan_in = max(1, noise[0].numel())
    return noise / fan_in**0.5 * (OUTPUT_GAIN if name == "model.final_conv.weight" else 1.0)


def official_weights(shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """``fill`` for every tensor of the authors' state dict layout."""
    return {name: fill(name, tuple(shape)) for name, shape in shapes.items()}


def conditions(seed: int, frames: int = FRAMES) -> tuple[torch.Tensor, float, int]:
    """Stimulus (frames,) °C in 32–50.5, expressiveness, emotion index."""
    g = torch.Generator().manual_seed(seed)
    stimulus = 32 + 18.5 * torch.rand(frames, generator=g)
    return stimulus, 5.0 + 6.0 * float(torch.rand(1, generator=g)), int(torch.randint(0, 8, (1,), generator=g))


def network_inputs() -> dict[str, torch.Tensor]:
    """Two 16-frame windows for the bare network: tokens (2, 4, 4, 128), c_noise per token, conditions
    per sample; the second sample's emotion is dropped (zero embedding)."""
    g = torch.Generator().manual_seed(1)
    tokens = 4
    x = torch.randn(2, tokens, STACK, LATENT, generator=g)
    c_noise = torch.empty(2, tokens).uniform_(-1.6, 1.1, generator=g)
    stim_a, expr_a, emo_a = conditions(2, frames=tokens * STACK)
    stim_b, expr_b, emo_b = conditions(3, frames=tokens * STACK)
    return {
        "x": x, "c_noise": c_noise, "stimulus": torch.stack([stim_a, stim_b]),
        "expressiveness": torch.tensor([expr_a, expr_b]), "emotion": torch.tensor([emo_a, emo_b]),
        "keep": torch.tensor([[True, True, True], [False, True, True]]),
    }


def guided_inputs() -> dict[str, torch.Tensor]:
    """One window for the guided denoiser: latent tokens (1, 8, 4, 128) at per-token σ from 0.002 to 80."""
    g = torch.Generator().manual_seed(4)
    tokens = FRAMES // STACK
    sigma = torch.logspace(torch.log10(torch.tensor(0.002)), torch.log10(torch.tensor(80.0)), tokens).unsqueeze(0)
    x = torch.randn(1, tokens, STACK, LATENT, generator=g) * (1 + sigma.reshape(1, tokens, 1, 1))
    stimulus, expressiveness, emotion = conditions(5)
    return {"x": x, "sigma": sigma, "stimulus": stimulus.unsqueeze(0), "expressiveness": torch.tensor([expressiveness]),
            "emotion": torch.tensor([emotion])}


NOISE_SEED = 6
"""Seed of the torch.Generator both sides draw the stream's fresh noise from (N(0, 1), then × σ_max)."""


HORIZON = 24
"""New frames per streamed call (6 tokens); the first call denoises a whole window (8 tokens)."""


def stream_stimuli() -> tuple[torch.Tensor, torch.Tensor, float, int]:
    """Stimulus of the new frames of two streamed calls (24 each), expressiveness, emotion.

    The authors' per-call condition is the last 32 frames of stimulus: call 1 sees the
    first value held before its 24 frames, call 2 the last 8 frames of call 1 (its
    context) and its own 24.
    """
    first, expressiveness, emotion = conditions(7, frames=HORIZON)
    second, _, _ = conditions(8, frames=HORIZON)
    return first, second, expressiveness, emotion
