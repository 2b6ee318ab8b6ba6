"""Diffusion-forcing stream: endless generation by a rolling, pyramid-scheduled window (paper §III-E).

Frames are grouped in tokens of k stacked frames that share a noise level. The window
(``window`` frames, the training length) is

    | context (clean) | horizon (returned next) | look-ahead (partly denoised) |
      c tokens          h tokens                  f − h tokens

Context tokens are the last generated frames, held clean (σ = 0); before anything has
been generated they hold the ``rest`` face when one is given (the generator passes the
neutral face, so a stream starts from rest at baseline heat instead of guessing what
came before), else padding held at σ_max. Future tokens follow the diffusion-forcing
pyramid scheduling matrix (Chen et al. 2024, "Diffusion Forcing", §3.3), continued
forever over the global token index g and the global row clock τ (one denoiser call per
row): level ℓ(g, τ) = clip(N − τ + ⌊u·g⌋, 0, N), σ = Karras ladder at level ℓ (ℓ = 0 is
clean). The further a token lies in the future, the later it starts (u = uncertainty).
Example N = 3 steps, u = 1, 5 future tokens, h = 2 tokens:

    advance 0            g0 g1 g2 g3 g4
      τ = 0               3  3  3  3  3      all start as pure noise
      τ = 1               2  3  3  3  3
      τ = 2               1  2  3  3  3
      τ = 3               0  1  2  3  3
      τ = 4               0  0  1  2  3      → return g0 g1, they become context
    advance 1                  g2 g3 g4 g5 g6  (g5, g6 enter as fresh noise)
      τ = 5                     0  1  2  3  3
      τ = 6                     0  0  1  2  3  → return g2 g3

An advance runs rows until its h tokens are clean: N + ⌊u·(h−1)⌋ rows the first time
(21 for N = 15, u = 2, h = 4 tokens), then about u·h rows (8) — each token receives all N
DPM-Solver++(2M) steps over the advances it spends in the window, and the look-ahead
keeps its partly denoised state and solver history between calls. The look-ahead can
hold N/u tokens in flight; when it is shorter (N > u·(f − h)) the slope is raised to
u = N/(f − h), so tokens still enter at level N and get all N steps (at u·h rows per
advance). With no look-ahead (f = h) every advance starts its fresh tokens' pyramid
anew: N + ⌊u·(h−1)⌋ rows each time.

Stimulus: context frames keep the stimulus they were generated with, horizon frames take
the new ``stimulus``, look-ahead frames hold its last value (the future is unknown), so
the whole look-ahead starts reacting to a change at once, at its current noise levels.

Re-planning: ``snapshot()`` captures everything ``advance`` changes (context, look-ahead,
solver history, row clock, noise generator); ``restore(snapshot)`` puts it back, so the
frames of an advance can be generated again for a newer stimulus — with the same noise,
so they differ from the first attempt only by what the new stimulus changes. A real-time
player uses it to replace queued frames when the stimulus changes (``model/realtime.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch

from .conditions import STIMULUS_BASELINE_C
from .config import ModelConfig
from .sampler import SolverState, dpmpp_2m_step
from .schedule import level_sigmas, pyramid_level
from .settings import StreamConfig

@dataclass(frozen=True)
class StreamSnapshot:
    """The stream's state between two advances (``DiffusionForcingStream.snapshot``)."""

    clock: int
    front: int
    padding: torch.Tensor
    context: torch.Tensor
    context_stimulus: torch.Tensor
    future: torch.Tensor
    future_sigma: torch.Tensor
    old_denoised: torch.Tensor
    h_last: torch.Tensor
    noise: torch.Tensor


GuidedDenoise = Callable[..., torch.Tensor]
"""(x (1,T,53), σ (1,T), stimulus_c (1,T), expressiveness (1,), emotion (1,), strengths (3,)) → D̂ (1,T,53)."""


