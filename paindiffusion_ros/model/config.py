"""Architecture and diffusion settings of a PainDiffusion model, saved with its weights."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, TypeVar


T = TypeVar("T", bound="JsonConfig")


class JsonConfig:
    """Dict/JSON round trip of a frozen config dataclass (tuples stored as lists)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        """Build from a dict, naming any key that is not a field."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class ModelConfig(JsonConfig):
    """Sizes of the temporal latent U-Net (paper §III-C) and its EDM constants (§III-D).

    The default is sized for real time on 2 CPU cores (see ``benchmarks/bench_generator.py``):
    4-frame stacking turns a 64-frame window into 16 tokens, two U-Net levels of 64/128
    channels, attention only at the coarse level.

    Training σ: ln σ ~ N(0, 1.2²) rather than EDM's N(−1.2, 1.2²). The conditions decide
    the face mainly at high σ (where D ≈ E[z0 | c]); on this small latent the EDM default
    spends most updates at σ < 0.3, and a toy with a stimulus-dependent mean learned that
    mean about twice as fast with P_mean = 0 (300 steps: ±1.0 vs ±0.4 of ±2). Sampling σ ∈
    [0.02, 5] with ρ = 7: on a unit-variance latent the N(0, σ_max²) prior is 4 % short of
    the true marginal's variance, and 20 DPM-Solver++(2M) steps on a Gaussian stay within
    2 % of its variance (σ_max = 80 would leave 8 %).
    """

    latent_dim: int = field(default=53, metadata={"help": "floats per frame (50 expression + 3 jaw)", "range": (1, 1024)})
    stack: int = field(default=4, metadata={"help": "frames stacked into one token (frame stacking)", "range": (1, 16)})
    window: int = field(default=64, metadata={"help": "training window in frames", "range": (4, 4096)})
    channels: tuple[int, ...] = field(default=(64, 128), metadata={"help": "U-Net channels per level", "range": (8, 1024)})
    blocks_per_level: int = field(default=1, metadata={"help": "ResNet blocks per U-Net level", "range": (1, 8)})
    attention_levels: tuple[bool, ...] = field(
        default=(False, True), metadata={"help": "whether each level has cross + temporal attention", "choices": (False, True)}
    )
    heads: int = field(default=4, metadata={"help": "attention heads", "range": (1, 32)})
    embed_dim: int = field(default=128, metadata={"help": "noise/frame-time embedding width", "range": (8, 2048)})
    cond_dim: int = field(default=64, metadata={"help": "condition token width", "range": (8, 2048)})
    groups: int = field(default=8, metadata={"help": "GroupNorm groups", "range": (1, 64)})
    sigma_data: float = field(default=1.0, metadata={"help": "EDM σ_data of the normalised latent", "range": (1e-3, 10.0)})
    p_mean: float = field(default=0.0, metadata={"help": "training log-σ mean (EDM P_mean)", "range": (-5.0, 5.0)})
    p_std: float = field(default=1.2, metadata={"help": "training log-σ std (EDM P_std)", "range": (0.01, 5.0)})
    sigma_min: float = field(default=0.02, metadata={"help": "smallest sampling σ", "range": (1e-5, 1.0)})
    sigma_max: float = field(default=5.0, metadata={"help": "largest sampling σ", "range": (1.0, 1000.0)})
    rho: float = field(default=7.0, metadata={"help": "Karras schedule ρ", "range": (1.0, 20.0)})
    p_context: float = field(
        default=0.0, metadata={"help": "training windows that begin with clean context tokens (σ = 0), as the stream holds its context", "range": (0.0, 1.0)}
    )
    condition_dropout: float = field(default=0.1, metadata={"help": "training drop probability per condition", "range": (0.0, 1.0)})
    stimulus_history: int = field(
        default=1, metadata={"help": "tokens of stimulus each token's own stimulus embedding sees: its own and the preceding ones (causal)", "range": (1, 256)}
    )
    global_scale_shift: bool = field(
        default=False, metadata={"help": "also add the expressiveness and emotion tokens to every token's scale-shift embedding", "choices": (False, True)}
    )
    expressiveness_max: float = field(
        default=16.0, metadata={"help": "pain expressiveness (mean PSPI) that the condition encoder maps to 1", "range": (0.5, 16.0)}
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "attention_levels", tuple(bool(a) for a in self.attention_levels))
        if len(self.channels) != len(self.attention_levels):
            raise ValueError(
                f"ModelConfig: channels {self.channels} and attention_levels {self.attention_levels} need one entry per level"
            )
        for c in self.channels:
            if c % self.groups or c % self.heads:
                raise ValueError(f"ModelConfig: channel count {c} must divide by groups={self.groups} and heads={self.heads}")
        tokens = self.window // self.stack
        if self.window % self.stack or tokens % 2 ** (len(self.channels) - 1):
            raise ValueError(
                f"ModelConfig: window {self.window} must split into tokens of stack {self.stack} "
                f"that halve {len(self.channels) - 1} times"
            )

    @property
    def token_multiple(self) -> int:
        """Sequence lengths (frames) the network accepts are multiples of this."""
        return self.stack * 2 ** (len(self.channels) - 1)



TINY_CONFIG = ModelConfig(channels=(16, 32), attention_levels=(False, True), heads=2, embed_dim=16, cond_dim=16, groups=4, window=32)
"""A minimal architecture (≈ 80 k parameters, 32-frame window) for tests and smoke runs."""


OFFICIAL_ARCHITECTURE = "official-unet1d"
"""``architecture`` of the port of the authors' network (``official_network.OfficialUNet1D``)."""


