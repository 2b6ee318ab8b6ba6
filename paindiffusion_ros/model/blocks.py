"""Building blocks of the temporal latent U-Net (paper §III-C, Fig. 2), on (B, C, L) features."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ResBlock(nn.Module):
    """1-D conv ResNet block (He et al. 2016) with per-token noise scale-shift (Dhariwal & Nichol 2021)."""

    def __init__(self, channels_in: int, channels: int, embed_dim: int, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, channels_in), channels_in)
        self.conv1 = nn.Conv1d(channels_in, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, channels)
        self.scale_shift = nn.Linear(embed_dim, 2 * channels)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv1d(channels_in, channels, 1) if channels_in != channels else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """``x`` (B, C_in, L), ``emb`` (B, L, E) → (B, C, L)."""
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.scale_shift(F.silu(emb)).transpose(1, 2).chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class Attention(nn.Module):
    """Multi-head dot-product attention (Vaswani et al. 2017): queries from x, keys/values from context."""

    def __init__(self, channels: int, context_dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(channels, channels, bias=False)
        self.kv = nn.Linear(context_dim, 2 * channels, bias=False)
        self.out = nn.Linear(channels, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """``x`` (B, L, C), ``context`` (B, S, D) → (B, L, C)."""
        batch, length, channels = x.shape
        head_dim = channels // self.heads
        q = self.q(x).reshape(batch, length, self.heads, head_dim).transpose(1, 2)
        k, v = self.kv(context).reshape(batch, -1, 2, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(q @ k.transpose(-1, -2) * head_dim**-0.5, dim=-1)
        return self.out((weights @ v).transpose(1, 2).reshape(batch, length, channels))


class AttentionBlock(nn.Module):
    """Cross-attention to the condition tokens, then temporal self-attention over tokens (pre-norm residual).

    Paper Fig. 2: spatial cross-attention to c, then temporal attention that knows each
    token's frame time. The sinusoidal frame-time embedding (``embedding.TokenEmbedding``)
    enters the features through the scale-shift of the ResBlock just before this block, and
    the stimulus tokens carry their own sinusoidal positions, so neither attention is
    permutation-blind.
    """

    def __init__(self, channels: int, cond_dim: int, heads: int) -> None:
        super().__init__()
        self.norm_cross = nn.LayerNorm(channels)
        self.cross = Attention(channels, cond_dim, heads)
        self.norm_time = nn.LayerNorm(channels)
        self.temporal = Attention(channels, channels, heads)

    def forward(self, x: torch.Tensor, cond_tokens: torch.Tensor) -> torch.Tensor:
        """``x`` (B, C, L), ``cond_tokens`` (B, S, D) → (B, C, L)."""
        h = x.transpose(1, 2)
        h = h + self.cross(self.norm_cross(h), cond_tokens)
        normed = self.norm_time(h)
        h = h + self.temporal(normed, normed)
        return h.transpose(1, 2)


class Level(nn.Module):
    """One U-Net level: ResNet blocks, each optionally followed by an attention block."""

    def __init__(self, channels_in: int, channels: int, blocks: int, attention: bool, embed_dim: int,
                 cond_dim: int, heads: int, groups: int) -> None:
        super().__init__()
        self.res = nn.ModuleList(
            ResBlock(channels_in if i == 0 else channels, channels, embed_dim, groups) for i in range(blocks)
        )
        self.attn = nn.ModuleList(AttentionBlock(channels, cond_dim, heads) for _ in range(blocks if attention else 0))

    def forward(self, x: torch.Tensor, emb: torch.Tensor, cond_tokens: torch.Tensor) -> torch.Tensor:
        for i, block in enumerate(self.res):
            x = block(x, emb)
            if self.attn:
                x = self.attn[i](x, cond_tokens)
        return x
