"""The paper's naive baselines (§IV-B): Random Training Sample and Nearest Neighbour.

Both answer a test stimulus with a stretch of real training faces of the same length:
* Random Training Sample — a uniformly random stretch of a random training recording,
  whatever the stimulus (different per seed, so its Divrs > 0).
* Nearest Neighbour — segment search over every training recording for the stimulus
  stretch with the least squared distance to the test stimulus; returns the faces
  recorded under it (deterministic, Divrs = 0).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from ..data.dataset import PainDataset, Recording


class Generation(NamedTuple):
    """One generated sequence: latent (T, 53) and its PSPI (T,) when the binding has one."""

    latent: np.ndarray
    pspi: Optional[np.ndarray]


def _segment(recording: Recording, start: int, frames: int) -> Generation:
    stop = start + frames
    pspi = recording.pspi[start:stop] if recording.pspi is not None else None
    return Generation(recording.latent[start:stop], pspi)


def _long_enough(train: PainDataset, frames: int) -> list[Recording]:
    usable = [r for r in train.recordings if r.frames >= frames]
    if not usable:
        raise ValueError(f"no training recording has the {frames} frames a baseline must return")
    return usable


class RandomTrainingSample:
    """A random training stretch of the requested length, independent of the stimulus."""

    name = "random"

    def __init__(self, train: PainDataset) -> None:
        self.train = train

    def generate(self, stimulus_c: np.ndarray, seed: int) -> Generation:
        frames = len(stimulus_c)
        usable = _long_enough(self.train, frames)
        rng = np.random.default_rng(seed)
        recording = usable[rng.integers(len(usable))]
        return _segment(recording, int(rng.integers(recording.frames - frames + 1)), frames)


class NearestNeighbor:
    """The training stretch whose stimulus is closest (least squares) to the test stimulus."""

    name = "nearest_neighbor"

    def __init__(self, train: PainDataset) -> None:
        self.train = train

    def search(self, stimulus_c: np.ndarray) -> tuple[Recording, int, float]:
        """(recording, start frame, mean squared stimulus distance) of the best match."""
        q = np.asarray(stimulus_c, dtype=np.float64)
        frames = len(q)
        best: tuple[Recording, int, float] | None = None
        for recording in _long_enough(self.train, frames):
            s = recording.stimulus_c.astype(np.float64)
            energy = np.convolve(s * s, np.ones(frames), mode="valid")
            distance = (energy - 2.0 * np.correlate(s, q, mode="valid") + (q * q).sum()) / frames
            k = int(np.argmin(distance))
            if best is None or distance[k] < best[2]:
                best = (recording, k, float(max(distance[k], 0.0)))
        return best

    def generate(self, stimulus_c: np.ndarray, seed: int) -> Generation:
        recording, start, _ = self.search(stimulus_c)
        return _segment(recording, start, len(stimulus_c))
