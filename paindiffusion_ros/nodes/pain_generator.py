"""``pain_generator``: ``/pain/stimulus`` → ``/face/expression``, ``/face/jaw_pose``, ``/pain/pspi`` at 25 Hz.

A ``rate`` timer publishes the frames due on a fixed timeline (``model.realtime.FrameClock``:
frame k is stamped start + k/rate; a late tick catches up) from ``model.realtime.FramePlayer``;
a ``GenerationWorker`` thread loads the checkpoint and runs ``PainGenerator.advance``
whenever the buffer falls to its low-water mark (see ``model/realtime.py`` for the
buffering and the reaction latency it gives). The clock never waits on the model: when
generation falls behind the face eases to neutral and the underruns are reported on
``/diagnostics``. A missing or corrupt model is logged, reported as ERROR, and the node
keeps publishing a neutral face.

Expression messages carry one ``layout.dim`` labelled ``expression`` whose size is the
model's face binding's (50; 100 for ``flame-emoca-100``, the authors' model), read from
the checkpoint's ``config.json`` at start; the channel names go once, comma-separated, on
the latched ``/face/expression_names``. Parameters: every ``GeneratorConfig`` field (start-up only,
except expressiveness, emotion, guidance_* and seed, which ``ros2 param set`` changes at
run time after the generator's own validation) plus ``PainGeneratorSettings``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from geometry_msgs.msg import Vector3Stamped
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import Temperature
from std_msgs.msg import Float32, Float32MultiArray, MultiArrayDimension, String

from ..face.binding import FaceBinding
from ..face.facs import EXPRESSION_DIM, JAW_DIM
from ..model.checkpoint import read_face_binding
from ..model.generator import RUNTIME_FIELDS, GeneratorConfig, PainGenerator, check_setting, resolve_model_dir
from ..model.realtime import FrameClock, FramePlayer, GenerationWorker
from ..stimulus import BIOVID_BASELINE_C
from .diagnostics import ERROR, OK, WARN, DiagnosticsPublisher, status
from .params import ParameterGroup
from .qos import LATCHED, LATEST, STREAM
from .spin import run_node


@dataclass
class PainGeneratorSettings:
    """Clock and buffering settings of the generator node."""

    rate: float = field(default=25.0, metadata={"help": "frame clock (Hz); the model generates at 25 Hz", "range": (1.0, 100.0)})
    ease_time: float = field(default=0.5, metadata={"help": "seconds to ease to neutral when generation falls behind", "range": (0.04, 5.0)})
    safety: float = field(default=1.5, metadata={"help": "low-water mark = slowest recent chunk × fps × safety + margin", "range": (1.0, 5.0)})
    margin_s: float = field(default=0.2, metadata={"help": "extra buffered seconds for scheduling hiccups of a busy CPU", "range": (0.0, 2.0)})
    stimulus_timeout: float = field(default=1.0, metadata={"help": "seconds without /pain/stimulus before the baseline is assumed", "range": (0.05, 60.0)})
    frame_id: str = field(default="head", metadata={"help": "frame_id of the jaw pose"})


def expression_message(values: Sequence[float]) -> Float32MultiArray:
    message = Float32MultiArray()
    message.layout.dim = [MultiArrayDimension(label="expression", size=len(values), stride=len(values))]
    message.data = [float(v) for v in values]
    return message


class PainGeneratorNode(Node):
    """The diffusion-forcing face stream on a fixed clock."""

    def __init__(self, node_name: str = "pain_generator", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.worker: Optional[GenerationWorker] = None  # before the parameters: a rejected one still destroys the node
        self.settings = ParameterGroup(self, PainGeneratorSettings()).settings
        self.params = ParameterGroup(self, GeneratorConfig(), mutable=RUNTIME_FIELDS, apply=self._apply_runtime)
        self.binding: Optional[FaceBinding] = None
        self.generator_error = ""
        self.stimulus_c = BIOVID_BASELINE_C
        self.stimulus_time = -math.inf
        self.frames_published = 0
        self._reported_underruns = 0
        self.expression = self.create_publisher(Float32MultiArray, "/face/expression", STREAM)
        self.jaw_pose = self.create_publisher(Vector3Stamped, "/face/jaw_pose", STREAM)
        self.pspi = self.create_publisher(Float32, "/pain/pspi", STREAM)
        self.names = self.create_publisher(String, "/face/expression_names", LATCHED)
        self.diagnostics = DiagnosticsPublisher(self)
        self.create_subscription(Temperature, "/pain/stimulus", self._on_stimulus, LATEST)
        self.clock = FrameClock(self.settings.rate)
        recorded = read_face_binding(resolve_model_dir(self.params.settings.model))
        self.sizes = (len(recorded.expression_names), recorded.jaw_dim) if recorded else (EXPRESSION_DIM, JAW_DIM)
        self.player = FramePlayer(*self.sizes, fps=self.settings.rate, ease_time=self.settings.ease_time)
        self.worker = GenerationWorker(self._load, self.player, self.current_stimulus, self.settings.safety, self.settings.margin_s, self._on_error)
        self.worker.start()
        self.create_timer(1.0 / self.settings.rate, self._tick)
        self.create_timer(1.0, self._publish_diagnostics)

    def _load(self) -> PainGenerator:
        generator = PainGenerator(self.params.settings)
        sizes = (len(generator.binding.expression_names), generator.binding.jaw_dim)
        if sizes != self.sizes or sizes[1] != JAW_DIM:
            raise ValueError(f"model {self.params.settings.model!r} has a {sizes[0]} + {sizes[1]} latent; this node streams "
                             f"{self.sizes[0]} + {JAW_DIM} (its config.json changed after start, or the jaw is not 3-d)")
        self.binding = generator.binding
        self.names.publish(String(data=",".join(generator.binding.expression_names)))
        self.get_logger().info(
            f"model loaded: face binding {generator.binding.name}, horizon {generator.horizon} frames, backend {self.params.settings.backend}"
        )
        return generator

    def _on_error(self, error: BaseException) -> None:
        self.generator_error = f"{type(error).__name__}: {error}"
        what = "cannot load the model" if self.worker.generator is None else "generation failed"
        self.get_logger().error(f"{what}: {self.generator_error}; publishing a neutral face")

    def _apply_runtime(self, changes: dict[str, Any]) -> None:
        """Validate with the generator's own checks, then queue for the generation thread."""
        for name, value in changes.items():
            check_setting(name, value)
        self.worker.update(**changes)

    def _on_stimulus(self, message: Temperature) -> None:
        if math.isfinite(message.temperature):
            self.stimulus_c = float(message.temperature)
            self.stimulus_time = time.monotonic()

    def current_stimulus(self) -> float:
        """The newest stimulus (°C), or the baseline when none arrived recently."""
        if time.monotonic() - self.stimulus_time > self.settings.stimulus_timeout:
            return BIOVID_BASELINE_C
        return self.stimulus_c

    def _tick(self) -> None:
        """Publish every frame that has fallen due on the fixed timeline (normally one)."""
        for index in self.clock.due(self.get_clock().now().nanoseconds * 1e-9):
            self._publish_frame(Time(nanoseconds=round(self.clock.time_of(index) * 1e9)).to_msg())
        self.worker.poke()

    def _publish_frame(self, stamp: Any) -> None:
        frame = self.player.next_frame()
        self.expression.publish(expression_message(frame.expression))
        jaw = Vector3Stamped()
        jaw.header.stamp = stamp
        jaw.header.frame_id = self.settings.frame_id
        jaw.vector.x, jaw.vector.y, jaw.vector.z = (float(v) for v in frame.jaw_pose)
        self.jaw_pose.publish(jaw)
        if self.binding is not None and self.binding.pspi is not None:
            self.pspi.publish(Float32(data=float(self.binding.pspi(frame.expression))))
        self.frames_published += 1

    def _publish_diagnostics(self) -> None:
        player, worker = self.player, self.worker
        if self.generator_error:
            level, text = ERROR, self.generator_error
        elif worker.generator is None:
            level, text = WARN, "loading the model"
        elif player.underruns > self._reported_underruns:
            level, text = WARN, "generation fell behind: eased to neutral"
        else:
            level, text = OK, "generating"
        self._reported_underruns = player.underruns
        values = {
            "model": self.params.settings.model or "(shipped default)",
            "binding": self.binding.name if self.binding else "none",
            "frames": self.frames_published,
            "clock_slipped_frames": self.clock.slipped,
            "chunks": worker.chunks,
            "buffered_frames": player.buffered,
            "low_water_frames": worker.low_water,
            "chunk_compute_s": f"{worker.compute_time:.3f}",
            "reaction_time_s": f"{worker.reaction_time:.3f}",
            "underruns": player.underruns,
            "underrun_frames": player.underrun_frames,
            "stimulus_c": f"{self.current_stimulus():.2f}",
        }
        self.diagnostics.publish(status(self.diagnostics.name("generator"), level, text, values))

    def destroy_node(self) -> None:
        """Stop the generation thread before the node goes."""
        if self.worker is not None:
            self.worker.stop()
        super().destroy_node()


def main(args: Optional[Sequence[str]] = None) -> int:
    return run_node(PainGeneratorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
