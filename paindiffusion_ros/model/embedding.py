"""Embeddings of the temporal latent U-Net: sinusoidal noise/frame-time and the condition encoder."""

from __future__ import annotations

import math

import torch
from torch import nn

from .conditions import EMOTIONS, EXPRESSIVENESS_MAX, Conditions, normalize_expressiveness, normalize_stimulus


def sinusoidal(values: torch.Tensor, dim: int, max_period: float = 10000.0, *, inclusive: bool = False) -> torch.Tensor:
    """Transformer sinusoidal embedding (Vaswani et al. 2017) of ``values`` (…) → (…, dim).

    Frequencies 1 … max_period^(−(h−1)/h), h = dim/2, laid out [cos, sin]. With
    ``inclusive`` (the variant of lucidrains' ``SinusoidalPosEmb`` that the authors' network
    uses) the frequencies run 1 … 1/max_period inclusive and the layout is [sin, cos].
    """
    half = dim // 2
    if inclusive:
        freqs = torch.exp(torch.arange(half, device=values.device) * -(math.log(max_period) / (half - 1)))
        angles = values.float().unsqueeze(-1) * freqs
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=values.device) / half)
    angles = values.float().unsqueeze(-1) * freqs
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def mlp(width_in: int, width: int) -> nn.Sequential:
    """The light two-layer MLP used by every embedding."""
    return nn.Sequential(nn.Linear(width_in, width), nn.SiLU(), nn.Linear(width, width))


class TokenEmbedding(nn.Module):
    """Per-token embedding of the noise level c_noise and the frame time (paper §III-C).

    Each token carries its own noise level (diffusion forcing), so the embedding is
    (B, L, E) rather than one vector per sample; the ResNet blocks read it by scale-shift.
    (``TemporalUNet`` adds each token's own stimulus embedding to it as well.)
    """

    def __init__(self, embed_dim: int) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.noise = mlp(embed_dim, embed_dim)
        self.time = mlp(embed_dim, embed_dim)

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        tokens = torch.arange(c_noise.shape[1], device=c_noise.device)
        # c_noise = ln(σ)/4 spans about −2…1.5; ×250 spreads it over the sinusoid frequencies (as EDM's 1000·t).
        return self.noise(sinusoidal(c_noise * 250.0, self.embed_dim)) + self.time(sinusoidal(tokens, self.embed_dim))


def causal_history(values: torch.Tensor, stack: int, history: int) -> torch.Tensor:
    """Per-token stimulus history: (B, T) → (B, T/stack, history·stack).

    Token j gets the frames of tokens j−history+1 … j, oldest first; frames before the
    window repeat its first value (a held stimulus), so training windows and streaming
    windows see the same thing.
    """
    batch, frames = values.shape
    tokens = values.reshape(batch, frames // stack, stack)
    if history == 1:
        return tokens
    padded = torch.cat([tokens[:, :1, :1].expand(batch, history - 1, stack), tokens], dim=1)
    return torch.cat([padded[:, i:i + frames // stack] for i in range(history)], dim=-1)


class ConditionEncoder(nn.Module):
    """Light MLP encoder of c = (C, 𝒫, ℰ) into condition tokens for cross-attention.

    Output: (B, L + 2, D) = one stimulus token per latent token, then the expressiveness
    token and the emotion token. A stimulus token encodes its k stacked frames and the
    ``history − 1`` tokens before them: the face answers heat 1–2 s (25–50 frames) later
    (BioVid, see ``data/synthetic.py``), so a token's own frames alone do not explain it.
    A dropped condition (``keep`` False) is replaced by that condition's learned null vector.
    """

    def __init__(self, stack: int, cond_dim: int, history: int = 1, expressiveness_max: float = EXPRESSIVENESS_MAX) -> None:
        super().__init__()
        self.stack = stack
        self.cond_dim = cond_dim
        self.history = history
        self.expressiveness_max = expressiveness_max
        self.stimulus = mlp(stack * history, cond_dim)
        self.stimulus_time = nn.Linear(cond_dim, cond_dim)
        self.expressiveness = mlp(1, cond_dim)
        self.emotion = nn.Embedding(len(EMOTIONS), cond_dim)
        self.null = nn.Parameter(torch.zeros(3, cond_dim))

    def forward(self, cond: Conditions, tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (condition tokens (B, L+2, D), aligned stimulus tokens (B, L, D))."""
        stim = causal_history(normalize_stimulus(cond.stimulus_c), self.stack, self.history)
        positions = sinusoidal(torch.arange(tokens, device=stim.device), self.cond_dim)
        stim = self.stimulus(stim) + self.stimulus_time(positions)
        expressiveness = normalize_expressiveness(cond.expressiveness, self.expressiveness_max)
        expr = self.expressiveness(expressiveness.unsqueeze(-1)).unsqueeze(1)
        emo = self.emotion(cond.emotion).unsqueeze(1)
        keep = cond.keep.unsqueeze(-1).unsqueeze(-1)
        emo = torch.where(keep[:, 0], emo, self.null[0])
        expr = torch.where(keep[:, 1], expr, self.null[1])
        stim = torch.where(keep[:, 2], stim, self.null[2])
        return torch.cat([stim, expr, emo], dim=1), stim
