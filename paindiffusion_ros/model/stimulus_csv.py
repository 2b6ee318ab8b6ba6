"""Reading a heat-stimulus CSV: ``temperature_c`` at 25 Hz, or ``time_s,temperature_c`` resampled to 25 Hz."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

TEMPERATURE_COLUMN = "temperature_c"
TIME_COLUMN = "time_s"


class StimulusCSVError(ValueError):
    """A stimulus CSV that cannot be used; the message names the file, row or column."""


def resample(time_s: np.ndarray, values: np.ndarray, fps: float) -> np.ndarray:
    """Linear interpolation of samples at strictly increasing ``time_s`` onto t0 + n/fps."""
    count = int(math.floor((time_s[-1] - time_s[0]) * fps + 1e-9)) + 1
    return np.interp(time_s[0] + np.arange(count) / fps, time_s, values)


def read_stimulus_csv(path: str | Path, fps: float = 25.0) -> np.ndarray:
    """Temperatures (N,) float32 °C at ``fps``; ``StimulusCSVError`` for a missing column, an empty
    file, a non-numeric or non-finite value, or times that do not increase."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # spreadsheet exports start with a BOM
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise StimulusCSVError(f"{path}: cannot read ({exc})") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise StimulusCSVError(f"{path}: empty file (expected a '{TEMPERATURE_COLUMN}' header and values)")
    header = [cell.strip() for cell in rows[0]]
    if TEMPERATURE_COLUMN not in header:
        raise StimulusCSVError(f"{path}: missing column '{TEMPERATURE_COLUMN}' (found: {', '.join(header) or 'nothing'})")
    if len(rows) < 2:
        raise StimulusCSVError(f"{path}: no data rows after the header")
    columns = [TIME_COLUMN, TEMPERATURE_COLUMN] if TIME_COLUMN in header else [TEMPERATURE_COLUMN]
    data = {name: _column(path, rows, header.index(name), name) for name in columns}
    temperature = data[TEMPERATURE_COLUMN]
    if TIME_COLUMN not in data:
        return temperature.astype(np.float32)
    time_s = data[TIME_COLUMN]
    bad = np.flatnonzero(np.diff(time_s) <= 0)
    if bad.size:
        raise StimulusCSVError(f"{path}: row {bad[0] + 3}: '{TIME_COLUMN}' does not increase")
    return resample(time_s, temperature, fps).astype(np.float32)


def _column(path: Path, rows: list[list[str]], index: int, name: str) -> np.ndarray:
    values = np.empty(len(rows) - 1)
    for number, row in enumerate(rows[1:], start=2):
        cell = row[index].strip() if index < len(row) else ""
        try:
            values[number - 2] = float(cell)
        except ValueError:
            raise StimulusCSVError(f"{path}: row {number}: '{cell}' in column '{name}' is not a number") from None
        if not math.isfinite(values[number - 2]):
            raise StimulusCSVError(f"{path}: row {number}: '{name}' is {cell}, not a finite number")
    return values
