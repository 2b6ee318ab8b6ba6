"""``main()`` for the node executables: spin until SIGINT, then shut down cleanly."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.logging import get_logger
from rclpy.node import Node

SETTINGS_ERRORS = (ValueError, RuntimeError, ParameterException)
"""What a node raises for bad parameters or hardware it cannot use at start-up."""


def run_node(make_node: Callable[[], Node], args: Optional[Sequence[str]] = None) -> int:
    """Init rclpy with ``args``, spin the node, and on SIGINT / shutdown destroy it
    (each node releases its hardware and files there) and ``rclpy.try_shutdown()``.

    A node that cannot start for its settings logs one line naming the problem and the
    process exits with status 1. A single-threaded executor: the nodes' slow work
    (generation) runs in their own threads, and rclpy's multi-threaded executor
    busy-polls (see ``graph.py``)."""
    rclpy.init(args=args)
    node: Optional[Node] = None
    try:
        node = make_node()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except SETTINGS_ERRORS as error:
        if node is not None:
            raise
        get_logger("paindiffusion").fatal(f"cannot start: {error}")
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
