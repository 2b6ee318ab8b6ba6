"""Elbow angle → heat-pain stimulus (°C), as in the PainDiffusion robot (paper §III-F).

The paper maps the joint's angular range linearly onto the BioVid HeatPain stimulus
range: 32 °C baseline at rest up to 50.5 °C, the highest BioVid temperature, at full
flexion. BioVid calibrates each subject's pain threshold T_P and tolerance T_T; a
per-patient profile does the same for the simulator: the angle at which this patient
reaches threshold and the angle at which it reaches tolerance. The map then runs
piecewise linearly through (rest, baseline), (threshold angle, T_P), (tolerance angle,
T_T) and (full flexion, max). NaN or stale input maps to the baseline.

A heat override (``override_c``, 0 = off) replaces the map with one fixed temperature,
for demonstrations without the arm; it must lie between the baseline and the maximum.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import yaml

from .paths import package_path

BIOVID_BASELINE_C = 32.0
BIOVID_MAX_C = 50.5


def patient_dir() -> Path:
    """Shipped profiles: ``config/patients`` of the source tree (editable installs), else
    ``share/paindiffusion/config/patients`` of a colcon install."""
    return package_path("config", "patients")


@dataclass
class StimulusMapConfig:
    """Settings of the angle → temperature map (radians, °C, seconds)."""

    lower_angle: float = field(default=0.0, metadata={"help": "elbow angle at rest, mapped to the baseline (rad)", "range": (-3.2, 3.2)})
    upper_angle: float = field(default=2.2, metadata={"help": "elbow angle at full flexion, mapped to max_c (rad)", "range": (-3.2, 3.2)})
    baseline_c: float = field(default=BIOVID_BASELINE_C, metadata={"help": "stimulus at rest, BioVid baseline (°C)", "range": (20.0, 45.0)})
    max_c: float = field(default=BIOVID_MAX_C, metadata={"help": "stimulus at full flexion, BioVid maximum (°C)", "range": (30.0, 55.0)})
    patient_profile: str = field(default="", metadata={"help": "per-patient threshold/tolerance profile: a YAML path or a name in config/patients ('' = linear map)"})
    stale_timeout: float = field(default=0.5, metadata={"help": "seconds without a joint state before the stimulus falls back to the baseline", "range": (0.05, 10.0)})
    override_c: float = field(default=0.0, metadata={"help": "heat override for demonstrations without the arm: this stimulus whatever the elbow does (°C, baseline_c..max_c; 0 = off)", "range": (0.0, 55.0)})

    def validate(self) -> None:
        """Raise ValueError naming the first inconsistent setting."""
        if not self.upper_angle > self.lower_angle:
            raise ValueError(f"upper_angle ({self.upper_angle}) must be greater than lower_angle ({self.lower_angle})")
        if not self.max_c > self.baseline_c:
            raise ValueError(f"max_c ({self.max_c}) must be greater than baseline_c ({self.baseline_c})")
        if self.override_c and not self.baseline_c <= self.override_c <= self.max_c:
            raise ValueError(f"override_c ({self.override_c}) must be 0 (off) or between baseline_c ({self.baseline_c}) and max_c ({self.max_c})")


@dataclass(frozen=True)
class PatientProfile:
    """Angles (rad) at which one simulated patient reaches pain threshold and tolerance."""

    name: str
    threshold_angle: float
    tolerance_angle: float
    threshold_c: float
    tolerance_c: float


PROFILE_KEYS = ("name", "threshold_angle", "tolerance_angle", "threshold_c", "tolerance_c")
OTHER_PROFILE_KEYS = ("appearance",)
"""Keys a profile may also carry for other nodes (the face's ``appearance`` block)."""


def resolve_profile_path(profile: str) -> Path:
    """A profile given as a path, or as a bare name of a file in ``config/patients``."""
    path = Path(profile).expanduser()
    if path.suffix in (".yaml", ".yml") or path.parent != Path("."):
        return path
    return patient_dir() / f"{profile}.yaml"


def load_patient_profile(profile: str) -> PatientProfile:
    """Read a patient profile YAML; every problem is a ValueError naming file and key."""
    path = resolve_profile_path(profile)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read patient profile {path}: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"patient profile {path} must be a mapping with keys {', '.join(PROFILE_KEYS)}")
    missing = [key for key in PROFILE_KEYS if key not in data]
    unknown = sorted(set(data) - set(PROFILE_KEYS) - set(OTHER_PROFILE_KEYS))
    if missing or unknown:
        raise ValueError(f"patient profile {path}: missing keys {missing}, unknown keys {unknown}")
    values = {}
    for key in PROFILE_KEYS[1:]:
        try:
            values[key] = float(data[key])
        except (TypeError, ValueError):
            raise ValueError(f"patient profile {path}: {key} must be a number, got {data[key]!r}") from None
    return PatientProfile(name=str(data["name"]), **values)


