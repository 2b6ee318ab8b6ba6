"""Building blocks of the authors' PainDiffusion network (ais-lab/paindiffusion ``Unet1D``).

The authors adapted lucidrains' ``denoising-diffusion-pytorch`` 1-D U-Net. Features are
(N, C, L) with N = batch × tokens and L the latent axis (128): the network convolves along
the latent, not along time. Attribute names follow the authors' modules one to one, so
their state-dict keys load by a prefix rename (``official_network.OFFICIAL_PREFIXES``).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from .embedding import sinusoidal

ScaleShift = tuple[torch.Tensor, torch.Tensor]


class SinusoidalEmbedding(nn.Module):
    """``embedding.sinusoidal`` (inclusive frequencies, [sin, cos]) as the first layer of an MLP."""

    def __init__(self, dim: int, theta: float) -> None:
        super().__init__()
        self.dim = dim
        self.theta = theta

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return sinusoidal(values, self.dim, self.theta, inclusive=True)


def embedding_mlp(dim: int, width: int, theta: float) -> nn.Sequential:
    """Sinusoidal embedding of width ``dim`` → Linear → GELU → Linear, ``width`` wide."""
    return nn.Sequential(SinusoidalEmbedding(dim, theta), nn.Linear(dim, width), nn.GELU(), nn.Linear(width, width))


class RMSNorm(nn.Module):
    """x / ‖x‖₂ over channels · g · √C (root-mean-square norm with a learned per-channel gain)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.g = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) * self.g * (x.shape[1] ** 0.5)


class ConvBlock(nn.Module):
    """Conv1d(k=3) → RMSNorm → optional FiLM x·(1 + scale) + shift (Perez et al. 2018) → SiLU."""

    def __init__(self, channels_in: int, channels: int) -> None:
        super().__init__()
        self.proj = nn.Conv1d(channels_in, channels, 3, padding=1)
        self.norm = RMSNorm(channels)

    def forward(self, x: torch.Tensor, scale_shift: Optional[ScaleShift] = None) -> torch.Tensor:
        x = self.norm(self.proj(x))
        if scale_shift is not None:
            scale, shift = scale_shift
            x = x * (scale + 1) + shift
        return F.silu(x)


class ResnetBlock(nn.Module):
    """ResNet block (He et al. 2016) whose first conv is scale-shifted by the noise embedding of its token."""

    def __init__(self, channels_in: int, channels: int, embed_dim: int) -> None:
        super().__init__()
        self.time_mlp = nn.Sequential(nn.SiLU(), nn.Linear(embed_dim, 2 * channels))
        self.block1 = ConvBlock(channels_in, channels)
        self.block2 = ConvBlock(channels, channels)
        self.res_conv = nn.Conv1d(channels_in, channels, 1) if channels_in != channels else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """``x`` (N, C_in, L), ``emb`` (N, E) one noise embedding per token → (N, C, L)."""
        scale, shift = self.time_mlp(emb).unsqueeze(-1).chunk(2, dim=1)
        h = self.block1(x, (scale, shift))
        return self.block2(h) + self.res_conv(x)


def _heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    """(N, H·D, L) → (N, H, D, L)."""
    return t.reshape(t.shape[0], heads, -1, t.shape[-1])


