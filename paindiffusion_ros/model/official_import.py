"""``paindiffusion import-official``: the authors' checkpoint → a project checkpoint directory.

Reads, without running any code from the file:
- the published file (``load_from_hub("damtien440/paindiffusion")``): despite its
  ``model.safetensors`` name a ``torch.save({'state_dict', 'config'})`` pickle, whose
  ``config`` is the authors' YAML configuration as a dict;
- a Lightning ``.ckpt`` of their trainer, with their training YAML (``--config``), which the
  ``.ckpt`` does not hold; ``--ema`` takes the EMA weights their callback keeps in the
  checkpoint (``callbacks → ema_weights``) instead of the raw ones;
- a real safetensors file of their state dict, with ``--config``.

Pickles are read by ``torch.load(weights_only=True)``: tensors and plain containers only,
anything else is refused. Every tensor is checked against the layout its configuration
implies (names after the prefix rename, shapes, finiteness); all mismatches are reported
in one ``CheckpointError``. Written: ``model.safetensors`` + ``config.json`` (architecture,
the jaw-first latent, face binding ``flame-emoca-100``, the authors' sampling settings and
their configuration) and ``denoiser.onnx`` for the window they sampled.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import re
import sys
from pathlib import Path
from typing import Any, Optional

import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_file

from ..face.binding import FLAME_EMOCA_100
from .checkpoint import CONFIG_FILE, CheckpointError, load_checkpoint, save_checkpoint
from .chunk_stream import ChunkStreamConfig
from .config import OfficialUNetConfig
from .export import export_onnx_bytes
from .official_latent import JawFirstLatent
from .official_network import CONDITIONS, OFFICIAL_PREFIXES, OfficialUNet1D, unused_official_tensors
from .parity import onnx_parity

SOURCE = "ais-lab/paindiffusion"
FRAME_RATE = 25.0
"""BioVid Heat Pain videos, the authors' training data, are 25 frames per second."""
STREAM_UNCERTAINTY = 4.0
"""The uncertainty of the pyramid in the authors' streaming ``sample_a_chunk`` (fixed in their code)."""
LATENT_DIM = 128
"""Their data loader pads [jaw (3), expression (100)] to 128 values; their sampler assumes 128."""
ONNX_TOLERANCE = 1e-4
_LISTED = 5


def _load_pickle(path: Path) -> Any:
    """``torch.load(weights_only=True)`` from an open file: given a path ending in
    ``.safetensors``, torch would hand it to the safetensors reader, which a pickle is not."""
    try:
        with path.open("rb") as handle:
            return torch.load(handle, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f" ({found.group(1)})" if found else ""
        raise CheckpointError(f"{path} holds Python objects other than tensors and plain data{what}; refusing to unpickle it") from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, TypeError) as exc:
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({(str(exc).splitlines() or [type(exc).__name__])[0]})") from None


