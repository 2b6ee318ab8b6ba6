"""Torch versus onnxruntime agreement of the guided denoiser step (the ≤ 1e-4 contract)."""

from __future__ import annotations

import torch

from .backends import OnnxBackend, TorchBackend
from .checkpoint import Checkpoint
from .guidance import DEFAULT_STRENGTHS


def onnx_parity(checkpoint: Checkpoint, onnx_model: bytes | str, frames: int, seed: int = 0) -> float:
    """Max abs difference of one guided step on the same seeded noise, across a spread of σ."""
    g = torch.Generator().manual_seed(seed)
    sigma = torch.logspace(-3, 1.9, frames).unsqueeze(0)
    inputs = (
        torch.randn(1, frames, checkpoint.config.latent_dim, generator=g) * (sigma.unsqueeze(-1) + 1),
        sigma,
        32 + 18.5 * torch.rand(1, frames, generator=g),
        torch.tensor([6.0]),
        torch.tensor([3]),
        torch.tensor(DEFAULT_STRENGTHS),
    )
    expected = TorchBackend(checkpoint)(*inputs)
    got = OnnxBackend(onnx_model)(*inputs)
    return float((expected - got).abs().max())
