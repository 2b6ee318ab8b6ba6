"""The angle → heat stimulus map (paper §III-F) and patient profiles."""

import math

import numpy as np
import pytest

from paindiffusion_ros.stimulus import (
    StimulusMap,
    StimulusMapConfig,
    angle_to_temperature,
    load_patient_profile,
    temperature_variance,
)


def test_linear_map_spans_biovid_range_and_clamps():
    config = StimulusMapConfig(lower_angle=0.0, upper_angle=2.0)
    assert angle_to_temperature(0.0, config) == pytest.approx(32.0)
    assert angle_to_temperature(2.0, config) == pytest.approx(50.5)
    assert angle_to_temperature(1.0, config) == pytest.approx(41.25)
    assert angle_to_temperature(-1.0, config) == pytest.approx(32.0)
    assert angle_to_temperature(3.0, config) == pytest.approx(50.5)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_angle_gives_baseline(bad):
    assert angle_to_temperature(bad, StimulusMapConfig()) == 32.0
    assert temperature_variance(bad, 0.01, StimulusMapConfig()) == 0.0


def test_patient_profile_passes_through_threshold_and_tolerance(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nthreshold_angle: 1.0\ntolerance_angle: 1.5\nthreshold_c: 43.0\ntolerance_c: 48.0\n")
    mapping = StimulusMap(StimulusMapConfig(lower_angle=0.0, upper_angle=2.0, patient_profile=str(path)))
    assert mapping(1.0) == pytest.approx(43.0)
    assert mapping(1.5) == pytest.approx(48.0)
    assert mapping(0.5) == pytest.approx(37.5)
    assert mapping(2.0) == pytest.approx(50.5)
    angles = np.linspace(-0.5, 2.5, 301)
    assert np.all(np.diff([mapping(a) for a in angles]) >= 0)


def test_shipped_profiles_load_by_name():
    for name in ("typical", "sensitive", "stoic"):
        profile = load_patient_profile(name)
        StimulusMap(StimulusMapConfig(patient_profile=name))
        assert profile.name == name


def test_bad_profile_names_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nthreshold_angle: 1.0\ntolerance_angle: high\nthreshold_c: 43.0\ntolerance_c: 48.0\n")
    with pytest.raises(ValueError, match="bad.yaml.*tolerance_angle"):
        load_patient_profile(str(path))
    path.write_text("name: x\nthreshold_angle: 1.0\n")
    with pytest.raises(ValueError, match="missing keys"):
        load_patient_profile(str(path))
    with pytest.raises(ValueError, match="cannot read patient profile"):
        load_patient_profile(str(tmp_path / "absent.yaml"))


def test_profile_outside_the_angle_range_is_rejected(tmp_path):
    path = tmp_path / "far.yaml"
    path.write_text("name: far\nthreshold_angle: 1.0\ntolerance_angle: 3.0\nthreshold_c: 43.0\ntolerance_c: 48.0\n")
    with pytest.raises(ValueError, match="threshold_angle < tolerance_angle < upper_angle"):
        StimulusMap(StimulusMapConfig(upper_angle=2.0, patient_profile=str(path)))


def test_inverted_ranges_are_rejected():
    with pytest.raises(ValueError, match="upper_angle"):
        angle_to_temperature(1.0, StimulusMapConfig(lower_angle=1.0, upper_angle=0.5))
    with pytest.raises(ValueError, match="max_c"):
        angle_to_temperature(1.0, StimulusMapConfig(baseline_c=45.0, max_c=40.0))


def test_variance_follows_the_local_slope():
    config = StimulusMapConfig(lower_angle=0.0, upper_angle=2.0)
    slope = 18.5 / 2.0
    assert temperature_variance(1.0, 0.01, config) == pytest.approx((slope * 0.01) ** 2)
    assert temperature_variance(2.5, 0.01, config) == 0.0


def test_heat_override_replaces_the_map_and_must_lie_in_the_stimulus_range():
    mapping = StimulusMap(StimulusMapConfig(override_c=45.0, patient_profile="typical"))
    assert mapping.override == 45.0
    assert [mapping(a) for a in (0.0, 2.2, math.nan)] == [45.0, 45.0, 45.0]
    assert mapping.variance(1.0, 0.01) == 0.0
    assert StimulusMap(StimulusMapConfig()).override is None
    for bad in (25.0, 51.0):
        with pytest.raises(ValueError, match=rf"override_c \({bad}\) must be 0 \(off\) or between baseline_c \(32.0\) and max_c \(50.5\)"):
            StimulusMap(StimulusMapConfig(override_c=bad))
