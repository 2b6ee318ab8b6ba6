"""``PainGenerator``: the run-time face generator consumed by the ROS node, ``generate`` and ``eval``.

It loads a checkpoint, builds the guided denoiser on the chosen runtime, drives a stream
and decodes its latent frames to expression ψ (the face binding's 50, or 100 for
``flame-emoca-100``) and jaw pose (3, radians) at 25 Hz. The stream is the project's
diffusion-forcing stream (``stream.DiffusionForcingStream``, geometry from the
``GeneratorConfig``), or, for a checkpoint that records its ``sampling`` (a model imported
from the authors, ``official_import.py``), their chunked sampler (``chunk_stream.ChunkStream``,
geometry from the checkpoint: the config's window, context, horizon, steps and uncertainty
do not apply to it). Both snapshot and restore their state, so ``realtime.GenerationWorker``
re-plans either; its unit is the stream's ``horizon`` (one 4-frame token by default, the
24 frames of one call for an imported model).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple, Optional

import numpy as np
import torch

from ..face.binding import FaceBinding
from .backends import make_backend
from .checkpoint import load_checkpoint
from .chunk_stream import ChunkSnapshot, ChunkStream
from .conditions import emotion_index
from .settings import (  # re-exported: the generator's settings live in settings.py, torch-free
    DEFAULT_MODEL_NAME,
    FPS,
    RUNTIME_FIELDS,
    GeneratorConfig,
    check_setting,
    default_model_dir,
    resolve_model_dir,
)
from .stream import DiffusionForcingStream, StreamSnapshot

Snapshot = StreamSnapshot | ChunkSnapshot
"""The state of either stream between two advances (``PainGenerator.snapshot``)."""

__all__ = [
    "DEFAULT_MODEL_NAME", "FPS", "RUNTIME_FIELDS", "GeneratedChunk", "GeneratorConfig", "PainGenerator", "check_setting",
    "Snapshot", "default_model_dir", "resolve_model_dir",
]


class GeneratedChunk(NamedTuple):
    """``horizon`` frames at 25 Hz: expression (h, E: the binding's 50 or 100), jaw_pose (h, 3) radians, pspi (h,) or None."""

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
        """New frames per ``advance``: the stream's (an imported model's own, not the config's)."""
        return self._stream.config.horizon

    @property
    def imported_sampling(self) -> bool:
        """Whether the stream follows the checkpoint's own sampling (then the config's window,
        context, horizon, steps and uncertainty are not used)."""
        return isinstance(self._stream, ChunkStream)

    def describe_stream(self) -> str:
        """One line naming the stream and its geometry, for logs and diagnostics."""
        s = self._stream.config
        if self.imported_sampling:
            return (f"the model's own sampling: window {s.window}, context {s.context}, {s.horizon} new frames per call, "
                    f"{s.levels} levels, uncertainty {s.uncertainty:g}, first order (window … uncertainty parameters not used)")
        return (f"diffusion forcing: window {s.window}, context {s.context}, horizon {s.horizon}, {s.steps} steps, "
                f"uncertainty {s.uncertainty:g}")

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

    def snapshot(self) -> Snapshot:
        """The stream state before the next ``advance`` (``stream.DiffusionForcingStream`` or
        ``chunk_stream.ChunkStream``: everything their ``advance`` changes)."""
        return self._stream.snapshot()

    def restore(self, snapshot: Snapshot) -> None:
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
