"""The temporal latent U-Net F_θ of PainDiffusion (paper §III-C, Fig. 2).

Frames are stacked k at a time into tokens (frame stacking, Chen et al. 2024 "Diffusion
Forcing"): (B, T, 53) → (B, 53·k, T/k). Diffusion forcing gives every frame its own
noise level; with stacking the k frames of a token share one level — the network reads a
token's c_noise as the mean over its frames, and the loss and the sampler always assign
the same σ to the k frames of a token, so the noise schedule moves in units of k frames.
The conditions reach the network through cross-attention over the condition tokens
(paper §III-C); in addition each token's own stimulus embedding joins its noise/time
embedding in the scale-shift, so the temporal alignment of stimulus and face need not be
learned through attention alone; with ``global_scale_shift`` the expressiveness and
emotion tokens join every token's embedding as well, so they can scale the response at
the fine level, which has no attention. The network knows nothing of σ schedules or sampling;
it maps (c_in·z, c_noise, c) → F.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import Level
from .conditions import Conditions
from .config import ModelConfig
from .embedding import ConditionEncoder, TokenEmbedding


class TemporalUNet(nn.Module):
    """1-D conv U-Net over stacked-frame tokens with per-token noise scale-shift and attention."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        ch, attn, e, d = config.channels, config.attention_levels, config.embed_dim, config.cond_dim
        width = config.latent_dim * config.stack
        blocks, heads, groups = config.blocks_per_level, config.heads, config.groups
        self.embed = TokenEmbedding(e)
        self.conditions = ConditionEncoder(config.stack, d, config.stimulus_history, config.expressiveness_max)
        self.stimulus_to_embed = nn.Linear(d, e)
        self.global_to_embed = nn.Linear(2 * d, e) if config.global_scale_shift else None
        self.input = nn.Conv1d(width, ch[0], 3, padding=1)
        self.down = nn.ModuleList(
            Level(ch[i], ch[i], blocks, attn[i], e, d, heads, groups) for i in range(len(ch))
        )
        self.downsample = nn.ModuleList(nn.Conv1d(ch[i], ch[i + 1], 3, stride=2, padding=1) for i in range(len(ch) - 1))
        self.middle = Level(ch[-1], ch[-1], 1, attn[-1], e, d, heads, groups)
        self.upsample = nn.ModuleList(nn.Conv1d(ch[i + 1], ch[i], 3, padding=1) for i in range(len(ch) - 1))
        self.up = nn.ModuleList(Level(2 * ch[i], ch[i], blocks, attn[i], e, d, heads, groups) for i in range(len(ch)))
        self.output_norm = nn.GroupNorm(groups, ch[0])
        self.output = nn.Conv1d(ch[0], width, 3, padding=1)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, cond: Conditions) -> torch.Tensor:
        """``x`` (B, T, 53) scaled latent, ``c_noise`` (B, T) per frame, ``cond`` → F (B, T, 53)."""
        batch, frames, dim = x.shape
        k = self.config.stack
        if frames % self.config.token_multiple:
            raise ValueError(f"TemporalUNet: {frames} frames is not a multiple of {self.config.token_multiple}")
        tokens = frames // k
        cond_tokens, stimulus = self.conditions(cond, tokens)
        emb = self.embed(c_noise.reshape(batch, tokens, k).mean(-1)) + self.stimulus_to_embed(stimulus)
        if self.global_to_embed is not None:
            emb = emb + self.global_to_embed(cond_tokens[:, tokens:].flatten(1)).unsqueeze(1)
        h = self.input(x.reshape(batch, tokens, k * dim).transpose(1, 2))
        skips = []
        for i, level in enumerate(self.down):
            h = level(h, _pool(emb, i), cond_tokens)
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        last = len(self.down) - 1
        h = self.middle(h, _pool(emb, last), cond_tokens)
        for i in reversed(range(len(self.up))):
            if i < last:
                h = self.upsample[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
            h = self.up[i](torch.cat([h, skips[i]], dim=1), _pool(emb, i), cond_tokens)
        h = self.output(F.silu(self.output_norm(h)))
        return h.transpose(1, 2).reshape(batch, frames, dim)


def _pool(emb: torch.Tensor, level: int) -> torch.Tensor:
    """Per-token embedding (B, L, E) averaged to level ``level``'s resolution (L / 2^level)."""
    if level == 0:
        return emb
    batch, tokens, width = emb.shape
    return emb.reshape(batch, tokens >> level, 1 << level, width).mean(2)
