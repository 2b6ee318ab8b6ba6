"""The session video: the rendered face beside live plots of angle, stimulus and PSPI.

Everything comes from the recorded bag and is aligned on the bag's receive
timestamps. The face comes from ``/face/image/compressed`` (JPEG, what sessions record), or
from the raw ``/face/image`` in a bag that has only that: the video runs at a fixed rate from the first to the last face image;
each video frame shows the newest face image at that instant beside strip charts
(``session/plots.py``) of the elbow angle (°), the heat stimulus (°C) and PSPI over
a scrolling window ending at the same instant. So a clinician sees the face react
to the flexion with the delays the live system had.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np
from rosbags.highlevel import AnyReader
from tqdm import tqdm

from ..face.facs import PSPI_MAX
from ..face.video import Mp4Writer
from .plots import StripChart, Trace, padded_range

NS_PER_S = 1e9
ANGLE_COLOR = (31, 119, 180)
STIMULUS_COLOR = (214, 39, 40)
PSPI_COLOR = (44, 160, 44)


@dataclass
class SessionVideoConfig:
    """What the session video shows and how big it is."""

    fps: float = field(default=25.0, metadata={"help": "video frame rate (Hz)", "range": (1.0, 60.0)})
    height: int = field(default=480, metadata={"help": "video height (px); the face is scaled to it", "range": (120, 2160)})
    plot_width: int = field(default=640, metadata={"help": "width of the plot panel (px)", "range": (200, 3840)})
    window: float = field(default=10.0, metadata={"help": "scrolling plot window (s)", "range": (1.0, 600.0)})
    image_topic: str = field(default="/face/image/compressed", metadata={"help": "sensor_msgs/CompressedImage (or Image) of the rendered face"})
    joint_topic: str = field(default="/joint_states", metadata={"help": "sensor_msgs/JointState of the elbow"})
    joint_name: str = field(default="elbow_joint", metadata={"help": "joint plotted as the elbow angle"})
    stimulus_topic: str = field(default="/pain/stimulus", metadata={"help": "sensor_msgs/Temperature stimulus"})
    pspi_topic: str = field(default="/pain/pspi", metadata={"help": "std_msgs/Float32 PSPI of the generated face"})


RAW_IMAGE_TOPIC = "/face/image"
"""Used when the bag has no ``image_topic`` (bags recorded before the compressed stream)."""


class SessionVideoError(ValueError):
    """A bag that cannot be turned into a session video."""


@dataclass
class Series:
    """Times (ns, bag receive time) and values of one scalar signal."""

    times_ns: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def trace(self, start_ns: int, **style) -> Trace:
        times = (np.asarray(self.times_ns, dtype=np.int64) - start_ns) / NS_PER_S
        return Trace(times=times, values=np.asarray(self.values, dtype=np.float64), **style)


def compressed_to_rgb(message) -> np.ndarray:
    """``sensor_msgs/CompressedImage`` (JPEG or PNG) → ``(H, W, 3) uint8`` RGB."""
    bgr = cv2.imdecode(np.frombuffer(bytes(message.data), np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SessionVideoError(f"face image of format {message.format!r} cannot be decoded")
    return bgr[..., ::-1]


def frame_to_rgb(message, msgtype: str) -> np.ndarray:
    """A face image message, compressed or raw, → ``(H, W, 3) uint8`` RGB."""
    return compressed_to_rgb(message) if msgtype.endswith("CompressedImage") else image_to_rgb(message)


def image_to_rgb(message) -> np.ndarray:
    """``sensor_msgs/Image`` (rgb8, bgr8 or mono8) → ``(H, W, 3) uint8`` RGB."""
    channels = {"rgb8": 3, "bgr8": 3, "mono8": 1}.get(message.encoding)
    if channels is None:
        raise SessionVideoError(f"face image encoding {message.encoding!r} is not rgb8, bgr8 or mono8")
    rows = np.asarray(message.data, dtype=np.uint8).reshape(message.height, message.step)
    pixels = rows[:, : message.width * channels].reshape(message.height, message.width, channels)
    if message.encoding == "bgr8":
        return pixels[..., ::-1]
    if message.encoding == "mono8":
        return np.repeat(pixels, 3, axis=2)
    return pixels


def joint_position(message, joint_name: str) -> float:
    """Position of ``joint_name`` in a JointState (NaN when it is absent)."""
    names = list(message.name)
    if joint_name in names and names.index(joint_name) < len(message.position):
        return float(message.position[names.index(joint_name)])
    return float("nan")


class SessionBag:
    """Read access to the parts of a session bag that the video needs."""

    def __init__(self, bag: Path, config: SessionVideoConfig) -> None:
        self.bag, self.config = Path(bag), config
        if not (self.bag / "metadata.yaml").exists():
            raise SessionVideoError(f"{self.bag} is not a rosbag2 directory (no metadata.yaml)")
        with AnyReader([self.bag]) as reader:
            counts = {c.topic: 0 for c in reader.connections}
            for c in reader.connections:
                counts[c.topic] += c.msgcount
        self.image_topic = config.image_topic if counts.get(config.image_topic) else RAW_IMAGE_TOPIC
        self.image_count = counts.get(self.image_topic, 0)
        if self.image_count == 0:
            raise SessionVideoError(f"bag {self.bag} has no {config.image_topic} messages to make a video from")

    def signals(self) -> tuple[dict[str, Series], np.ndarray]:
        """Angle (°), stimulus (°C) and PSPI series, and the face images' receive times (ns)."""
        c = self.config
        series = {"angle": Series(), "stimulus": Series(), "pspi": Series()}
        read = {
            c.joint_topic: ("angle", lambda m: np.degrees(joint_position(m, c.joint_name))),
            c.stimulus_topic: ("stimulus", lambda m: float(m.temperature)),
            c.pspi_topic: ("pspi", lambda m: float(m.data)),
        }
        image_times: list[int] = []
        with AnyReader([self.bag]) as reader:
            connections = [x for x in reader.connections if x.topic in read or x.topic == self.image_topic]
            for connection, stamp, raw in reader.messages(connections=connections):
                if connection.topic == self.image_topic:
                    image_times.append(stamp)
                    continue
                name, value = read[connection.topic]
                series[name].times_ns.append(stamp)
                series[name].values.append(value(reader.deserialize(raw, connection.msgtype)))
        return series, np.asarray(image_times, dtype=np.int64)

    def images(self) -> Iterator[tuple[int, np.ndarray]]:
        """(receive time ns, RGB) of every face image, in time order."""
        with AnyReader([self.bag]) as reader:
            connections = [x for x in reader.connections if x.topic == self.image_topic]
            for connection, stamp, raw in reader.messages(connections=connections):
                yield stamp, frame_to_rgb(reader.deserialize(raw, connection.msgtype), connection.msgtype)