def map_knots(config: StimulusMapConfig, profile: Optional[PatientProfile] = None) -> tuple[np.ndarray, np.ndarray]:
    """The (angle, °C) knots of the piecewise-linear map, checked for consistency."""
    config.validate()
    if profile is None:
        return np.array([config.lower_angle, config.upper_angle]), np.array([config.baseline_c, config.max_c])
    angles = [config.lower_angle, profile.threshold_angle, profile.tolerance_angle, config.upper_angle]
    temperatures = [config.baseline_c, profile.threshold_c, profile.tolerance_c, config.max_c]
    if any(b <= a for a, b in zip(angles, angles[1:])):
        raise ValueError(f"patient profile {profile.name!r}: need lower_angle < threshold_angle < tolerance_angle < upper_angle, got {angles}")
    if any(b < a for a, b in zip(temperatures, temperatures[1:])):
        raise ValueError(f"patient profile {profile.name!r}: need baseline_c <= threshold_c <= tolerance_c <= max_c, got {temperatures}")
    return np.asarray(angles, dtype=np.float64), np.asarray(temperatures, dtype=np.float64)


def _segment(angle_rad: float, angles: Sequence[float]) -> int:
    """Index of the knot segment holding ``angle_rad`` (the first or last one outside the range)."""
    return min(max(bisect.bisect_left(angles, angle_rad) - 1, 0), len(angles) - 2)


def _temperature(angle_rad: float, angles: Sequence[float], temperatures: Sequence[float], baseline_c: float) -> float:
    """Piecewise-linear interpolation of the knots, clamped at both ends; NaN → ``baseline_c``."""
    if not math.isfinite(angle_rad):
        return float(baseline_c)
    if angle_rad <= angles[0]:
        return float(temperatures[0])
    if angle_rad >= angles[-1]:
        return float(temperatures[-1])
    i = _segment(angle_rad, angles)
    return float(temperatures[i] + (angle_rad - angles[i]) / (angles[i + 1] - angles[i]) * (temperatures[i + 1] - temperatures[i]))


def _variance(angle_rad: float, angle_std: float, angles: Sequence[float], temperatures: Sequence[float]) -> float:
    """(local slope × ``angle_std``)²; 0 outside the knots' range and for NaN."""
    if not (math.isfinite(angle_rad) and angles[0] <= angle_rad <= angles[-1]):
        return 0.0
    i = _segment(angle_rad, angles)
    slope = (temperatures[i + 1] - temperatures[i]) / (angles[i + 1] - angles[i])
    return float((slope * angle_std) ** 2)


def angle_to_temperature(angle_rad: float, config: StimulusMapConfig, profile: Optional[PatientProfile] = None) -> float:
    """Stimulus (°C) for an elbow angle: piecewise-linear, clamped; NaN → baseline."""
    angles, temperatures = map_knots(config, profile)
    return _temperature(angle_rad, angles.tolist(), temperatures.tolist(), config.baseline_c)


def temperature_variance(angle_rad: float, angle_std: float, config: StimulusMapConfig, profile: Optional[PatientProfile] = None) -> float:
    """Variance (°C²) of the stimulus from the angle's standard deviation, via the local slope."""
    angles, temperatures = map_knots(config, profile)
    return _variance(angle_rad, angle_std, angles.tolist(), temperatures.tolist())


class StimulusMap:
    """The map with its profile loaded and its knots checked once; call it with an angle (rad)
    (a few microseconds: the mapper calls it for every 100 Hz joint state). While
    ``config.override_c`` is set, every angle (NaN included) gives that temperature."""

    def __init__(self, config: StimulusMapConfig) -> None:
        self.config = config
        self.profile = load_patient_profile(config.patient_profile) if config.patient_profile else None
        angles, temperatures = map_knots(config, self.profile)
        self._angles, self._temperatures = angles.tolist(), temperatures.tolist()

    @property
    def override(self) -> Optional[float]:
        """The heat override (°C), or None when the elbow drives the stimulus."""
        return float(self.config.override_c) if self.config.override_c else None

    def __call__(self, angle_rad: float) -> float:
        if self.override is not None:
            return self.override
        return _temperature(angle_rad, self._angles, self._temperatures, self.config.baseline_c)

    def variance(self, angle_rad: float, angle_std: float) -> float:
        if self.override is not None:
            return 0.0
        return _variance(angle_rad, angle_std, self._angles, self._temperatures)
