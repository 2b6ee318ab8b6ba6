"""The authors' streaming sampler (ais-lab/paindiffusion ``sample_a_chunk``), for imported models.

Every call denoises one window of ``window`` frames from scratch:

    | context (σ_min, held) | new frames (fresh noise at σ_max) |
      c frames                h frames

The new tokens follow a diffusion-forcing pyramid (Chen et al. 2024, §3.3) over the
floored Karras ladder (``schedule.floored_level_sigmas``): row m, new token j has level
ℓ = clip(L − 1 − m + ⌊u·j⌋, 0, L − 1), σ = ladder[ℓ], level 0 = σ_min; L − 1 + ⌊u·(h/k − 1)⌋
rows, one guided denoiser call each, each a first-order DPM-Solver++ step (the authors'
``dpm++`` passes no previous denoised output, so it never takes the 2M correction). The
context tokens sit at σ_min and do not move; the last row lands every new token on σ_min.

The first call has no context: the whole window is new (its pyramid spans all its tokens)
and the stimulus before the given frames is held at their first value. Every call returns
its last ``horizon`` frames; the last ``context`` frames of the window, with the stimulus
they were made with, are the next call's context.

Differences from the project's ``stream.DiffusionForcingStream``: no look-ahead carried
between calls, σ never reaches 0, first-order steps. The authors' demo (``online_run.py``)
also smooths the decoded frames with a bilateral filter over the last two chunks and feeds
the stimulus into the emotion slot and the emotion into the stimulus slot; neither is
reproduced here: the conditions go where the model was trained to read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from .config import OfficialUNetConfig
from .sampler import SolverState, dpmpp_2m_step
from .schedule import floored_level_sigmas, pyramid_levels
from .stream import GuidedDenoise


@dataclass(frozen=True)
class ChunkStreamConfig:
    """The authors' sampling settings, in frames; stored as ``sampling`` in an imported checkpoint."""

    window: int = field(default=32, metadata={"help": "frames denoised per call (8 tokens)", "range": (4, 1024)})
    context: int = field(default=8, metadata={"help": "frames of the previous call held as context (2 tokens)", "range": (0, 1024)})
    horizon: int = field(default=24, metadata={"help": "new frames returned per call (6 tokens)", "range": (1, 1024)})
    levels: int = field(default=35, metadata={"help": "σ levels of the ladder σ_max … σ_min (their sample_steps)", "range": (2, 1000)})
    uncertainty: float = field(default=4.0, metadata={"help": "levels a token lags its predecessor", "range": (0.0, 64.0)})
    guidance: tuple[float, float, float] = field(
        default=(0.25, 0.5, 1.0), metadata={"help": "λ of emotion, expressiveness, stimulus in the authors' demo"}
    )
    frame_rate: float = field(default=25.0, metadata={"help": "frames per second of the training data", "range": (1.0, 240.0)})

    def __post_init__(self) -> None:
        object.__setattr__(self, "guidance", tuple(float(g) for g in self.guidance))

    def check(self, model: OfficialUNetConfig) -> None:
        """Raise ``ValueError`` naming the setting that does not fit ``model``."""
        if self.horizon < model.stack or self.context < 0 or self.levels < 2 or self.uncertainty < 0:
            raise ValueError(
                f"sampling needs horizon ≥ {model.stack} frames, context ≥ 0, levels ≥ 2 and uncertainty ≥ 0; "
                f"got horizon {self.horizon}, context {self.context}, levels {self.levels}, uncertainty {self.uncertainty}"
            )
        for name in ("window", "context", "horizon"):
            if getattr(self, name) % model.stack:
                raise ValueError(f"sampling {name} = {getattr(self, name)} must be a multiple of the model's stack {model.stack}")
        if self.context + self.horizon != self.window:
            raise ValueError(f"sampling context + horizon = {self.context + self.horizon} must equal window = {self.window}")
        if len(self.guidance) != 3:
            raise ValueError(f"sampling guidance needs 3 strengths (emotion, expressiveness, stimulus), got {len(self.guidance)}")

    def to_dict(self) -> dict:
        return {"window": self.window, "context": self.context, "horizon": self.horizon, "levels": self.levels,
                "uncertainty": self.uncertainty, "guidance": list(self.guidance), "frame_rate": self.frame_rate}