def session_chart(series: dict[str, Series], start_ns: int, config: SessionVideoConfig) -> StripChart:
    """The three strip charts with fixed ranges for the whole session."""
    angle, stimulus, pspi = series["angle"], series["stimulus"], series["pspi"]
    traces = [
        Trace(label="elbow angle", unit="deg", color=ANGLE_COLOR, **_axes(angle, start_ns, 0.0, 90.0)),
        Trace(label="heat stimulus", unit="degC", color=STIMULUS_COLOR, **_axes(stimulus, start_ns, 32.0, 50.5)),
        Trace(label="PSPI", unit="", color=PSPI_COLOR, **_axes(pspi, start_ns, 0.0, PSPI_MAX / 4)),
    ]
    return StripChart(traces, width=config.plot_width, height=config.height, window_s=config.window)


def _axes(series: Series, start_ns: int, floor: float, ceiling: float) -> dict:
    times = (np.asarray(series.times_ns, dtype=np.int64) - start_ns) / NS_PER_S
    values = np.asarray(series.values, dtype=np.float64)
    lo, hi = padded_range(values, floor, ceiling)
    return {"times": times, "values": values, "lo": lo, "hi": hi}


def compose(face: np.ndarray, chart: np.ndarray, t: float, height: int) -> np.ndarray:
    """Face scaled to ``height`` (square), the chart to its right, the time stamped on."""
    side = cv2.resize(face, (height, height), interpolation=cv2.INTER_LINEAR)
    for color, thickness in (((20, 20, 20), 4), ((255, 255, 255), 2)):  # outlined, readable on any face
        cv2.putText(side, f"t = {t:.1f} s", (12, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, color, thickness, cv2.LINE_AA)
    return np.concatenate([side, chart], axis=1)


def write_session_video(
    bag: Path, output: Path, config: Optional[SessionVideoConfig] = None, progress: bool = True
) -> int:
    """Render ``bag`` to an mp4 at ``output``; returns the number of frames written."""
    config = config or SessionVideoConfig()
    session = SessionBag(bag, config)
    series, image_times = session.signals()
    start_ns = int(image_times[0])
    chart = session_chart(series, start_ns, config)
    step_ns = NS_PER_S / config.fps
    frame_count = int((image_times[-1] - start_ns) // step_ns) + 1
    images = session.images()
    _, face = next(images)
    upcoming = next(images, None)
    with Mp4Writer(str(output), fps=config.fps) as writer:
        for index in tqdm(range(frame_count), desc="session video", unit="frame", disable=not progress):
            t_ns = start_ns + index * step_ns
            while upcoming is not None and upcoming[0] <= t_ns:
                _, face = upcoming
                upcoming = next(images, None)
            t = index / config.fps
            writer.write(compose(face, chart.draw(t), t, config.height))
    return frame_count
