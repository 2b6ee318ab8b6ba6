"""The control checks measure what their names say, on generators with known output."""

import numpy as np

from paindiffusion_ros.eval.baselines import Generation
from paindiffusion_ros.eval.controls import divergence_check, movement


def onset_then_steady(stimulus_c, expressiveness, emotion, seed):
    """A face at rest for the first 64 frames, then a steady response of size 2 (± a seed wobble)."""
    frames = len(stimulus_c)
    level = np.where(np.arange(frames) < 64, 0.1, 2.0 + 0.01 * seed).astype(np.float32)
    latent = np.repeat(level[:, None], 53, axis=1) + 0.05 * np.sin(2 * np.pi * np.arange(frames) / 64)[:, None]
    return Generation(latent.astype(np.float32), level * 4)


def test_divergence_is_measured_after_one_lead_in_cycle():
    calls = []

    def generate(stimulus_c, *rest):
        calls.append(len(stimulus_c))
        return onset_then_steady(stimulus_c, *rest)

    result = divergence_check(generate, 1.0, 5, frames=640, seeds=(0, 1))
    assert calls == [704, 704] and result["lead_in"] == 64
    assert result["first"]["pspi_mean"] == result["last"]["pspi_mean"]
    assert result["stable"] and all(abs(r - 1.0) < 1e-6 for r in result["ratios"].values())


def test_divergence_flags_a_stream_that_grows():
    def growing(stimulus_c, expressiveness, emotion, seed):
        ramp = np.linspace(1.0, 5.0, len(stimulus_c), dtype=np.float32)
        return Generation(np.repeat(ramp[:, None], 53, axis=1), ramp)

    result = divergence_check(growing, 1.0, 5, frames=640, seeds=(0,))
    assert not result["stable"] and result["ratios"]["pspi_mean"] > 2.0


def test_movement_is_the_mean_absolute_frame_to_frame_change():
    latent = np.array([[0.0, 0.0], [1.0, -1.0], [1.0, 1.0]])
    assert movement(latent) == (1 + 1 + 0 + 2) / 4