def _is_safetensors(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def read_official(path: str | Path, config_path: Optional[str | Path] = None,
                  ema: bool = False) -> tuple[dict[str, torch.Tensor], dict[str, Any], str]:
    """(state dict, the authors' configuration dict, what was read) from any of the accepted files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"official checkpoint {path} does not exist")
    config = _read_yaml(Path(config_path)) if config_path else None
    if _is_safetensors(path):
        if ema:
            raise CheckpointError(f"{path} is a safetensors state dict; --ema applies to Lightning .ckpt files")
        try:
            state = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{path} is truncated or corrupt ({exc})") from None
        return state, _need(config, path, "a safetensors file holds no configuration"), "safetensors state dict"
    data = _load_pickle(path)
    if not isinstance(data, dict) or not isinstance(data.get("state_dict"), dict):
        raise CheckpointError(f"{path} is not an official PainDiffusion checkpoint (no 'state_dict' dictionary)")
    state = data["state_dict"]
    if "config" in data:
        if ema:
            raise CheckpointError(f"{path} is the published model file (one set of weights); --ema applies to Lightning .ckpt files")
        if config is None and not isinstance(data["config"], dict):
            raise CheckpointError(f"{path}: its 'config' is not a dictionary")
        return state, config if config is not None else data["config"], "published model file"
    config = _need(config, path, "a Lightning checkpoint does not hold the model configuration")
    if not ema:
        return state, config, "Lightning checkpoint"
    return _ema_weights(path, data, state), config, "Lightning checkpoint, EMA weights"


def _need(config: Optional[dict[str, Any]], path: Path, why: str) -> dict[str, Any]:
    if config is None:
        raise CheckpointError(f"{path}: {why}; pass the authors' training YAML with --config")
    return config


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"configuration file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} is not a configuration mapping")
    return data


def _ema_weights(path: Path, data: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """The EMA callback keeps its weights as a list in the order of the module's state dict."""
    callbacks = data.get("callbacks") if isinstance(data.get("callbacks"), dict) else {}
    found = [v["ema_weights"] for v in callbacks.values() if isinstance(v, dict) and v.get("ema_weights") is not None]
    if not found:
        raise CheckpointError(
            f"{path} holds no EMA weights (the authors' EMA callback stores them only with "
            "save_ema_weights_in_callback_state; their -EMA.ckpt file holds them as its state dict: import it without --ema)"
        )
    weights = list(found[0])
    if len(weights) != len(state):
        raise CheckpointError(f"{path}: {len(weights)} EMA weights for {len(state)} tensors in the state dict")
    return dict(zip(state, weights))


def _section(conf: dict[str, Any], name: str) -> dict[str, Any]:
    section = conf.get(name)
    if not isinstance(section, dict):
        raise CheckpointError(f"the official configuration has no {name} section")
    return section


def official_settings(conf: dict[str, Any]) -> tuple[OfficialUNetConfig, ChunkStreamConfig]:
    """Architecture and sampling from the authors' configuration (their defaults where a key is absent)."""
    model, diffusion, stats = _section(conf, "MODEL"), _section(conf, "DIFFUSION"), _section(conf, "DATA_STATS")
    stack = int(diffusion.get("frame_stack", 1))
    wanted = {"type": "video", "channels": stack, "context_channels": CONDITIONS * stack}
    for key, value in wanted.items():
        if model.get(key) != value:
            raise CheckpointError(f"official MODEL.{key} is {model.get(key)!r}; the port supports {value!r} (frame_stack {stack})")
    for key in ("self_condition", "learned_variance"):
        if model.get(key):
            raise CheckpointError(f"official MODEL.{key} is set; the port supports the published network, which has it off")
    for key, value in (("init_dim", model.get("dim")), ("out_dim", stack)):
        if model.get(key) not in (None, value):
            raise CheckpointError(f"official MODEL.{key} is {model[key]!r}; the port supports {value!r}")
    try:
        levels = int(diffusion.get("sample_steps", 35))
        window_tokens, context_tokens = int(diffusion.get("window_size", 16)), int(diffusion.get("context_size", 4))
        guide = diffusion.get("guide", 1.0)
        guidance = tuple(float(g) for g in guide) if isinstance(guide, (list, tuple)) else (float(guide),) * CONDITIONS
        config = OfficialUNetConfig(
            latent_dim=LATENT_DIM, stack=stack, window=window_tokens * stack, dim=int(model["dim"]),
            dim_mults=tuple(model.get("dim_mults", (1, 2, 4, 8))), heads=int(model.get("attn_heads", 4)),
            head_dim=int(model.get("attn_dim_head", 32)), sinusoidal_theta=float(model.get("sinusoidal_pos_emb_theta", 10000)),
            emotion_mean=float(stats["emotion"]["mean"]), emotion_std=float(stats["emotion"]["std"]),
            expressiveness_mean=float(stats["expressiveness"]["mean"]), expressiveness_std=float(stats["expressiveness"]["std"]),
            stimulus_mean=float(stats["stimulus_abs"]["mean"]), stimulus_std=float(stats["stimulus_abs"]["std"]),
            sigma_data=float(diffusion.get("sigma_data", 0.5)), sigma_min=float(diffusion.get("sigma_min", 0.002)),
            sigma_max=float(diffusion.get("sigma_max", 80)), rho=float(diffusion.get("rho_schedule", 7)),
        )
        sampling = ChunkStreamConfig(
            window=window_tokens * stack, context=context_tokens * stack, horizon=(window_tokens - context_tokens) * stack,
            levels=levels, uncertainty=STREAM_UNCERTAINTY, guidance=guidance, frame_rate=FRAME_RATE,
        )
        sampling.check(config)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"the official configuration cannot be used: {type(exc).__name__} {exc}") from None
    return config, sampling


