"""Metrics against hand-computed values, and the two naive baselines."""

import numpy as np
import pytest

from paindiffusion_ros.data.dataset import PainDataset, Recording
from paindiffusion_ros.eval import metrics
from paindiffusion_ros.eval.baselines import NearestNeighbor, RandomTrainingSample


def test_dtw_hand_computed():
    # a = [0, 1, 2], b = [0, 2]: best path (0,0) (1,0|1) (2,1): costs 0 + 1 + 0 = 1.
    assert metrics.dtw_distance([0, 1, 2], [0, 2]) == pytest.approx(1.0)
    # Time shift costs nothing when a repeated sample absorbs it.
    assert metrics.dtw_distance([0, 0, 1, 2], [0, 1, 2, 2]) == pytest.approx(0.0)
    # [1, 2, 3] vs [2, 2, 2]: only aligning to the constant is possible: 1 + 0 + 1.
    assert metrics.dtw_distance([1, 2, 3], [2, 2, 2]) == pytest.approx(2.0)
    # Single samples: |3 − 5| + |3 − 1| along the only path.
    assert metrics.dtw_distance([3], [5, 1]) == pytest.approx(4.0)
    assert metrics.dtw_distance([4, 5], [4, 5]) == 0.0


def test_dtw_matches_a_plain_dynamic_programme():
    rng = np.random.default_rng(0)
    a, b = rng.random(17), rng.random(11)
    acc = np.full((18, 12), np.inf)
    acc[0, 0] = 0
    for i in range(1, 18):
        for j in range(1, 12):
            acc[i, j] = abs(a[i - 1] - b[j - 1]) + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
    assert metrics.dtw_distance(a, b) == pytest.approx(acc[17, 11])


def test_pearson_hand_computed():
    # x = [1, 2, 3], y = [1, 3, 2]: deviations (−1, 0, 1) and (−1, 1, 0) → 1 / (√2·√2) = 0.5.
    assert metrics.pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert metrics.pearson([1, 2, 3], [6, 4, 2]) == pytest.approx(-1.0)
    assert metrics.pearson([1, 1, 1], [1, 2, 3]) == 0.0


def test_distribution_metrics_hand_computed():
    truth = np.zeros((2, 2))
    a = np.array([[1.0, 1.0], [1.0, 1.0]])
    b = np.array([[3.0, 1.0], [1.0, 1.0]])
    assert metrics.mse(a, truth) == 1.0
    assert metrics.diversity([a, b]) == pytest.approx(1.0)  # (2² + 0 + 0 + 0) / 4
    assert metrics.diversity([a]) == 0.0
    assert metrics.temporal_variance(np.array([[0.0, 1.0], [2.0, 1.0]])) == pytest.approx(0.5)  # (1 + 0) / 2
    scores = metrics.score_sequences([a, b], [np.array([0.0, 1.0]), np.array([1.0, 0.0])], truth, np.array([0.0, 1.0]))
    assert scores.dist == pytest.approx((1.0 + 12 / 4) / 2)
    assert scores.corr == pytest.approx(0.0) and scores.corr_std == pytest.approx(1.0)
    assert scores.sim == pytest.approx(1.0)  # mean of 0 and DTW([1,0],[0,1]) = |1−0| + |0−1| = 2


def recording(name: str, stimulus: np.ndarray) -> Recording:
    n = len(stimulus)
    expression = np.tile(stimulus[:, None] - 32.0, (1, 50)).astype(np.float32)
    return Recording(name, stimulus.astype(np.float32), expression, np.zeros((n, 3), np.float32), 1.0, 5,
                     pspi=(stimulus - 32.0).astype(np.float32))


def test_nearest_neighbour_finds_the_matching_stimulus_segment():
    t = np.arange(400)
    a = 32.0 + 0.0 * t
    b = 32.0 + 10.0 * (np.sin(t / 15.0) > 0.5)
    train = PainDataset([recording("a", a), recording("b", b)], "builtin-facs-53")
    query = b[123:223].copy()
    nn = NearestNeighbor(train)
    rec, start, distance = nn.search(query)
    assert rec.subject == "b" and distance == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(rec.stimulus_c[start:start + 100], query)
    out = nn.generate(query, seed=0)
    assert out.latent.shape == (100, 53)
    np.testing.assert_array_equal(out.latent, nn.generate(query, seed=1).latent)


def test_random_sample_depends_on_seed_not_stimulus():
    t = np.arange(300)
    train = PainDataset([recording("a", 32.0 + t / 30.0)], "builtin-facs-53")
    rnd = RandomTrainingSample(train)
    one = rnd.generate(np.full(50, 40.0), seed=1)
    assert one.latent.shape == (50, 53) and one.pspi.shape == (50,)
    np.testing.assert_array_equal(one.latent, rnd.generate(np.full(50, 32.0), seed=1).latent)
    assert not np.array_equal(one.latent, rnd.generate(np.full(50, 40.0), seed=2).latent)
    with pytest.raises(ValueError, match="frames"):
        rnd.generate(np.full(301, 40.0), seed=0)
