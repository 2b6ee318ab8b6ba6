"""``face_renderer``: ``/face/expression`` + ``/face/jaw_pose`` → ``/face/image/compressed``, ``/face/image``, ``/face/mesh``.

Renders the newest parameters at ``rate`` (25 Hz) and publishes each image twice:
JPEG-compressed as sensor_msgs/CompressedImage on ``/face/image/compressed`` (the
``image_transport`` "compressed" naming and format string, so rviz, ``ros2 bag`` and
``image_transport`` republishers take it as they are; ~15 kB a frame at 512 px: every
subscriber gets 25 Hz, and bags record this one) and raw (rgb8 sensor_msgs/Image, 0.8 MB at 512 px) on
``/face/image`` — each only while someone subscribes. At the lower ``mesh_rate`` it
publishes the mesh as a visualization_msgs/Marker TRIANGLE_LIST in frame ``frame_id`` for
rviz (also only while subscribed). The human face's marker has ~31k corners (~1.2 MB); it is
serialised from numpy (``marker_cdr.py``, ~5 ms instead of ~0.5 s of Python objects).
The patient's look comes from ``appearance.*`` or the ``patient_profile``'s appearance block.
``display`` opens a window (``face/display.py``, fullscreen by default) on the bench screen.

A face that cannot be loaded (a missing or unusable FLAME file) is one error line and an
ERROR on ``/diagnostics``; the node then shows the human face, neutral, at ``rate``. An
expression of the wrong length or with non-finite values (and a non-finite jaw pose) is
ignored and counted (``bad_messages``, WARN).

When no ``/face/expression`` arrives for ``silence_timeout`` (the generator stopped or is
being respawned) the face eases to neutral over ``ease_time`` instead of freezing, and
blends back when the stream returns (``model.realtime.StreamFollower``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import cv2
import numpy as np
from geometry_msgs.msg import Vector3Stamped
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Float32MultiArray, Header, String
from visualization_msgs.msg import Marker

from ..face.appearance import Appearance, appearance_from_profile
from ..face.assets import AssetError
from ..face.display import Display, DisplayConfig
from ..face.flame import FlameError
from ..face.facs import JAW_DIM
from ..face.marker import triangle_list
from ..face.models import FaceConfig, FaceModel, load_face
from ..face.render import REGIONS, FaceRenderer, RenderConfig
from ..model.realtime import StreamFollower
from .diagnostics import ERROR, OK, WARN, DiagnosticsPublisher, status
from .marker_cdr import serialize_marker
from .params import ParameterGroup
from .qos import LATCHED, LATEST, STREAM
from .spin import run_node


@dataclass
class FaceRendererSettings:
    """Output settings of the face renderer node."""

    size: int = field(default=512, metadata={"help": "image width (pixels); the height too, except for a crop region, which keeps its aspect", "range": (64, 2048)})
    region: str = field(default="full", metadata={"help": "what the camera frames: the full face, or a crop of the eyes or the mouth", "choices": REGIONS})
    rate: float = field(default=25.0, metadata={"help": "image rate (Hz)", "range": (1.0, 60.0)})
    mesh_rate: float = field(default=2.0, metadata={"help": "rviz mesh marker rate (Hz); 0 turns the marker off", "range": (0.0, 10.0)})
    display: bool = field(default=False, metadata={"help": "show the face in a window (window.mode: fullscreen by default)"})
    frame_id: str = field(default="head", metadata={"help": "frame of the image and the mesh marker (urdf/elbow_rig.urdf)"})
    patient_profile: str = field(default="", metadata={
        "help": "patient profile (name in config/patients or YAML path) whose appearance block replaces appearance.* ('' = use appearance.*)"})
    jpeg_quality: int = field(default=90, metadata={"help": "JPEG quality of /face/image/compressed (image_transport's jpeg_quality)", "range": (1, 100)})
    silence_timeout: float = field(default=0.25, metadata={"help": "seconds without /face/expression before the face eases to neutral", "range": (0.05, 10.0)})
    ease_time: float = field(default=0.5, metadata={"help": "seconds to ease to neutral when the generator is silent, and to blend back", "range": (0.04, 5.0)})


JPEG_FORMAT = "rgb8; jpeg compressed bgr8"
"""``CompressedImage.format`` as image_transport's compressed publisher writes it for an rgb8 image."""


