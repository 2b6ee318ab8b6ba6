"""The authors' PainDiffusion network (ais-lab/paindiffusion), ported to the project's interface.

``OfficialUNet1D`` maps (c_in·z, c_noise, c) → F like ``network.TemporalUNet``, so the
project's EDM preconditioning, guidance, samplers, ONNX export and runtimes use it as they
are. Inside, it is the published architecture:

- Frame stacking: a window of T frames × 128 latent values becomes T/k tokens of k = 4
  frames; each token is one (k, 128) sequence: the k frames are the channels and the
  convolutions run along the 128 latent values (not along time).
- ``LatentUNet1D``: 4 levels of two ResNet blocks (Conv1d → RMSNorm → FiLM by the token's
  noise embedding → SiLU), linear cross-attention to the conditions (softmax attention at
  the middle), then softmax self-attention along the tokens, scale-shifted by a sinusoidal
  token-time embedding; dim 32 × (1, 2, 4, 8) channels; latent axis 128 → 16.
- ``ControlEmbedding``: each condition, standardised with the data set statistics, goes
  per frame through Linear(1, 128) → ReLU → Linear → Linear; the three embeddings of the k
  frames of a token are its 3·k = 12 condition channels of length 128. A dropped condition
  (classifier-free guidance) is a zero embedding, as in the authors' ``null_ctrl``.

Weights load by a prefix rename (``OFFICIAL_PREFIXES``). The authors' module also holds
tensors its forward pass never reads (``unused_official_tensors``): the importer checks
their shapes and leaves them out.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .conditions import Conditions
from .config import OfficialUNetConfig
from .official_blocks import (
    AttentionBlock,
    ResnetBlock,
    TemporalResAttention,
    TokenAxis,
    downsample,
    embedding_mlp,
    same_length,
    upsample,
)

CONDITIONS = 3
"""Emotion, expressiveness, stimulus: the condition channels per stacked frame."""

OFFICIAL_PREFIXES: dict[str, str] = {"model.": "unet.", "ctrl_emb.": "conditions."}
"""Key prefix in the authors' state dict → key prefix in ``OfficialUNet1D``."""


class LatentUNet1D(nn.Module):
    """The authors' ``Unet1D`` (type ``video``, no self-conditioning, no learned variance)."""

    def __init__(self, config: OfficialUNetConfig) -> None:
        super().__init__()
        dim, theta = config.dim, config.sinusoidal_theta
        heads, head_dim, embed = config.heads, config.head_dim, 4 * config.dim
        context = CONDITIONS * config.stack
        dims = [dim, *config.channels]
        pairs = list(zip(dims[:-1], dims[1:]))

        def temporal(channels: int) -> TokenAxis:
            return TokenAxis(TemporalResAttention(channels, heads, head_dim, embed))

        def cross(channels: int, linear: bool) -> AttentionBlock:
            return AttentionBlock(channels, heads, head_dim, linear, context)

        self.init_conv = nn.Conv1d(config.stack, dim, 7, padding=3)
        self.time_noise_mlp = embedding_mlp(dim, embed, theta)
        self.time_temporal_pos_emb = embedding_mlp(embed, embed, theta)
        last = len(pairs) - 1
        self.downs = nn.ModuleList(
            nn.ModuleList([
                ResnetBlock(c_in, c_in, embed), ResnetBlock(c_in, c_in, embed), cross(c_in, linear=True), temporal(c_in),
                downsample(c_in, c_out) if i < last else same_length(c_in, c_out),
            ])
            for i, (c_in, c_out) in enumerate(pairs)
        )
        mid = dims[-1]
        self.mid_block1 = ResnetBlock(mid, mid, embed)
        self.mid_spatial_attn = cross(mid, linear=False)
        self.mid_temporal_attn = temporal(mid)
        self.mid_block2 = ResnetBlock(mid, mid, embed)
        self.ups = nn.ModuleList(
            nn.ModuleList([
                ResnetBlock(c_out + c_in, c_out, embed), ResnetBlock(c_out + c_in, c_out, embed), cross(c_out, linear=True),
                temporal(c_out), upsample(c_out, c_in) if i < last else same_length(c_out, c_in),
            ])
            for i, (c_in, c_out) in enumerate(reversed(pairs))
        )
        self.final_res_block = ResnetBlock(2 * dim, dim, embed)
        self.final_conv = nn.Conv1d(dim, config.stack, 1)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """``x`` (B, T, k, L) tokens, ``c_noise`` (B, T) per token, ``context`` (B, T, 3k, E) → (B, T, k, L)."""
        batch, tokens = x.shape[:2]
        time_emb = self.time_temporal_pos_emb(torch.arange(tokens, dtype=torch.float32, device=x.device))
        noise_emb = self.time_noise_mlp(c_noise.reshape(-1))
        context = context.flatten(0, 1)
        h = self.init_conv(x.flatten(0, 1))
        top = h
        skips = []
        for block1, block2, cross, temporal, resample in self.downs:
            h = block1(h, noise_emb)
            skips.append(h)
            h = temporal(cross(block2(h, noise_emb), context), time_emb, tokens)
            skips.append(h)
            h = resample(h)
        h = self.mid_block1(h, noise_emb)
        h = self.mid_temporal_attn(self.mid_spatial_attn(h, context), time_emb, tokens)
        h = self.mid_block2(h, noise_emb)
        for block1, block2, cross, temporal, resample in self.ups:
            h = block1(torch.cat([h, skips.pop()], dim=1), noise_emb)
            h = block2(torch.cat([h, skips.pop()], dim=1), noise_emb)
            h = resample(temporal(cross(h, context), time_emb, tokens))
        h = self.final_res_block(torch.cat([h, top], dim=1), noise_emb)
        return self.final_conv(h).reshape(batch, tokens, *x.shape[2:])


