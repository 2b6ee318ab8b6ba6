"""Session video: face and strip charts from a bag, aligned on the bag's timestamps."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.enums import StoragePlugin
from rosbags.typesys import Stores, get_typestore

from paindiffusion_ros.session.plots import StripChart, Trace, nice_ticks, padded_range
from paindiffusion_ros.session.video import SessionVideoConfig, SessionVideoError, image_to_rgb, write_session_video

STORE = get_typestore(Stores.ROS2_KILTED)
COLORS = [(220, 30, 30), (30, 220, 30), (30, 30, 220)]  # one face colour per second
S = 1_000_000_000


def header(t_ns: int):
    Time = STORE.types["builtin_interfaces/msg/Time"]
    Header = STORE.types["std_msgs/msg/Header"]
    return Header(stamp=Time(sec=t_ns // S, nanosec=t_ns % S), frame_id="x")


def write_bag(path: Path, seconds: float = 3.0, start_ns: int = 1_700_000_000 * S, compressed: bool = True) -> None:
    """A small session: 10 Hz coloured 'faces' (JPEG on /face/image/compressed, or raw rgb8 on
    /face/image), 50 Hz angle ramp, stimulus and PSPI."""
    Image = STORE.types["sensor_msgs/msg/Image"]
    CompressedImage = STORE.types["sensor_msgs/msg/CompressedImage"]
    image_topic, image_type = ("/face/image/compressed", CompressedImage) if compressed else ("/face/image", Image)
    JointState = STORE.types["sensor_msgs/msg/JointState"]
    Temperature = STORE.types["sensor_msgs/msg/Temperature"]
    Float32 = STORE.types["std_msgs/msg/Float32"]
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {
            name: writer.add_connection(name, msgtype, typestore=STORE)
            for name, msgtype in [
                (image_topic, image_type.__msgtype__),
                ("/joint_states", "sensor_msgs/msg/JointState"),
                ("/pain/stimulus", "sensor_msgs/msg/Temperature"),
                ("/pain/pspi", "std_msgs/msg/Float32"),
            ]
        }
        for i in range(int(seconds * 50)):
            t = start_ns + i * S // 50
            angle = np.radians(90.0 * i / (seconds * 50))
            js = JointState(
                header=header(t), name=["elbow_joint"], position=np.array([angle]),
                velocity=np.zeros(1), effort=np.zeros(1),
            )
            writer.write(conns["/joint_states"], t, STORE.serialize_cdr(js, JointState.__msgtype__))
            if i % 2 == 0:
                temp = Temperature(header=header(t), temperature=32.0 + 18.5 * angle / (np.pi / 2), variance=0.0)
                writer.write(conns["/pain/stimulus"], t, STORE.serialize_cdr(temp, Temperature.__msgtype__))
                pspi = Float32(data=4.0 * angle / (np.pi / 2))
                writer.write(conns["/pain/pspi"], t, STORE.serialize_cdr(pspi, Float32.__msgtype__))
            if i % 5 == 0:
                rgb = np.zeros((32, 32, 3), np.uint8)
                rgb[:] = COLORS[min(int(i / 50), 2)]
                if compressed:
                    jpeg = cv2.imencode(".jpg", rgb[..., ::-1])[1].reshape(-1)
                    img = CompressedImage(header=header(t), format="rgb8; jpeg compressed bgr8", data=jpeg)
                else:
                    img = Image(
                        header=header(t), height=32, width=32, encoding="rgb8", is_bigendian=0, step=96,
                        data=rgb.reshape(-1),
                    )
                writer.write(conns[image_topic], t, STORE.serialize_cdr(img, image_type.__msgtype__))


def read_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(bgr[..., ::-1])
    capture.release()
    return frames


@pytest.mark.parametrize("compressed", [True, False], ids=["compressed", "raw"])
def test_video_frames_follow_the_bag_timeline(tmp_path, compressed):
    write_bag(tmp_path / "bag", compressed=compressed)
    config = SessionVideoConfig(height=120, plot_width=200, window=2.0)
    count = write_session_video(tmp_path / "bag", tmp_path / "session.mp4", config, progress=False)
    # images span 0 … 2.9 s → frames at 0, 0.04, … 2.88 s
    assert count == 73
    frames = read_frames(tmp_path / "session.mp4")
    assert len(frames) == count
    assert frames[0].shape[:2] == (120, 320)
    for second, color in enumerate(COLORS):
        face = frames[int((second + 0.5) * 25)][40:110, 10:110].reshape(-1, 3).mean(axis=0)
        assert int(np.argmax(face)) == int(np.argmax(color)), (second, face)


def test_bag_without_face_images_is_a_clear_error(tmp_path):
    with Writer(tmp_path / "empty", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        writer.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=STORE)
    with pytest.raises(SessionVideoError, match="/face/image"):
        write_session_video(tmp_path / "empty", tmp_path / "x.mp4", progress=False)
    with pytest.raises(SessionVideoError, match="metadata.yaml"):
        write_session_video(tmp_path, tmp_path / "x.mp4", progress=False)


def test_image_conversion_handles_padding_and_bgr():
    Image = STORE.types["sensor_msgs/msg/Image"]
    data = np.zeros((2, 8), np.uint8)
    data[:, :6] = [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]]
    rgb = image_to_rgb(Image(header=header(0), height=2, width=2, encoding="rgb8", is_bigendian=0, step=8, data=data.reshape(-1)))
    assert rgb.tolist() == [[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]]
    bgr = image_to_rgb(Image(header=header(0), height=2, width=2, encoding="bgr8", is_bigendian=0, step=8, data=data.reshape(-1)))
    assert bgr[0, 0].tolist() == [3, 2, 1]
    with pytest.raises(SessionVideoError, match="rgb16"):
        image_to_rgb(Image(header=header(0), height=1, width=1, encoding="rgb16", is_bigendian=0, step=6, data=np.zeros(6, np.uint8)))


def rows_with_color(column: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    return np.flatnonzero(np.abs(column.astype(int) - color).sum(axis=1) < 40)


def test_strip_chart_scrolls_a_step_into_view():
    color = (200, 0, 0)
    times = np.array([0.0, 5.0, 5.0, 10.0])
    trace = Trace("x", "u", times, np.array([0.0, 0.0, 1.0, 1.0]), lo=0.0, hi=1.0, color=color)
    chart = StripChart([trace], width=300, height=200, window_s=10.0)
    image = chart.draw(10.0)
    x0, y0, x1, y1 = chart._plot_box(0)
    before, after = image[:, x0 + (x1 - x0) // 4], image[:, x0 + 3 * (x1 - x0) // 4]
    assert abs(rows_with_color(before, color).mean() - y1) < 4  # low before the step (5 s ago)
    assert abs(rows_with_color(after, color).mean() - y0) < 4  # high after it
    early = chart.draw(2.0)  # at 2 s the step has not happened: the line sits low everywhere drawn
    assert abs(rows_with_color(early[:, x1 - 3], color).mean() - y1) < 4


def test_padded_range_covers_data_and_defaults():
    assert padded_range(np.array([]), 0.0, 4.0) == pytest.approx((-0.32, 4.32))
    lo, hi = padded_range(np.array([1.0, 9.0, np.nan]), 0.0, 4.0)
    assert lo < 0.0 and hi > 9.0


def test_nice_ticks_are_round_and_inside_the_range():
    assert nice_ticks(-7.2, 97.2).tolist() == [0.0, 20.0, 40.0, 60.0, 80.0]
    assert nice_ticks(30.5, 52.0).tolist() == [35.0, 40.0, 45.0, 50.0]
    assert nice_ticks(-0.32, 4.32).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
