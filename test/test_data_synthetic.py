"""The synthetic pain-response world: determinism, ranges, latency, dose response, variability."""

import numpy as np
import pytest

from paindiffusion_ros.data import synthetic as syn
from paindiffusion_ros.data.dataset import FPS
from paindiffusion_ros.face import facs


def small(**changes) -> syn.SyntheticWorldConfig:
    return syn.SyntheticWorldConfig(**{"subjects": 6, "seconds": 60.0, **changes})


def test_same_seed_same_world_and_splits_are_disjoint():
    a = syn.generate_world(small(), progress=False)
    b = syn.generate_world(small(), progress=False)
    c = syn.generate_world(small(seed=1), progress=False)
    v = syn.generate_world(small(split="validation"), progress=False)
    for ra, rb in zip(a.recordings, b.recordings):
        np.testing.assert_array_equal(ra.expression, rb.expression)
        np.testing.assert_array_equal(ra.stimulus_c, rb.stimulus_c)
    assert not np.allclose(a.recordings[0].expression, c.recordings[0].expression)
    assert not set(a.subjects) & set(v.subjects)
    assert not np.allclose(a.recordings[0].expression, v.recordings[0].expression)


def test_frames_are_in_range_and_pspi_is_exact():
    world = syn.generate_world(small(subjects=8), progress=False)
    assert world.binding == "builtin-facs-53"
    for r in world.recordings:
        assert r.frames == 60 * 25
        assert (r.expression >= 0).all() and (r.expression <= facs.CHANNEL_MAX).all()
        np.testing.assert_array_equal(r.pspi, facs.pspi(r.expression))
        assert 0.0 <= r.pspi.min() and r.pspi.max() <= facs.PSPI_MAX
        assert r.expressiveness == pytest.approx(float(r.pspi.mean()))
        assert syn.BASELINE_C - 1e-4 <= r.stimulus_c.min() and r.stimulus_c.max() <= syn.MAX_C + 1e-4
        assert 0.0 <= r.jaw_pose[:, 0].min() and r.jaw_pose[:, 0].max() < 0.4


def test_biovid_programme_has_four_levels_plateaus_and_pauses():
    rng = np.random.default_rng(3)
    traits = syn.sample_traits(4, rng)
    stim = syn.biovid_programme(traits, int(120 * FPS), rng)
    for s in range(4):
        hot = stim[s] > syn.BASELINE_C + 0.01
        edges = np.flatnonzero(np.diff(hot.astype(int)))
        on, off = edges[::2], edges[1::2]
        pauses = (on[1:] - off[: len(on) - 1]) / FPS
        assert pauses.min() >= syn.PAUSE_S[0] - 0.1 and pauses.max() <= syn.PAUSE_S[1] + 0.1
        peaks = np.round([stim[s, a:b + 1].max() for a, b in zip(on, off)], 3)
        levels = np.linspace(traits.threshold_c[s], traits.tolerance_c[s], 4)
        assert set(peaks) <= set(np.round(np.minimum(levels, syn.MAX_C), 3))
        assert len(set(peaks)) == 4


def test_range_of_motion_cycles_ramp_between_baseline_and_max():
    stim = syn.range_of_motion_programme(3, int(60 * FPS), np.random.default_rng(0))
    assert stim.min() == pytest.approx(syn.BASELINE_C)
    assert stim.max() <= syn.MAX_C
    step = np.abs(np.diff(stim, axis=1)).max() * FPS
    assert step < (syn.MAX_C - syn.BASELINE_C) / 1.5 + 1e-6


def constant_traits(n: int) -> syn.SubjectTraits:
    traits = syn.sample_traits(n, np.random.default_rng(11))
    traits.trial_spread[:] = 0.0
    traits.habituation[:] = 0.0
    return traits


def test_face_reacts_after_the_subject_latency():
    n, frames, onset = 8, int(20 * FPS), int(5 * FPS)
    traits = constant_traits(n)
    stim = np.full((n, frames), syn.BASELINE_C)
    stim[:, onset:] = syn.MAX_C
    drive = syn.pain_drive(stim, traits, np.random.default_rng(1))
    for s in range(n):
        start = onset + int(round(traits.latency_s[s] * FPS))
        assert drive[s, :start].max() == pytest.approx(0.0)
        assert drive[s, start + int(2 * FPS)] > 0.5 * drive[s, -1] > 0
    expression, _ = syn.face_response(stim, traits, np.random.default_rng(2))
    pspi = facs.pspi(expression)
    before, after = pspi[:, onset - 25:onset].mean(), pspi[:, onset + 100:].mean()
    assert after > before + 1.0


def test_stronger_stimulus_and_higher_gain_give_larger_pspi():
    n, frames = 12, int(30 * FPS)
    traits = constant_traits(n)
    mild = np.full((n, frames), 0.0) + traits.threshold_c[:, None]
    strong = np.full((n, frames), 0.0) + traits.tolerance_c[:, None]
    p_mild = facs.pspi(syn.face_response(mild, traits, np.random.default_rng(0))[0]).mean(axis=1)
    p_strong = facs.pspi(syn.face_response(strong, traits, np.random.default_rng(0))[0]).mean(axis=1)
    assert (p_strong > p_mild).mean() >= 0.9
    bold = traits.subset(np.arange(n))
    bold.gain = traits.gain * 2.0
    p_bold = facs.pspi(syn.face_response(strong, bold, np.random.default_rng(0))[0]).mean(axis=1)
    assert (p_bold > p_strong).all()


def test_same_stimulus_gives_different_but_related_faces():
    rng = np.random.default_rng(5)
    traits = syn.sample_traits(1, rng)
    traits.gain[:] = 1.0
    stim = syn.biovid_programme(traits, int(90 * FPS), rng)
    a = facs.pspi(syn.face_response(stim, traits, np.random.default_rng(1))[0])[0]
    b = facs.pspi(syn.face_response(stim, traits, np.random.default_rng(2))[0])[0]
    assert not np.allclose(a, b)
    assert np.corrcoef(a, b)[0, 1] > 0.5


def test_blink_rate_matches_the_trait():
    traits = syn.sample_traits(6, np.random.default_rng(4))
    closure = syn.blinks(traits, int(600 * FPS), np.random.default_rng(4))
    starts = ((closure[:, 1:] >= 1.0) & (closure[:, :-1] < 1.0)).sum(axis=1)
    rate = starts / 10.0
    np.testing.assert_allclose(rate, traits.blink_per_min, rtol=0.35)


def test_bad_config_names_the_field():
    with pytest.raises(ValueError, match="programme"):
        syn.SyntheticWorldConfig(programme="cold")
    with pytest.raises(ValueError, match="subjects"):
        syn.SyntheticWorldConfig(subjects=0)


def test_pain_faces_range_from_stoic_to_expressive():
    n, frames = 60, int(12 * FPS)
    traits = constant_traits(n)
    stim = np.full((n, frames), syn.BASELINE_C)
    stim[:, int(2 * FPS):] = traits.tolerance_c[:, None]
    pspi = facs.pspi(syn.face_response(stim, traits, np.random.default_rng(3))[0])
    at_tolerance = pspi[:, -int(4 * FPS):].mean(axis=1)
    at_rest = pspi[:, : int(2 * FPS)].mean(axis=1)
    assert np.percentile(at_tolerance, 10) < 3.0 and np.percentile(at_tolerance, 90) > 6.0
    assert np.median(at_tolerance - at_rest) > 2.0
