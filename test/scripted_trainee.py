"""A scripted session for the report tests: a PSPI trace with pain episodes, a trainee who
follows it by a rule (delay, gain, bias, noise, slider steps), written as a rosbag2 bag
with the project's message types, as the recorder writes them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

FPS = 25.0
RATING_HZ = 10.0
EPISODES = ((6.0, 5.0, 9.0), (18.0, 4.0, 5.0), (29.0, 7.0, 11.0), (42.0, 3.0, 7.0), (52.0, 5.0, 8.0))
"""(onset s, duration s, peak PSPI) of the scripted face's pain episodes."""
SECONDS = 62.0
TOPICS = {
    "/pain/pspi": "std_msgs/msg/Float32",
    "/joint_states": "sensor_msgs/msg/JointState",
    "/pain/stimulus": "sensor_msgs/msg/Temperature",
    "/trainee/rating": "sensor_msgs/msg/Joy",
}


def scripted_pspi(t: np.ndarray) -> np.ndarray:
    """Raised-cosine pain episodes on a slightly noisy rest."""
    pspi = 0.15 + 0.1 * np.sin(2 * np.pi * t / 3.7)
    for onset, duration, peak in EPISODES:
        inside = (t >= onset) & (t <= onset + duration)
        pspi[inside] += peak * 0.5 * (1 - np.cos(2 * np.pi * (t[inside] - onset) / duration))
    return pspi


@dataclass(frozen=True)
class Trainee:
    """Rates NRS = gain × PSPI·10/16 (delay s ago) + bias + noise, on a slider of 0.1 steps, at 10 Hz,
    sending only when the slider moved (as the trainee page does)."""

    delay: float = 1.0
    gain: float = 1.0
    bias: float = 0.0
    noise: float = 0.0
    starts: float = 0.5
    moves: bool = True

    def ratings(self, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        t = np.arange(self.starts, SECONDS, 1 / RATING_HZ)
        seen = scripted_pspi(np.clip(t - self.delay, 0, None)) * 10 / 16 if self.moves else np.zeros_like(t)
        value = np.round(np.clip(self.gain * seen + self.bias + self.noise * rng.standard_normal(len(t)), 0, 10), 1)
        changed = np.concatenate([[True], np.diff(value) != 0])
        return t[changed], value[changed]


def write_session(path: Path, trainee: Optional[Trainee], seed: int = 0) -> Path:
    """A bag with /pain/pspi (25 Hz), /joint_states and /pain/stimulus (25 Hz) and, with a
    trainee, /trainee/rating; receive times are the scripted times."""
    store = get_typestore(Stores.ROS2_KILTED)
    types = store.types
    t0 = 1_700_000_000 * 10**9
    times = np.arange(0, SECONDS, 1 / FPS)
    pspi = scripted_pspi(times)
    angle = 0.3 + 1.8 * np.clip(pspi / 11, 0, 1)

    def stamp(seconds: float):
        ns = t0 + int(round(seconds * 1e9))
        return types["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9), ns

    def header(seconds: float, frame: str):
        return types["std_msgs/msg/Header"](stamp=stamp(seconds)[0], frame_id=frame)

    messages = []
    for t, p, a in zip(times, pspi, angle):
        messages.append((t, "/pain/pspi", types["std_msgs/msg/Float32"](data=float(p))))
        messages.append((t, "/joint_states", types["sensor_msgs/msg/JointState"](
            header=header(t, ""), name=["elbow_joint"], position=np.array([a]), velocity=np.array([0.0]), effort=np.array([0.0]))))
        messages.append((t, "/pain/stimulus", types["sensor_msgs/msg/Temperature"](header=header(t, "elbow_link"), temperature=32 + 8.4 * a, variance=0.0)))
    if trainee is not None:
        for t, value in zip(*trainee.ratings(seed)):
            messages.append((t, "/trainee/rating", types["sensor_msgs/msg/Joy"](
                header=header(t, "nrs"), axes=np.array([value], dtype=np.float32), buttons=np.array([], dtype=np.int32))))
    messages.sort(key=lambda item: item[0])
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {topic: writer.add_connection(topic, msgtype, typestore=store) for topic, msgtype in TOPICS.items()
                       if trainee is not None or topic != "/trainee/rating"}
        for t, topic, message in messages:
            writer.write(connections[topic], stamp(t)[1], store.serialize_cdr(message, TOPICS[topic]))
    return path
