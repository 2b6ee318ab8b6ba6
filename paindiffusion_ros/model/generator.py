"""``PainGenerator``: the run-time face generator consumed by the ROS node, ``generate`` and ``eval``.

It loads a checkpoint, builds the guided denoiser on the chosen runtime, drives the
diffusion-forcing stream and decodes its latent frames to expression ψ (50) and jaw pose
(3, radians) at 25 Hz.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Optional

import numpy as np
import torch

from ..face.binding import FaceBinding
from ..paths import package_path
from .backends import BACKENDS, make_backend
from .checkpoint import load_checkpoint
from .chunk_stream import ChunkStream
from .conditions import EMOTIONS, emotion_index
from .stream import DiffusionForcingStream, StreamConfig

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


class GeneratedChunk(NamedTuple):
    """``horizon`` frames at 25 Hz: expression (h, 50), jaw_pose (h, 3) radians, pspi (h,) or None."""

    expression: np.ndarray
    jaw_pose: np.ndarray
    pspi: Optional[np.ndarray]


class PainGenerator:
    """Streams face parameters for a heat stimulus, ``horizon`` frames per ``advance``."""

    fps = FPS

    def __init__(self, config: GeneratorConfig = GeneratorConfig()) -> None:
        for f in dataclasses.fields(GeneratorConfig):
            check_setting(f.name, getattr(config, f.name))
        self.config = config
        self.checkpoint = load_checkpoint(resolve_model_dir(config.model))
        self.binding: FaceBinding = self.checkpoint.binding
        if config.threads:
            torch.set_num_threads(config.threads)  # process-wide: the sampler arithmetic runs in torch too
        sampling = self.checkpoint.sampling
        if sampling is not None and sampling.frame_rate != FPS:
            raise ValueError(f"model {config.model!r} was made for {sampling.frame_rate:g} frames per second; the face runs at {FPS}")
        frames = sampling.window if sampling is not None else config.window
        backend = make_backend(config.backend, self.checkpoint, frames, config.device, config.threads)
        if sampling is not None:  # an imported model streams with its authors' sampling; window … uncertainty do not apply
            self._stream = ChunkStream(backend, self.checkpoint.config, sampling, seed=config.seed)
        else:
            neutral = self.checkpoint.normalization.encode(np.zeros(self.checkpoint.config.latent_dim, dtype=np.float32))
            self._stream = DiffusionForcingStream(backend, self.checkpoint.config, config, seed=config.seed,
                                                  rest=torch.as_tensor(neutral, dtype=torch.float32))
        self._apply()

    @property
    def horizon(self) -> int:
        return self._stream.config.horizon

    def _apply(self) -> None:
        cfg = self.config
        self._stream.expressiveness = float(cfg.expressiveness)
        self._stream.emotion = emotion_index(cfg.emotion)
        self._stream.strengths = (cfg.guidance_emotion, cfg.guidance_expressiveness, cfg.guidance_stimulus)

    def update(self, **changes: Any) -> None:
        """Change expressiveness, emotion, guidance_* or seed while running; ``ValueError`` names a bad one."""
        for name, value in changes.items():
            if name not in RUNTIME_FIELDS:
                raise ValueError(f"{name!r} cannot change at run time; these can: {', '.join(sorted(RUNTIME_FIELDS))}")
            check_setting(name, value)
        self.config = dataclasses.replace(self.config, **changes)
        if "seed" in changes:
            self._stream.reseed(self.config.seed)
        self._apply()

    def reset(self) -> None:
        """Forget the generated context and restart the noise from the configured seed."""
        self._stream.reset(self.config.seed)

    def advance(self, stimulus_c: np.ndarray) -> GeneratedChunk:
        """Generate the next ``horizon`` frames for their stimulus (horizon,) in °C."""
        latent = self._stream.advance(stimulus_c).numpy()
        frames = self.checkpoint.normalization.decode(latent).astype(np.float32)
        expression = np.ascontiguousarray(frames[:, :-self.binding.jaw_dim])
        jaw = np.ascontiguousarray(frames[:, -self.binding.jaw_dim:])
        pspi = self.binding.pspi(expression).astype(np.float32) if self.binding.pspi else None
        return GeneratedChunk(expression, jaw, pspi)