@dataclass(frozen=True)
class OfficialUNetConfig(JsonConfig):
    """The authors' PainDiffusion network (ais-lab/paindiffusion, ``Unet1D`` + ``ControlEmbedding``).

    Sizes of the published BioVid checkpoint by default: a 1-D U-Net that convolves along
    the latent (``latent_dim`` = 128: 3 jaw + 100 expression + 25 padding) with the
    ``stack`` frames of a token as channels, ``dim`` × ``dim_mults`` channels per level,
    ``heads`` × ``head_dim`` attention width, and a condition embedding of width
    ``cond_dim`` whose inputs are standardised with the data set statistics below (BioVid:
    emotion index, expressiveness = mean PSPI of the clip, stimulus °C). EDM constants as the
    authors sampled: σ_data 0.5, σ ∈ [0.002, 80], ρ 7.
    """

    architecture: str = field(default=OFFICIAL_ARCHITECTURE, metadata={"help": "network family", "choices": (OFFICIAL_ARCHITECTURE,)})
    latent_dim: int = field(default=128, metadata={"help": "floats per frame (jaw, expression, zero padding)", "range": (8, 1024)})
    stack: int = field(default=4, metadata={"help": "frames stacked into one token (the network's input channels)", "range": (1, 16)})
    window: int = field(default=32, metadata={"help": "frames the authors denoised together", "range": (4, 4096)})
    dim: int = field(default=32, metadata={"help": "channels of the first U-Net level", "range": (1, 1024)})
    dim_mults: tuple[int, ...] = field(default=(1, 2, 4, 8), metadata={"help": "channel multiplier per level", "range": (1, 64)})
    heads: int = field(default=4, metadata={"help": "attention heads", "range": (1, 32)})
    head_dim: int = field(default=32, metadata={"help": "width of one attention head", "range": (1, 512)})
    cond_dim: int = field(default=128, metadata={"help": "width of each condition embedding", "range": (1, 2048)})
    sinusoidal_theta: float = field(default=10000.0, metadata={"help": "max period of the sinusoidal embeddings", "range": (1.0, 1e6)})
    emotion_mean: float = field(default=4.6183, metadata={"help": "data set mean of the emotion index"})
    emotion_std: float = field(default=1.3559, metadata={"help": "data set std of the emotion index"})
    expressiveness_mean: float = field(default=8.33, metadata={"help": "data set mean of the expressiveness (mean PSPI)"})
    expressiveness_std: float = field(default=0.674, metadata={"help": "data set std of the expressiveness"})
    stimulus_mean: float = field(default=37.2281, metadata={"help": "data set mean of the heat stimulus, °C"})
    stimulus_std: float = field(default=7.0676, metadata={"help": "data set std of the heat stimulus, °C"})
    sigma_data: float = field(default=0.5, metadata={"help": "EDM σ_data of the latent in [-1, 1]", "range": (1e-3, 10.0)})
    sigma_min: float = field(default=0.002, metadata={"help": "smallest sampling σ (the last level, never 0)", "range": (1e-5, 1.0)})
    sigma_max: float = field(default=80.0, metadata={"help": "largest sampling σ", "range": (1.0, 1000.0)})
    rho: float = field(default=7.0, metadata={"help": "Karras schedule ρ", "range": (1.0, 20.0)})

    def __post_init__(self) -> None:
        object.__setattr__(self, "dim_mults", tuple(int(m) for m in self.dim_mults))
        if self.architecture != OFFICIAL_ARCHITECTURE:
            raise ValueError(f"OfficialUNetConfig: architecture must be {OFFICIAL_ARCHITECTURE!r}, got {self.architecture!r}")
        if not self.dim_mults:
            raise ValueError("OfficialUNetConfig: dim_mults needs at least one level")
        if self.latent_dim % 2 ** (len(self.dim_mults) - 1):
            raise ValueError(
                f"OfficialUNetConfig: latent_dim {self.latent_dim} must halve {len(self.dim_mults) - 1} times (one per downsampling)"
            )
        if self.window % self.stack:
            raise ValueError(f"OfficialUNetConfig: window {self.window} must be a multiple of the stack {self.stack}")
        for name in ("emotion_std", "expressiveness_std", "stimulus_std"):
            if not getattr(self, name) > 0:
                raise ValueError(f"OfficialUNetConfig: {name} must be positive, got {getattr(self, name)}")

    @property
    def token_multiple(self) -> int:
        """Sequence lengths (frames) the network accepts are multiples of this (it never pools over time)."""
        return self.stack

    @property
    def channels(self) -> tuple[int, ...]:
        """Channels per U-Net level."""
        return tuple(self.dim * m for m in self.dim_mults)


NetworkConfig = ModelConfig | OfficialUNetConfig
"""The architecture record of a checkpoint; ``architecture`` in its JSON selects the class."""


def config_from_dict(data: dict[str, Any]) -> NetworkConfig:
    """``OfficialUNetConfig`` when ``data['architecture']`` names it, else the project's ``ModelConfig``."""
    if "architecture" not in data:
        return ModelConfig.from_dict(data)
    if data["architecture"] == OFFICIAL_ARCHITECTURE:
        return OfficialUNetConfig.from_dict(data)
    raise ValueError(f"unknown architecture {data['architecture']!r}; known: {OFFICIAL_ARCHITECTURE} (or none: the project's TemporalUNet)")
