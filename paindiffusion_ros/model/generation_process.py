"""``GenerationProcess``: the generation worker in a process of its own.

The model's sampler runs many small torch operations in Python; in the node's process
they would hold the GIL the 25 Hz frame clock needs (measured on the 2-core machine: a
clock thread's p99 lateness went from 1.9 ms to 128 ms with such a thread beside it).
So the pain_generator node runs ``realtime.GenerationWorker`` in a child process
(``multiprocessing`` spawn: a fresh interpreter, torch and onnxruntime are imported
there and only there) and keeps the clock, the ``FramePlayer`` and the ``StimulusFeed``
in its own process:

    node process                                   generation process
    StimulusFeed.receive ──shared (value, seq, t)──▶ stimulus stand-in ─┐
    FramePlayer.next_index ─────shared index───────▶ player stand-in ───┤ GenerationWorker
    poke() ─────────────────────shared event───────▶ wake             ─┘   (load, advance, re-plan)
    update(**changes) ──────────pipe──────────────▶ worker.update
    FramePlayer.push ◀──────────pipe: ("chunk", …)── player stand-in
    on_ready / on_error ◀───────pipe: ("ready"|"error", …)

The child ignores SIGINT and SIGTERM (a terminal Ctrl-C reaches the whole process group;
the node decides), stops after the chunk in progress when the node says so, and stops by
itself when the node's end of the pipe closes (the node was killed). If the child dies,
``on_exit`` is called with its exit status and the node can start a new one.
"""

from __future__ import annotations

import math
import multiprocessing
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Callable, Optional

import numpy as np

from .realtime import FramePlayer, GenerationWorker, StimulusFeed, StimulusReading

CONTEXT = multiprocessing.get_context("spawn")
"""A fresh interpreter: forking a process that runs DDS threads is not safe."""
STOP_TIMEOUT_S = 60.0
"""Longest wait for the child to finish its chunk (or its model load) and exit."""


@dataclass(frozen=True)
class ModelInfo:
    """What the node needs to know of the loaded model (sent once it is loaded)."""

    binding: str
    expression_names: tuple[str, ...]
    latent_dim: int
    jaw_dim: int
    horizon: int


@dataclass(frozen=True)
class WorkerStatus:
    """The worker's counters, sent with every chunk."""

    chunks: int = 0
    replans: int = 0
    compute_time: float = 0.0
    commit_frames: int = 0
    low_water: int = 0
    reaction_time: float = math.nan


class _SharedStimulus:
    """The newest stimulus in shared memory: value (°C), sequence number, arrival (monotonic s)."""

    def __init__(self, array: Any, baseline_c: float, timeout_s: float, threshold_c: float) -> None:
        self.array = array
        self.baseline_c = baseline_c
        self.timeout_s = timeout_s
        self.threshold_c = threshold_c

    def write(self, value: float, seq: int, arrival: float) -> None:
        with self.array.get_lock():
            self.array[0], self.array[1], self.array[2] = value, float(seq), arrival

    def latest(self, now: float) -> StimulusReading:
        with self.array.get_lock():
            value, seq, arrival = self.array[0], self.array[1], self.array[2]
        return StimulusReading(value if now - arrival <= self.timeout_s else self.baseline_c, int(seq))

    def forget_pending(self) -> None:
        """The node's ``StimulusFeed`` forgets its messages when it hears that the model is ready."""


class _RemotePlayer:
    """The worker's view of the node's ``FramePlayer``: the index to play next (shared) and ``push`` (pipe)."""

    def __init__(self, fps: float, next_index: Any, connection: Connection, status: Callable[[], WorkerStatus]) -> None:
        self.fps = fps
        self._next_index = next_index
        self._connection = connection
        self._status = status

    @property
    def next_index(self) -> int:
        return int(self._next_index.value)

    def push(self, expression: np.ndarray, jaw_pose: np.ndarray, start: Optional[int] = None,
             stimulus_seq: int = -1, stimulus_c: float = math.nan) -> None:
        self._connection.send(("chunk", (expression, jaw_pose, start, stimulus_seq, stimulus_c), self._status()))


