"""BioVid/EMOCA loader: round trip through files the test writes, resampling, split, errors."""

from pathlib import Path

import numpy as np
import pytest

from paindiffusion_ros.data import biovid
from paindiffusion_ros.data.dataset import DatasetError, FPS, WindowSampler


def write_subject(root: Path, name: str, seconds: float = 4.0, video_hz: float = 30.0, pspi: bool = True) -> None:
    d = root / name
    d.mkdir(parents=True)
    t = np.arange(int(seconds * video_hz)) / video_hz
    expression = np.outer(t, np.arange(50) / 50.0)
    jaw = np.stack([0.1 * t, np.zeros_like(t), np.zeros_like(t)], axis=1)
    arrays = {"expression": expression, "jaw_pose": jaw, "time_s": t}
    if pspi:
        arrays["pspi"] = 2.0 * t
    np.savez(d / "emoca.npz", **arrays)
    stim_t = np.arange(0.0, seconds + 1.0, 0.5)
    rows = "\n".join(f"{x},{32.0 + x}" for x in stim_t)
    (d / "temperature.csv").write_text("time_s,temperature_c\n" + rows + "\n")


def write_root(root: Path, n: int = 5, split: bool = False) -> None:
    header = "subject,expressiveness,emotion" + (",split" if split else "")
    lines = [header]
    for i in range(n):
        write_subject(root, f"s{i:02d}")
        extra = "," + ("validation" if i == 0 else "train") if split else ""
        lines.append(f"s{i:02d},{0.5 + i},{'contempt' if i % 2 else 5}{extra}")
    (root / "subjects.csv").write_text("\n".join(lines) + "\n")


def test_round_trip_resamples_to_25_hz(tmp_path):
    write_root(tmp_path, 3, split=True)
    data = biovid.load_biovid(tmp_path, split="all")
    assert data.binding == "flame-emoca-53"
    r = data.recordings[1]
    assert r.subject == "s01" and r.expressiveness == 1.5 and r.emotion == 1
    assert data.recordings[0].emotion == 5
    grid = np.arange(r.frames) / FPS
    assert r.frames == int(np.floor((4.0 - 1 / 30.0) * FPS)) + 1
    np.testing.assert_allclose(r.stimulus_c, 32.0 + grid, atol=1e-5)
    np.testing.assert_allclose(r.expression[:, 10], grid * 0.2, atol=1e-5)
    np.testing.assert_allclose(r.jaw_pose[:, 0], 0.1 * grid, atol=1e-6)
    np.testing.assert_allclose(r.pspi, 2.0 * grid, atol=1e-5)
    assert biovid.load_biovid(tmp_path, split="validation").subjects == ["s00"]


def test_windows_from_loaded_data(tmp_path):
    write_root(tmp_path, 2)
    data = biovid.load_biovid(tmp_path, split="all")
    batch = WindowSampler(data, 32).sample(4, np.random.default_rng(0))
    assert batch.latent.shape == (4, 32, 53) and batch.stimulus_c.shape == (4, 32)
    assert set(batch.expressiveness) <= {0.5, 1.5}


def test_default_split_follows_the_paper_ratio():
    names = [f"p{i:03d}" for i in range(87)]
    split = biovid.split_subjects(names, seed=0)
    assert sum(v == "validation" for v in split.values()) == 26
    assert split == biovid.split_subjects(list(reversed(names)), seed=0)


def test_missing_subject_file_is_named(tmp_path):
    write_root(tmp_path, 2)
    (tmp_path / "s01" / "temperature.csv").unlink()
    with pytest.raises(DatasetError, match=r"s01[/\\]temperature\.csv"):
        biovid.load_biovid(tmp_path, split="all")


def test_missing_table_is_named(tmp_path):
    with pytest.raises(DatasetError, match="subjects.csv"):
        biovid.load_biovid(tmp_path)


def test_mismatched_arrays_are_named(tmp_path):
    write_root(tmp_path, 1)
    path = tmp_path / "s00" / "emoca.npz"
    np.savez(path, expression=np.zeros((10, 50)), jaw_pose=np.zeros((9, 3)), time_s=np.arange(10) / 30)
    with pytest.raises(DatasetError, match=r"emoca\.npz: jaw_pose has shape \(9, 3\)"):
        biovid.load_biovid(tmp_path, split="all")


def test_non_overlapping_streams_and_bad_values_are_named(tmp_path):
    write_root(tmp_path, 1)
    (tmp_path / "s00" / "temperature.csv").write_text("time_s,temperature_c\n100,32\n101,33\n")
    with pytest.raises(DatasetError, match="do not overlap"):
        biovid.load_biovid(tmp_path, split="all")
    (tmp_path / "subjects.csv").write_text("subject,expressiveness,emotion\ns00,1.0,bored\n")
    with pytest.raises(DatasetError, match="emotion='bored'"):
        biovid.load_biovid(tmp_path, split="all")
