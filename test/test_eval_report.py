"""``paindiffusion eval`` end to end on a tiny freshly trained model, in seconds."""

import json

import numpy as np
import pytest

from paindiffusion_ros import cli
from paindiffusion_ros.data.sources import DataConfig
from paindiffusion_ros.eval.cases import periodic_stimulus, plateau_stimulus, segment_start
from paindiffusion_ros.model.config import ModelConfig
from paindiffusion_ros.model.train import RunConfig, TrainConfig, Trainer

TINY = ModelConfig(channels=(16, 32), attention_levels=(False, True), heads=2, groups=4,
                   embed_dim=16, cond_dim=16, window=32, stack=4)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny-model")
    config = RunConfig(TINY, DataConfig(subjects=3, seconds=40.0), TrainConfig(steps=10, batch_size=8, checkpoint_every=100, threads=1))
    Trainer(config, out, progress=False).run()
    return out


def test_eval_writes_table_figure_and_controls(tiny_model, tmp_path):
    code = cli.main(["eval", "--model", str(tiny_model), "--out", str(tmp_path), "--subjects", "2", "--frames", "64",
                     "--generations", "2", "--steps", "2"])
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    for method in ("paindiffusion", "random", "nearest_neighbor"):
        assert set(report[method]) >= {"sim", "corr", "dist", "divrs", "var"}
        assert all(np.isfinite(report[method][k]) for k in ("sim", "corr", "dist", "divrs", "var"))
    assert report["nearest_neighbor"]["divrs"] == 0.0
    assert report["random"]["divrs"] > 0.0 and report["paindiffusion"]["divrs"] > 0.0
    assert report["setup"]["sequences"] == 2 and report["setup"]["frames"] == 64
    assert set(report["margins"]) == {"random", "nearest_neighbor"}
    controls = report["controls"]
    assert [r["level_c"] for r in controls["stimulus"]["levels"]] == [43.0, 46.5, 50.0]
    assert set(controls["divergence"]["ratios"]) == {"pspi_mean", "latent_std", "latent_abs"}
    md = (tmp_path / "report.md").read_text()
    assert "| Nearest Neighbor |" in md and "Random Training Sample" in md and "Divergence" in md
    assert (tmp_path / "pspi.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_segment_starts_before_a_stimulus_change():
    stim = np.full(2000, 32.0)
    stim[900:1000] = 45.0
    assert segment_start(stim, 640) == 900 - 50
    assert segment_start(np.full(700, 32.0), 640) == 0


def test_probe_stimuli():
    cycles = periodic_stimulus(256, 64, 48.0)
    np.testing.assert_array_equal(cycles[:64], cycles[192:])
    assert cycles.min() == 32.0 and cycles.max() == pytest.approx(48.0)
    plateaus = plateau_stimulus(250, 46.0)
    assert plateaus[:25].max() == 32.0 and (plateaus[25:125] == 46.0).all() and plateaus[125:].max() == 32.0