def compressed_message(rgb: np.ndarray, quality: int, header: Header) -> CompressedImage:
    """JPEG-compressed sensor_msgs/CompressedImage of an RGB image."""
    ok, jpeg = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"JPEG encoding of a {rgb.shape} image failed")
    message = CompressedImage(header=header, format=JPEG_FORMAT)
    message.data = jpeg.tobytes()
    return message


def mesh_marker(face: FaceModel, vertices: np.ndarray, header: Header) -> bytes:
    """Serialised TRIANGLE_LIST marker of the face mesh with per-corner colours."""
    points, colors = triangle_list(vertices, face.faces, face.vertex_colors)
    marker = Marker(header=header, ns="face", id=0, type=Marker.TRIANGLE_LIST, action=Marker.ADD)
    marker.pose.orientation.w = 1.0
    marker.scale.x = marker.scale.y = marker.scale.z = 1.0
    return serialize_marker(marker, points, colors)


class FaceRendererNode(Node):
    """Shows the generated face: image stream, rviz mesh, optional window."""

    def __init__(self, node_name: str = "face_renderer", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.window: Optional[Display] = None  # before the parameters: a rejected one still destroys the node
        self.settings = ParameterGroup(self, FaceRendererSettings()).settings
        self.face_config = ParameterGroup(self, FaceConfig()).settings
        self.window_config = ParameterGroup(self, DisplayConfig(mode="fullscreen"), prefix="window").settings
        self.render_config = ParameterGroup(self, RenderConfig(), prefix="render").settings
        self.appearance = ParameterGroup(self, Appearance(), prefix="appearance").settings
        self.problem = ""
        self.stand_in = False
        """True when the configured face could not load: the face shown stays neutral."""
        self.frames = 0
        self.bad_messages = 0
        self._reported_bad = 0
        self.mismatch = ""
        # Endpoints first: DDS discovers them in its own threads while the face loads (a
        # respawned renderer's subscribers are matched by its first image). No callback runs
        # before the node spins, after __init__.
        self.compressed = self.create_publisher(CompressedImage, "/face/image/compressed", STREAM)
        self.image = self.create_publisher(Image, "/face/image", LATEST)
        self.mesh = self.create_publisher(Marker, "/face/mesh", STREAM)
        self.diagnostics = DiagnosticsPublisher(self)
        self.create_subscription(Float32MultiArray, "/face/expression", self._on_expression, LATEST)
        self.create_subscription(Vector3Stamped, "/face/jaw_pose", self._on_jaw, LATEST)
        self.create_subscription(String, "/face/expression_names", self._on_names, LATCHED)
        self.face = self._load_face()
        self.expression_dim = len(self.face.binding.expression_names)
        self.renderer = FaceRenderer(self.face, self.settings.size, self.render_config, self.settings.region)
        self.face_input = StreamFollower(self.expression_dim + JAW_DIM, self.settings.ease_time, self.settings.silence_timeout)
        self.expression = np.zeros(self.expression_dim, np.float32)
        self.jaw_pose = np.zeros(JAW_DIM, np.float32)
        if self.settings.display:
            self.window = Display(self.window_config)
        if self.settings.mesh_rate > 0:
            self.create_timer(1.0 / self.settings.mesh_rate, self._publish_mesh)
        self.create_timer(1.0 / self.settings.rate, self._render)
        self.create_timer(1.0, self._publish_diagnostics)

    def _load_face(self) -> FaceModel:
        """The configured face; each failure is one error line, and the image stream always starts:
        a bad profile falls back to appearance.*, a missing or unusable FLAME file to the human
        face held neutral (its channels are not the model's), missing assets to the procedural face."""
        if self.settings.patient_profile:
            try:
                self.appearance = appearance_from_profile(self.settings.patient_profile, self.appearance)
            except ValueError as error:
                self._report(f"{error}; using appearance.*")
        kind = self.face_config.kind
        try:
            return load_face(kind, self.face_config.flame_path, self.appearance, self.face_config.flame_expression)
        except FlameError as error:
            self.stand_in = True
            self._report(f"cannot load the {kind} face: {error}; showing the human face, neutral")
        except AssetError as error:
            self._report(f"{error}; showing the procedural face instead")
            return load_face("builtin")
        try:
            return load_face("human", appearance=self.appearance)
        except AssetError as error:
            self._report(f"{self.problem}; {error}: showing the procedural face, neutral")
            return load_face("builtin")

    def _report(self, problem: str) -> None:
        self.problem = problem
        self.get_logger().error(problem)

    def _on_expression(self, message: Float32MultiArray) -> None:
        values = np.asarray(message.data, dtype=np.float32)
        if values.shape != (self.expression_dim,) or not np.isfinite(values).all():
            self._reject("/face/expression", f"{len(values)} values, expected {self.expression_dim} finite ones")
            return
        self.face_input.receive(values, time.monotonic())

    def _reject(self, topic: str, what: str) -> None:
        """Count a malformed message and say so (throttled); the face keeps what it had."""
        self.bad_messages += 1
        self.get_logger().warning(f"{topic} message ignored: {what}", throttle_duration_sec=5.0)

    def _on_names(self, message: String) -> None:
        """The generator's channel names must be this face's, or the face shows nonsense."""
        if message.data.split(",") == list(self.face.binding.expression_names):
            self.mismatch = ""
            return
        self.mismatch = f"the model's expression channels are not those of face {self.face.binding.name!r}; use a checkpoint trained for this face (or switch the face)"
        self.get_logger().error(self.mismatch)

    def _on_jaw(self, message: Vector3Stamped) -> None:
        jaw = np.array([message.vector.x, message.vector.y, message.vector.z], dtype=np.float32)
        if not np.isfinite(jaw).all():
            self._reject("/face/jaw_pose", "non-finite values")
            return
        self.face_input.receive(jaw, time.monotonic(), offset=self.expression_dim, alive=False)

    def _render(self) -> None:
        shown, _ = self.face_input.value(time.monotonic())
        if not self.stand_in:  # the stand-in face stays neutral: the parameters are for another face
            self.expression, self.jaw_pose = shown[:self.expression_dim], shown[self.expression_dim:]
        rgb = self.renderer.render(self.expression, self.jaw_pose)
        header = self._header()
        if self.compressed.get_subscription_count():
            self.compressed.publish(compressed_message(rgb, self.settings.jpeg_quality, header))
        if self.image.get_subscription_count():
            message = Image(header=header, height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", is_bigendian=0, step=rgb.shape[1] * 3)
            message.data = rgb.tobytes()
            self.image.publish(message)
        self.frames += 1
        if self.window is not None and not self.window.show(rgb):
            self.get_logger().info("face window closed; the image stream goes on")
            self.window.close()
            self.window = None

    def _header(self) -> Header:
        return Header(stamp=self.get_clock().now().to_msg(), frame_id=self.settings.frame_id)

    def _publish_mesh(self) -> None:
        if not self.mesh.get_subscription_count():
            return
        self.mesh.publish(mesh_marker(self.face, self.face.vertices(self.expression, self.jaw_pose), self._header()))

    def _publish_diagnostics(self) -> None:
        if self.problem or self.mismatch:
            level, text = ERROR, self.problem or self.mismatch
        elif self.bad_messages > self._reported_bad:
            level, text = WARN, "malformed face parameter messages ignored"
        elif not self.face_input.live(time.monotonic()):
            level, text = WARN, "no face parameters: easing to neutral"
        else:
            level, text = OK, "rendering"
        self._reported_bad = self.bad_messages
        values = {
            "face": self.face_config.kind,
            "binding": self.face.binding.name,
            "frames": self.frames,
            "bad_messages": self.bad_messages,
            "input_silences": self.face_input.silences,
        }
        self.diagnostics.publish(status(self.diagnostics.name("face"), level, text, values))

    def destroy_node(self) -> None:
        """Close the window before the node goes."""
        if self.window is not None:
            self.window.close()
        super().destroy_node()


def main(args: Optional[Sequence[str]] = None) -> int:
    return run_node(FaceRendererNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
