"""Runtimes for the guided denoiser step: PyTorch or onnxruntime, selected by name."""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import torch

from .checkpoint import Checkpoint
from .edm import EDMPrecond
from .guidance import GuidedDenoiser
from .settings import BACKENDS  # noqa: F401  (defined torch-free for the node's parameter declarations)
_log = logging.getLogger(__name__)

GuidedStep = Callable[..., torch.Tensor]


class TorchBackend:
    """The guided denoiser in PyTorch under ``torch.inference_mode``."""

    def __init__(self, checkpoint: Checkpoint, device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.guided = GuidedDenoiser(EDMPrecond(checkpoint.net, checkpoint.config.sigma_data)).to(self.device).eval()

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.guided(*(t.to(self.device) for t in inputs)).cpu()


class OnnxBackend:
    """The exported guided denoiser in onnxruntime (CUDAExecutionProvider when asked for and present)."""

    def __init__(self, model: bytes | str, device: str = "cpu", threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(threads, 0)
        options.inter_op_num_threads = 1
        available = ort.get_available_providers()
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" in available:
                providers.insert(0, "CUDAExecutionProvider")
            else:
                _log.warning("onnxruntime has no CUDAExecutionProvider here; running on the CPU")
        self.session = ort.InferenceSession(model, options, providers=providers)
        self.input_names = [i.name for i in self.session.get_inputs()]

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        feed = {name: t.numpy() for name, t in zip(self.input_names, inputs)}
        return torch.from_numpy(np.asarray(self.session.run(None, feed)[0]))


def make_backend(name: str, checkpoint: Checkpoint, frames: int, device: str = "cpu", threads: int = 0) -> GuidedStep:
    """Build backend ``name`` for windows of ``frames`` frames; the ONNX backend uses the checkpoint's
    ``denoiser.onnx`` when it was exported from these weights for this window, else exports in memory."""
    if device.startswith("cuda") and name == "torch" and not torch.cuda.is_available():
        raise ValueError(f"device = {device!r} but torch sees no CUDA device here; use device = 'cpu'")
    if name == "torch":
        return TorchBackend(checkpoint, device)
    if name == "onnx":
        from .export import export_onnx_bytes, onnx_matches

        if onnx_matches(checkpoint.onnx_path, checkpoint, frames):
            return OnnxBackend(str(checkpoint.onnx_path), device, threads)
        _log.info("no matching %s; exporting the denoiser in memory", checkpoint.onnx_path)
        return OnnxBackend(export_onnx_bytes(checkpoint, frames), device, threads)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
