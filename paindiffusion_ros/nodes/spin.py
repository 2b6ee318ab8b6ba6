"""``main()`` for the node executables: spin until SIGINT or SIGTERM, then shut down cleanly.

A terminal Ctrl-C under ``ros2 launch`` reaches every node twice: from the terminal (the
whole process group gets SIGINT) and again from launch, which forwards it. rclpy's own
handler turns the second one into a ``KeyboardInterrupt`` raised wherever the node is in
its clean-up (a traceback, exit status -2, and in the generator an abort while its
thread was being joined). So the node executables init rclpy without its signal
handlers and turn SIGINT and SIGTERM into a stop request (``session.signals``) for the
whole life of the process, clean-up included (from before the heavy imports when the
node starts through ``nodes/entry.py``, as its executables do): the first request stops
the spin loop, later ones change nothing. Every node then destroys itself (hardware
torque off, files closed, threads joined) and the process exits 0.

The executor waits until there is work or a stop signal: Python's signal wake-up fd
(``signal.set_wakeup_fd``) is read by a thread that wakes the executor, whose wait then
returns so that the main thread runs the Python handler. Before, the executor woke every
0.1 s to look at the stop request: 10 wake-ups a second cost the 100 Hz driver and mapper
~0.5 % of a core each.

Once the node is built, every object made so far (imports, the face, the parameters) moves
to the garbage collector's permanent generation (``gc.freeze``). A full collection then
looks only at what the running node made since: before, one took ~50 ms in the generator's
process and ~115 ms with the renderer's modules (loaded 2-core machine), holding the GIL
that the 25 Hz frame clock and the 100 Hz sampler need for that long.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Callable, Optional, Sequence

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from ..session.signals import process_stop_signals

SETTINGS_ERRORS = (ValueError, RuntimeError, ParameterException)
"""What a node raises for bad parameters or hardware it cannot use at start-up."""
CANNOT_START = 2
"""Exit status of a node that cannot start for its settings (a crash exits 1): starting it
again cannot help, so ``session.processes`` does not respawn it."""
SPIN_SLICE_S = 1.0
"""Longest wait in the executor: a stop signal ends a wait at once (``SignalWake``); the slice
bounds the wait should a wake-up ever be missed."""


def _nothing() -> None:
    """The task that ends a wait."""


class SignalWake:
    """While open, a signal caught by a Python handler also ends ``executor``'s ``spin_once``: a
    thread reads the signal wake-up fd and queues an empty task, work that ends the wait (a
    bare ``executor.wake()`` only rebuilds the wait set and waits on). Open and close it in the
    main thread (``signal.set_wakeup_fd`` is main-thread only)."""

    def __init__(self, executor: Executor) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._previous = signal.set_wakeup_fd(self._write)
        self._thread = threading.Thread(target=self._run, args=(executor,), name="signal-wake", daemon=True)
        self._thread.start()

    def _run(self, executor: Executor) -> None:
        while os.read(self._read, 64):
            executor.create_task(_nothing)
        os.close(self._read)

    def close(self) -> None:
        """Restore the previous wake-up fd and end the thread (before the executor shuts down)."""
        signal.set_wakeup_fd(self._previous)
        os.close(self._write)
        self._thread.join()


def run_node(make_node: Callable[[], Node], args: Optional[Sequence[str]] = None) -> int:
    """Init rclpy with ``args``, spin the node until SIGINT/SIGTERM or an external
    shutdown, then destroy it (each node releases its hardware and files there) and
    ``rclpy.try_shutdown()``. Exit status 0.

    A node that cannot start for its settings (a missing or unreadable parameters file
    included) logs one line naming the problem and the process exits with status
    ``CANNOT_START`` (2). A single-threaded executor: the nodes' slow work
    (generation) runs in their own threads, and rclpy's multi-threaded executor
    busy-polls (see ``graph.py``). A stop signal wakes its wait (``SignalWake``): a Python
    signal handler runs only between two waits."""
    stop = process_stop_signals()
    args = list(sys.argv if args is None else args)
    logger = get_logger("paindiffusion")
    for path in params_files(args):
        if not Path(path).is_file():
            logger.fatal(f"cannot start: parameters file {path} does not exist")
            return CANNOT_START
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except rclpy_implementation.RCLError as error:
        logger.fatal(f"cannot start: {error}")
        return CANNOT_START
    node: Optional[Node] = None
    executor = SingleThreadedExecutor()
    wake = SignalWake(executor)
    try:
        node = make_node()
        executor.add_node(node)
        gc.freeze()
        while not stop.event.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_SLICE_S)
    except SETTINGS_ERRORS as error:
        if node is not None:
            raise
        logger.fatal(f"cannot start: {error}")
        return CANNOT_START
    except ExternalShutdownException:
        pass
    finally:
        wake.close()
        executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def params_files(args: Sequence[str]) -> list[str]:
    """The paths given with ``--params-file`` in ROS arguments."""
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--params-file"]
