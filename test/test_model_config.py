"""ModelConfig JSON round-trip, Conditions dropout and the latent normalisation."""

import numpy as np
import pytest
import torch

from paindiffusion_ros.model.conditions import EMOTIONS, Conditions, emotion_index
from paindiffusion_ros.model.config import ModelConfig
from paindiffusion_ros.model.normalization import LatentNormalization


def test_model_config_json_round_trip_and_unknown_key():
    cfg = ModelConfig(channels=(32, 64), attention_levels=(True, True), stack=2)
    assert ModelConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="unknown key.*depthh"):
        ModelConfig.from_dict({**cfg.to_dict(), "depthh": 3})


def test_model_config_rejects_inconsistent_levels():
    with pytest.raises(ValueError, match="one entry per level"):
        ModelConfig(channels=(32, 64), attention_levels=(True,))


def test_emotions_and_lookup():
    assert len(EMOTIONS) == 8 and EMOTIONS[5] == "neutral"
    assert emotion_index("fear") == 3
    with pytest.raises(ValueError, match="'joy'"):
        emotion_index("joy")


def test_drop_is_seeded_and_has_the_right_rate():
    cond = Conditions(torch.full((4000, 8), 40.0), torch.ones(4000), torch.zeros(4000, dtype=torch.long))
    assert cond.keep.all()
    a = cond.drop(0.1, torch.Generator().manual_seed(7))
    b = cond.drop(0.1, torch.Generator().manual_seed(7))
    assert torch.equal(a.keep, b.keep)
    rate = 1 - a.keep.float().mean(0)
    assert torch.all((rate > 0.08) & (rate < 0.12))


def test_conditions_reject_bad_shapes():
    with pytest.raises(ValueError, match="expressiveness"):
        Conditions(torch.zeros(2, 8), torch.zeros(3), torch.zeros(2, dtype=torch.long))


def test_normalization_jaw_scaled_to_psi_variance_and_round_trip():
    rng = np.random.default_rng(0)
    psi = rng.normal(0.5, 2.0, (5000, 50))
    jaw = rng.normal(0.1, 0.02, (5000, 3))
    norm = LatentNormalization.fit(psi, jaw)
    assert norm.jaw_scale == pytest.approx(100.0, rel=0.05)
    z = norm.encode(np.concatenate([psi, jaw], axis=1).astype(np.float32))
    assert z.std() == pytest.approx(1.0, rel=0.05)
    assert z[:, 50:].std() == pytest.approx(z[:, :50].std(), rel=0.05)
    x = norm.decode(z)
    np.testing.assert_allclose(x[:, :50], psi, atol=1e-4)
    np.testing.assert_allclose(x[:, 50:], jaw, atol=1e-5)
    restored = LatentNormalization.from_dict(norm.to_dict())
    np.testing.assert_allclose(restored.encode(torch.as_tensor(x)).numpy(), z, atol=1e-5)
    with pytest.raises(ValueError, match="jaw_scale"):
        LatentNormalization.from_dict({"mean": [0.0] * 53, "scale": 1.0})
