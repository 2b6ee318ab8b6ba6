"""Real-time playback of a chunked generator on a fixed frame clock.

The diffusion-forcing stream produces frames in chunks of ``horizon`` frames, each
taking a variable compute time; a face must be shown at a steady 25 Hz. Two pieces
decouple the two clocks:

``FramePlayer`` (the clock side) buffers chunks and hands out exactly one frame per
tick, never blocking on the model. When the buffer runs dry it holds the last frame and
eases it to neutral with a raised-cosine blend over ``ease_time`` (counting the
underrun); when frames arrive again it blends from what was last shown into them over
the same time, so the face never jumps.

``FrameClock`` keeps the frame timeline fixed: frame k belongs to start + k/fps. A timer
tick that comes late (a loaded machine) emits every frame that has fallen due, so the
stream keeps exactly fps frames per second and stamps on the 25 Hz grid; a delay longer
than ``max_catch_up`` frames is skipped instead of played out in a burst (a slip).

``GenerationWorker`` (the model side) runs in its own thread and requests the next
chunk as soon as the buffer falls to the *low-water mark*: the frames that will be
played while one chunk is computed (the slowest of the last few chunks × fps, with a
safety factor) plus a fixed margin for scheduling hiccups of a shared CPU. So a new chunk lands just before the buffer empties, and a
stimulus change reaches the face after at most one horizon of waiting for the next
request, plus the compute time, plus the few margin frames still queued: about one
horizon (+ compute) of reaction latency, instead of the several horizons a deep
buffer would add. The stimulus for a chunk is the latest value, held over its horizon.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One played frame: expression (E,), jaw pose (J,), and whether it is model output."""

    expression: np.ndarray
    jaw_pose: np.ndarray
    live: bool


class Chunk(Protocol):
    expression: np.ndarray
    jaw_pose: np.ndarray


class ChunkGenerator(Protocol):
    horizon: int

    def advance(self, stimulus_c: np.ndarray) -> Chunk: ...

    def update(self, **changes: Any) -> None: ...


def cosine_ease(progress: float) -> float:
    """Weight of the old frame during a blend: 1 at progress 0, 0 at progress ≥ 1."""
    return 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))


class FramePlayer:
    """Chunk buffer with one-frame-per-tick output and eased underruns (thread-safe)."""

    def __init__(self, expression_dim: int, jaw_dim: int, fps: float = 25.0, ease_time: float = 0.5) -> None:
        if ease_time <= 0 or fps <= 0:
            raise ValueError(f"fps ({fps}) and ease_time ({ease_time}) must be positive")
        self.neutral = np.zeros(expression_dim + jaw_dim, dtype=np.float32)
        self.expression_dim = expression_dim
        self.fps = fps
        self.ease_frames = max(1, round(ease_time * fps))
        self._frames: deque[np.ndarray] = deque()
        self._lock = threading.Lock()
        self._shown = self.neutral.copy()
        self._blend_from = self.neutral.copy()
        self._blend_step = self.ease_frames
        self._live = False
        self.underruns = 0
        self.underrun_frames = 0
        self.frames_played = 0

    @property
    def buffered(self) -> int:
        with self._lock:
            return len(self._frames)

    def push(self, expression: np.ndarray, jaw_pose: np.ndarray) -> None:
        """Append a chunk: expression (h, E) and jaw pose (h, J)."""
        expression = np.asarray(expression, dtype=np.float32)
        jaw_pose = np.asarray(jaw_pose, dtype=np.float32)
        if expression.ndim != 2 or jaw_pose.ndim != 2 or len(expression) != len(jaw_pose):
            raise ValueError(f"chunk shapes disagree: expression {expression.shape}, jaw_pose {jaw_pose.shape}")
        frames = np.concatenate([expression, jaw_pose], axis=1)
        if frames.shape[1] != len(self.neutral):
            raise ValueError(f"chunk has {frames.shape[1]} values per frame, expected {len(self.neutral)}")
        with self._lock:
            self._frames.extend(frames)

    def clear(self) -> None:
        """Drop buffered frames (the next ticks ease to neutral)."""
        with self._lock:
            self._frames.clear()

    def next_frame(self) -> Frame:
        """The frame for this tick; never blocks on generation."""
        with self._lock:
            live = bool(self._frames)
            if live != self._live:
                self._blend_from, self._blend_step = self._shown, 0
                if not live:
                    self.underruns += 1
                self._live = live
            target = self._frames.popleft() if live else self.neutral
            self._blend_step += 1
            weight = cosine_ease(self._blend_step / self.ease_frames)
            self._shown = (weight * self._blend_from + (1.0 - weight) * target).astype(np.float32)
            self.frames_played += 1
            if not live:
                self.underrun_frames += 1
            shown = self._shown
        return Frame(shown[: self.expression_dim].copy(), shown[self.expression_dim :].copy(), live)


