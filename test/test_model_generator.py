"""PainGenerator: chunks, decoding, run-time updates, reset and model-path resolution."""

import dataclasses

import numpy as np
import pytest
import torch

from paindiffusion_ros.face.binding import BUILTIN_FACS
from paindiffusion_ros.model.benchmark import random_checkpoint
from paindiffusion_ros.model.checkpoint import CheckpointError
from paindiffusion_ros.model.config import TINY_CONFIG
from paindiffusion_ros.model.generator import (
    DEFAULT_MODEL_NAME,
    GeneratorConfig,
    PainGenerator,
    default_model_dir,
    resolve_model_dir,
)

torch.set_num_threads(1)  # tiny forwards: one thread avoids OpenMP spin contention on a shared 2-core CPU


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = random_checkpoint(tmp_path_factory.mktemp("gen") / "tiny", TINY_CONFIG, seed=2)
    return GeneratorConfig(model=str(path), backend="torch", window=32, context=8, horizon=8, steps=6, seed=11)


def chunks(gen, count):
    return [gen.advance(np.full(8, 36.0 + c)) for c in range(count)]


def test_chunks_have_the_contract_shapes(config):
    gen = PainGenerator(config)
    assert gen.binding is BUILTIN_FACS and gen.horizon == 8 and gen.fps == 25
    chunk = gen.advance(np.full(8, 40.0))
    assert chunk.expression.shape == (8, 50) and chunk.expression.dtype == np.float32
    assert chunk.jaw_pose.shape == (8, 3) and chunk.jaw_pose.dtype == np.float32
    assert chunk.pspi.shape == (8,) and chunk.pspi.dtype == np.float32
    np.testing.assert_allclose(chunk.pspi, BUILTIN_FACS.pspi(chunk.expression), rtol=1e-6)


def test_reset_and_seed_reproduce(config):
    gen = PainGenerator(config)
    first = chunks(gen, 3)
    gen.reset()
    again = chunks(gen, 3)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.expression, b.expression)
    gen.update(seed=12)
    gen.reset()
    assert not np.array_equal(chunks(gen, 1)[0].expression, first[0].expression)


def test_update_changes_the_output_and_rejects_bad_values(config):
    base = PainGenerator(config)
    changed = PainGenerator(config)
    changed.update(emotion="fear", expressiveness=12.0, guidance_stimulus=3.0)
    assert changed.config.emotion == "fear"
    assert not np.allclose(base.advance(np.full(8, 45.0)).expression, changed.advance(np.full(8, 45.0)).expression)
    for bad, message in (
        ({"expressiveness": 17.0}, "expressiveness = 17.0 is outside"),
        ({"emotion": "joy"}, "emotion = 'joy' is not one of"),
        ({"guidance_emotion": "high"}, "guidance_emotion = 'high' has the wrong type"),
        ({"seed": -1}, "seed = -1 is outside"),
        ({"steps": 4}, "'steps' cannot change at run time"),
    ):
        with pytest.raises(ValueError, match=message):
            changed.update(**bad)
    assert changed.config.emotion == "fear"


def test_bad_construction_settings(config):
    with pytest.raises(ValueError, match="backend = 'tensorrt'"):
        PainGenerator(dataclasses.replace(config, backend="tensorrt"))
    with pytest.raises(ValueError, match="context \\+ horizon = 40 exceeds window = 32"):
        PainGenerator(dataclasses.replace(config, context=32))


def test_model_paths(tmp_path):
    assert default_model_dir().name == DEFAULT_MODEL_NAME
    assert resolve_model_dir("") == default_model_dir()
    assert resolve_model_dir(str(tmp_path)) == tmp_path
    with pytest.raises(CheckpointError, match="nowhere"):
        PainGenerator(GeneratorConfig(model=str(tmp_path / "nowhere")))
