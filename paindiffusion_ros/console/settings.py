"""Settings of the operator console node (one ROS parameter per field, ``nodes/params.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ConsoleSettings:
    """Where the console serves, who may use it, where recordings go, which nodes it drives."""

    host: str = field(default="127.0.0.1", metadata={"help": "interface to serve on; any but loopback requires the access tokens"})
    port: int = field(default=8080, metadata={"help": "TCP port of the console (0 = any free port, logged at start)", "range": (0, 65535)})
    token: str = field(default="", metadata={"help": "operator access token ('' = none on loopback, generated and logged on any other interface)"})
    trainee_token: str = field(default="", metadata={"help": "token of the trainee page, which can only submit ratings ('' = generated when tokens are in use)"})
    record_dir: str = field(default="~/paindiffusion_sessions", metadata={"help": "folder of the console's session recordings (one sub-folder each: bag/, report/)"})
    face_rate: float = field(default=12.5, metadata={"help": "most face images per second sent to the browser", "range": (1.0, 30.0)})
    trace_rate: float = field(default=20.0, metadata={"help": "samples per second kept of each live trace", "range": (1.0, 100.0)})
    window: float = field(default=30.0, metadata={"help": "seconds of live traces on the page", "range": (5.0, 300.0)})
    generator_node: str = field(default="pain_generator", metadata={"help": "name of the pain generator node whose parameters the console sets"})
    mapper_node: str = field(default="stimulus_mapper", metadata={"help": "name of the stimulus mapper node (patient profile, heat override)"})
    elbow_node: str = field(default="elbow_driver", metadata={"help": "name of the elbow driver node (mode)"})
    joint_name: str = field(default="elbow_joint", metadata={"help": "joint in /joint_states shown as the elbow angle"})
