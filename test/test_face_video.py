"""mp4 export, the ``render`` command end to end (single and grid), parameter errors, display."""

import cv2
import numpy as np
import pytest

from paindiffusion_ros import cli
from paindiffusion_ros.face.binding import FaceBindingError
from paindiffusion_ros.face.display import Display, DisplayConfig
from paindiffusion_ros.face.models import load_face
from paindiffusion_ros.face.render_command import load_params
from paindiffusion_ros.face.video import Mp4Writer

SIZE = 64


def read_back(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame[:, :, ::-1])
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps


def params_file(path, frames: int, generations: int = 0, seed: int = 0, **extra):
    rng = np.random.default_rng(seed)
    shape = (generations, frames) if generations else (frames,)
    expression = rng.uniform(0, 2, shape + (50,)).astype(np.float32)
    jaw = np.zeros(shape + (3,), np.float32)
    jaw[..., 0] = np.linspace(0, 0.3, frames)
    np.savez(path, expression=expression, jaw_pose=jaw, fps=25.0, **extra)
    return path


def test_mp4_writer_round_trips_frame_count_size_and_content(tmp_path):
    path = tmp_path / "ramp.mp4"
    with Mp4Writer(path, fps=25) as writer:
        for i in range(7):
            writer.write(np.full((48, 80, 3), (30 * i, 100, 200 - 20 * i), np.uint8))
    frames, fps = read_back(path)
    assert len(frames) == 7 and fps == pytest.approx(25.0)
    assert frames[3].shape == (48, 80, 3)
    np.testing.assert_allclose(frames[3].reshape(-1, 3).mean(0), (90, 100, 140), atol=6)
    with pytest.raises(ValueError, match="frame size"):
        with Mp4Writer(tmp_path / "mixed.mp4") as writer:
            writer.write(np.zeros((16, 16, 3), np.uint8))
            writer.write(np.zeros((32, 16, 3), np.uint8))


def test_render_command_writes_one_frame_per_parameter_frame(tmp_path):
    params = params_file(tmp_path / "gen.npz", 12)
    out = tmp_path / "face.mp4"
    assert cli.main(["render", "--params", str(params), "--out", str(out), "--size", str(SIZE)]) == 0
    frames, fps = read_back(out)
    assert len(frames) == 12 and frames[0].shape == (SIZE, SIZE, 3) and fps == pytest.approx(25.0)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 1.0  # the face moved


def test_render_command_grid_from_files_and_a_generation_axis(tmp_path):
    a = params_file(tmp_path / "a.npz", 6, generations=2)
    b = params_file(tmp_path / "b.npz", 4, seed=1)
    out = tmp_path / "grid.mp4"
    assert cli.main(["render", "--params", str(a), str(b), "--out", str(out), "--size", str(SIZE),
                     "--columns", "3", "--crop", "mouth", "--supersample", "2"]) == 0
    frames, _ = read_back(out)
    assert len(frames) == 6
    assert frames[0].shape[1] == 3 * SIZE + 2 * 4  # three faces and two gaps


def test_parameter_file_errors_name_the_file_and_key(tmp_path):
    face = load_face("builtin")
    bad = tmp_path / "bad.npz"
    np.savez(bad, expression=np.zeros((3, 50)))
    with pytest.raises(ValueError, match="bad.npz: missing key 'jaw_pose'"):
        load_params(bad, face)
    np.savez(bad, expression=np.zeros((3, 49)), jaw_pose=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="'expression' must be"):
        load_params(bad, face)
    flame_params = params_file(tmp_path / "flame.npz", 3, face_binding="flame-emoca-53")
    with pytest.raises(FaceBindingError, match="flame-emoca-53"):
        load_params(flame_params, face)


def test_render_command_reports_bad_input_in_one_line(tmp_path, capsys):
    params = params_file(tmp_path / "gen.npz", 3)
    out = tmp_path / "x.mp4"
    assert cli.main(["render", "--params", str(params), "--out", str(out), "--face", "flame",
                     "--flame-model", str(tmp_path / "absent.pkl")]) == 2
    assert "paindiffusion render: FLAME model file not found" in capsys.readouterr().err
    assert cli.main(["render", "--params", str(params), "--out", str(out), "--columns", "0"]) == 2
    assert "--columns must be at least 1" in capsys.readouterr().err
    assert not out.exists()


def test_headless_display_accepts_frames_and_rejects_bad_ones():
    with Display(DisplayConfig(mode="headless")) as display:
        assert display.show(np.zeros((8, 8, 3), np.uint8))
        with pytest.raises(ValueError, match="uint8 RGB"):
            display.show(np.zeros((8, 8), np.uint8))
    assert display.frames == 1
    with pytest.raises(ValueError, match="unknown display mode"):
        Display(DisplayConfig(mode="kiosk"))
