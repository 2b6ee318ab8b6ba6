"""Real-time playback of a chunked generator on a fixed frame clock, re-planned on new stimuli.

The diffusion-forcing stream produces frames in chunks of ``horizon`` frames (one 4-frame
token by default), each taking a variable compute time; a face must be shown at a steady
25 Hz and react to the stimulus within a quarter second. Four pieces:

``FramePlayer`` (the clock side) queues numbered frames and hands out exactly one per
tick, never blocking on the model. When the queue runs dry it holds the last frame and
eases it to neutral with a raised-cosine blend over ``ease_time`` (counting the
underrun); when frames arrive again it waits until ``preroll`` frames are queued (so a
generator that is just warming up does not start and stall again at once), then blends
from what was last shown into them over the same time, so the face never jumps. A chunk pushed with a ``start`` index replaces
the queued frames from that index on (frames already played are skipped).

``FrameClock`` keeps the frame timeline fixed: frame k belongs to start + k/fps. A timer
tick that comes late (a loaded machine) emits every frame that has fallen due, so the
stream keeps exactly fps frames per second and stamps on the 25 Hz grid; a delay longer
than ``max_catch_up`` frames is skipped instead of played out in a burst (a slip). It
also keeps each frame's lateness over the last ``window_s`` (the clock's jitter).

``StimulusFeed`` holds the newest stimulus for the generation thread and measures, for
every stimulus message, the time from its arrival to the publication of the first frame
generated with it (or with a value within ``threshold_c`` of it): the stimulus-to-face
latency, as p50/p95 over the last ``window_s``.

``GenerationWorker`` (the model side) runs in its own thread. It keeps the queue just
above the *low-water mark* — the frames played while one chunk is computed (the slowest
of the last few chunks × fps × a safety factor: the *commit* depth) plus a fixed margin
for scheduling hiccups of a shared CPU — advancing the stream one chunk at a time. It
keeps the stream's state from before each queued chunk (``PainGenerator.snapshot``), and
when the stimulus moves by more than ``threshold_c`` from what queued chunks were made
with (or a run-time setting changes), it *re-plans*: it restores the state from before
the first chunk that will not have been played by the time a chunk is computed and
generates that chunk again for the new stimulus (same noise, so the face only changes
by what the stimulus changes), replacing its queued frames. The queued chunks after it
stay queued (so the queue stays as deep as the margin asks) until they are generated
again, one per step, continuing from the new state; then the queue is topped up, then
the next stale chunk is re-planned (so a stimulus that keeps moving can never starve the
queue). A stimulus change thus reaches the face after the work in progress, one chunk's
compute and the commit depth — not after a horizon of waiting. While the stimulus keeps
moving the worker re-plans back to back: the generator then uses up to a core.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One played frame: expression (E,), jaw pose (J,), whether it is model output, and
    for model output the stimulus message (sequence number) and value it was generated with."""

    expression: np.ndarray
    jaw_pose: np.ndarray
    live: bool
    stimulus_seq: int = -1
    stimulus_c: float = math.nan


class Chunk(Protocol):
    expression: np.ndarray
    jaw_pose: np.ndarray


class FrameSink(Protocol):
    """What the worker needs of the player: its rate, the next index to play, and ``push``."""

    fps: float

    @property
    def next_index(self) -> int: ...

    def push(self, expression: np.ndarray, jaw_pose: np.ndarray, start: Optional[int] = None,
             stimulus_seq: int = -1, stimulus_c: float = math.nan) -> None: ...


class StimulusSource(Protocol):
    """What the worker needs of the stimulus: the newest reading and the re-plan threshold."""

    threshold_c: float

    def latest(self, now: float) -> "StimulusReading": ...

    def forget_pending(self) -> None: ...


class WakeEvent(Protocol):
    def set(self) -> None: ...

    def clear(self) -> None: ...

    def wait(self, timeout: Optional[float] = None) -> bool: ...


class ChunkGenerator(Protocol):
    horizon: int

    def advance(self, stimulus_c: np.ndarray) -> Chunk: ...

    def update(self, **changes: Any) -> None: ...

    def snapshot(self) -> Any: ...

    def restore(self, snapshot: Any) -> None: ...


