"""Checkpoint round-trip and every bad-checkpoint case gives one clear CheckpointError."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from paindiffusion_ros.face.binding import BUILTIN_FACS
from paindiffusion_ros.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from paindiffusion_ros.model.config import ModelConfig
from paindiffusion_ros.model.network import TemporalUNet
from paindiffusion_ros.model.normalization import LatentNormalization

TINY = ModelConfig(channels=(16, 32), embed_dim=16, cond_dim=16, heads=2, groups=4, window=16)


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    net = TemporalUNet(TINY)
    for p in net.parameters():
        p.data.normal_(0, 0.05)
    rng = np.random.default_rng(0)
    norm = LatentNormalization.fit(rng.normal(size=(100, 50)), rng.normal(0, 0.1, size=(100, 3)))
    path = save_checkpoint(tmp_path / "ckpt", net, TINY, norm, BUILTIN_FACS, {"steps": 3})
    return path, net, norm


def test_round_trip(saved):
    path, net, norm = saved
    ckpt = load_checkpoint(path, expected_binding="builtin-facs-53")
    assert ckpt.config == TINY and ckpt.binding is BUILTIN_FACS and ckpt.training == {"steps": 3}
    np.testing.assert_allclose(ckpt.normalization.mean, norm.mean)
    for name, tensor in net.state_dict().items():
        assert torch.equal(ckpt.net.state_dict()[name], tensor)
    assert not ckpt.net.training


def test_wrong_binding(saved):
    with pytest.raises(CheckpointError, match="builtin-facs-53.*flame-emoca-53"):
        load_checkpoint(saved[0], expected_binding="flame-emoca-53")


def test_missing_directory_and_files(saved, tmp_path):
    with pytest.raises(CheckpointError, match="nowhere.*does not exist"):
        load_checkpoint(tmp_path / "nowhere")
    (saved[0] / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="model.safetensors is missing"):
        load_checkpoint(saved[0])


def test_truncated_weights(saved):
    weights = saved[0] / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(saved[0])


def test_missing_extra_and_misshapen_keys(saved):
    weights = saved[0] / "model.safetensors"
    tensors = load_file(str(weights))
    name = "output.bias"
    save_file({k: v for k, v in tensors.items() if k != name}, str(weights))
    with pytest.raises(CheckpointError, match="missing weights output.bias"):
        load_checkpoint(saved[0])
    save_file({**tensors, "stray": torch.zeros(2)}, str(weights))
    with pytest.raises(CheckpointError, match="unexpected weights stray"):
        load_checkpoint(saved[0])
    save_file({**tensors, name: torch.zeros(7)}, str(weights))
    with pytest.raises(CheckpointError, match="'output.bias' has shape \\(7,\\)"):
        load_checkpoint(saved[0])


def test_bad_config_json(saved):
    config = saved[0] / "config.json"
    meta = json.loads(config.read_text())
    config.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(saved[0])
    config.write_text(json.dumps({**meta, "face_binding": "mystery-face"}))
    with pytest.raises(CheckpointError, match="mystery-face"):
        load_checkpoint(saved[0])
    config.write_text(json.dumps({**meta, "model": {**meta["model"], "channels": [16, 32, 64]}}))
    with pytest.raises(CheckpointError, match="config.json.*one entry per level"):
        load_checkpoint(saved[0])


def test_sections_that_are_not_objects(saved):
    config = saved[0] / "config.json"
    meta = json.loads(config.read_text())
    for key in ("model", "normalization"):
        config.write_text(json.dumps({**meta, key: 3}))
        with pytest.raises(CheckpointError, match=f"'{key}' must be a JSON object, got int"):
            load_checkpoint(saved[0])


def test_config_written_before_the_optional_fields_loads_with_their_defaults(saved):
    """Checkpoints saved before stimulus_history, global_scale_shift and expressiveness_max existed still load."""
    config = saved[0] / "config.json"
    meta = json.loads(config.read_text())
    later = ("stimulus_history", "global_scale_shift", "expressiveness_max")
    config.write_text(json.dumps({**meta, "model": {k: v for k, v in meta["model"].items() if k not in later}}))
    assert load_checkpoint(saved[0]).config == TINY
