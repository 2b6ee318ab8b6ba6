"""Checkpoint directories: ``model.safetensors`` + ``config.json`` (+ ``denoiser.onnx`` once exported).

``config.json`` holds the architecture (``ModelConfig``, or ``OfficialUNetConfig`` when its
``architecture`` is ``official-unet1d``), the face binding name the latent was trained for,
the latent normalisation (per-channel mean, scale, jaw scale; or, with ``kind``
``official-jaw-first``, the authors' jaw-first [-1, 1] latent), optionally the
``sampling`` the model must be streamed with (an imported model: the authors' settings)
and free-form training information. Every problem loading one raises ``CheckpointError``
naming it (it and the checks of ``config.json`` live in the torch-free ``checkpoint_meta``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..face.binding import FaceBinding, get_binding
from .checkpoint_meta import CONFIG_FILE, FORMAT, FORMAT_VERSION, CheckpointError, read_meta
from .chunk_stream import ChunkStreamConfig
from .config import ModelConfig, NetworkConfig, config_from_dict
from .network import TemporalUNet
from .normalization import LatentNormalization
from .official_latent import KIND as JAW_FIRST_KIND
from .official_latent import JawFirstLatent
from .official_network import OfficialUNet1D

Normalization = LatentNormalization | JawFirstLatent

WEIGHTS_FILE = "model.safetensors"
ONNX_FILE = "denoiser.onnx"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the network (eval mode) and everything saved beside it."""

    directory: Path
    net: nn.Module
    config: NetworkConfig
    normalization: Normalization
    binding: FaceBinding
    training: dict[str, Any]
    sampling: Optional[ChunkStreamConfig] = None

    @property
    def onnx_path(self) -> Path:
        return self.directory / ONNX_FILE


def build_network(config: NetworkConfig) -> nn.Module:
    """The network an architecture record describes."""
    return OfficialUNet1D(config) if not isinstance(config, ModelConfig) else TemporalUNet(config)


def normalization_from_dict(data: dict[str, Any]) -> Normalization:
    """The normalisation record's class by its ``kind`` (none: the project's ``LatentNormalization``)."""
    if data.get("kind") == JAW_FIRST_KIND:
        return JawFirstLatent.from_dict(data)
    if "kind" in data:
        raise ValueError(f"normalisation: unknown kind {data['kind']!r}; known: {JAW_FIRST_KIND} (or none)")
    return LatentNormalization.from_dict(data)


def save_checkpoint(directory: str | Path, net: nn.Module, config: NetworkConfig,
                    normalization: Normalization, face_binding: FaceBinding | str,
                    training: Optional[dict[str, Any]] = None, sampling: Optional[ChunkStreamConfig] = None) -> Path:
    """Write ``net``'s weights and the metadata into ``directory`` (created if needed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    binding_name = face_binding.name if isinstance(face_binding, FaceBinding) else get_binding(face_binding).name
    tensors = {name: t.detach().cpu().contiguous() for name, t in net.state_dict().items()}
    save_file(tensors, str(directory / WEIGHTS_FILE))
    meta = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model": config.to_dict(),
        "face_binding": binding_name,
        "normalization": normalization.to_dict(),
        "training": training or {},
    }
    if sampling is not None:
        meta["sampling"] = sampling.to_dict()
    (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return directory


def load_checkpoint(directory: str | Path, expected_binding: FaceBinding | str | None = None) -> Checkpoint:
    """Load a checkpoint directory; ``expected_binding`` (name or binding) must match if given."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint directory {directory} does not exist")
    meta = read_meta(directory / CONFIG_FILE)
    try:
        config = config_from_dict(meta["model"])
        normalization = normalization_from_dict(meta["normalization"])
        binding = get_binding(meta["face_binding"])
        sampling = _sampling(meta.get("sampling"), config)
        _check_latent(config, normalization, binding)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{directory / CONFIG_FILE}: {exc}") from None
    if expected_binding is not None:
        expected = expected_binding.name if isinstance(expected_binding, FaceBinding) else expected_binding
        if binding.name != expected:
            raise CheckpointError(
                f"{directory} was trained for face binding {binding.name!r} but {expected!r} is in use; "
                "use a checkpoint trained for this face (or switch the face)"
            )
    net = build_network(config)
    _load_weights(net, directory / WEIGHTS_FILE)
    net.eval()
    training = meta.get("training", {})
    return Checkpoint(directory, net, config, normalization, binding, training if isinstance(training, dict) else {}, sampling)


def _sampling(data: Any, config: NetworkConfig) -> Optional[ChunkStreamConfig]:
    """The ``sampling`` record: required by the authors' architecture, absent for the project's."""
    if data is None:
        if isinstance(config, ModelConfig):
            return None
        raise ValueError(f"architecture {config.architecture!r} needs a 'sampling' section (its streaming settings)")
    if isinstance(config, ModelConfig):
        raise ValueError("'sampling' is only defined for the official-unet1d architecture")
    if not isinstance(data, dict):
        raise ValueError(f"'sampling' must be a JSON object, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(ChunkStreamConfig)}
    if unknown := sorted(set(data) - known):
        raise ValueError(f"sampling: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    sampling = ChunkStreamConfig(**data)
    sampling.check(config)
    return sampling


def _check_latent(config: NetworkConfig, normalization: Normalization, binding: FaceBinding) -> None:
    """Architecture, normalisation and face binding must agree on the frame and latent sizes."""
    frame_dim = normalization.frame_dim
    if frame_dim != binding.latent_dim:
        raise ValueError(f"the normalisation decodes {frame_dim} values per frame but face binding {binding.name!r} has {binding.latent_dim}")
    if normalization.latent_dim != config.latent_dim:
        raise ValueError(f"the normalisation encodes {normalization.latent_dim} latent values but the network takes {config.latent_dim}")


def _load_weights(net: nn.Module, path: Path) -> None:
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} is missing")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is truncated or corrupt ({exc})") from None
    expected = net.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing:
        raise CheckpointError(f"{path}: missing weights {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
    if extra:
        raise CheckpointError(f"{path}: unexpected weights {', '.join(extra[:5])}{' …' if len(extra) > 5 else ''}")
    for name, tensor in tensors.items():
        if tensor.shape != expected[name].shape:
            raise CheckpointError(
                f"{path}: weight {name!r} has shape {tuple(tensor.shape)}, the config expects {tuple(expected[name].shape)}"
            )
    net.load_state_dict({name: t.to(torch.float32) for name, t in tensors.items()})