def cosine_ease(progress: float) -> float:
    """Weight of the old frame during a blend: 1 at progress 0, 0 at progress ≥ 1."""
    return 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))


@dataclass(frozen=True)
class _Queued:
    index: int
    values: np.ndarray
    stimulus_seq: int
    stimulus_c: float


class FramePlayer:
    """Numbered frame queue with one-frame-per-tick output and eased underruns (thread-safe)."""

    def __init__(self, expression_dim: int, jaw_dim: int, fps: float = 25.0, ease_time: float = 0.5) -> None:
        if ease_time <= 0 or fps <= 0:
            raise ValueError(f"fps ({fps}) and ease_time ({ease_time}) must be positive")
        self.neutral = np.zeros(expression_dim + jaw_dim, dtype=np.float32)
        self.expression_dim = expression_dim
        self.fps = fps
        self.ease_frames = max(1, round(ease_time * fps))
        self._frames: deque[_Queued] = deque()
        self._lock = threading.Lock()
        self._shown = self.neutral.copy()
        self._blend_from = self.neutral.copy()
        self._blend_step = self.ease_frames
        self._live = False
        self._last_played = -1
        self.preroll = 1
        """Queued frames needed before model frames are played (again) after a dry spell."""
        self.underruns = 0
        self.underrun_frames = 0
        self.frames_played = 0

    @property
    def buffered(self) -> int:
        with self._lock:
            return len(self._frames)

    @property
    def next_index(self) -> int:
        """Index of the next model frame to be played."""
        with self._lock:
            return self._frames[0].index if self._frames else self._last_played + 1

    def push(self, expression: np.ndarray, jaw_pose: np.ndarray, start: Optional[int] = None,
             stimulus_seq: int = -1, stimulus_c: float = math.nan) -> None:
        """Queue a chunk, expression (h, E) and jaw pose (h, J), whose first frame has index
        ``start`` (default: right after the last queued one). Queued frames with the chunk's
        indices are replaced, later ones kept; frames of the chunk already played are skipped."""
        expression = np.asarray(expression, dtype=np.float32)
        jaw_pose = np.asarray(jaw_pose, dtype=np.float32)
        if expression.ndim != 2 or jaw_pose.ndim != 2 or len(expression) != len(jaw_pose):
            raise ValueError(f"chunk shapes disagree: expression {expression.shape}, jaw_pose {jaw_pose.shape}")
        frames = np.concatenate([expression, jaw_pose], axis=1)
        if frames.shape[1] != len(self.neutral):
            raise ValueError(f"chunk has {frames.shape[1]} values per frame, expected {len(self.neutral)}")
        with self._lock:
            head = self._frames[0].index if self._frames else self._last_played + 1
            start = head + len(self._frames) if start is None else start
            for offset, values in enumerate(frames):
                position = start + offset - head
                if position < 0:
                    continue
                queued = _Queued(start + offset, values, stimulus_seq, stimulus_c)
                if position < len(self._frames):
                    self._frames[position] = queued
                else:
                    self._frames.append(queued)

    def clear(self) -> None:
        """Drop queued frames (the next ticks ease to neutral)."""
        with self._lock:
            self._frames.clear()

    def next_frame(self) -> Frame:
        """The frame for this tick; never blocks on generation."""
        with self._lock:
            live = len(self._frames) >= (1 if self._live else self.preroll)
            if live != self._live:
                self._blend_from, self._blend_step = self._shown, 0
                if not live:
                    self.underruns += 1
                self._live = live
            queued = self._frames.popleft() if live else None
            target = queued.values if queued is not None else self.neutral
            self._blend_step += 1
            weight = cosine_ease(self._blend_step / self.ease_frames)
            self._shown = (weight * self._blend_from + (1.0 - weight) * target).astype(np.float32)
            self.frames_played += 1
            if queued is None:
                self.underrun_frames += 1
                seq, stimulus = -1, math.nan
            else:
                self._last_played = queued.index
                seq, stimulus = queued.stimulus_seq, queued.stimulus_c
            shown = self._shown
        return Frame(shown[: self.expression_dim].copy(), shown[self.expression_dim :].copy(), live, seq, stimulus)


