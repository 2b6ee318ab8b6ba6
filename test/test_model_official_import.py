"""``paindiffusion import-official``: the authors' file formats in, a checked project checkpoint out."""

import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import official_reference as ref
from official_files import REDUCED, official_state, one_thread, ported_net, write_lightning, write_published, write_yaml  # noqa: F401 (one_thread: autouse fixture)
from paindiffusion_ros import cli
from paindiffusion_ros.model.backends import OnnxBackend, TorchBackend
from paindiffusion_ros.model.checkpoint import CheckpointError, load_checkpoint
from paindiffusion_ros.model.official_import import import_official
from paindiffusion_ros.model.official_latent import JawFirstLatent


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The published-format file imported once, with its ONNX export."""
    tmp = tmp_path_factory.mktemp("official")
    summary = import_official(write_published(tmp / "model.safetensors"), tmp / "ckpt")
    return tmp / "ckpt", summary


def same_weights(net, expected) -> bool:
    state = expected.state_dict()
    return all(torch.equal(t, state[k]) for k, t in net.state_dict().items())


def test_published_file_imports_to_a_checkpoint_with_the_authors_settings(imported):
    directory, summary = imported
    checkpoint = load_checkpoint(directory)
    assert same_weights(checkpoint.net, ported_net())
    assert checkpoint.config == REDUCED and checkpoint.binding.name == "flame-emoca-100"
    assert isinstance(checkpoint.normalization, JawFirstLatent) and checkpoint.normalization.latent_dim == 128
    sampling = checkpoint.sampling
    assert (sampling.window, sampling.context, sampling.horizon, sampling.levels) == (32, 8, 24, 8)
    assert sampling.uncertainty == 4.0 and sampling.guidance == (0.25, 0.5, 1.0) and sampling.frame_rate == 25.0
    meta = json.loads((directory / "config.json").read_text())
    assert meta["model"]["architecture"] == "official-unet1d"
    assert meta["model"]["stimulus_mean"] == 37.2281 and meta["model"]["expressiveness_std"] == 0.674
    assert meta["training"]["source"] == "ais-lab/paindiffusion" and meta["training"]["read_as"] == "published model file"
    assert summary["tensors"] == 464


def test_onnx_export_of_the_import_matches_torch(imported):
    directory, summary = imported
    assert summary["onnx_max_abs_diff"] <= 1e-4
    checkpoint = load_checkpoint(directory)
    g = torch.Generator().manual_seed(9)
    sigma = torch.logspace(np.log10(0.002), np.log10(80.0), 8).repeat_interleave(4).unsqueeze(0)
    inputs = (torch.randn(1, 32, 128, generator=g) * (1 + sigma.unsqueeze(-1)), sigma, 32 + 18 * torch.rand(1, 32, generator=g),
              torch.tensor([7.0]), torch.tensor([5]), torch.tensor([0.25, 0.5, 1.0]))
    expected = TorchBackend(checkpoint)(*inputs)
    got = OnnxBackend(str(checkpoint.onnx_path))(*inputs)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=0, atol=1e-4)


def test_an_imported_flame_checkpoint_refuses_another_face(imported):
    with pytest.raises(CheckpointError, match="flame-emoca-100.*builtin-facs-53"):
        load_checkpoint(imported[0], expected_binding="builtin-facs-53")


def test_lightning_checkpoint_needs_the_yaml_and_ema_takes_the_callback_weights(tmp_path):
    ema = {k: v * 0.5 for k, v in official_state().items()}
    path = write_lightning(tmp_path / "last.ckpt", ema_state=ema)
    with pytest.raises(CheckpointError, match="does not hold the model configuration; pass the authors' training YAML with --config"):
        import_official(path, tmp_path / "a", onnx=False)
    yaml_path = write_yaml(tmp_path / "train.yml")
    import_official(path, tmp_path / "raw", yaml_path, onnx=False)
    import_official(path, tmp_path / "ema", yaml_path, ema=True, onnx=False)
    raw, averaged = load_checkpoint(tmp_path / "raw").net, load_checkpoint(tmp_path / "ema").net
    assert same_weights(raw, ported_net())
    torch.testing.assert_close(averaged.unet.init_conv.weight, ema["model.init_conv.weight"], rtol=0, atol=0)
    assert load_checkpoint(tmp_path / "ema").training["read_as"] == "Lightning checkpoint, EMA weights"


def test_ema_needs_weights_in_the_callback_state(tmp_path):
    path = write_lightning(tmp_path / "last.ckpt")
    with pytest.raises(CheckpointError, match="holds no EMA weights .*-EMA.ckpt"):
        import_official(path, tmp_path / "out", write_yaml(tmp_path / "t.yml"), ema=True, onnx=False)
    with pytest.raises(CheckpointError, match="--ema applies to Lightning"):
        import_official(write_published(tmp_path / "p.pt"), tmp_path / "out", ema=True, onnx=False)


def test_safetensors_state_dict_with_yaml(tmp_path):
    path = tmp_path / "state.safetensors"
    save_file(official_state(), str(path))
    with pytest.raises(CheckpointError, match="safetensors file holds no configuration"):
        import_official(path, tmp_path / "x", onnx=False)
    import_official(path, tmp_path / "out", write_yaml(tmp_path / "t.yml"), onnx=False)
    assert same_weights(load_checkpoint(tmp_path / "out").net, ported_net())


def broken(change):
    state = official_state()
    change(state)
    return state


def _set(state, key, value):
    state[key] = value


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("model.final_conv.bias"), r"1 missing: model\.final_conv\.bias"),
    (lambda s: s.pop("model.context_mlp.0.weight"), r"1 missing: model\.context_mlp\.0\.weight"),
    (lambda s: _set(s, "model.extra.weight", torch.zeros(3)), r"1 unexpected: model\.extra\.weight"),
    (lambda s: _set(s, "ema.model.init_conv.weight", torch.zeros(3)), r"1 unexpected: ema\.model\.init_conv\.weight"),
    (lambda s: _set(s, "model.init_conv.weight", torch.zeros(16, 4, 7)), r"model\.init_conv\.weight \(16, 4, 7\), expected \(8, 4, 7\)"),
    (lambda s: _set(s, "model.downs.0.3.fn.block1.context_proj.weight", torch.zeros(8, 3, 1)), r"context_proj\.weight \(8, 3, 1\), expected \(8, 12, 1\)"),
    (lambda s: s["ctrl_emb.emotion.0.bias"].__setitem__(0, float("nan")), r"ctrl_emb\.emotion\.0\.bias \(NaN or infinity\)"),
    (lambda s: _set(s, "model.final_conv.bias", torch.zeros(4, dtype=torch.long)), r"model\.final_conv\.bias \(not a floating-point tensor\)"),
])
def test_every_key_and_shape_is_checked(tmp_path, change, message):
    path = write_published(tmp_path / "model.safetensors", broken(change))
    with pytest.raises(CheckpointError, match="does not match the official-unet1d layout of its configuration .*" + message):
        import_official(path, tmp_path / "out", onnx=False)
    assert not (tmp_path / "out").exists()


def test_all_mismatches_are_reported_in_one_error(tmp_path):
    def change(s):
        s.pop("model.final_conv.bias")
        s["model.init_conv.weight"] = torch.zeros(1)
        s["stray"] = torch.zeros(1)

    with pytest.raises(CheckpointError, match=r"1 missing: .*; 1 unexpected: stray; 1 with the wrong shape: model\.init_conv\.weight"):
        import_official(write_published(tmp_path / "m.pt", broken(change)), tmp_path / "out", onnx=False)


class Payload:
    """Unpickling this would run code; the importer must refuse it without running it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickles_with_code_are_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"model.init_conv.weight": torch.zeros(1)}, "config": {}, "x": Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="holds Python objects other than tensors and plain data .*refusing to unpickle it"):
        import_official(path, tmp_path / "out", onnx=False)
    assert not marker.exists()
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps({"state_dict": Payload(marker)}))
    with pytest.raises(CheckpointError):
        import_official(raw, tmp_path / "out", onnx=False)
    assert not marker.exists()


