"""ONNX export of the guided denoiser step (eq. 7 with all 1 + 3 passes inside) and ``paindiffusion export``."""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import warnings
from pathlib import Path

import onnx
import torch
from google.protobuf.message import DecodeError

from .checkpoint import ONNX_FILE, WEIGHTS_FILE, Checkpoint, CheckpointError, load_checkpoint
from .edm import EDMPrecond
from .generator import resolve_model_dir
from .guidance import DEFAULT_STRENGTHS, GuidedDenoiser
from .parity import onnx_parity

INPUT_NAMES = ("x", "sigma", "stimulus_c", "expressiveness", "emotion", "strengths")
OUTPUT_NAME = "denoised"
OPSET = 17


def weights_digest(directory: Path) -> str:
    """SHA-256 of a checkpoint's weights; stored in the ONNX file to detect a stale export."""
    return hashlib.sha256((directory / WEIGHTS_FILE).read_bytes()).hexdigest()


def example_inputs(frames: int, latent_dim: int) -> tuple[torch.Tensor, ...]:
    """Inputs of the guided step for one window of ``frames`` frames (batch 1)."""
    return (
        torch.zeros(1, frames, latent_dim),
        torch.ones(1, frames),
        torch.full((1, frames), 32.0),
        torch.zeros(1),
        torch.zeros(1, dtype=torch.long),
        torch.tensor(DEFAULT_STRENGTHS),
    )


def export_onnx_bytes(checkpoint: Checkpoint, frames: int) -> bytes:
    """Serialise the guided denoiser for a window of ``frames`` frames; metadata: weights digest and window."""
    guided = GuidedDenoiser(EDMPrecond(checkpoint.net, checkpoint.config.sigma_data)).eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            guided, example_inputs(frames, checkpoint.config.latent_dim), buffer, dynamo=False,
            opset_version=OPSET, input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
        )
    model = onnx.load_from_string(buffer.getvalue())
    for key, value in (("weights_sha256", weights_digest(checkpoint.directory)), ("window", str(frames))):
        model.metadata_props.add(key=key, value=value)
    return model.SerializeToString()


def onnx_matches(path: Path, checkpoint: Checkpoint, frames: int) -> bool:
    """Whether ``path`` is an export of these exact weights for this window length."""
    if not path.is_file():
        return False
    try:
        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    except (OSError, DecodeError, onnx.checker.ValidationError):
        return False
    return props.get("weights_sha256") == weights_digest(checkpoint.directory) and props.get("window") == str(frames)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="", help="checkpoint directory (default: the shipped model)")
    parser.add_argument("--out", default="", help=f"output file (default: MODEL/{ONNX_FILE})")
    parser.add_argument("--window", type=int, default=0, help="window length in frames (default: the model's)")
    parser.add_argument("--check", action="store_true", help="compare torch and onnxruntime on one step")


def run(args: argparse.Namespace) -> int:
    try:
        checkpoint = load_checkpoint(resolve_model_dir(args.model))
    except CheckpointError as exc:
        print(f"paindiffusion export: {exc}", file=sys.stderr)
        return 2
    frames = args.window or checkpoint.config.window
    out = Path(args.out) if args.out else checkpoint.onnx_path
    data = export_onnx_bytes(checkpoint, frames)
    out.write_bytes(data)
    print(f"wrote {out} ({len(data) / 1e6:.1f} MB, window {frames} frames)")
    if args.check:
        diff = onnx_parity(checkpoint, data, frames)
        print(f"torch vs onnxruntime max abs diff: {diff:.2e}")
        return 0 if diff <= 1e-4 else 1
    return 0
