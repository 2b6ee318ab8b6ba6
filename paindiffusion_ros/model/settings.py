"""Settings of the run-time generator, free of torch: ``StreamConfig``, ``GeneratorConfig`` and their checks.

The pain_generator node declares its parameters from ``GeneratorConfig`` in a process that
never imports torch (the model runs in a child process, ``generation_process.py``), so
these dataclasses and the names they offer as choices (emotions, runtimes) live here;
``stream``, ``generator``, ``conditions`` and ``backends`` re-export them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..paths import package_path
from .config import ModelConfig

EMOTIONS: tuple[str, ...] = ("anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
"""Emotion classes ℰ, in index order."""
BACKENDS: tuple[str, ...] = ("torch", "onnx")
"""Runtimes of the guided denoiser step (``backends.make_backend``)."""


@dataclass(frozen=True)
class StreamConfig:
    """Window geometry and schedule of the diffusion-forcing stream, in frames (25 Hz)."""

    window: int = field(default=64, metadata={"help": "frames denoised together (the training window)", "range": (8, 1024)})
    context: int = field(default=16, metadata={"help": "already generated frames kept as context", "range": (0, 1024)})
    horizon: int = field(default=16, metadata={"help": "new frames per advance (the node uses 4 = one token: the unit of generation and re-planning)", "range": (1, 1024)})
    steps: int = field(default=15, metadata={"help": "denoising steps each frame receives (DPM-Solver++ 2M)", "range": (1, 100)})
    uncertainty: float = field(default=2.0, metadata={"help": "noise levels a token lags its predecessor (raised to steps / look-ahead tokens when below)", "range": (0.0, 16.0)})

    def check(self, model: ModelConfig) -> None:
        """Raise ``ValueError`` naming the setting that does not fit ``model``."""
        k = model.stack
        for name in ("window", "context", "horizon"):
            if getattr(self, name) % k:
                raise ValueError(f"{name} = {getattr(self, name)} must be a multiple of the model's frame stack {k}")
        if self.window % model.token_multiple:
            raise ValueError(f"window = {self.window} must be a multiple of {model.token_multiple} for this model")
        if self.context + self.horizon > self.window:
            raise ValueError(f"context + horizon = {self.context + self.horizon} exceeds window = {self.window}")



FPS = 25
DEFAULT_MODEL_NAME = "paindiffusion-default"


@dataclass(frozen=True)
class GeneratorConfig(StreamConfig):
    """Run-time settings of the generator; the ROS node declares one parameter per field."""

    model: str = field(default="", metadata={"help": "checkpoint directory; empty = the shipped models/paindiffusion-default"})
    backend: str = field(default="onnx", metadata={"help": "runtime of the denoiser", "choices": BACKENDS})
    device: str = field(default="cpu", metadata={"help": "compute device", "choices": ("cpu", "cuda")})
    threads: int = field(default=1, metadata={"help": "CPU threads for inference (0 = runtime default; 1 is fastest on a shared 2-core CPU)", "range": (0, 256)})
    guidance_emotion: float = field(default=0.5, metadata={"help": "guidance strength λ of the emotion (eq. 7)", "range": (0.0, 10.0)})
    guidance_expressiveness: float = field(default=1.0, metadata={"help": "guidance strength λ of the expressiveness (eq. 7)", "range": (0.0, 10.0)})
    guidance_stimulus: float = field(default=2.0, metadata={"help": "guidance strength λ of the stimulus (eq. 7)", "range": (0.0, 10.0)})
    expressiveness: float = field(default=2.0, metadata={"help": "pain expressiveness 𝒫, mean PSPI of the patient", "range": (0.0, 16.0)})
    emotion: str = field(default="neutral", metadata={"help": "emotional state ℰ", "choices": EMOTIONS})
    seed: int = field(default=0, metadata={"help": "noise seed (same seed → same frames)", "range": (0, 2**31 - 1)})


RUNTIME_FIELDS: frozenset[str] = frozenset(
    {"expressiveness", "emotion", "guidance_emotion", "guidance_expressiveness", "guidance_stimulus", "seed"}
)
"""Fields ``PainGenerator.update`` may change while running."""


def check_setting(name: str, value: Any) -> None:
    """Raise ``ValueError`` naming ``name`` and ``value`` when it breaks the field's type, range or choices."""
    fields = {f.name: f for f in dataclasses.fields(GeneratorConfig)}
    if name not in fields:
        raise ValueError(f"unknown generator setting {name!r}; known: {', '.join(fields)}")
    meta, default = fields[name].metadata, fields[name].default
    if not _same_kind(default, value):
        raise ValueError(f"{name} = {value!r} has the wrong type (expected {type(default).__name__})")
    if "choices" in meta and value not in meta["choices"]:
        raise ValueError(f"{name} = {value!r} is not one of {', '.join(map(str, meta['choices']))}")
    if "range" in meta:
        lo, hi = meta["range"]
        if not (lo <= float(value) <= hi):
            raise ValueError(f"{name} = {value!r} is outside {lo}…{hi}")


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, int):
        return isinstance(value, (int, np.integer))
    return isinstance(value, (int, float, np.integer, np.floating))


def default_model_dir() -> Path:
    """The shipped checkpoint: ``models/`` of the source tree (editable installs), else the
    package share directory ``share/paindiffusion/models/`` (colcon installs)."""
    return package_path("models", DEFAULT_MODEL_NAME)


def resolve_model_dir(model: str) -> Path:
    """``model`` as a path, or the shipped default when empty."""
    return Path(model).expanduser() if model else default_model_dir()
