"""``face_renderer``: ``/face/expression`` + ``/face/jaw_pose`` → ``/face/image`` and ``/face/mesh``.

Renders the newest parameters at ``rate`` (25 Hz) into a sensor_msgs/Image (rgb8), and at
the lower ``mesh_rate`` publishes the mesh as a visualization_msgs/Marker TRIANGLE_LIST in
frame ``frame_id`` for rviz. The human face's marker has ~31k corners (~1.2 MB); it is
serialised from numpy (``marker_cdr.py``, ~5 ms instead of ~0.5 s of Python objects).
The patient's look comes from ``appearance.*`` or the ``patient_profile``'s appearance block.
``display`` opens a window (``face/display.py``, fullscreen by default) on the bench screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
from geometry_msgs.msg import Vector3Stamped
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Float32MultiArray, Header, String
from visualization_msgs.msg import Marker

from ..face.appearance import Appearance, appearance_from_profile
from ..face.assets import AssetError
from ..face.display import Display, DisplayConfig
from ..face.facs import JAW_DIM
from ..face.marker import triangle_list
from ..face.models import FaceConfig, FaceModel, load_face
from ..face.render import REGIONS, FaceRenderer, RenderConfig
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
        self.face = self._load_face()
        self.expression_dim = len(self.face.binding.expression_names)
        self.renderer = FaceRenderer(self.face, self.settings.size, self.render_config, self.settings.region)
        self.expression = np.zeros(self.expression_dim, np.float32)
        self.jaw_pose = np.zeros(JAW_DIM, np.float32)
        self.frames = 0
        self.bad_messages = 0
        self.mismatch = ""
        self.image = self.create_publisher(Image, "/face/image", LATEST)
        self.mesh = self.create_publisher(Marker, "/face/mesh", STREAM)
        self.diagnostics = DiagnosticsPublisher(self)
        self.create_subscription(Float32MultiArray, "/face/expression", self._on_expression, LATEST)
        self.create_subscription(Vector3Stamped, "/face/jaw_pose", self._on_jaw, LATEST)
        self.create_subscription(String, "/face/expression_names", self._on_names, LATCHED)
        if self.settings.display:
            self.window = Display(self.window_config)
        if self.settings.mesh_rate > 0:
            self.create_timer(1.0 / self.settings.mesh_rate, self._publish_mesh)
        self.create_timer(1.0 / self.settings.rate, self._render)
        self.create_timer(1.0, self._publish_diagnostics)

    def _load_face(self) -> FaceModel:
        """The configured face; a bad profile falls back to appearance.*, missing assets to the
        procedural face, each with one error line, so the image stream always starts."""
        if self.settings.patient_profile:
            try:
                self.appearance = appearance_from_profile(self.settings.patient_profile, self.appearance)
            except ValueError as error:
                self._report(f"{error}; using appearance.*")
        try:
            return load_face(self.face_config.kind, self.face_config.flame_path, self.appearance, self.face_config.flame_expression)
        except AssetError as error:
            self._report(f"{error}; showing the procedural face instead")
            return load_face("builtin")

    def _report(self, problem: str) -> None:
        self.problem = problem
        self.get_logger().error(problem)

    def _on_expression(self, message: Float32MultiArray) -> None:
        if len(message.data) != self.expression_dim:
            self.bad_messages += 1
            self.get_logger().warning(f"/face/expression has {len(message.data)} values, expected {self.expression_dim}", throttle_duration_sec=5.0)
            return
        self.expression = np.asarray(message.data, dtype=np.float32)

    def _on_names(self, message: String) -> None:
        """The generator's channel names must be this face's, or the face shows nonsense."""
        if message.data.split(",") == list(self.face.binding.expression_names):
            self.mismatch = ""
            return
        self.mismatch = f"the model's expression channels are not those of face {self.face.binding.name!r}; use a checkpoint trained for this face (or switch the face)"
        self.get_logger().error(self.mismatch)

    def _on_jaw(self, message: Vector3Stamped) -> None:
        self.jaw_pose = np.array([message.vector.x, message.vector.y, message.vector.z], dtype=np.float32)

    def _render(self) -> None:
        rgb = self.renderer.render(self.expression, self.jaw_pose)
        message = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", is_bigendian=0, step=rgb.shape[1] * 3)
        message.header = self._header()
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
        self.mesh.publish(mesh_marker(self.face, self.face.vertices(self.expression, self.jaw_pose), self._header()))

    def _publish_diagnostics(self) -> None:
        if self.mismatch:
            level, text = ERROR, self.mismatch
        elif self.problem:
            level, text = ERROR, self.problem
        elif self.bad_messages:
            level, text = WARN, "malformed expression messages received"
        else:
            level, text = OK, "rendering"
        values = {"face": self.face_config.kind, "binding": self.face.binding.name, "frames": self.frames, "bad_messages": self.bad_messages}
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