def _serve(config: Any, connection: Connection, next_index: Any, stimulus: Any, wake: Any, fps: float,
           worker_settings: dict[str, Any], stimulus_settings: dict[str, float]) -> None:
    """The child process: load the generator and keep the node's player fed until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from .generator import PainGenerator

    worker: Optional[GenerationWorker] = None
    send_lock = threading.Lock()

    def send(message: tuple) -> None:
        with send_lock:
            try:
                connection.send(message)
            except (BrokenPipeError, OSError):
                pass

    def status() -> WorkerStatus:
        return WorkerStatus(worker.chunks, worker.replans, worker.compute_time, worker.commit_frames, worker.low_water,
                            worker.reaction_time)

    def load() -> PainGenerator:
        generator = PainGenerator(config)
        binding = generator.binding
        send(("ready", ModelInfo(binding.name, tuple(binding.expression_names), binding.latent_dim, binding.jaw_dim,
                                 generator.horizon)))
        return generator

    class Locked(_RemotePlayer):
        def push(self, *args: Any, **kwargs: Any) -> None:
            with send_lock:
                super().push(*args, **kwargs)

    player = Locked(fps, next_index, connection, status)
    feed = _SharedStimulus(stimulus, **stimulus_settings)
    worker = GenerationWorker(load, player, feed, on_error=lambda error: send(("error", f"{type(error).__name__}: {error}")),
                              wake=wake, **worker_settings)
    worker.start()
    try:
        while True:
            message = connection.recv()
            if message[0] == "update":
                worker.update(**message[1])
            elif message[0] == "stop":
                break
    except (EOFError, OSError):
        pass
    finally:
        worker.stop(STOP_TIMEOUT_S)
        connection.close()


class GenerationProcess:
    """A ``GenerationWorker`` for ``config`` in a child process, feeding ``player`` (see the module doc).

    ``on_ready(ModelInfo)`` runs once the model is loaded, ``on_error(text)`` when loading or
    generation failed (the child then idles until stopped), ``on_exit(exitcode)`` when the
    child ended without being asked to. The callbacks run on a receiver thread.
    """

    def __init__(
        self,
        config: Any,
        player: FramePlayer,
        feed: StimulusFeed,
        safety: float = 1.5,
        margin_s: float = 0.2,
        replan: bool = True,
        on_ready: Callable[[ModelInfo], None] = lambda info: None,
        on_error: Callable[[str], None] = lambda text: None,
        on_exit: Callable[[int], None] = lambda code: None,
    ) -> None:
        self.player = player
        self.feed = feed
        self.on_ready, self.on_error, self.on_exit = on_ready, on_error, on_exit
        self.info: Optional[ModelInfo] = None
        self.error = ""
        self.status = WorkerStatus()
        self._connection, child_connection = CONTEXT.Pipe(duplex=True)
        self._next_index = CONTEXT.Value("q", player.next_index)
        self._stimulus = CONTEXT.Array("d", [feed.baseline_c, 0.0, -math.inf])
        self._shared = _SharedStimulus(self._stimulus, feed.baseline_c, feed.timeout_s, feed.threshold_c)
        self._wake = CONTEXT.Event()
        self._stopping = False
        self._send_lock = threading.Lock()
        self.process = CONTEXT.Process(
            target=_serve,
            name="paindiffusion-generation",
            args=(config, child_connection, self._next_index, self._stimulus, self._wake, player.fps,
                  {"safety": safety, "margin_s": margin_s, "replan": replan},
                  {"baseline_c": feed.baseline_c, "timeout_s": feed.timeout_s, "threshold_c": feed.threshold_c}),
            daemon=True,
        )
        self._child_connection = child_connection
        self._receiver = threading.Thread(target=self._receive, name="paindiffusion-generation-receiver", daemon=True)

    def start(self) -> "GenerationProcess":
        self.process.start()
        self._child_connection.close()
        self._receiver.start()
        return self

    @property
    def loaded(self) -> bool:
        return self.info is not None

    def stimulus(self, value: float, seq: int, arrival: float) -> None:
        """Hand a new stimulus message to the worker and wake it."""
        self._shared.write(value, seq, arrival)
        self._wake.set()

    def poke(self) -> None:
        """Tell the worker which frame plays next and wake it (call on every clock tick)."""
        self._next_index.value = self.player.next_index
        self._wake.set()

    def update(self, **changes: Any) -> None:
        """Validated run-time changes for the generator (applied between chunks, queued ones made again)."""
        self._send(("update", changes))
        self._wake.set()

    def _send(self, message: tuple) -> None:
        with self._send_lock:
            try:
                self._connection.send(message)
            except (BrokenPipeError, OSError):
                pass

    def _receive(self) -> None:
        while True:
            try:
                kind, payload, *rest = self._connection.recv()
            except (EOFError, OSError):
                break
            if kind == "chunk":
                self.player.push(*payload)
                self.status = rest[0]
            elif kind == "ready":
                self.info = payload
                self.feed.forget_pending()
                self.on_ready(payload)
            elif kind == "error":
                self.error = payload
                self.on_error(payload)
        self.process.join()
        if not self._stopping:
            self.on_exit(self.process.exitcode)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> bool:
        """Ask the child to stop after its chunk in progress and wait for it; True if it ended
        in time (otherwise it is killed)."""
        self._stopping = True
        self._send(("stop",))
        self._wake.set()
        self.process.join(timeout)
        ended = self.process.exitcode is not None
        if not ended:
            self.process.kill()
            self.process.join()
        if self._receiver.ident is not None:
            self._receiver.join(timeout)
        self._connection.close()
        return ended
