"""Running several nodes in one process: one single-threaded executor thread per node.

rclpy's MultiThreadedExecutor re-polls its wait set while a taken callback has not yet
started on a worker thread; under the GIL that busy loop starves the workers (measured
here: a 100 Hz timer delivered 30–160 Hz instead of 100 Hz with three nodes on two
cores). A SingleThreadedExecutor per node sleeps in ``rcl_wait`` instead, and each
node keeps its own clock: a slow render cannot delay the generator's 25 Hz tick.
"""

from __future__ import annotations

import threading
from typing import Iterable, Optional

from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node


class NodeThreads:
    """Spins each node on its own executor thread; ``stop()`` shuts down and destroys them."""

    def __init__(self, nodes: Iterable[Node], context: Optional[Context] = None) -> None:
        self.nodes = list(nodes)
        self.executors = [SingleThreadedExecutor(context=context) for _ in self.nodes]
        self.threads = []
        for node, executor in zip(self.nodes, self.executors):
            executor.add_node(node)
            self.threads.append(threading.Thread(target=executor.spin, name=f"spin-{node.get_name()}", daemon=True))

    def start(self) -> "NodeThreads":
        for thread in self.threads:
            thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop spinning, then destroy every node (closing its hardware and files)."""
        for executor in self.executors:
            executor.shutdown(timeout_sec=timeout)
        for thread in self.threads:
            thread.join(timeout)
        for node in self.nodes:
            node.destroy_node()

    def __enter__(self) -> "NodeThreads":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
