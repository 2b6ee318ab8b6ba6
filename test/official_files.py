"""Files in the authors' formats for the importer and parity tests (weights from ``official_reference``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest
import torch
import yaml

import official_reference as ref
from paindiffusion_ros.model.config import OfficialUNetConfig
from paindiffusion_ros.model.official_import import official_settings, port_state_dict
from paindiffusion_ros.model.official_network import OFFICIAL_PREFIXES, OfficialUNet1D, unused_official_tensors

REDUCED, REDUCED_SAMPLING = official_settings(ref.REDUCED_CONFIG)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread for the module (import it into a test module to apply it): these
    small windows run faster so, above all on a shared, loaded 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def official_layout(config: OfficialUNetConfig, context_dim: int = 128) -> dict[str, tuple[int, ...]]:
    """The authors' state-dict layout for ``config``: the port's keys renamed back, plus the unused tensors."""
    back = {ours: theirs for theirs, ours in OFFICIAL_PREFIXES.items()}
    layout = {}
    for name, tensor in OfficialUNet1D(config).to("meta").state_dict().items():
        prefix = next(p for p in back if name.startswith(p))
        layout[back[prefix] + name[len(prefix):]] = tuple(tensor.shape)
    for name, shape in unused_official_tensors(config).items():
        layout[name] = tuple(context_dim if s is None else s for s in shape)
    return layout


def official_state(config: OfficialUNetConfig = REDUCED) -> dict[str, torch.Tensor]:
    """The authors' state dict for ``config`` filled with the fixture's deterministic weights."""
    return ref.official_weights(official_layout(config))


def ported_net(config: OfficialUNetConfig = REDUCED) -> OfficialUNet1D:
    """``OfficialUNet1D`` loaded with the fixture's weights through the importer's rename (eval mode)."""
    net = OfficialUNet1D(config)
    net.load_state_dict(port_state_dict(official_state(config), config))
    return net.eval()


def write_published(path: Path, state: Optional[dict[str, Any]] = None, config: Optional[dict[str, Any]] = None) -> Path:
    """A file like the published one: ``torch.save({'state_dict', 'config'})``."""
    torch.save({"state_dict": official_state() if state is None else state,
                "config": ref.REDUCED_CONFIG if config is None else config}, path)
    return path


def write_lightning(path: Path, ema_state: Optional[dict[str, torch.Tensor]] = None) -> Path:
    """A file like the authors' Lightning checkpoints (the keys Lightning 2 writes; EMA weights in the callback state)."""
    state = official_state()
    callbacks: dict[str, Any] = {"ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}": {"best_model_score": torch.tensor(0.26)}}
    if ema_state is not None:
        callbacks["EMA"] = {"cur_step": 3, "ema_weights": [ema_state[k] for k in state]}
    torch.save({
        "epoch": 27, "global_step": 1000, "pytorch-lightning_version": "2.4.0", "state_dict": state,
        "loops": {"fit_loop": {"epoch_progress": {"total": {"completed": 27}}}}, "callbacks": callbacks,
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 4e-4, "betas": (0.9, 0.999), "params": [0, 1]}]}],
        "lr_schedulers": [{"factor": 0.75, "mode": "min", "best": float("inf")}], "hparams_name": "kwargs",
        "hyper_parameters": {"sigma_min": 0.002, "frame_stack": 4, "guide": [0.25, 0.5, 1.0]},
    }, path)
    return path


def write_yaml(path: Path, config: Optional[dict[str, Any]] = None) -> Path:
    path.write_text(yaml.safe_dump(ref.REDUCED_CONFIG if config is None else config))
    return path
