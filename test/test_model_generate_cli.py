"""``paindiffusion generate``: good CSVs to npz; bad CSVs exit 2 with one line naming the problem."""

import numpy as np
import pytest
import torch

from paindiffusion_ros import cli
from paindiffusion_ros.model.benchmark import random_checkpoint
from paindiffusion_ros.model.config import ModelConfig
from paindiffusion_ros.model.stimulus_csv import StimulusCSVError, read_stimulus_csv

torch.set_num_threads(1)  # tiny forwards: one thread avoids OpenMP spin contention on a shared 2-core CPU

# the generate command runs the default 64-frame window, so the tiny test model uses one
SMALL = ModelConfig(channels=(16, 32), heads=2, embed_dim=16, cond_dim=16, groups=4)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(random_checkpoint(tmp_path_factory.mktemp("cli") / "small", SMALL, seed=1))


def write(path, text):
    path.write_text(text)
    return str(path)


def test_generate_writes_the_npz(model, tmp_path):
    csv = write(tmp_path / "stim.csv", "temperature_c\n" + "\n".join(str(32 + i / 5) for i in range(40)) + "\n")
    out = tmp_path / "out.npz"
    code = cli.main(["generate", "--stimulus", csv, "--out", str(out), "--model", model, "--backend", "torch",
                     "--steps", "4", "--emotion", "fear", "--expressiveness", "6"])
    assert code == 0
    data = np.load(out)
    assert data["expression"].shape == (40, 50) and data["jaw_pose"].shape == (40, 3)
    assert data["pspi"].shape == (40,) and int(data["fps"]) == 25
    assert np.isfinite(data["expression"]).all()


def test_frames_option_extends_by_holding_the_last_value(model, tmp_path):
    csv = write(tmp_path / "stim.csv", "temperature_c\n40\n41\n")
    out = tmp_path / "out.npz"
    assert cli.main(["generate", "--stimulus", csv, "--out", str(out), "--model", model, "--backend", "torch",
                     "--steps", "3", "--frames", "20"]) == 0
    assert np.load(out)["expression"].shape == (20, 50)


def test_time_column_is_resampled_to_25_hz(tmp_path):
    csv = write(tmp_path / "t.csv", "time_s,temperature_c\n0.0,32\n1.0,42\n2.0,42\n")
    values = read_stimulus_csv(csv)
    assert values.shape == (51,)
    np.testing.assert_allclose(values[[0, 12, 25, 50]], [32.0, 36.8, 42.0, 42.0], atol=1e-5)


def test_a_byte_order_mark_before_the_header_is_ignored(tmp_path):
    csv = tmp_path / "excel.csv"
    csv.write_bytes("\ufefftemperature_c\r\n40\r\n41.5\r\n".encode())
    np.testing.assert_array_equal(read_stimulus_csv(csv), [40.0, 41.5])


@pytest.mark.parametrize("text, reason", [
    ("", "empty file"),
    ("temp\n40\n", "missing column 'temperature_c'"),
    ("temperature_c\n", "no data rows"),
    ("temperature_c\n40\nhot\n", "row 3: 'hot' in column 'temperature_c' is not a number"),
    ("temperature_c\n40\nnan\n", "row 3: 'temperature_c' is nan, not a finite number"),
    ("time_s,temperature_c\n0,40\n0,41\n", "'time_s' does not increase"),
])
def test_bad_csv_exits_2_with_one_line(model, tmp_path, capsys, text, reason):
    csv = write(tmp_path / "bad.csv", text)
    with pytest.raises(StimulusCSVError, match=reason):
        read_stimulus_csv(csv)
    assert cli.main(["generate", "--stimulus", csv, "--out", str(tmp_path / "o.npz"), "--model", model]) == 2
    err = capsys.readouterr().err
    assert reason in err and err.count("\n") == 1
    assert not (tmp_path / "o.npz").exists()
