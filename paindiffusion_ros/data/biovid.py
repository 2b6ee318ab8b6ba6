"""BioVid HeatPain + EMOCA features, for users who hold the licensed data (paper §IV-A).

The paper runs EMOCA on every BioVid video frame (expression ψ, 50, and jaw pose θ_jaw,
3), keeps the heat stimulus signal, and gives each subject a pain expressiveness (mean
GraphAU PSPI) and an emotion class (frame-averaged HSEmotion). The features are not
redistributable, so this loader reads them from a directory the user prepares:

    ROOT/subjects.csv              subject,expressiveness,emotion[,split]
                                   (emotion: class name or index; split: train|validation)
    ROOT/<subject>/emoca.npz       expression (N,50), jaw_pose (N,3), time_s (N,)
                                   [+ pspi (N,): per-frame GraphAU PSPI, optional]
    ROOT/<subject>/temperature.csv time_s,temperature_c   (the stimulus log, any rate)

Every stream is resampled linearly to 25 Hz over the span both cover. Without a
``split`` column the subjects are split deterministically in the paper's 61:26 ratio.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional

import numpy as np

from ..face import facs
from ..face.binding import FLAME_EMOCA
from ..model.conditions import EMOTIONS
from .dataset import FPS, DatasetError, PainDataset, Recording

SPLIT_CHOICES = ("train", "validation", "all")
PAPER_SPLIT = (61, 26)


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DatasetError(f"missing file {path}")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{path}: missing column(s) {missing}; found {reader.fieldnames}")
        return list(reader)


def _number(path: Path, row: int, key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DatasetError(f"{path} row {row}: {key}={text!r} is not a number") from None


def _emotion_index(path: Path, row: int, text: str) -> int:
    if text.strip().isdigit() and int(text) < len(EMOTIONS):
        return int(text)
    if text.strip().lower() in EMOTIONS:
        return EMOTIONS.index(text.strip().lower())
    raise DatasetError(f"{path} row {row}: emotion={text!r} is not one of {EMOTIONS} or an index 0–{len(EMOTIONS) - 1}")


def _increasing_time(path: Path, time_s: np.ndarray) -> np.ndarray:
    if time_s.ndim != 1 or len(time_s) < 2 or not np.all(np.diff(time_s) > 0):
        raise DatasetError(f"{path}: time_s must be a strictly increasing 1-D array with at least 2 samples")
    return time_s


def _read_emoca(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DatasetError(f"missing file {path}")
    try:
        with np.load(path) as z:
            arrays = {k: np.asarray(z[k], dtype=np.float64) for k in z.files}
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    for key in ("expression", "jaw_pose", "time_s"):
        if key not in arrays:
            raise DatasetError(f"{path}: missing array {key!r}; found {sorted(arrays)}")
    n = len(arrays["time_s"])
    expected = {"expression": (n, facs.EXPRESSION_DIM), "jaw_pose": (n, facs.JAW_DIM), "pspi": (n,)}
    for key, shape in expected.items():
        if key in arrays and arrays[key].shape != shape:
            raise DatasetError(f"{path}: {key} has shape {arrays[key].shape}, expected {shape} (time_s has {n} samples)")
    _increasing_time(path, arrays["time_s"])
    return arrays


def _resample(time_s: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Linear interpolation of (N,) or (N,D) samples onto ``grid``."""
    if values.ndim == 1:
        return np.interp(grid, time_s, values)
    return np.stack([np.interp(grid, time_s, values[:, d]) for d in range(values.shape[1])], axis=1)


def load_subject(root: Path, subject: str, expressiveness: float, emotion: int) -> Recording:
    """One subject's features and stimulus, resampled to 25 Hz."""
    emoca_path = root / subject / "emoca.npz"
    temp_path = root / subject / "temperature.csv"
    emoca = _read_emoca(emoca_path)
    rows = _read_csv(temp_path, ("time_s", "temperature_c"))
    t_temp = _increasing_time(
        temp_path, np.array([_number(temp_path, i + 2, "time_s", r["time_s"]) for i, r in enumerate(rows)])
    )
    temperature = np.array([_number(temp_path, i + 2, "temperature_c", r["temperature_c"]) for i, r in enumerate(rows)])
    start, end = max(emoca["time_s"][0], t_temp[0]), min(emoca["time_s"][-1], t_temp[-1])
    if end - start < 1.0 / FPS:
        raise DatasetError(
            f"{emoca_path} ({emoca['time_s'][0]:.2f}–{emoca['time_s'][-1]:.2f} s) and {temp_path} "
            f"({t_temp[0]:.2f}–{t_temp[-1]:.2f} s) do not overlap in time"
        )
    grid = start + np.arange(int(np.floor((end - start) * FPS)) + 1) / FPS
    return Recording(
        subject=subject,
        stimulus_c=_resample(t_temp, temperature, grid).astype(np.float32),
        expression=_resample(emoca["time_s"], emoca["expression"], grid).astype(np.float32),
        jaw_pose=_resample(emoca["time_s"], emoca["jaw_pose"], grid).astype(np.float32),
        expressiveness=expressiveness,
        emotion=emotion,
        pspi=_resample(emoca["time_s"], emoca["pspi"], grid).astype(np.float32) if "pspi" in emoca else None,
    )


def split_subjects(subjects: list[str], seed: int) -> dict[str, str]:
    """Deterministic subject split in the paper's 61:26 train:validation ratio."""
    order = sorted(subjects)
    np.random.default_rng(seed).shuffle(order)
    n_val = max(1, int(round(len(order) * PAPER_SPLIT[1] / sum(PAPER_SPLIT)))) if len(order) > 1 else 0
    return {s: ("validation" if i < n_val else "train") for i, s in enumerate(order)}


def load_biovid(root: Path, split: str = "train", seed: int = 0, subjects: Optional[int] = None) -> PainDataset:
    """The BioVid/EMOCA feature set under ``root`` (``flame-emoca-53`` binding), one split of it."""
    if split not in SPLIT_CHOICES:
        raise DatasetError(f"split={split!r} is not one of {SPLIT_CHOICES}")
    root = Path(root)
    table_path = root / "subjects.csv"
    rows = _read_csv(table_path, ("subject", "expressiveness", "emotion"))
    if not rows:
        raise DatasetError(f"{table_path} lists no subjects")
    names = [r["subject"] for r in rows]
    if len(set(names)) != len(names):
        raise DatasetError(f"{table_path}: duplicate subject names")
    if "split" in rows[0]:
        assignment = {r["subject"]: r["split"] for r in rows}
        bad = {k: v for k, v in assignment.items() if v not in ("train", "validation")}
        if bad:
            raise DatasetError(f"{table_path}: split must be train or validation, got {bad}")
    else:
        assignment = split_subjects(names, seed)
    chosen = [(i, r) for i, r in enumerate(rows) if split == "all" or assignment[r["subject"]] == split]
    recordings = [
        load_subject(
            root,
            r["subject"],
            _number(table_path, i + 2, "expressiveness", r["expressiveness"]),
            _emotion_index(table_path, i + 2, r["emotion"]),
        )
        for i, r in chosen[:subjects]
    ]
    return PainDataset(recordings, FLAME_EMOCA.name, info={"biovid": {"root": str(root), "split": split, "seed": seed}})
