"""``GenerationProcess``: the generation worker in a process of its own.

The model's sampler runs many small torch operations in Python; in the node's process
they would hold the GIL the 25 Hz frame clock needs (measured on the 2-core machine: a
clock thread's p99 lateness went from 1.1 ms to 7.9 ms with the generator's thread
beside it, and to 128 ms with a busier one). So the pain_generator node runs
``realtime.GenerationWorker`` in a child process (``python -m
paindiffusion_ros.model.generation_process FD``: a fresh interpreter; torch and
onnxruntime are imported there and only there) and keeps the clock, the ``FramePlayer``
and the ``StimulusFeed`` in its own process. They talk over one socket pair
(``multiprocessing.connection`` messages) and nothing else — no lock is shared, so a
child that is killed, or stopped, can never block the node's clock:

    node process                                         generation process
    poke() / stimulus() ─▶ sender thread ──("state": next index, stimulus)──▶ player and stimulus stand-ins, wake
    update(**changes) ───▶ sender thread ──("update", changes)─────────────▶ worker.update
    FramePlayer.push ◀──── receiver thread ◀──("chunk", frames, status)────── GenerationWorker (load, advance, re-plan)
    on_ready / on_error ◀─ receiver thread ◀──("ready" | "error", …)

The sender coalesces: only the newest state is sent, so a stalled child costs no memory.
The child runs in a session of its own (a terminal Ctrl-C is for the node, which
decides) and ignores SIGINT and SIGTERM; it stops after the chunk in progress when the
node's end of the socket is shut down or closed (the node stops, or was killed); a child
that has not exited 3 s later is killed. If the child dies on its own, ``on_exit`` is
called with its exit status and the node can start a new one.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Callable, Optional

import numpy as np

from .realtime import FramePlayer, GenerationWorker, StimulusFeed, StimulusReading

STOP_TIMEOUT_S = 60.0
"""Longest wait (in the child) for the worker to finish its chunk in progress."""
STOP_WAIT_S = 3.0
"""Longest wait (in the node) for the child to exit before it is killed: a node must stop
within launch's SIGINT → SIGTERM escalation (5 s); a child still loading its model, or
stopped (SIGSTOP), is killed, which loses nothing."""


@dataclass(frozen=True)
class ModelInfo:
    """What the node needs to know of the loaded model (sent once it is loaded)."""

    binding: str
    expression_names: tuple[str, ...]
    latent_dim: int
    jaw_dim: int
    horizon: int
    stream: str
    """The stream and its geometry in one line (``PainGenerator.describe_stream``)."""


@dataclass(frozen=True)
class WorkerStatus:
    """The worker's counters, sent with every chunk."""

    chunks: int = 0
    replans: int = 0
    compute_time: float = 0.0
    commit_frames: int = 0
    low_water: int = 0
    reaction_time: float = math.nan


@dataclass(frozen=True)
class NodeState:
    """What the node tells the worker: the frame it plays next and the newest stimulus message."""

    next_index: int = 0
    stimulus_c: float = math.nan
    stimulus_seq: int = 0
    arrival: float = -math.inf


class _NodeView:
    """The worker's view of the node (in the child): the player's next index and ``push``, and the
    stimulus with the node's baseline and timeout, from the newest ``NodeState``."""

    def __init__(self, fps: float, send: Callable[[tuple], None], status: Callable[[], WorkerStatus],
                 baseline_c: float, timeout_s: float, threshold_c: float) -> None:
        self.fps = fps
        self.threshold_c = threshold_c
        self.baseline_c, self.timeout_s = baseline_c, timeout_s
        self._send, self._status = send, status
        self._state = NodeState()
        self._lock = threading.Lock()

    def set(self, state: NodeState) -> None:
        with self._lock:
            self._state = state

    @property
    def next_index(self) -> int:
        with self._lock:
            return self._state.next_index

    def push(self, expression: np.ndarray, jaw_pose: np.ndarray, start: Optional[int] = None,
             stimulus_seq: int = -1, stimulus_c: float = math.nan) -> None:
        self._send(("chunk", (expression, jaw_pose, start, stimulus_seq, stimulus_c), self._status()))

    def latest(self, now: float) -> StimulusReading:
        with self._lock:
            state = self._state
        fresh = now - state.arrival <= self.timeout_s
        return StimulusReading(state.stimulus_c if fresh else self.baseline_c, state.stimulus_seq)

    def forget_pending(self) -> None:
        """The node's own ``StimulusFeed`` forgets its messages when it hears that the model is ready."""


