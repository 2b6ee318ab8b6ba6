"""Pain-response recordings and the fixed-length training windows cut from them.

A recording is one subject's synchronised 25 Hz streams, the four modalities of the
paper's data set (§IV-A): face latent (expression + jaw), heat stimulus (°C), the
subject's pain expressiveness (mean PSPI) and emotion index. The synthetic world and
the BioVid/EMOCA loader both produce a ``PainDataset`` of these, so training and
evaluation never care where the data came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..face import facs
from ..face.binding import get_binding, require_binding

FPS = 25.0
"""Frame rate of every recording (BioVid video rate, paper §IV-A)."""


class DatasetError(ValueError):
    """A data set file or array that cannot be used; the message names it."""


@dataclass
class Recording:
    """One subject's synchronised streams at ``FPS``."""

    subject: str
    stimulus_c: np.ndarray
    expression: np.ndarray
    jaw_pose: np.ndarray
    expressiveness: float
    emotion: int
    pspi: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        n = len(self.stimulus_c)
        shapes = {
            "stimulus_c": (self.stimulus_c.shape, (n,)),
            "expression": (self.expression.shape, (n, facs.EXPRESSION_DIM)),
            "jaw_pose": (self.jaw_pose.shape, (n, facs.JAW_DIM)),
        }
        if self.pspi is not None:
            shapes["pspi"] = (self.pspi.shape, (n,))
        for name, (found, expected) in shapes.items():
            if found != expected:
                raise DatasetError(f"recording {self.subject!r}: {name} has shape {found}, expected {expected}")

    @property
    def frames(self) -> int:
        return len(self.stimulus_c)

    @property
    def latent(self) -> np.ndarray:
        """The (T, 53) face latent: expression then jaw."""
        return np.concatenate([self.expression, self.jaw_pose], axis=1).astype(np.float32)


@dataclass
class PainDataset:
    """Recordings in one face binding's latent space."""

    recordings: list[Recording]
    binding: str
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        get_binding(self.binding)

    @property
    def subjects(self) -> list[str]:
        return [r.subject for r in self.recordings]

    def require(self, binding: str) -> None:
        """Raise ``FaceBindingError`` unless the data is in ``binding``'s latent space."""
        require_binding(self.binding, binding, "the data set")

    def stacked_frames(self) -> tuple[np.ndarray, np.ndarray]:
        """All frames' expression (N, 50) and jaw (N, 3), for fitting normalisation."""
        return (
            np.concatenate([r.expression for r in self.recordings]).astype(np.float32),
            np.concatenate([r.jaw_pose for r in self.recordings]).astype(np.float32),
        )


@dataclass
class WindowBatch:
    """A batch of training windows: latent (B,T,53), stimulus (B,T), expressiveness (B,), emotion (B,)."""

    latent: np.ndarray
    stimulus_c: np.ndarray
    expressiveness: np.ndarray
    emotion: np.ndarray


class WindowSampler:
    """Draws random fixed-length windows (paper: 64 frames) uniformly over all frames."""

    def __init__(self, dataset: PainDataset, window: int) -> None:
        usable = [r for r in dataset.recordings if r.frames >= window]
        if not usable:
            raise DatasetError(f"no recording has the {window} frames a training window needs")
        self.window = window
        self._latent = [r.latent for r in usable]
        self._stimulus = [r.stimulus_c.astype(np.float32) for r in usable]
        self._expressiveness = np.array([r.expressiveness for r in usable], dtype=np.float32)
        self._emotion = np.array([r.emotion for r in usable], dtype=np.int64)
        starts = np.array([r.frames - window + 1 for r in usable], dtype=np.float64)
        self._weights = starts / starts.sum()
        self._starts = starts.astype(np.int64)

    def sample(self, batch: int, rng: np.random.Generator) -> WindowBatch:
        """``batch`` windows; recordings weighted by how many windows they hold."""
        which = rng.choice(len(self._latent), size=batch, p=self._weights)
        offsets = (rng.random(batch) * self._starts[which]).astype(np.int64)
        w = self.window
        return WindowBatch(
            latent=np.stack([self._latent[i][o:o + w] for i, o in zip(which, offsets)]),
            stimulus_c=np.stack([self._stimulus[i][o:o + w] for i, o in zip(which, offsets)]),
            expressiveness=self._expressiveness[which],
            emotion=self._emotion[which],
        )
