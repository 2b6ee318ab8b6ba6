"""Training: a 20-step smoke run lowers the loss, resuming is exact, configs fail clearly."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from paindiffusion_ros.data.sources import DataConfig, load_data
from paindiffusion_ros.model.checkpoint import load_checkpoint
from paindiffusion_ros.model.conditions import Conditions
from paindiffusion_ros.model.config import ModelConfig
from paindiffusion_ros.model.embedding import ConditionEncoder
from paindiffusion_ros.model.network import TemporalUNet
from paindiffusion_ros.model.train import RunConfig, TrainConfig, Trainer, load_run_config

TINY_MODEL = ModelConfig(channels=(16, 32), attention_levels=(False, True), heads=2, groups=4,
                         embed_dim=16, cond_dim=16, window=32, stack=4)
DATA = DataConfig(subjects=4, seconds=40.0)


@pytest.fixture(scope="module")
def data():
    return load_data(DATA, "train", progress=False), load_data(DATA, "validation", 2, 20.0, progress=False)


def tiny_run(steps: int, **training) -> RunConfig:
    return RunConfig(TINY_MODEL, DATA, TrainConfig(steps=steps, batch_size=16, lr=3e-3, checkpoint_every=1000, threads=1, **training))


def test_smoke_run_lowers_the_loss_and_writes_a_checkpoint(tmp_path, data):
    trainer = Trainer(tiny_run(20), tmp_path, *data, progress=False)
    before = trainer.validation_loss(trainer.net)
    info = trainer.run()
    assert trainer.validation_loss(trainer.net) < before
    assert info["validation_loss"] < before
    ckpt = load_checkpoint(tmp_path, expected_binding="builtin-facs-53")
    assert ckpt.config == TINY_MODEL
    assert ckpt.training["steps"] == 20 and "CPU" in ckpt.training["hardware"]
    assert ckpt.training["data_seed"] == 0 and ckpt.training["warmup_steps"] >= 1
    for name, tensor in ckpt.net.state_dict().items():
        torch.testing.assert_close(tensor, trainer.ema.state_dict()[name])


def test_resuming_continues_exactly(tmp_path, data):
    straight = Trainer(tiny_run(12), tmp_path / "a", *data, progress=False)
    straight.run()
    first = Trainer(tiny_run(6), tmp_path / "b", *data, progress=False)
    first.run()
    second = Trainer(tiny_run(12), tmp_path / "b", *data, progress=False)
    assert second.resume() and second.step == 6
    second.run()
    for name, tensor in straight.net.state_dict().items():
        torch.testing.assert_close(second.net.state_dict()[name], tensor)
    for name, tensor in straight.ema.state_dict().items():
        torch.testing.assert_close(second.ema.state_dict()[name], tensor)


def test_resuming_with_another_model_is_refused(tmp_path, data):
    Trainer(tiny_run(2), tmp_path, *data, progress=False).run()
    other = RunConfig(replace(TINY_MODEL, embed_dim=32), DATA, TrainConfig(steps=4))
    with pytest.raises(ValueError, match="different model section"):
        Trainer(other, tmp_path, *data, progress=False).resume()


def test_config_file_errors_name_the_key(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("training: {stepz: 3}\n")
    with pytest.raises(ValueError, match="stepz"):
        load_run_config(path)
    path.write_text("training: {lr: 5.0}\n")
    with pytest.raises(ValueError, match=r"lr=5.0 is outside"):
        load_run_config(path)
    path.write_text("optimizer: {}\n")
    with pytest.raises(ValueError, match="optimizer"):
        load_run_config(path)


def test_default_config_file_parses():
    config = load_run_config(Path(__file__).parent.parent / "config" / "train_default.yaml")
    defaults = ModelConfig()
    tuned = ("p_mean", "p_std", "sigma_max", "stimulus_history", "expressiveness_max", "channels", "global_scale_shift", "p_context")
    architecture = replace(config.model, **{name: getattr(defaults, name) for name in tuned})
    assert architecture == defaults
    assert config.model.stimulus_history * config.model.stack >= 2 * 25  # covers the 1–2 s facial latency
    assert config.model.channels[0] >= config.model.stack * config.model.latent_dim  # a token's frames fit level 0
    assert config.training.ema_decay == pytest.approx(0.999) and config.model.condition_dropout == pytest.approx(0.1)


def test_stimulus_tokens_see_their_causal_history():
    stack, history, tokens = 4, 3, 8
    encoder = ConditionEncoder(stack, 16, history).eval()
    base = torch.full((1, stack * tokens), 32.0)
    changed = base.clone()
    changed[0, 2 * stack + 1] = 50.0  # a frame inside token 2
    cond = [Conditions(s, torch.ones(1), torch.zeros(1, dtype=torch.long)) for s in (base, changed)]
    with torch.no_grad():
        (_, a), (_, b) = encoder(cond[0], tokens), encoder(cond[1], tokens)
    moved = (a - b).abs().amax(-1)[0] > 1e-6
    assert moved.tolist() == [False, False, True, True, True, False, False, False]


def test_global_scale_shift_lets_expressiveness_reach_a_net_without_attention():
    torch.manual_seed(0)
    config = replace(TINY_MODEL, attention_levels=(False, False))
    x, c_noise, stimulus = torch.randn(1, 32, 53), torch.zeros(1, 32), torch.full((1, 32), 40.0)
    for global_scale_shift, reaches in ((False, False), (True, True)):
        net = TemporalUNet(replace(config, global_scale_shift=global_scale_shift)).eval()
        for parameter in net.parameters():  # the zero-initialised output layers would hide every path
            if not parameter.any():
                torch.nn.init.normal_(parameter, std=0.1)
        with torch.no_grad():
            out = [net(x, c_noise, Conditions(stimulus, torch.tensor([p]), torch.zeros(1, dtype=torch.long))) for p in (0.5, 3.0)]
        assert (not torch.allclose(out[0], out[1])) == reaches