class _HeadProjections(nn.Module):
    """1×1-conv query/key/value projections into ``heads`` heads of ``head_dim`` (no bias)."""

    def __init__(self, channels: int, heads: int, head_dim: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = head_dim**-0.5
        hidden = heads * head_dim
        self.to_q = nn.Conv1d(channels, hidden, 1, bias=False)
        self.to_k = nn.Conv1d(channels, hidden, 1, bias=False)
        self.to_v = nn.Conv1d(channels, hidden, 1, bias=False)

    def project(self, x: torch.Tensor, context: Optional[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q from ``x``, k and v from ``context`` (``x`` when None), each (N, H, D, L)."""
        source = x if context is None else context
        return _heads(self.to_q(x), self.heads), _heads(self.to_k(source), self.heads), _heads(self.to_v(source), self.heads)


class Attention(_HeadProjections):
    """Softmax dot-product attention (Vaswani et al. 2017) along L; keys/values from ``context`` when given."""

    def __init__(self, channels: int, heads: int, head_dim: int) -> None:
        super().__init__(channels, heads, head_dim)
        self.to_out = nn.Conv1d(heads * head_dim, channels, 1)

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        q, k, v = self.project(x, context)
        weights = torch.softmax((q * self.scale).transpose(-1, -2) @ k, dim=-1)
        out = weights @ v.transpose(-1, -2)
        return self.to_out(out.transpose(-1, -2).reshape(x.shape[0], -1, x.shape[-1]))


class LinearAttention(_HeadProjections):
    """Linear attention (Shen et al. 2021, "Efficient attention"): softmax(q) over features,
    softmax(k) over positions, out = (k·vᵀ)ᵀ·q, then Conv1d and RMSNorm."""

    def __init__(self, channels: int, heads: int, head_dim: int) -> None:
        super().__init__(channels, heads, head_dim)
        self.to_out = nn.Sequential(nn.Conv1d(heads * head_dim, channels, 1), RMSNorm(channels))

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        q, k, v = self.project(x, context)
        summary = k.softmax(dim=-1) @ v.transpose(-1, -2)
        out = summary.transpose(-1, -2) @ (q.softmax(dim=-2) * self.scale)
        return self.to_out(out.reshape(x.shape[0], -1, x.shape[-1]))


class AttentionBlock(nn.Module):
    """x' = x·(1 + scale) + shift (when given); x' + attn(RMSNorm(x'), context).

    With ``context_channels`` it is the cross-attention to the condition embedding: the
    (N, 3·k, 128) condition channels are first projected to C channels by a 1×1 conv; the
    queries come from the features along the latent axis, keys and values from the
    condition along its embedding axis. Without, it is self-attention.
    """

    def __init__(self, channels: int, heads: int, head_dim: int, linear: bool, context_channels: Optional[int] = None) -> None:
        super().__init__()
        self.attn = (LinearAttention if linear else Attention)(channels, heads, head_dim)
        self.context_proj = nn.Conv1d(context_channels, channels, 1) if context_channels else None
        self.norm = RMSNorm(channels)

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None,
                scale_shift: Optional[ScaleShift] = None) -> torch.Tensor:
        if self.context_proj is not None:
            context = self.context_proj(context)
        if scale_shift is not None:
            scale, shift = scale_shift
            x = x * (scale + 1) + shift
        return self.attn(self.norm(x), context) + x


class TemporalResAttention(nn.Module):
    """Two softmax self-attention blocks over tokens, the first scale-shifted by the token-time
    embedding (sinusoidal position of each token in the window), with an outer residual."""

    def __init__(self, channels: int, heads: int, head_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.time_mlp = nn.Sequential(nn.SiLU(), nn.Linear(embed_dim, 2 * channels))
        self.block1 = AttentionBlock(channels, heads, head_dim, linear=False)
        self.block2 = AttentionBlock(channels, heads, head_dim, linear=False)

    def forward(self, x: torch.Tensor, time_emb: torch.Tensor) -> torch.Tensor:
        """``x`` (B·L, C, T) one sequence of tokens per latent position, ``time_emb`` (T, E)."""
        scale, shift = self.time_mlp(time_emb).t().chunk(2, dim=0)
        h = self.block1(x, scale_shift=(scale, shift))
        return x + self.block2(h)


class TokenAxis(nn.Module):
    """Runs ``fn`` along the token (time) axis: (B·T, C, L) → (B·L, C, T) → ``fn`` → back.

    The attribute is called ``fn`` as in the authors' ``EinopsToAndFrom`` wrapper, so the
    keys of its weights keep their names.
    """

    def __init__(self, fn: TemporalResAttention) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor, time_emb: torch.Tensor, tokens: int) -> torch.Tensor:
        rows, channels, length = x.shape
        batch = rows // tokens
        along_time = x.reshape(batch, tokens, channels, length).permute(0, 3, 2, 1).reshape(batch * length, channels, tokens)
        out = self.fn(along_time, time_emb)
        return out.reshape(batch, length, channels, tokens).permute(0, 3, 2, 1).reshape(rows, channels, length)


def downsample(channels_in: int, channels: int) -> nn.Conv1d:
    """Conv1d(k=4, stride 2): halves the latent axis."""
    return nn.Conv1d(channels_in, channels, 4, 2, 1)


def upsample(channels_in: int, channels: int) -> nn.Sequential:
    """Nearest ×2 along the latent axis, then Conv1d(k=3)."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv1d(channels_in, channels, 3, padding=1))


def same_length(channels_in: int, channels: int) -> nn.Conv1d:
    """Conv1d(k=3) keeping the length (the deepest level's 'downsample', the top level's 'upsample')."""
    return nn.Conv1d(channels_in, channels, 3, padding=1)

