"""ONNX export of the guided step: torch/onnxruntime parity, stale-export detection, the export command."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from paindiffusion_ros import cli
from paindiffusion_ros.model.backends import make_backend
from paindiffusion_ros.model.benchmark import random_checkpoint
from paindiffusion_ros.model.checkpoint import load_checkpoint
from paindiffusion_ros.model.config import TINY_CONFIG
from paindiffusion_ros.model.export import export_onnx_bytes, onnx_matches
from paindiffusion_ros.model.generator import GeneratorConfig, PainGenerator
from paindiffusion_ros.model.parity import onnx_parity

torch.set_num_threads(1)  # tiny forwards: one thread avoids OpenMP spin contention on a shared 2-core CPU


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory):
    return random_checkpoint(tmp_path_factory.mktemp("onnx") / "tiny", TINY_CONFIG, seed=4)


def test_guided_step_parity(checkpoint_dir):
    checkpoint = load_checkpoint(checkpoint_dir)
    assert onnx_parity(checkpoint, export_onnx_bytes(checkpoint, 32), 32) <= 1e-4


def test_parity_with_the_optional_conditioning_and_sigma_max_80(tmp_path):
    """The options config/train_default.yaml turns on: stimulus history, global scale-shift, σ_max 80."""
    config = replace(TINY_CONFIG, stimulus_history=4, global_scale_shift=True, sigma_max=80.0, expressiveness_max=4.0)
    checkpoint = load_checkpoint(random_checkpoint(tmp_path / "options", config, seed=6))
    assert checkpoint.config == config
    assert onnx_parity(checkpoint, export_onnx_bytes(checkpoint, 32), 32) <= 1e-4


def test_generated_frames_agree_between_backends(checkpoint_dir):
    frames = {}
    for backend in ("torch", "onnx"):
        gen = PainGenerator(GeneratorConfig(model=str(checkpoint_dir), backend=backend, window=32, context=8, horizon=8,
                                            steps=6, seed=5))
        frames[backend] = np.concatenate([gen.advance(np.full(8, 32.0 + 2 * c)).expression for c in range(6)])
    assert np.abs(frames["torch"] - frames["onnx"]).max() <= 1e-4


def test_export_command_writes_a_matching_file(checkpoint_dir, capsys):
    assert cli.main(["export", "--model", str(checkpoint_dir), "--window", "32", "--check"]) == 0
    assert "max abs diff" in capsys.readouterr().out
    checkpoint = load_checkpoint(checkpoint_dir)
    assert onnx_matches(checkpoint.onnx_path, checkpoint, 32)
    assert not onnx_matches(checkpoint.onnx_path, checkpoint, 64)
    assert make_backend("onnx", checkpoint, 32).session is not None
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        make_backend("tpu", checkpoint, 32)


def test_export_command_names_a_missing_model(tmp_path, capsys):
    assert cli.main(["export", "--model", str(tmp_path / "absent")]) == 2
    assert "absent" in capsys.readouterr().err