def port_state_dict(state: dict[str, Any], config: OfficialUNetConfig, source: str = "the checkpoint") -> dict[str, torch.Tensor]:
    """The authors' state dict renamed to ``OfficialUNet1D``'s keys, every key and shape checked.

    One ``CheckpointError`` lists every missing, unexpected, misshapen or non-finite tensor.
    """
    expected = {k: tuple(v.shape) for k, v in OfficialUNet1D(config).to("meta").state_dict().items()}
    unused = unused_official_tensors(config)
    ported: dict[str, torch.Tensor] = {}
    unexpected, misshapen, invalid = [], [], []
    for name, tensor in state.items():
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            invalid.append(f"{name} (not a floating-point tensor)")
            continue
        target = next((ours + name[len(theirs):] for theirs, ours in OFFICIAL_PREFIXES.items() if name.startswith(theirs)), None)
        shape = expected.get(target) if target else None
        if shape is None and name in unused:
            shape = unused[name]
        if shape is None:
            unexpected.append(name)
            continue
        if len(shape) != tensor.dim() or any(s is not None and s != t for s, t in zip(shape, tensor.shape)):
            misshapen.append(f"{name} {tuple(tensor.shape)}, expected {tuple('*' if s is None else s for s in shape)}")
            continue
        if not torch.isfinite(tensor).all():
            invalid.append(f"{name} (NaN or infinity)")
            continue
        if target in expected:
            ported[target] = tensor.detach().to(torch.float32).contiguous()
    wanted = [_official_name(k) for k in expected] + list(unused)
    missing = [name for name in wanted if name not in state]
    problems = [
        (len(missing), "missing", missing), (len(unexpected), "unexpected", unexpected),
        (len(misshapen), "with the wrong shape", misshapen), (len(invalid), "unusable", invalid),
    ]
    listed = [f"{n} {what}: {', '.join(items[:_LISTED])}{' …' if n > _LISTED else ''}" for n, what, items in problems if n]
    if listed:
        raise CheckpointError(
            f"{source} does not match the {config.architecture} layout of its configuration "
            f"(dim {config.dim}, mults {list(config.dim_mults)}, stack {config.stack}) — " + "; ".join(listed)
        )
    return ported


def _official_name(ours: str) -> str:
    """The authors' key of one of ``OfficialUNet1D``'s keys."""
    return next(theirs + ours[len(mine):] for theirs, mine in OFFICIAL_PREFIXES.items() if ours.startswith(mine))


def import_official(path: str | Path, out: str | Path, config_path: Optional[str | Path] = None, ema: bool = False,
                    onnx: bool = True, force: bool = False) -> dict[str, Any]:
    """Convert the authors' checkpoint at ``path`` into a checkpoint directory ``out``; returns a summary."""
    path, out = Path(path), Path(out)
    if (out / CONFIG_FILE).exists() and not force:
        raise CheckpointError(f"{out} already holds a checkpoint; choose another --out or pass --force")
    state, conf, kind = read_official(path, config_path, ema)
    config, sampling = official_settings(conf)
    net = OfficialUNet1D(config)
    net.load_state_dict(port_state_dict(state, config, str(path)))
    training = {
        "source": SOURCE, "imported_from": path.name, "read_as": kind,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "official_config": {k: conf[k] for k in ("MODEL", "DIFFUSION", "DATA_STATS") if k in conf},
    }
    save_checkpoint(out, net, config, JawFirstLatent(latent_dim=config.latent_dim), FLAME_EMOCA_100, training, sampling)
    summary: dict[str, Any] = {
        "out": str(out), "read_as": kind, "tensors": len(state),
        "parameters": sum(p.numel() for p in net.parameters()), "window": sampling.window,
    }
    if onnx:
        checkpoint = load_checkpoint(out)
        data = export_onnx_bytes(checkpoint, sampling.window)
        checkpoint.onnx_path.write_bytes(data)
        summary["onnx_bytes"] = len(data)
        summary["onnx_max_abs_diff"] = onnx_parity(checkpoint, data, sampling.window)
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the authors' model file (torch pickle), a Lightning .ckpt or a safetensors state dict")
    parser.add_argument("--out", required=True, help="checkpoint directory to write")
    parser.add_argument("--config", default="", help="the authors' training YAML (needed for .ckpt and safetensors files)")
    parser.add_argument("--ema", action="store_true", help="take the EMA weights of a Lightning .ckpt")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX export (and its torch comparison)")
    parser.add_argument("--force", action="store_true", help="overwrite a checkpoint already in --out")


def run(args: argparse.Namespace) -> int:
    summary = import_official(args.file, args.out, args.config or None, args.ema, not args.no_onnx, args.force)
    print(f"read {args.file} as {summary['read_as']}: {summary['tensors']} tensors, "
          f"{summary['parameters']:,} parameters in the port")
    print(f"wrote {summary['out']} (face binding {FLAME_EMOCA_100.name}, sampling window {summary['window']} frames)")
    if "onnx_bytes" not in summary:
        return 0
    diff = summary["onnx_max_abs_diff"]
    print(f"wrote denoiser.onnx ({summary['onnx_bytes'] / 1e6:.1f} MB); torch vs onnxruntime max abs diff {diff:.2e}")
    if diff > ONNX_TOLERANCE:
        print(f"paindiffusion import-official: the ONNX export differs from torch by more than {ONNX_TOLERANCE:g}", file=sys.stderr)
        return 1
    return 0
