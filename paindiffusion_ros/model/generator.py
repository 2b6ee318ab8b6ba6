"""``PainGenerator``: the run-time face generator consumed by the ROS node, ``generate`` and ``eval``.

It loads a checkpoint, builds the guided denoiser on the chosen runtime, drives the
diffusion-forcing stream and decodes its latent frames to expression ψ (50) and jaw pose
(3, radians) at 25 Hz.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple, Optional

import numpy as np
import torch

from ..face.binding import FaceBinding
from .backends import make_backend
from .checkpoint import load_checkpoint
from .conditions import emotion_index
from .settings import (  # noqa: F401  (re-exported: the generator's settings live in settings.py, torch-free)
    DEFAULT_MODEL_NAME,
    FPS,
    RUNTIME_FIELDS,
    GeneratorConfig,
    check_setting,
    default_model_dir,
    resolve_model_dir,
)
from .stream import DiffusionForcingStream, StreamSnapshot


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
        backend = make_backend(config.backend, self.checkpoint, config.window, config.device, config.threads)
        neutral = self.checkpoint.normalization.encode(np.zeros(self.checkpoint.config.latent_dim, dtype=np.float32))
        self._stream = DiffusionForcingStream(backend, self.checkpoint.config, config, seed=config.seed,
                                              rest=torch.as_tensor(neutral, dtype=torch.float32))
        self._apply()

    @property
    def horizon(self) -> int:
        return self.config.horizon

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

    def snapshot(self) -> StreamSnapshot:
        """The stream state before the next ``advance`` (see ``stream.DiffusionForcingStream``)."""
        return self._stream.snapshot()

    def restore(self, snapshot: StreamSnapshot) -> None:
        """Return to ``snapshot``: the frames that followed it are generated again by ``advance``,
        with the same noise and the current stimulus and settings."""
        self._stream.restore(snapshot)

    def advance(self, stimulus_c: np.ndarray) -> GeneratedChunk:
        """Generate the next ``horizon`` frames for their stimulus (horizon,) in °C."""
        latent = self._stream.advance(stimulus_c).numpy()
        frames = self.checkpoint.normalization.decode(latent).astype(np.float32)
        expression = np.ascontiguousarray(frames[:, :-self.binding.jaw_dim])
        jaw = np.ascontiguousarray(frames[:, -self.binding.jaw_dim:])
        pspi = self.binding.pspi(expression).astype(np.float32) if self.binding.pspi else None
        return GeneratedChunk(expression, jaw, pspi)