class StreamFollower:
    """The newest values of a stream that may go silent (the renderer's view of the generator).

    While messages arrive the newest values are shown; once none has arrived for
    ``timeout`` seconds the shown values ease to neutral (zeros) with a raised cosine over
    ``ease_time``, and when messages come back the shown values blend from where they
    are into the stream over the same time. So a face never freezes on its last frame
    while its generator is gone, and never jumps when it returns. Time-based, so the
    caller's rate does not matter; thread-safe.
    """

    def __init__(self, dim: int, ease_time: float = 0.5, timeout: float = 0.25) -> None:
        if ease_time <= 0 or timeout <= 0:
            raise ValueError(f"ease_time ({ease_time}) and timeout ({timeout}) must be positive")
        self.ease_time, self.timeout = ease_time, timeout
        self._latest = np.zeros(dim, dtype=np.float32)
        self._shown = np.zeros(dim, dtype=np.float32)
        self._blend_from = self._shown.copy()
        self._blend_start = -math.inf
        self._arrival = -math.inf
        self._live = False
        self._lock = threading.Lock()
        self.silences = 0

    def receive(self, values: np.ndarray, now: float, offset: int = 0, alive: bool = True) -> None:
        """New values for ``[offset, offset + len(values))``; ``alive`` marks the message that
        counts as the stream's heartbeat."""
        with self._lock:
            self._latest[offset:offset + len(values)] = values
            if alive:
                self._arrival = now

    def live(self, now: float) -> bool:
        """Whether a message arrived within ``timeout`` before ``now``."""
        with self._lock:
            return now - self._arrival <= self.timeout

    def value(self, now: float) -> tuple[np.ndarray, bool]:
        """The values to show at ``now`` and whether the stream is live."""
        with self._lock:
            live = now - self._arrival <= self.timeout
            if live != self._live:
                began = self._arrival if live else self._arrival + self.timeout
                self._blend_from, self._blend_start, self._live = self._shown, min(began, now), live
                if not live:
                    self.silences += 1
            target = self._latest if live else np.zeros_like(self._latest)
            weight = cosine_ease((now - self._blend_start) / self.ease_time)
            self._shown = (weight * self._blend_from + (1.0 - weight) * target).astype(np.float32)
            return self._shown.copy(), live


RECENT_CHUNKS = 8
"""Chunks whose compute time sets the low-water mark."""
STATS_WINDOW_S = 10.0
"""Seconds over which latency and jitter percentiles are reported."""


class RollingSamples:
    """``(time, value)`` samples of the last ``window_s`` seconds and their percentiles (thread-safe)."""

    def __init__(self, window_s: float = STATS_WINDOW_S) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque()
        self._lock = threading.Lock()

    def _prune(self, now: float) -> None:
        while self._samples and self._samples[0][0] < now - self.window_s:
            self._samples.popleft()

    def add(self, now: float, value: float) -> None:
        with self._lock:
            self._samples.append((now, value))
            self._prune(now)

    def percentiles(self, now: float, *qs: float) -> list[float]:
        """Percentiles ``qs`` (0–100) of the values of the last ``window_s`` before ``now``; nan if none."""
        with self._lock:
            self._prune(now)
            if not self._samples:
                return [math.nan for _ in qs]
            values = np.array([v for _, v in self._samples], dtype=np.float64)
        return [float(v) for v in np.percentile(values, qs)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._samples)


class FrameClock:
    """Frame timeline of a fixed-rate stream: which frames are due at a tick (see module doc)."""

    def __init__(self, fps: float, max_catch_up: int = 5, window_s: float = STATS_WINDOW_S) -> None:
        if fps <= 0 or max_catch_up < 1:
            raise ValueError(f"fps ({fps}) must be positive and max_catch_up ({max_catch_up}) at least 1")
        self.fps = fps
        self.max_catch_up = max_catch_up
        self.start: Optional[float] = None
        self.emitted = 0
        self.slipped = 0
        self.lateness = RollingSamples(window_s)
        """|emission time − scheduled time| of each frame (s), over the last ``window_s``."""

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
        for frame in frames:
            self.lateness.add(now, abs(now - self.time_of(frame)))
        return frames

    def time_of(self, frame: int) -> float:
        """Scheduled time (seconds, same clock as ``due``) of frame ``frame``."""
        return (self.start or 0.0) + frame / self.fps