def _condition_mlp(width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(1, width), nn.ReLU(), nn.Linear(width, width), nn.Linear(width, width))


class ControlEmbedding(nn.Module):
    """The authors' ``ControlEmbedding``: per-frame MLPs of the standardised conditions."""

    def __init__(self, config: OfficialUNetConfig) -> None:
        super().__init__()
        self.config = config
        self.emotion = _condition_mlp(config.cond_dim)
        self.pain_expressive = _condition_mlp(config.cond_dim)
        self.stimulus_abs = _condition_mlp(config.cond_dim)

    def forward(self, cond: Conditions) -> torch.Tensor:
        """(B, T, 3, E): per frame the emotion, expressiveness and stimulus embeddings, zero where dropped."""
        cfg = self.config
        batch, frames = cond.stimulus_c.shape
        emotion = (cond.emotion.float() - cfg.emotion_mean) / cfg.emotion_std
        expressiveness = (cond.expressiveness.float() - cfg.expressiveness_mean) / cfg.expressiveness_std
        stimulus = (cond.stimulus_c.float() - cfg.stimulus_mean) / cfg.stimulus_std
        embeddings = [
            self.emotion(emotion.reshape(batch, 1, 1)).expand(batch, frames, -1),
            self.pain_expressive(expressiveness.reshape(batch, 1, 1)).expand(batch, frames, -1),
            self.stimulus_abs(stimulus.unsqueeze(-1)),
        ]
        keep = cond.keep.to(embeddings[0].dtype).reshape(batch, 1, CONDITIONS, 1)
        return torch.stack(embeddings, dim=2) * keep


class OfficialUNet1D(nn.Module):
    """F_θ(c_in·z, c_noise, c) of the authors' network; z is (B, T, 128) frames, T a multiple of k."""

    def __init__(self, config: OfficialUNetConfig) -> None:
        super().__init__()
        self.config = config
        self.unet = LatentUNet1D(config)
        self.conditions = ControlEmbedding(config)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, cond: Conditions) -> torch.Tensor:
        """``x`` (B, T, L) scaled latent, ``c_noise`` (B, T) per frame (equal within a token), ``cond`` → F (B, T, L)."""
        batch, frames, length = x.shape
        k = self.config.stack
        if frames % k:
            raise ValueError(f"OfficialUNet1D: {frames} frames is not a multiple of the stack {k}")
        tokens = frames // k
        context = self.conditions(cond).reshape(batch, tokens, k * CONDITIONS, -1)
        out = self.unet(x.reshape(batch, tokens, k, length), c_noise[:, ::k], context)
        return out.reshape(batch, frames, length)


def unused_official_tensors(config: OfficialUNetConfig) -> dict[str, tuple[Optional[int], ...]]:
    """Tensors of the authors' module that its forward pass never reads, with their shapes
    (None: any size, set by a setting of theirs that nothing else uses).

    ``model.context_mlp`` (a condition MLP left unused) and the condition projections
    ``context_proj`` of the temporal attention blocks (their context is always None).
    """
    dim, context = config.dim, CONDITIONS * config.stack
    shapes: dict[str, tuple[Optional[int], ...]] = {
        "model.context_mlp.0.weight": (dim, None), "model.context_mlp.0.bias": (dim,),
        "model.context_mlp.2.weight": (dim, dim), "model.context_mlp.2.bias": (dim,),
        "model.context_mlp.3.weight": (dim, dim), "model.context_mlp.3.bias": (dim,),
    }
    unet = LatentUNet1D(config).to("meta")
    for name, module in unet.named_modules():
        if isinstance(module, TemporalResAttention):
            channels = module.time_mlp[1].out_features // 2
            for block in ("block1", "block2"):
                shapes[f"model.{name}.{block}.context_proj.weight"] = (channels, context, 1)
                shapes[f"model.{name}.{block}.context_proj.bias"] = (channels,)
    return shapes
