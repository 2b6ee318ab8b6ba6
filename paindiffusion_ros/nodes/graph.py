"""Running several nodes in one process: one single-threaded executor thread per node.

rclpy's MultiThreadedExecutor re-polls its wait set while a taken callback has not yet
started on a worker thread; under the GIL that busy loop competes with the workers. On
this project's loaded 2-core machines a 100 Hz timer delivered 10–55 Hz with three
nodes on one MultiThreadedExecutor (97–100 Hz when the machine was quiet); one
SingleThreadedExecutor per node, which sleeps in ``rcl_wait``, delivered 100 Hz. Each
node also keeps its own clock: a slow render cannot delay the generator's 25 Hz tick.

While any ``NodeThreads`` spins, the objects made before it started sit in the garbage
collector's permanent generation, as in a node process (``spin.run_node``): in a process
holding torch and a test session's ~400,000 objects a full collection held the GIL for
240–350 ms on a loaded 2-core machine, and an in-process generator slipped its 25 Hz
clock. The last ``stop()`` hands them back to the collector (nothing made meanwhile leaks).
"""

from __future__ import annotations

import gc
import threading
from typing import Iterable, Optional

from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, ShutdownException, SingleThreadedExecutor
from rclpy.node import Node


class _Frozen:
    """Counts the running ``NodeThreads``: the first freezes the collector's objects, the last thaws them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0

    def enter(self) -> None:
        with self._lock:
            self._running += 1
            gc.freeze()

    def leave(self) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0:
                gc.unfreeze()


_FROZEN = _Frozen()


class NodeThreads:
    """Spins each node on its own executor thread; ``stop()`` joins them and destroys the nodes."""

    POLL_S = 0.1

    def __init__(self, nodes: Iterable[Node], context: Optional[Context] = None) -> None:
        self.nodes = list(nodes)
        self.context = context
        self.executors = [SingleThreadedExecutor(context=context) for _ in self.nodes]
        self._running = threading.Event()
        self.threads = []
        for node, executor in zip(self.nodes, self.executors):
            executor.add_node(node)
            self.threads.append(threading.Thread(target=self._spin, args=(executor,), name=f"spin-{node.get_name()}", daemon=True))

    def _spin(self, executor: SingleThreadedExecutor) -> None:
        """Spin until ``stop()`` or context shutdown; polling a flag, so no executor is torn
        down while its thread still waits on it."""
        while self._running.is_set() and (self.context is None or self.context.ok()):
            try:
                executor.spin_once(timeout_sec=self.POLL_S)
            except (ExternalShutdownException, ShutdownException):
                break

    def start(self) -> "NodeThreads":
        _FROZEN.enter()
        self._running.set()
        for thread in self.threads:
            thread.start()
        return self

    def halt(self, timeout: float = 5.0) -> None:
        """Stop spinning and join the threads; the nodes and their endpoints stay, so what
        DDS still has to deliver arrives (a recorder can drain it before it closes)."""
        if self._running.is_set():
            _FROZEN.leave()
        self._running.clear()
        for thread in self.threads:
            if thread.ident is not None:
                thread.join(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop spinning, then destroy every node (closing its hardware and files)."""
        self.halt(timeout)
        for executor in self.executors:
            executor.shutdown(timeout_sec=timeout)
        for node in self.nodes:
            node.destroy_node()

    def __enter__(self) -> "NodeThreads":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
