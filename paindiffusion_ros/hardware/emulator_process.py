"""An MX-64 emulator in a process of its own, driven from another (fault campaigns, soak runs).

In a test process the emulator's thread shares the interpreter lock with whatever else runs
there; on a real bench the motor is a separate device that can also vanish outright. So
:class:`EmulatorProcess` runs :class:`~.emulator.MX64Emulator` in a spawned child process on
its pty path and forwards method calls to it over a pipe (``call("corrupt_replies", 5)``,
``call("peek", "torque_enable")``). ``kill()`` ends the child with SIGKILL — the port
vanishes as an unplugged adapter does (the driver's next read fails with an I/O error; the
path is left dangling) — and ``start()`` brings a fresh motor up behind the same path.
"""

from __future__ import annotations

import multiprocessing
import signal
from multiprocessing.connection import Connection
from typing import Any, Optional

CONTEXT = multiprocessing.get_context("spawn")
START_TIMEOUT_S = 60.0
"""Longest wait for the child to import and plug its pty (a loaded machine)."""
CALL_TIMEOUT_S = 30.0


class EmulatorProcessError(RuntimeError):
    """The emulator process did not start, died, or refused a call."""


def hand_at(angle: Optional[float]) -> Any:
    """A hand that holds the joint at ``angle`` (motor rad), or lets go (None)."""
    return lambda t: angle


def _serve(path: str, settings: dict[str, Any], connection: Connection) -> None:
    """The child: run the emulator and answer calls until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .emulator import MX64Emulator

    emulator = MX64Emulator(path, **settings).start()
    connection.send(("ready", None))
    try:
        while True:
            name, args = connection.recv()
            try:
                if name == "hand":
                    emulator.hand = hand_at(*args)
                    result = None
                else:
                    result = getattr(emulator, name)(*args)
            except Exception as error:  # noqa: BLE001 (reported to the caller)
                connection.send(("error", f"{type(error).__name__}: {error}"))
            else:
                connection.send(("ok", result))
    except (EOFError, OSError):
        pass
    finally:
        emulator.stop()


class EmulatorProcess:
    """An :class:`~.emulator.MX64Emulator` at ``path`` in a child process (see the module doc).

    ``settings`` are MX64Emulator keyword arguments (protocol, motor_id, baudrate, ...) that
    pickle; the hand is set with ``call("hand", angle)``.
    """

    def __init__(self, path: str, **settings: Any) -> None:
        self.path = path
        self.settings = settings
        self.process: Optional[multiprocessing.process.BaseProcess] = None
        self._connection: Optional[Connection] = None

    def start(self) -> "EmulatorProcess":
        """Start a fresh emulator (a motor just powered up) behind ``path``."""
        parent, child = CONTEXT.Pipe()
        self.process = CONTEXT.Process(target=_serve, args=(self.path, self.settings, child), name="mx64-emulator", daemon=True)
        self.process.start()
        child.close()
        self._connection = parent
        try:
            if not parent.poll(START_TIMEOUT_S):
                raise EOFError
            parent.recv()
        except (EOFError, OSError):
            self.kill()
            raise EmulatorProcessError(f"the MX-64 emulator on {self.path} did not start within {START_TIMEOUT_S} s") from None
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def call(self, name: str, *args: Any) -> Any:
        """Call ``emulator.name(*args)`` in the child and return its result."""
        if self._connection is None:
            raise EmulatorProcessError("the MX-64 emulator is not running")
        self._connection.send((name, args))
        if not self._connection.poll(CALL_TIMEOUT_S):
            raise EmulatorProcessError(f"the MX-64 emulator did not answer {name}{args}")
        kind, result = self._connection.recv()
        if kind != "ok":
            raise EmulatorProcessError(f"{name}{args}: {result}")
        return result

    def kill(self) -> None:
        """SIGKILL the child: the port vanishes at once (its path left dangling)."""
        if self.process is not None and self.process.is_alive():
            self.process.kill()
        if self.process is not None:
            self.process.join()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def stop(self) -> None:
        """End the child cleanly (its pty is closed and its path removed)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self.process is not None:
            self.process.join(CALL_TIMEOUT_S)
            if self.process.is_alive():
                self.kill()

    def __enter__(self) -> "EmulatorProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