@dataclass(frozen=True)
class StimulusReading:
    """The stimulus to generate with (°C) and the newest message's sequence number (0 = none yet)."""

    value: float
    seq: int


class StimulusFeed:
    """Newest stimulus (baseline when stale) and the stimulus-to-face latency (thread-safe)."""

    def __init__(self, baseline_c: float, timeout_s: float, threshold_c: float = 0.1, window_s: float = STATS_WINDOW_S) -> None:
        self.baseline_c = baseline_c
        self.timeout_s = timeout_s
        self.threshold_c = threshold_c
        self.window_s = window_s
        self._lock = threading.Lock()
        self._seq = 0
        self._value = baseline_c
        self._arrival = -math.inf
        self._pending: deque[tuple[int, float, float]] = deque()
        self.latency = RollingSamples(window_s)
        """Seconds from a message's arrival to the first frame generated with it, over the last ``window_s``."""

    def receive(self, value: float, now: float) -> None:
        """A stimulus message (°C) arrived at ``now`` (monotonic seconds)."""
        with self._lock:
            self._seq += 1
            self._value, self._arrival = float(value), now
            self._pending.append((self._seq, self._value, now))
            while self._pending and self._pending[0][2] < now - self.window_s:
                self._pending.popleft()

    def latest(self, now: float) -> StimulusReading:
        """The newest stimulus, or the baseline when none arrived within ``timeout_s``."""
        with self._lock:
            value = self._value if now - self._arrival <= self.timeout_s else self.baseline_c
            return StimulusReading(value, self._seq)

    def forget_pending(self) -> None:
        """Stop waiting for frames for the messages received so far (nothing generated them: start-up)."""
        with self._lock:
            self._pending.clear()

    def served(self, frame: Frame, now: float) -> None:
        """``frame`` was published at ``now``: each waiting message it was generated with (by
        sequence number, or by a value within ``threshold_c``) gets its latency recorded."""
        if not frame.live:
            return
        with self._lock:
            waiting: deque[tuple[int, float, float]] = deque()
            for seq, value, arrival in self._pending:
                if frame.stimulus_seq >= seq or abs(frame.stimulus_c - value) <= self.threshold_c:
                    self.latency.add(now, now - arrival)
                else:
                    waiting.append((seq, value, arrival))
            self._pending = waiting


@dataclass
class _Planned:
    """A queued chunk: its first frame index, length, the stream state before it (None once an
    earlier chunk was generated again: it must be generated again too, from the new state),
    and the stimulus and settings it was made with."""

    start: int
    frames: int
    snapshot: Optional[Any]
    stimulus: StimulusReading
    settings: int

    @property
    def end(self) -> int:
        return self.start + self.frames


