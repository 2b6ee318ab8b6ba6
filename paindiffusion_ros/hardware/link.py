"""What every serial elbow shares: port checks, reconnect back-off, link statistics, the read loop.

A backend subclasses :class:`SerialElbow` and supplies four steps (connect, read the
state, apply a mode, turn torque off); this class turns their failures into the
behaviour the node relies on: ``read()`` returns None while the link is down, a lost
link is retried with exponential back-off, and ``close()`` leaves torque off.
"""

from __future__ import annotations

import atexit
import errno
import logging
import os
import termios
import time
from abc import ABC, abstractmethod
from collections import deque
from typing import Callable, Optional

from .base import MODES, ElbowConfig, ElbowError, ElbowState, ElbowStatus, JointLimiter

LOG = logging.getLogger(__name__)

FAILED_READS_BEFORE_LOST = 3
"""Consecutive failed reads (each after its retries) that mark the link as lost."""
STATS_WINDOW = 200
"""Transactions over which the communication error rate is computed."""


SERIAL_IO_ERRORS = (OSError, termios.error)
"""What a serial port raises when its device goes: OSError (pyserial's SerialException is one)
and termios.error, which pyserial lets through from tcflush/tcsetattr on a port whose device
has hung up (seen when an adapter vanished between two reads)."""


class LinkLost(Exception):
    """The device is gone (adapter unplugged, I/O error, or it stopped answering)."""


class LinkFault(Exception):
    """One transaction failed after its retries (timeout or corrupt packet)."""


class InstructionRefused(ElbowError):
    """The device answered but did not carry out an instruction (e.g. a write it refuses)."""


def check_port(port: str) -> None:
    """Raise :class:`ElbowError` when ``port`` does not exist or this user may not open it."""
    if not os.path.exists(port):
        raise ElbowError(f"serial port {port} does not exist: is the adapter plugged in and the 'port' setting right?")
    if not os.access(port, os.R_OK | os.W_OK):
        raise ElbowError(f"permission denied on serial port {port}: add the user to the 'dialout' group (or fix the udev rule)")


def describe_os_error(port: str, error: OSError) -> str:
    """A one-line reason for an OS error opening ``port``."""
    if error.errno == errno.EACCES:
        return f"permission denied on serial port {port}: add the user to the 'dialout' group"
    if error.errno == errno.ENOENT:
        return f"serial port {port} does not exist"
    return f"cannot open serial port {port}: {error}"


def open_error(port: str, error: BaseException) -> ElbowError:
    """The ElbowError for a failure to open ``port`` (one of ``SERIAL_IO_ERRORS``; pyserial wraps
    the OSError it met, named then)."""
    cause = error.__context__ if isinstance(error.__context__, OSError) else error
    if isinstance(cause, OSError) and cause.errno is not None:
        return ElbowError(describe_os_error(port, cause))
    return ElbowError(f"cannot open serial port {port}: {error}")


class Backoff:
    """Exponential back-off between reconnect attempts: min, 2·min, 4·min, … capped at max."""

    def __init__(self, minimum: float, maximum: float) -> None:
        self.minimum = minimum
        self.maximum = max(maximum, minimum)
        self.delay = minimum

    def reset(self) -> None:
        self.delay = self.minimum

    def next_delay(self) -> float:
        """The wait before the next attempt; doubles each call."""
        delay = self.delay
        self.delay = min(max(self.delay * 2.0, 1e-3), self.maximum)
        return delay


class CommStats:
    """Counts transactions and errors; the rate is over the last ``window`` transactions."""

    def __init__(self, window: int = STATS_WINDOW) -> None:
        self.recent: deque[bool] = deque(maxlen=window)
        self.errors = 0

    def record(self, ok: bool) -> None:
        self.errors += not ok
        self.recent.append(ok)

    @property
    def error_rate(self) -> float:
        return 0.0 if not self.recent else 1.0 - sum(self.recent) / len(self.recent)