class DiffusionForcingStream:
    """Holds clean context and a partly denoised look-ahead; ``advance`` returns ``horizon`` new latent frames."""

    def __init__(self, denoise: GuidedDenoise, model: ModelConfig, config: StreamConfig, seed: int = 0,
                 rest: Optional[torch.Tensor] = None) -> None:
        config.check(model)
        if rest is not None and tuple(rest.shape) != (model.latent_dim,):
            raise ValueError(f"rest face must have {model.latent_dim} latent values, got shape {tuple(rest.shape)}")
        self._rest = rest
        self.denoise = denoise
        self.model = model
        self.config = config
        self.expressiveness = 0.0
        self.emotion = 5
        self.strengths = (0.0, 0.0, 0.0)
        self._k = model.stack
        self._sigmas = level_sigmas(config.steps, model.sigma_min, model.sigma_max, model.rho)
        lookahead = (config.window - config.context - config.horizon) // self._k
        self._slope = max(config.uncertainty, config.steps / lookahead) if lookahead else config.uncertainty
        self.seed = int(seed)
        self.reset()

    def reset(self, seed: Optional[int] = None) -> None:
        """Forget context and look-ahead and restart the noise (from ``seed`` when given)."""
        if seed is not None:
            self.seed = int(seed)
        self._noise = torch.Generator().manual_seed(self.seed)
        cfg = self.config
        self._clock = 0
        self._front = 0
        self._padding = self._fresh(cfg.context)
        if self._rest is None:
            self._context = torch.zeros(0, self.model.latent_dim)
            self._context_stimulus = torch.zeros(0)
        else:
            self._context = self._rest.float().expand(cfg.context, -1).clone()
            self._context_stimulus = torch.full((cfg.context,), STIMULUS_BASELINE_C)
        future = cfg.window - cfg.context
        self._future = self._fresh(future)
        self._future_sigma = torch.full((future // self._k,), self.model.sigma_max, dtype=torch.float64)
        self._state = SolverState.empty(self._future.unsqueeze(0))

    def snapshot(self) -> StreamSnapshot:
        """The state before the next ``advance``; ``restore`` returns to it."""
        return StreamSnapshot(
            self._clock, self._front, self._padding.clone(), self._context.clone(), self._context_stimulus.clone(),
            self._future.clone(), self._future_sigma.clone(), self._state.old_denoised.clone(), self._state.h_last.clone(),
            self._noise.get_state(),
        )

    def restore(self, snapshot: StreamSnapshot) -> None:
        """Go back to ``snapshot``: the next ``advance`` generates the frames that followed it
        again (the same noise; the conditions are the current ones)."""
        self._clock, self._front = snapshot.clock, snapshot.front
        self._padding, self._context = snapshot.padding.clone(), snapshot.context.clone()
        self._context_stimulus = snapshot.context_stimulus.clone()
        self._future, self._future_sigma = snapshot.future.clone(), snapshot.future_sigma.clone()
        self._state = SolverState(snapshot.old_denoised.clone(), snapshot.h_last.clone())
        self._noise.set_state(snapshot.noise)

    def reseed(self, seed: int) -> None:
        """Draw the noise of tokens entering from now on from ``seed``; context and look-ahead stay."""
        self.seed = int(seed)
        self._noise = torch.Generator().manual_seed(self.seed)

    def _fresh(self, frames: int) -> torch.Tensor:
        return torch.randn(frames, self.model.latent_dim, generator=self._noise) * self.model.sigma_max

    def _scheduled_sigma(self, clock: int) -> torch.Tensor:
        """σ of each future token at row ``clock``: Karras σ at ℓ = clip(N − τ + ⌊u·g⌋, 0, N) (u = the slope)."""
        tokens = torch.arange(self._front, self._front + self._future_sigma.shape[0], dtype=torch.float64)
        return self._sigmas[pyramid_level(self.config.steps, clock, tokens, self._slope)]

    def advance(self, stimulus_c: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Run the rows that finish the next ``horizon`` frames; return them (horizon, 53), normalised latent."""
        cfg, k = self.config, self._k
        stimulus = torch.as_tensor(np.asarray(stimulus_c, dtype=np.float32))
        if stimulus.shape != (cfg.horizon,) or not torch.isfinite(stimulus).all():
            raise ValueError(f"advance: stimulus must be {cfg.horizon} finite °C values, got shape {tuple(stimulus.shape)}")
        padding = cfg.context - self._context.shape[0]
        future = cfg.window - cfg.context
        context = torch.cat([self._padding[:padding], self._context])
        context_sigma = torch.cat([torch.full((padding,), self.model.sigma_max), torch.zeros(cfg.context - padding)])
        window_stimulus = torch.cat([
            stimulus[:1].expand(padding), self._context_stimulus, stimulus, stimulus[-1:].expand(future - cfg.horizon),
        ]).unsqueeze(0)
        expressiveness = torch.tensor([self.expressiveness], dtype=torch.float32)
        emotion = torch.tensor([self.emotion], dtype=torch.long)
        strengths = torch.tensor(self.strengths, dtype=torch.float32)
        tokens = cfg.horizon // k
        started = int((self._future_sigma < self.model.sigma_max).sum())
        clock = min(self._clock, math.floor(self._slope * (self._front + started)))
        end = self.config.steps + math.floor(self._slope * (self._front + tokens - 1))
        x = torch.cat([context, self._future]).unsqueeze(0)
        while clock < end or self._future_sigma[:tokens].max() > 0:
            sigma_next = torch.minimum(self._future_sigma, self._scheduled_sigma(clock + 1))
            frame_sigma = self._future_sigma.repeat_interleave(k).float().unsqueeze(0)
            denoised = self.denoise(x, torch.cat([context_sigma.unsqueeze(0), frame_sigma], 1),
                                    window_stimulus, expressiveness, emotion, strengths)
            future_x = dpmpp_2m_step(x[:, cfg.context:], denoised[:, cfg.context:], frame_sigma,
                                     sigma_next.repeat_interleave(k).float().unsqueeze(0), self._state)
            x = torch.cat([x[:, :cfg.context], future_x], 1)
            self._future_sigma = sigma_next
            clock += 1
        self._clock = clock
        new = x[0, cfg.context:cfg.context + cfg.horizon].clone()
        self._shift(new, stimulus, x[0, cfg.context + cfg.horizon:])
        return new

    def _shift(self, new: torch.Tensor, stimulus: torch.Tensor, lookahead: torch.Tensor) -> None:
        """Move the finished horizon into the context and let fresh noise tokens enter the look-ahead."""
        cfg, tokens = self.config, self.config.horizon // self._k
        if cfg.context:
            self._context = torch.cat([self._context, new])[-cfg.context:]
            self._context_stimulus = torch.cat([self._context_stimulus, stimulus])[-cfg.context:]
        self._future = torch.cat([lookahead, self._fresh(cfg.horizon)])
        self._future_sigma = torch.cat([
            self._future_sigma[tokens:], torch.full((tokens,), self.model.sigma_max, dtype=torch.float64),
        ])
        self._state.drop_front(cfg.horizon)
        self._front += tokens