@pytest.mark.parametrize("content, message", [
    (b"", "not a readable PyTorch checkpoint"),
    (b"\x80\x04not really a pickle", "not a readable PyTorch checkpoint|holds Python objects"),
    (None, "no 'state_dict' dictionary"),
])
def test_unreadable_files_are_named(tmp_path, content, message):
    path = tmp_path / "model.pt"
    if content is None:
        torch.save({"weights": torch.zeros(1)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        import_official(path, tmp_path / "out", onnx=False)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["MODEL"].update(self_condition=True), "MODEL.self_condition is set"),
    (lambda c: c["MODEL"].update(channels=3), r"MODEL\.channels is 3; the port supports 4"),
    (lambda c: c["DIFFUSION"].update(context_size=8), "sampling needs horizon ≥ 4 frames"),
    (lambda c: c["DIFFUSION"].update(sample_steps=1), "levels ≥ 2"),
    (lambda c: c.pop("DATA_STATS"), "no DATA_STATS section"),
    (lambda c: c["DATA_STATS"]["stimulus_abs"].pop("std"), "cannot be used: KeyError"),
])
def test_configurations_the_port_does_not_cover_are_refused(tmp_path, edit, message):
    config = json.loads(json.dumps(ref.REDUCED_CONFIG))
    edit(config)
    with pytest.raises(CheckpointError, match=message):
        import_official(write_published(tmp_path / "m.pt", config=config), tmp_path / "out", onnx=False)


def test_an_existing_checkpoint_is_kept_unless_forced(imported, tmp_path):
    with pytest.raises(CheckpointError, match="already holds a checkpoint; choose another --out or pass --force"):
        import_official(write_published(tmp_path / "m.pt"), imported[0], onnx=False)


def test_cli_reports_success_and_errors_in_one_line(tmp_path, capsys):
    path = write_published(tmp_path / "model.safetensors")
    assert cli.main(["import-official", str(path), "--out", str(tmp_path / "ok"), "--no-onnx"]) == 0
    assert "as published model file: 464 tensors" in capsys.readouterr().out
    assert cli.main(["import-official", str(tmp_path / "absent.pt"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"paindiffusion import-official: official checkpoint {tmp_path / 'absent.pt'} does not exist"]


def test_jaw_first_latent_is_the_authors_layout():
    latent = JawFirstLatent()
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(5, 103)).astype(np.float32)
    z = latent.encode(frames)
    raw = np.concatenate([frames[:, 100:] * 100, frames[:, :100], np.zeros((5, 25), np.float32)], axis=1)
    np.testing.assert_allclose(z, 2 * raw - 1, rtol=1e-6)
    np.testing.assert_allclose(latent.decode(z), frames, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(latent.decode(torch.from_numpy(z)).numpy(), frames, rtol=1e-5, atol=1e-6)
    assert JawFirstLatent.from_dict(latent.to_dict()) == latent
    with pytest.raises(ValueError, match="do not fit a 64-d latent"):
        JawFirstLatent(latent_dim=64)