class SerialElbow(ABC):
    """Shared open/read/reconnect/close behaviour of the Dynamixel and Arduino backends."""

    backend_name = ""

    def __init__(self, config: ElbowConfig, clock: Callable[[], float] = time.monotonic) -> None:
        config.validate()
        self.config = config
        self.clock = clock
        self.limiter = JointLimiter(config)
        self.stats = CommStats()
        self.backoff = Backoff(config.reconnect_min_s, config.reconnect_max_s)
        self.mode = config.mode
        self.connected = False
        self.opened = False
        self.failed_reads = 0
        self.reconnects = 0
        self.next_attempt = 0.0
        self.message = ""
        self.errors: tuple[str, ...] = ()
        self.temperature_c = float("nan")
        self.voltage_v = float("nan")
        self.torque_enabled = False

    @abstractmethod
    def _connect(self) -> None:
        """Open the port and check the device; ElbowError for operator problems, LinkLost if it does not answer."""

    @abstractmethod
    def _read_state(self) -> ElbowState:
        """One full state read (updates temperature, voltage, errors); LinkFault / LinkLost on failure."""

    @abstractmethod
    def _apply_mode(self, mode: str) -> None:
        """Configure the device for ``mode`` and set ``torque_enabled``."""

    def _clear_latched_errors(self) -> None:
        """Before a mode the user asks for: clear errors the device keeps after their cause
        is gone (default: none are kept)."""

    @abstractmethod
    def _torque_off(self) -> None:
        """Disable torque on the device."""

    @abstractmethod
    def _close_port(self) -> None:
        """Close the serial port (never raises)."""

    def open(self) -> None:
        """Connect and apply the configured mode; ElbowError names what is wrong."""
        check_port(self.config.port)
        self.message = ""
        try:
            self._connect()
            self._enter_mode(self.mode)
        except (LinkLost, LinkFault) as error:
            self._close_port()
            raise ElbowError(f"{self.backend_name} elbow on {self.config.port} does not answer: {error}") from error
        except ElbowError:
            self._close_port()
            raise
        self.connected = self.opened = True
        atexit.register(self.close)

    def _lose(self, reason: str) -> None:
        """Mark the link lost and schedule a reconnect."""
        if self.connected:
            LOG.warning("%s elbow on %s lost: %s", self.backend_name, self.config.port, reason)
        self.connected = False
        self.torque_enabled = False
        self.message = f"disconnected: {reason}"
        self._close_port()
        self.backoff.reset()
        self.next_attempt = self.clock() + self.backoff.next_delay()

    def _try_reconnect(self) -> None:
        now = self.clock()
        if now < self.next_attempt:
            return
        try:
            check_port(self.config.port)
            self.message = ""
            self._connect()
            self._enter_mode(self.mode)
        except (ElbowError, LinkLost, LinkFault, *SERIAL_IO_ERRORS) as error:
            self._close_port()
            self.message = f"disconnected: reconnect failed: {error}"
            self.next_attempt = now + self.backoff.next_delay()
            return
        LOG.info("%s elbow on %s reconnected", self.backend_name, self.config.port)
        self.connected = True
        self.reconnects += 1
        self.failed_reads = 0

    def read(self) -> Optional[ElbowState]:
        """The joint state, or None while disconnected or after a failed transaction."""
        if not self.opened:
            return None
        if not self.connected:
            self._try_reconnect()
            if not self.connected:
                return None
        try:
            state = self._read_state()
        except LinkFault as fault:
            self.failed_reads += 1
            if self.failed_reads >= FAILED_READS_BEFORE_LOST:
                self._lose(f"{self.failed_reads} reads failed in a row ({fault})")
            return None
        except (LinkLost, *SERIAL_IO_ERRORS) as error:
            self._lose(str(error))
            return None
        self.failed_reads = 0
        position = self.limiter.clamp(state.position)
        return ElbowState(position, state.velocity, state.effort, state.stamp)

    def set_mode(self, mode: str) -> None:
        """Switch mode now (or at the next reconnect while disconnected)."""
        if mode not in MODES:
            raise ElbowError(f"elbow mode {mode!r} is not one of {MODES}")
        self.mode = mode
        if not self.connected:
            return
        self.message = ""
        try:
            if mode != "compliant":
                self._clear_latched_errors()
            self._enter_mode(mode)
        except (LinkFault, LinkLost, *SERIAL_IO_ERRORS) as error:
            self._lose(f"while setting mode {mode}: {error}")

    def _enter_mode(self, mode: str) -> None:
        """Apply ``mode``; one the device refuses is reported (``message``) with torque left off."""
        try:
            self._apply_mode(mode)
        except InstructionRefused as error:
            self.message = f"{mode} refused: {error}"
            LOG.error("%s elbow on %s: %s", self.backend_name, self.config.port, self.message)
            self._torque_off()

    def status(self) -> ElbowStatus:
        """Link health for diagnostics."""
        return ElbowStatus(
            connected=self.connected,
            backend=self.backend_name,
            port=self.config.port,
            errors=self.errors,
            temperature_c=self.temperature_c,
            voltage_v=self.voltage_v,
            comm_errors=self.stats.errors,
            comm_error_rate=self.stats.error_rate,
            reconnects=self.reconnects,
            torque_enabled=self.torque_enabled,
            mode=self.mode,
            message=self.message or self.limiter.message,
        )

    def close(self) -> None:
        """Torque off, port closed; idempotent and safe while disconnected."""
        if self.connected:
            try:
                self._torque_off()
            except (LinkFault, LinkLost, *SERIAL_IO_ERRORS) as error:
                LOG.warning("%s elbow on %s: torque off at close failed: %s", self.backend_name, self.config.port, error)
        self.connected = self.opened = False
        self.torque_enabled = False
        self._close_port()
        atexit.unregister(self.close)
