"""Entry points of the node executables: SIGINT/SIGTERM are caught before anything heavy loads.

Importing a node module takes from half a second (rclpy) to seconds (the renderer's numba
kernels); a Ctrl-C in that time used to end the node with a ``KeyboardInterrupt``
traceback. The executables (``setup.py`` console scripts, ``python -m
paindiffusion_ros.nodes.entry MODULE``, which ``session.processes`` runs) first install
the process's stop request (``session.signals.process_stop_signals``, standard library
only), then import the node module and run its ``main``: a node asked to stop while it
starts stops as soon as it has started, quietly, with exit status 0.

Under ``session.processes`` (``RUNNER_ENV`` names the runner's pid) a node also stops, the
same clean way, when its runner dies without stopping it (killed, crashed): Linux sends it
SIGTERM then (``PR_SET_PDEATHSIG``), so no node outlives the runner — above all no elbow
driver holding torque. ``ros2 launch`` watches its children itself and sets no such variable.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from typing import Callable, Optional, Sequence

from ..session.signals import process_stop_signals, signal_on_parent_death

PACKAGE = "paindiffusion_ros.nodes"
RUNNER_ENV = "PAINDIFFUSION_RUNNER_PID"
"""Set by ``session.processes`` to its own pid for the nodes it runs."""


def stop_with_runner() -> None:
    """Ask Linux for SIGTERM (a stop request) when the process named by ``RUNNER_ENV`` dies;
    one already gone is a stop request now. Nothing without the variable or off Linux."""
    runner = os.environ.get(RUNNER_ENV, "")
    if not runner.isdigit() or not sys.platform.startswith("linux"):
        return
    signal_on_parent_death(signal.SIGTERM)
    if os.getppid() != int(runner):
        os.kill(os.getpid(), signal.SIGTERM)


def run(module: str, args: Optional[Sequence[str]] = None) -> int:
    """Catch the stop signals (and stop with the runner), then import ``module`` and return its ``main(args)``."""
    process_stop_signals()
    stop_with_runner()
    return int(importlib.import_module(module).main(args) or 0)


def _executable(node: str) -> Callable[[], int]:
    def main() -> int:
        return run(f"{PACKAGE}.{node}")

    main.__name__ = node
    main.__doc__ = f"The {node} executable."
    return main


elbow_driver = _executable("elbow_driver")
stimulus_mapper = _executable("stimulus_mapper")
pain_generator = _executable("pain_generator")
face_renderer = _executable("face_renderer")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m paindiffusion_ros.nodes.entry MODULE [--ros-args ...]")
    sys.exit(run(sys.argv[1], sys.argv[1:]))