class GenerationWorker:
    """Thread that loads a chunk generator with ``load()`` and keeps a ``FramePlayer`` fed,
    re-planning queued chunks for a changed stimulus or setting (see the module doc).

    Loading runs in the thread too, so a slow or failing model never holds up the clock;
    any exception ends the thread and is handed to ``on_error`` (and kept in ``error``).
    ``player`` and ``feed`` may be a ``FramePlayer`` and a ``StimulusFeed`` or stand-ins for
    them in another process (``model/generation_process.py``); ``wake`` is the event that
    ``poke`` sets (there: set when the node's news arrives).
    """

    def __init__(
        self,
        load: Callable[[], ChunkGenerator],
        player: FrameSink,
        feed: StimulusSource,
        safety: float = 1.5,
        margin_s: float = 0.2,
        replan: bool = True,
        on_error: Optional[Callable[[BaseException], None]] = None,
        clock: Callable[[], float] = time.monotonic,
        wake: Optional[WakeEvent] = None,
    ) -> None:
        self.load = load
        self.generator: Optional[ChunkGenerator] = None
        self.player = player
        self.feed = feed
        self.safety = safety
        self.margin_frames = math.ceil(margin_s * player.fps)
        self.replan = replan
        self.on_error = on_error
        self.clock = clock
        self._pending: dict[str, Any] = {}
        self._pending_lock = threading.Lock()
        self._recent: deque[float] = deque(maxlen=RECENT_CHUNKS)
        self._planned: deque[_Planned] = deque()
        self._settings = 0
        self.chunks = 0
        self.replans = 0
        self.error: Optional[BaseException] = None
        self._wake: WakeEvent = wake or threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="paindiffusion-generation", daemon=True)

    @property
    def compute_time(self) -> float:
        """Slowest of the recent chunks (seconds): the queue must cover the worst recent case,
        not the average, on a busy machine. The slow first (warm-up) chunks make the queue
        deep at start; the cap in ``commit_frames`` bounds that, and they age out."""
        return max(self._recent, default=0.0)

    @property
    def commit_frames(self) -> int:
        """Frames played while one chunk is computed (with the safety factor), capped at
        ``safety`` horizons: a generator slower than real time cannot be helped by more."""
        needed = math.ceil(self.compute_time * self.player.fps * self.safety)
        if self.generator is None:
            return needed
        return min(needed, math.ceil(self.generator.horizon * self.safety))

    @property
    def low_water(self) -> int:
        """Queued frames at or below which the next chunk is generated: the commit depth
        plus the margin for scheduling hiccups."""
        return self.commit_frames + self.margin_frames

    @property
    def reaction_time(self) -> float:
        """Worst-case seconds from a stimulus change to the first frame generated for it:
        the chunk in progress, the re-planned chunk, then the committed frames ahead of it
        and one tick; without re-planning, a horizon of waiting for the next request and the
        whole low-water queue instead. nan before the model loads."""
        if self.generator is None:
            return math.nan
        if self.replan:
            return 2 * self.compute_time + (self.commit_frames + 1) / self.player.fps
        return (self.generator.horizon + self.low_water + 1) / self.player.fps + self.compute_time

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the thread after the chunk in progress (a model still loading finishes loading
        first); True when it has ended within ``timeout``."""
        self._stop.set()
        self._wake.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def update(self, **changes: Any) -> None:
        """Queue validated run-time changes; applied between two chunks, never mid-chunk, and
        the queued chunks are generated again with them."""
        with self._pending_lock:
            self._pending.update(changes)
        self._wake.set()

    def poke(self) -> None:
        """Look at the queue and the stimulus now (call from the clock tick and on new stimuli)."""
        self._wake.set()

    def _run(self) -> None:
        try:
            generator = self.load()
            self.generator = generator
            self.feed.forget_pending()
            while not self._stop.is_set():
                self._wake.clear()
                if not self._step(generator):
                    self._wake.wait(1.0 / self.player.fps)
        except Exception as error:  # reported to the node, which keeps its clock running
            self.error = error
            if self.on_error is not None:
                self.on_error(error)

    def _take_pending(self) -> dict[str, Any]:
        with self._pending_lock:
            changes, self._pending = self._pending, {}
        return changes

    def _stale(self, planned: _Planned, reading: StimulusReading) -> bool:
        return planned.settings != self._settings or abs(planned.stimulus.value - reading.value) > self.feed.threshold_c

    def _step(self, generator: ChunkGenerator) -> bool:
        """Do the most urgent piece of work; False when there is none. In order: finish generating
        again the chunks a re-plan left without a saved state (the stream's state must reach the
        queue's end again), keep the queue above its low-water mark, re-plan a stale chunk."""
        played = self.player.next_index
        while self._planned and self._planned[0].end <= played:
            self._planned.popleft()
        changes = self._take_pending()
        if changes:
            self._settings += 1
        reading = self.feed.latest(self.clock())
        orphan = next((i for i, planned in enumerate(self._planned) if planned.snapshot is None), None)
        if orphan is not None:
            self._regenerate(generator, orphan, reading, changes, restore=False)
            return True
        queued = (self._planned[-1].end if self._planned else played) - played
        if queued <= self.low_water:
            if changes:
                generator.update(**changes)
            self._advance(generator, reading, self._planned[-1].end if self._planned else played)
            return True
        commit = played + self.commit_frames
        stale = next((i for i, p in enumerate(self._planned) if p.end > commit and self._stale(p, reading)), None)
        if self.replan and stale is not None:
            self._regenerate(generator, stale, reading, changes, restore=True)
            return True
        if changes:
            generator.update(**changes)
        return False

    def _regenerate(self, generator: ChunkGenerator, i: int, reading: StimulusReading, changes: dict[str, Any],
                    restore: bool) -> None:
        """Generate queued chunk ``i`` again: from its saved state (a re-plan; the chunks after
        it lose theirs) or, for a chunk that lost it, from the stream's state, which is then the
        end of the chunk before it. Its queued frames are replaced."""
        planned = self._planned[i]
        if restore:
            generator.restore(planned.snapshot)
            self.replans += 1
            for later in list(self._planned)[i + 1:]:
                later.snapshot = None
        if changes:
            generator.update(**changes)
        del self._planned[i]
        self._advance(generator, reading, planned.start, position=i)

    def _advance(self, generator: ChunkGenerator, reading: StimulusReading, start: int, position: Optional[int] = None) -> None:
        """Generate the next chunk of the stream for ``reading``; queue it at frame ``start``
        and at ``position`` in the plan (None: at the end)."""
        snapshot = generator.snapshot()
        began = time.perf_counter()
        chunk = generator.advance(np.full(generator.horizon, reading.value, dtype=np.float32))
        self._recent.append(time.perf_counter() - began)
        self.chunks += 1
        planned = _Planned(start, generator.horizon, snapshot, reading, self._settings)
        if position is None:
            self._planned.append(planned)
        else:
            self._planned.insert(position, planned)
        if not self._stop.is_set():
            self.player.push(chunk.expression, chunk.jaw_pose, start, reading.seq, reading.value)


class FrameTimer:
    """Calls ``tick(now)`` at the frame slots of a ``FrameClock`` from a thread of its own.

    The thread sleeps to each slot's absolute time (monotonic clock), so the executor's
    work (subscriptions, parameter services) never delays a frame. With ``priority`` > 0
    it asks for the real-time SCHED_FIFO policy for itself (Linux; root or an ``rtprio``
    limit), so a loaded machine cannot keep it waiting for a CPU (measured: p99 lateness
    12 ms → 0.4 ms on a 2-core machine at load 11). It still needs the GIL: keep heavy
    Python work out of its process (the generator runs its model in a child process).
    Processes it starts get normal scheduling (SCHED_RESET_ON_FORK). A process that is only
    this node can raise its other threads too (``raise_process_priority``). Whether that
    worked is ``priority_note`` ('' when it did or was not asked for).
    """

    def __init__(self, clock: FrameClock, tick: Callable[[float], None], priority: int = 0) -> None:
        self.clock = clock
        self.tick = tick
        self.priority = priority
        self.priority_note = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="paindiffusion-frame-clock", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.ident is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _raise_priority(self) -> None:
        if self.priority <= 0:
            return
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(self.priority))
        except (AttributeError, OSError) as error:
            self.priority_note = f"frame clock at normal priority (SCHED_FIFO {self.priority} refused: {error})"

    def raise_process_priority(self) -> None:
        """Give every other thread of this process SCHED_FIFO one below the clock, so none that
        holds the GIL the clock needs can be kept waiting for a CPU by a loaded machine. Only
        for a process that holds nothing but a node with light threads (the node executable);
        processes it starts later begin at normal priority (SCHED_RESET_ON_FORK)."""
        if self.priority <= 1 or self.priority_note:
            return
        clock = self._thread.native_id
        try:
            for task in os.listdir("/proc/self/task"):
                if int(task) != clock:
                    os.sched_setscheduler(int(task), os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(self.priority - 1))
        except (AttributeError, OSError) as error:
            self.priority_note = f"node threads at normal priority (SCHED_FIFO {self.priority - 1} refused: {error})"

    def _run(self) -> None:
        self._raise_priority()
        while not self._stop.is_set():
            self.tick(time.monotonic())
            self._stop.wait(max(self.clock.time_of(self.clock.emitted) - time.monotonic(), 0.0))