RECENT_CHUNKS = 8
"""Chunks whose compute time sets the low-water mark."""


class FrameClock:
    """Frame timeline of a fixed-rate stream: which frames are due at a tick (see module doc)."""

    def __init__(self, fps: float, max_catch_up: int = 5) -> None:
        if fps <= 0 or max_catch_up < 1:
            raise ValueError(f"fps ({fps}) must be positive and max_catch_up ({max_catch_up}) at least 1")
        self.fps = fps
        self.max_catch_up = max_catch_up
        self.start: Optional[float] = None
        self.emitted = 0
        self.slipped = 0

    def due(self, now: float) -> range:
        """Indices of the frames to emit at time ``now`` (seconds; the first call starts frame 0)."""
        if self.start is None:
            self.start = now
        target = round((now - self.start) * self.fps) + 1
        if target - self.emitted > self.max_catch_up:
            self.slipped += target - 1 - self.emitted
            self.emitted = target - 1
        frames = range(self.emitted, max(target, self.emitted))
        self.emitted = max(target, self.emitted)
        return frames

    def time_of(self, frame: int) -> float:
        """Scheduled time (seconds, same clock as ``due``) of frame ``frame``."""
        return (self.start or 0.0) + frame / self.fps


class GenerationWorker:
    """Thread that loads a chunk generator with ``load()`` and keeps a ``FramePlayer`` fed.

    Loading runs in the thread too, so a slow or failing model never holds up the clock;
    any exception ends the thread and is handed to ``on_error`` (and kept in ``error``).
    """

    def __init__(
        self,
        load: Callable[[], ChunkGenerator],
        player: FramePlayer,
        stimulus: Callable[[], float],
        safety: float = 1.5,
        margin_s: float = 0.2,
        on_error: Optional[Callable[[BaseException], None]] = None,
    ) -> None:
        self.load = load
        self.generator: Optional[ChunkGenerator] = None
        self.player = player
        self.stimulus = stimulus
        self.safety = safety
        self.margin_frames = math.ceil(margin_s * player.fps)
        self.on_error = on_error
        self._pending: dict[str, Any] = {}
        self._pending_lock = threading.Lock()
        self._recent: deque[float] = deque(maxlen=RECENT_CHUNKS)
        self.chunks = 0
        self.error: Optional[BaseException] = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="paindiffusion-generation", daemon=True)

    @property
    def compute_time(self) -> float:
        """Slowest of the recent chunks (seconds): the buffer must cover the worst recent
        case, not the average, on a busy machine. The slow first (warm-up) chunks make the
        buffer deep at start; the cap in ``low_water`` bounds that, and they age out."""
        return max(self._recent, default=0.0)

    @property
    def low_water(self) -> int:
        """Buffered frames at or below which the next chunk is requested, capped at
        ``safety`` horizons: a generator slower than real time cannot be helped by more."""
        needed = math.ceil(self.compute_time * self.player.fps * self.safety) + self.margin_frames
        if self.generator is None:
            return needed
        return min(needed, math.ceil(self.generator.horizon * self.safety) + self.margin_frames)

    @property
    def reaction_time(self) -> float:
        """Worst-case seconds from a stimulus change to the first frame generated for it:
        waiting for the next request (one horizon), computing the chunk, then playing the
        frames still queued ahead of it (the low-water mark); nan before the model loads."""
        if self.generator is None:
            return math.nan
        return (self.generator.horizon + self.low_water) / self.player.fps + self.compute_time

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def update(self, **changes: Any) -> None:
        """Queue validated run-time changes; applied between two chunks, never mid-chunk."""
        with self._pending_lock:
            self._pending.update(changes)

    def _apply_pending(self, generator: ChunkGenerator) -> None:
        with self._pending_lock:
            changes, self._pending = self._pending, {}
        if changes:
            generator.update(**changes)

    def poke(self) -> None:
        """Re-check the buffer now (call from the clock tick)."""
        self._wake.set()

    def _run(self) -> None:
        try:
            generator = self.load()
            self.generator = generator
            while not self._stop.is_set():
                if self.player.buffered > self.low_water:
                    self._wake.wait(1.0 / self.player.fps)
                    self._wake.clear()
                    continue
                stimulus = np.full(generator.horizon, self.stimulus(), dtype=np.float32)
                self._apply_pending(generator)
                start = time.perf_counter()
                chunk = generator.advance(stimulus)
                elapsed = time.perf_counter() - start
                self._recent.append(elapsed)
                self.chunks += 1
                if not self._stop.is_set():
                    self.player.push(chunk.expression, chunk.jaw_pose)
        except Exception as error:  # reported to the node, which keeps its clock running
            self.error = error
            if self.on_error is not None:
                self.on_error(error)