def serve(connection: Connection) -> None:
    """The child process: receive the settings, load the generator and keep the node's player
    fed until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        config, fps, worker_settings, stimulus_settings = connection.recv()
    except (EOFError, OSError):
        return
    from .generator import PainGenerator

    send_lock = threading.Lock()

    def send(message: tuple) -> None:
        with send_lock:
            try:
                connection.send(message)
            except OSError:
                pass

    def status() -> WorkerStatus:
        return WorkerStatus(worker.chunks, worker.replans, worker.compute_time, worker.commit_frames, worker.low_water,
                            worker.reaction_time)

    def load() -> PainGenerator:
        generator = PainGenerator(config)
        binding = generator.binding
        send(("ready", ModelInfo(binding.name, tuple(binding.expression_names), binding.latent_dim, binding.jaw_dim,
                                 generator.horizon, generator.describe_stream())))
        return generator

    node = _NodeView(fps, send, status, **stimulus_settings)
    wake = threading.Event()
    worker = GenerationWorker(load, node, node, on_error=lambda error: send(("error", f"{type(error).__name__}: {error}")),
                              wake=wake, **worker_settings)
    worker.start()
    try:
        while True:
            kind, payload = connection.recv()
            if kind == "state":
                node.set(payload)
                wake.set()
            elif kind == "update":
                worker.update(**payload)
    except (EOFError, OSError):
        pass
    finally:
        worker.stop(STOP_TIMEOUT_S)
        connection.close()


class GenerationProcess:
    """A ``GenerationWorker`` for ``config`` in a child process, feeding ``player`` (see the module doc).

    ``on_ready(ModelInfo)`` runs once the model is loaded, ``on_error(text)`` when loading or
    generation failed (the child then idles until stopped), ``on_exit(exitcode)`` when the
    child ended without being asked to. The callbacks run on the receiver thread.
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
        self._settings = (config, player.fps, {"safety": safety, "margin_s": margin_s, "replan": replan},
                          {"baseline_c": feed.baseline_c, "timeout_s": feed.timeout_s, "threshold_c": feed.threshold_c})
        self._connection: Optional[Connection] = None
        self._socket: Optional[socket.socket] = None
        self.process: Optional[subprocess.Popen] = None
        self._state = NodeState(player.next_index)
        self._updates: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._stopping = False
        self._receiver = threading.Thread(target=self._receive, name="paindiffusion-generation-receiver", daemon=True)
        self._sender = threading.Thread(target=self._send, name="paindiffusion-generation-sender", daemon=True)

    def start(self) -> "GenerationProcess":
        """Start the child (its own process group, inheriting one end of a socket pair)."""
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(theirs.fileno())], pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            theirs.close()
        self._socket = ours
        self._connection = Connection(os.dup(ours.fileno()))
        self._connection.send(self._settings)
        self._receiver.start()
        self._sender.start()
        return self

    @property
    def loaded(self) -> bool:
        return self.info is not None

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._state = dataclasses.replace(self._state, **changes)
        self._changed.set()

    def stimulus(self, value: float, seq: int, arrival: float) -> None:
        """Hand a new stimulus message to the worker (and wake it)."""
        self._set(stimulus_c=float(value), stimulus_seq=seq, arrival=arrival)

    def poke(self) -> None:
        """Tell the worker which frame plays next (and wake it); call on every clock tick. Never blocks."""
        self._set(next_index=self.player.next_index)

    def update(self, **changes: Any) -> None:
        """Validated run-time changes for the generator (applied between chunks, queued ones made again)."""
        with self._lock:
            self._updates.append(changes)
        self._changed.set()

    def _send(self) -> None:
        """Send the newest state and any updates whenever they change (a stalled child only delays this thread)."""
        sent: Optional[NodeState] = None
        while not self._stopping:
            self._changed.wait()
            self._changed.clear()
            with self._lock:
                state, updates, self._updates = self._state, self._updates, []
            try:
                for changes in updates:
                    self._connection.send(("update", changes))
                if state != sent:
                    self._connection.send(("state", state))
                    sent = state
            except OSError:
                return

    def _receive(self) -> None:
        while True:
            try:
                kind, payload, *rest = self._connection.recv()
            except (EOFError, OSError):
                break
            except Exception as error:  # a message this node cannot read: end the child, start a new one
                self.on_error(f"unreadable message from the generation process: {type(error).__name__}: {error}")
                self.process.kill()
                break
            if self._stopping:
                continue
            if kind == "chunk":
                self.status = rest[0]
                self.player.preroll = max(self.status.low_water, 1)
                self.player.push(*payload)
            elif kind == "ready":
                self.info = payload
                self.feed.forget_pending()
                self.on_ready(payload)
            elif kind == "error":
                self.error = payload
                self.on_error(payload)
        self.process.wait()
        if not self._stopping:
            self.on_exit(self.process.returncode)

    def stop(self, timeout: float = STOP_WAIT_S) -> bool:
        """End the child: shut the socket down (it stops after its chunk in progress when it
        reads the end of it; a send or receive blocked on a stalled child returns at once)
        and wait up to ``timeout`` before killing it. True if it ended by itself."""
        self._stopping = True
        self._changed.set()
        if self.process is None:
            return True
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.process.wait(timeout)
            ended = True
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            ended = False
        for thread in (self._sender, self._receiver):
            if thread.ident is not None:
                thread.join(timeout)
        self._connection.close()
        self._socket.close()
        return ended


if __name__ == "__main__":
    # By its importable name, so the classes it sends unpickle in the node as the same classes.
    from paindiffusion_ros.model.generation_process import serve as serve_child

    serve_child(Connection(int(sys.argv[1])))
