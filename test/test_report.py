"""``paindiffusion report``: the statistics a scripted trainee implies are what the report finds."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from paindiffusion_ros import cli
from paindiffusion_ros.session.agreement import AgreementConfig, assess, average_ranks, find_episodes, hold, pspi_to_nrs, spearman
from paindiffusion_ros.session.report import write_report
from scripted_trainee import EPISODES, Trainee, scripted_pspi, write_session


def report_of(tmp_path, trainee, **config):
    bag = write_session(tmp_path / "bag", trainee)
    return write_report(bag, tmp_path / "out", AgreementConfig(**config), progress=False), tmp_path / "out"


def test_a_trainee_following_the_face_one_second_late_is_found_with_that_delay(tmp_path):
    result, out = report_of(tmp_path, Trainee(delay=1.0, noise=0.2))
    stats = result["agreement"]
    assert stats["best_lag_s"] == pytest.approx(1.0, abs=0.1)
    assert stats["best_lag_r"] > 0.9
    assert stats["pearson_r"] < stats["best_lag_r"]  # as rated, the delay costs correlation
    assert abs(stats["bias_nrs"]) < 0.1
    assert stats["episodes_detected"] == stats["episodes_assessable"] == len(EPISODES)
    assert [e["latency_s"] for e in stats["episodes"]] == pytest.approx([1.0] * len(EPISODES), abs=0.35)
    # The face's onset: where its climb became visible (a rise of 1 NRS point), shortly after the scripted start.
    assert all(onset < e["onset_s"] < onset + 1.0 for (onset, _, _), e in zip(EPISODES, stats["episodes"]))
    assert "delay of 1.0 s" in result["summary"] and f"{len(EPISODES)} of {len(EPISODES)} pain episodes were detected" in result["summary"]
    for name in ("report.html", "report.json", "timeline.png", "lag.png", "bland_altman.png"):
        assert (out / name).stat().st_size > 1000, name
    assert json.loads((out / "report.json").read_text()) == json.loads(json.dumps(result))


def test_an_under_estimating_slow_trainee_has_the_scripted_bias_and_delay(tmp_path):
    trainee = Trainee(delay=2.5, gain=0.6, bias=-0.2)
    result, _ = report_of(tmp_path, trainee)
    stats = result["agreement"]
    assert stats["best_lag_s"] == pytest.approx(2.5, abs=0.1)
    # The script's bias over the compared stretch: rating − face = (gain − 1)·face + bias (clipped at 0 by the slider).
    t = np.arange(trainee.starts + trainee.delay, 62.0, 0.1)
    face = pspi_to_nrs(scripted_pspi(t - trainee.delay))
    expected = np.mean(np.clip(trainee.gain * face + trainee.bias, 0, 10) - face)
    assert stats["bias_nrs"] == pytest.approx(expected, abs=0.05)
    assert stats["bias_nrs"] < -0.3 and "under-estimated its pain" in result["summary"]
    lo, hi = stats["limits_of_agreement_nrs"]
    assert lo < stats["bias_nrs"] < hi


def test_a_trainee_who_never_moves_the_slider_detects_nothing(tmp_path):
    result, _ = report_of(tmp_path, Trainee(moves=False))
    stats = result["agreement"]
    assert stats["pearson_r"] == 0.0 and stats["best_lag_s"] == 0.0
    assert stats["episodes_detected"] == 0 and stats["episodes_assessable"] == len(EPISODES)
    assert all(e["detected"] is False and e["latency_s"] is None for e in stats["episodes"])


def test_episodes_before_the_trainee_started_are_not_assessed(tmp_path):
    result, _ = report_of(tmp_path, Trainee(delay=1.0, starts=15.0))
    episodes = result["agreement"]["episodes"]
    assert episodes[0]["detected"] is None and episodes[0]["rating_at_onset"] is None
    assert all(e["detected"] for e in episodes[1:])
    assert result["agreement"]["episodes_assessable"] == len(EPISODES) - 1


def test_a_bag_without_ratings_still_gives_the_timeline(tmp_path):
    result, out = report_of(tmp_path, None)
    assert result["agreement"] is None and result["ratings"] == 0
    assert "no trainee ratings" in result["summary"]
    assert (out / "timeline.png").stat().st_size > 1000
    assert not (out / "lag.png").exists() and not (out / "bland_altman.png").exists()
    page = (out / "report.html").read_text()
    assert "no trainee ratings" in page and "Bland" not in page.split("How the numbers")[0]


def test_report_html_is_self_contained_and_printable(tmp_path):
    _, out = report_of(tmp_path, Trainee())
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 3
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the report must not load anything from elsewhere"
    assert "@media print" in page and "Pearson r" in page and "Spearman" in page


def test_report_command_writes_the_report_and_names_a_bad_bag(tmp_path, capsys):
    bag = write_session(tmp_path / "bag", Trainee(delay=1.0))
    assert cli.main(["report", str(bag), "--max-lag-s", "3"]) == 0
    printed = capsys.readouterr().out
    assert f"report: {tmp_path / 'bag-report' / 'report.html'}" in printed and "delay of 1.0 s" in printed
    assert json.loads((tmp_path / "bag-report" / "report.json").read_text())["config"]["max_lag_s"] == 3.0
    assert cli.main(["report", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip() == f"paindiffusion report: {tmp_path} is not a rosbag2 directory (no metadata.yaml)"
    assert cli.main(["report", str(bag), "--grid-hz", "0"]) == 2
    assert "grid_hz=0.0 is outside [1.0, 100.0]" in capsys.readouterr().err


def test_statistics_helpers():
    assert list(average_ranks(np.array([3.0, 1.0, 3.0, 2.0]))) == [3.5, 1.0, 3.5, 2.0]
    x = np.linspace(0, 1, 50)
    assert spearman(x, np.exp(5 * x)) == pytest.approx(1.0)  # monotone, not linear
    assert np.isnan(hold(np.array([1.0, 2.0]), np.array([5.0, 6.0]), np.array([0.5]))[0])
    assert list(hold(np.array([1.0, 2.0]), np.array([5.0, 6.0]), np.array([1.0, 1.5, 9.0]))) == [5.0, 5.0, 6.0]
    t = np.arange(0, 20, 0.04)
    pspi = np.where((t > 2) & (t < 4), 6.0, 0.0) + np.where((t > 4.5) & (t < 7), 6.0, 0.0) + np.where((t > 12) & (t < 12.5), 6.0, 0.0)
    episodes = find_episodes(t, pspi, AgreementConfig())
    assert len(episodes) == 1  # the 0.5 s gap merges, the 0.5 s blip is too short
    assert episodes[0][0] == pytest.approx(2.0, abs=0.15) and episodes[0][1] == pytest.approx(7.0, abs=0.15)
    with pytest.raises(ValueError, match="do not overlap"):
        assess(t, pspi, np.array([30.0]), np.array([5.0]))