@dataclass(frozen=True)
class ChunkSnapshot:
    """The stream's state between two calls (``ChunkStream.snapshot``)."""

    context: Optional[torch.Tensor]
    context_stimulus: torch.Tensor
    noise: torch.Tensor


class ChunkStream:
    """``advance(stimulus)`` → the next ``horizon`` latent frames, sampled as the authors streamed."""

    def __init__(self, denoise: GuidedDenoise, model: OfficialUNetConfig, config: ChunkStreamConfig, seed: int = 0) -> None:
        config.check(model)
        self.denoise = denoise
        self.model = model
        self.config = config
        self.expressiveness = 8.33
        self.emotion = 5
        self.strengths = config.guidance
        self._sigmas = floored_level_sigmas(config.levels, model.sigma_min, model.sigma_max, model.rho).float()
        self.seed = int(seed)
        self.reset()

    @property
    def horizon(self) -> int:
        return self.config.horizon

    def reset(self, seed: Optional[int] = None) -> None:
        """Forget the context and restart the noise (from ``seed`` when given)."""
        if seed is not None:
            self.seed = int(seed)
        self._noise = torch.Generator().manual_seed(self.seed)
        self._context: Optional[torch.Tensor] = None
        self._context_stimulus = torch.zeros(0)

    def snapshot(self) -> ChunkSnapshot:
        """The state before the next ``advance``; ``restore`` returns to it."""
        context = None if self._context is None else self._context.clone()
        return ChunkSnapshot(context, self._context_stimulus.clone(), self._noise.get_state())

    def restore(self, snapshot: ChunkSnapshot) -> None:
        """Go back to ``snapshot``: the next ``advance`` draws the same noise (the conditions are the current ones)."""
        self._context = None if snapshot.context is None else snapshot.context.clone()
        self._context_stimulus = snapshot.context_stimulus.clone()
        self._noise.set_state(snapshot.noise)

    def reseed(self, seed: int) -> None:
        """Draw the noise of the next calls from ``seed``; the context stays."""
        self.seed = int(seed)
        self._noise = torch.Generator().manual_seed(self.seed)

    def advance(self, stimulus_c: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Denoise one window; return its last ``horizon`` frames (horizon, latent_dim), network latent."""
        cfg, k = self.config, self.model.stack
        stimulus = torch.as_tensor(np.asarray(stimulus_c, dtype=np.float32))
        if stimulus.shape != (cfg.horizon,) or not torch.isfinite(stimulus).all():
            raise ValueError(f"advance: stimulus must be {cfg.horizon} finite °C values, got shape {tuple(stimulus.shape)}")
        if self._context is None:
            context = torch.zeros(0, self.model.latent_dim)
            held = stimulus[:1].expand(cfg.window - cfg.horizon)
        else:
            context, held = self._context, self._context_stimulus
        new = cfg.window - context.shape[0]
        fresh = torch.randn(new, self.model.latent_dim, generator=self._noise) * self._sigmas[-1]
        x = torch.cat([context, fresh]).unsqueeze(0)
        window_stimulus = torch.cat([held, stimulus]).unsqueeze(0)
        levels = torch.from_numpy(pyramid_levels(cfg.levels - 1, new // k, new // k, cfg.uncertainty))
        context_sigma = self._sigmas[0].expand(context.shape[0])
        expressiveness = torch.tensor([self.expressiveness], dtype=torch.float32)
        emotion = torch.tensor([self.emotion], dtype=torch.long)
        strengths = torch.tensor(self.strengths, dtype=torch.float32)
        for row, next_row in zip(levels[:-1], levels[1:]):
            sigma = torch.cat([context_sigma, self._sigmas[row].repeat_interleave(k)]).unsqueeze(0)
            sigma_next = torch.cat([context_sigma, self._sigmas[next_row].repeat_interleave(k)]).unsqueeze(0)
            denoised = self.denoise(x, sigma, window_stimulus, expressiveness, emotion, strengths)
            x = dpmpp_2m_step(x, denoised, sigma, sigma_next, SolverState.empty(x))  # no history: first order
        self._context = x[0, -cfg.context:].clone() if cfg.context else torch.zeros(0, self.model.latent_dim)
        self._context_stimulus = window_stimulus[0, -cfg.context:] if cfg.context else torch.zeros(0)
        return x[0, -cfg.horizon:].clone()
