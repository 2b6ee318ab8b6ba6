"""``pain_generator``: ``/pain/stimulus`` → ``/face/expression``, ``/face/jaw_pose``, ``/pain/pspi`` at 25 Hz.

A ``rate`` timer publishes the frames due on a fixed timeline (``model.realtime.FrameClock``:
frame k is stamped start + k/rate; a late tick catches up) from ``model.realtime.FramePlayer``;
a ``GenerationWorker`` in a child process (``model/generation_process.py``) loads the
checkpoint, runs ``PainGenerator.advance`` one chunk at a time whenever the queue falls to its low-water mark, and re-plans the queued
chunks when a new stimulus differs from the one they were made with (see
``model/realtime.py`` for the queue and the reaction latency it gives). The clock never
waits on the model: when generation falls behind the face eases to neutral and the
underruns are reported on ``/diagnostics``. A stimulus outside ``stimulus.STIMULUS_RANGE_C``
(NaN, ±inf, a rogue publisher's 1e9 or negative value) is ignored, counted
(``rejected_stimuli``) and reported as WARN. A missing or corrupt model is logged,
reported as ERROR, and the node keeps publishing a neutral face.

Measured in the node and reported on ``/diagnostics`` every second, over the last 10 s:
``stimulus_to_face_p50_s``/``_p95_s`` (a ``/pain/stimulus`` message's arrival → the
publication of the first ``/face/expression`` frame generated with it,
``model.realtime.StimulusFeed``) and ``clock_jitter_p99_ms`` (a frame's publication vs its
slot on the 25 Hz grid).

Expression messages carry one ``layout.dim`` labelled ``expression`` whose size is the
model's face binding's (50; 100 for ``flame-emoca-100``, the authors' model), read from
the checkpoint's ``config.json`` at start; the channel names go once, comma-separated, on
the latched ``/face/expression_names``. Parameters: every ``GeneratorConfig`` field (start-up only,
except expressiveness, emotion, guidance_* and seed, which ``ros2 param set`` changes at
run time after the generator's own validation) plus ``PainGeneratorSettings``.

A model imported from the authors (``paindiffusion import-official``) streams with the
sampling its checkpoint records: its chunk is one call of 24 new frames, and ``window``,
``context``, ``horizon``, ``steps`` and ``uncertainty`` are not used (the ``stream`` value on
``/diagnostics`` and the load log line say which geometry runs). Re-planning still
applies, a whole 24-frame chunk at a time.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from geometry_msgs.msg import Vector3Stamped
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import Temperature
from std_msgs.msg import Float32, Float32MultiArray, MultiArrayDimension, String

from ..face.binding import FaceBinding, get_binding
from ..face.facs import EXPRESSION_DIM, JAW_DIM
from ..model.checkpoint_meta import read_face_binding
from ..model.generation_process import GenerationProcess, ModelInfo
from ..model.realtime import FrameClock, FramePlayer, FrameTimer, StimulusFeed
from ..model.settings import RUNTIME_FIELDS, GeneratorConfig, check_setting, resolve_model_dir
from ..stimulus import BIOVID_BASELINE_C, STIMULUS_RANGE_C
from .diagnostics import ERROR, OK, WARN, DiagnosticsPublisher, status
from .params import ParameterGroup
from .qos import LATCHED, LATEST, STREAM
from .spin import run_node

GIL_SWITCH_INTERVAL_S = 0.001
"""How long the frame clock thread can wait for the GIL held by the executor thread (Python's default: 5 ms)."""
RESTART_DELAY_S = 1.0
"""Seconds before a generation process that died is started again."""


@dataclass
class PainGeneratorSettings:
    """Clock and buffering settings of the generator node."""

    rate: float = field(default=25.0, metadata={"help": "frame clock (Hz); the model generates at 25 Hz", "range": (1.0, 100.0)})
    ease_time: float = field(default=0.5, metadata={"help": "seconds to ease to neutral when generation falls behind", "range": (0.04, 5.0)})
    safety: float = field(default=1.5, metadata={"help": "low-water mark = slowest recent chunk × fps × safety + margin", "range": (1.0, 5.0)})
    margin_s: float = field(default=0.2, metadata={"help": "extra buffered seconds for scheduling hiccups of a busy CPU", "range": (0.0, 2.0)})
    stimulus_timeout: float = field(default=1.0, metadata={"help": "seconds without /pain/stimulus before the baseline is assumed", "range": (0.05, 60.0)})
    replan: bool = field(default=True, metadata={"help": "generate queued frames again when the stimulus changes (fast reaction, more compute)"})
    replan_threshold_c: float = field(default=0.1, metadata={"help": "stimulus change (°C) from the one queued frames were made with that re-plans them", "range": (0.0, 20.0)})
    frame_id: str = field(default="head", metadata={"help": "frame_id of the jaw pose"})
    clock_priority: int = field(default=10, metadata={"help": "SCHED_FIFO priority of the frame clock thread, the node's other threads one below (0 = normal scheduling; needs root or an rtprio limit)", "range": (0, 99)})


def expression_message(values: Sequence[float]) -> Float32MultiArray:
    message = Float32MultiArray()
    message.layout.dim = [MultiArrayDimension(label="expression", size=len(values), stride=len(values))]
    message.data = [float(v) for v in values]
    return message


class PainGeneratorNode(Node):
    """The diffusion-forcing face stream on a fixed clock; the model runs in a child process."""

    def __init__(self, node_name: str = "pain_generator", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.generation: Optional[GenerationProcess] = None  # before the parameters: a rejected one still destroys the node
        self.timer: Optional[FrameTimer] = None
        self.settings = ParameterGroup(self, PainGeneratorSettings()).settings
        self.params = ParameterGroup(self, GeneratorConfig(), mutable=RUNTIME_FIELDS, apply=self._apply_runtime)
        self.binding: Optional[FaceBinding] = None
        self.stream = "not loaded"
        self.generator_error = ""
        self.restarts = 0
        self.feed = StimulusFeed(BIOVID_BASELINE_C, self.settings.stimulus_timeout, self.settings.replan_threshold_c)
        self.frames_published = 0
        self._last_stamp = "never"
        self._reported_underruns = 0
        self._stimulus_seq = 0
        self.rejected_stimuli = 0
        self._reported_rejected = 0
        self.expression = self.create_publisher(Float32MultiArray, "/face/expression", STREAM)
        self.jaw_pose = self.create_publisher(Vector3Stamped, "/face/jaw_pose", STREAM)
        self.pspi = self.create_publisher(Float32, "/pain/pspi", STREAM)
        self.names = self.create_publisher(String, "/face/expression_names", LATCHED)
        self.diagnostics = DiagnosticsPublisher(self)
        self.create_subscription(Temperature, "/pain/stimulus", self._on_stimulus, LATEST)
        self.clock = FrameClock(self.settings.rate)
        recorded = read_face_binding(resolve_model_dir(self.params.settings.model))
        self.sizes = (len(recorded.expression_names), recorded.jaw_dim) if recorded else (EXPRESSION_DIM, JAW_DIM)
        """Expression and jaw values per frame: the model's face binding's, from its config.json (the
        neutral frames before it loads have them too); 50 + 3 when that cannot be read."""
        self.player = FramePlayer(*self.sizes, fps=self.settings.rate, ease_time=self.settings.ease_time)
        self._ros_offset = self.get_clock().now().nanoseconds * 1e-9 - time.monotonic()
        """ROS time − monotonic time: frames are scheduled on the monotonic clock and stamped on the ROS clock."""
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        self._start_generation()
        self.timer = FrameTimer(self.clock, self._tick, self.settings.clock_priority)
        self.timer.start()
        self.create_timer(1.0, self._publish_diagnostics)

    def _start_generation(self) -> None:
        settings = self.settings
        self.generation = GenerationProcess(
            self.params.settings, self.player, self.feed, settings.safety, settings.margin_s, settings.replan,
            on_ready=self._on_ready, on_error=self._on_error, on_exit=self._on_exit,
        ).start()

    def _on_ready(self, info: ModelInfo) -> None:
        sizes = (len(info.expression_names), info.jaw_dim)
        if sizes != self.sizes or info.jaw_dim != JAW_DIM:
            self._on_error(f"ValueError: model {self.params.settings.model!r} has a {sizes[0]} + {sizes[1]} latent; this node streams "
                           f"{self.sizes[0]} + {JAW_DIM} (its config.json changed after start, or the jaw is not 3-d)")
            self.generation.stop()
            return
        self.binding = get_binding(info.binding)
        self.generator_error = ""
        self.names.publish(String(data=",".join(info.expression_names)))
        self.stream = info.stream
        self.get_logger().info(f"model loaded: face binding {info.binding}, backend {self.params.settings.backend}, {info.stream}")

    def _on_error(self, text: str) -> None:
        self.generator_error = text
        what = "generation failed" if self.generation is not None and self.generation.loaded else "cannot load the model"
        self.get_logger().error(f"{what}: {text}; publishing a neutral face")

    def _on_exit(self, exitcode: int) -> None:
        """The generation process died (killed, crashed): start a new one; the face eases to neutral meanwhile."""
        self.restarts += 1
        self.generator_error = f"generation process ended (exit status {exitcode}); restarting it"
        self.get_logger().error(self.generator_error)
        self._restart = self.create_timer(RESTART_DELAY_S, self._restart_generation)

    def _restart_generation(self) -> None:
        self.destroy_timer(self._restart)
        self._start_generation()

    def _apply_runtime(self, changes: dict[str, Any]) -> None:
        """Validate with the generator's own checks, then queue for the generation process."""
        for name, value in changes.items():
            check_setting(name, value)
        self.generation.update(**changes)

    def _on_stimulus(self, message: Temperature) -> None:
        value = message.temperature
        if not STIMULUS_RANGE_C[0] <= value <= STIMULUS_RANGE_C[1]:  # also NaN
            self.rejected_stimuli += 1
            self.get_logger().warning(
                f"/pain/stimulus {value} °C is outside {STIMULUS_RANGE_C[0]:g}–{STIMULUS_RANGE_C[1]:g} °C: ignored",
                throttle_duration_sec=5.0,
            )
            return
        now = time.monotonic()
        self.feed.receive(value, now)
        self._stimulus_seq += 1
        self.generation.stimulus(value, self._stimulus_seq, now)

    def current_stimulus(self) -> float:
        """The newest stimulus (°C), or the baseline when none arrived recently."""
        return self.feed.latest(time.monotonic()).value

    def _tick(self, now: float) -> None:
        """Publish every frame that has fallen due on the fixed timeline (normally one); runs on
        the frame clock thread. Stamps are the frames' slots on the ROS clock."""
        for index in self.clock.due(now):
            self._publish_frame(Time(nanoseconds=round((self.clock.time_of(index) + self._ros_offset) * 1e9)).to_msg())
        self.generation.poke()

    def _publish_frame(self, stamp: Any) -> None:
        frame = self.player.next_frame()
        self.expression.publish(expression_message(frame.expression))
        self.feed.served(frame, time.monotonic())
        jaw = Vector3Stamped()
        jaw.header.stamp = stamp
        jaw.header.frame_id = self.settings.frame_id
        jaw.vector.x, jaw.vector.y, jaw.vector.z = (float(v) for v in frame.jaw_pose)
        self.jaw_pose.publish(jaw)
        if self.binding is not None and self.binding.pspi is not None:
            self.pspi.publish(Float32(data=float(self.binding.pspi(frame.expression))))
        self.frames_published += 1
        self._last_stamp = f"{stamp.sec}.{stamp.nanosec:09d}"

    def _publish_diagnostics(self) -> None:
        player, generation = self.player, self.generation
        worker = generation.status
        if self.generator_error:
            level, text = ERROR, self.generator_error
        elif not generation.loaded:
            level, text = WARN, "loading the model"
        elif player.underruns > self._reported_underruns:
            level, text = WARN, "generation fell behind: eased to neutral"
        elif self.rejected_stimuli > self._reported_rejected:
            level, text = WARN, f"stimuli outside {STIMULUS_RANGE_C[0]:g}–{STIMULUS_RANGE_C[1]:g} °C ignored"
        else:
            level, text = OK, "generating"
        self._reported_underruns = player.underruns
        self._reported_rejected = self.rejected_stimuli
        now = time.monotonic()
        latency_p50, latency_p95 = self.feed.latency.percentiles(now, 50.0, 95.0)
        (jitter_p99,) = self.clock.lateness.percentiles(now, 99.0)
        values = {
            "model": self.params.settings.model or "(shipped default)",
            "binding": self.binding.name if self.binding else "none",
            "stream": self.stream,
            "frames": self.frames_published,
            "clock_slipped_frames": self.clock.slipped,
            "clock_jitter_p99_ms": f"{jitter_p99 * 1e3:.2f}",
            "clock_priority": self.timer.priority_note or ("SCHED_FIFO" if self.settings.clock_priority else "normal"),
            "chunks": worker.chunks,
            "replans": worker.replans,
            "buffered_frames": player.buffered,
            "low_water_frames": worker.low_water,
            "chunk_compute_s": f"{worker.compute_time:.3f}",
            "reaction_time_s": f"{worker.reaction_time:.3f}",
            "stimulus_to_face_p50_s": f"{latency_p50:.3f}",
            "stimulus_to_face_p95_s": f"{latency_p95:.3f}",
            "underruns": player.underruns,
            "underrun_frames": player.underrun_frames,
            "generation_restarts": self.restarts,
            "stimulus_c": f"{self.current_stimulus():.2f}",
            "rejected_stimuli": self.rejected_stimuli,
        }
        self.diagnostics.publish(status(self.diagnostics.name("generator"), level, text, values))

    def destroy_node(self) -> None:
        """Stop the frame clock, then the generation process (after its chunk in progress)."""
        if self.timer is not None:
            self.timer.stop()
            self.get_logger().info(
                f"stopped after {self.frames_published} frames ({self.clock.slipped} slipped), the last stamped {self._last_stamp}"
            )
        if self.generation is not None and not self.generation.stop():
            self.get_logger().error("the generation process did not stop in time and was killed")
        super().destroy_node()


def main(args: Optional[Sequence[str]] = None) -> int:
    """The executable: the node owns its process, so all its (light) threads get the real-time
    priority below the clock's (``FrameTimer.raise_process_priority``)."""

    def make() -> PainGeneratorNode:
        node = PainGeneratorNode()
        node.timer.raise_process_priority()
        return node

    return run_node(make, args)


if __name__ == "__main__":
    raise SystemExit(main())
