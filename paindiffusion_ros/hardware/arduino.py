"""Elbow through an Arduino bridge (``firmware/paindiffusion_bridge``) over a USB serial line.

Line protocol, version 1 (also in ``firmware/README.md``). ASCII, 115200 baud by default,
one request → one reply. Every line is ``BODY*XX\\n``: BODY is space-separated fields and
XX the two upper-case hex digits of the XOR of all BODY bytes (as in NMEA 0183).

Host → bridge:

- ``HELLO 1``                   handshake, 1 = the protocol version the host speaks
- ``READ``                      one full state sample
- ``MODE <mode> <permille>``    mode ``compliant|hold|resist``; permille = resist effort cap
- ``TORQUE <0|1>``              torque off/on (on holds the present angle)

Bridge → host:

- ``PDB <version> <source>``    handshake reply; source ``dxl1``/``dxl2`` (MX-64 on P1.0/P2.0
  through a Dynamixel shield) or ``pot`` (potentiometer, no motor)
- ``A <seq> <pos_mrad> <vel_mrad_s> <effort_mNm> <temp_C> <voltage_dV> <errors_hex> <torque>``
  angle and status: motor angle from the centre tick (mrad), velocity (mrad/s), effort
  (mN·m), temperature (°C), input voltage (0.1 V), error bits (:data:`ERROR_BITS`), torque 0/1;
  a ``pot`` bridge sends 0 for effort, temperature and voltage (reported as NaN)
- ``OK <command> <args>``       command accepted (echo)
- ``ERR <reason>``              ``checksum``, ``command``, ``fault`` (torque refused while an
  error bit is set), ``nomotor`` (potentiometer bridge), ``motor`` (the motor refused the
  command or did not answer)

A bridge that answers HELLO with another version is refused with a clear error. The
bridge turns torque off itself on overheating/overload (MX-64 shutdown), as the motor does.
``TORQUE 1`` after such an error reboots a Protocol 2.0 motor (which keeps the error until
REBOOT) and so may take up to :data:`REBOOT_WAIT_S` longer than other commands.
"""

from __future__ import annotations

import functools
import logging
import math
import operator
import time
from typing import Callable, Optional

import serial

from .base import ElbowConfig, ElbowError, ElbowState
from .link import InstructionRefused, LinkFault, LinkLost, SerialElbow, describe_os_error

LOG = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
SOURCES = ("dxl1", "dxl2", "pot")
ERROR_BITS = ("input_voltage", "overheating", "overload", "motor_encoder", "electrical_shock", "motor_lost")
"""Bridge error bits, bit i = ERROR_BITS[i]."""
SHUTDOWN_ERRORS = frozenset({"input_voltage", "overheating", "overload", "motor_encoder", "electrical_shock"})
HANDSHAKE_TIMEOUT_S = 3.0
REBOOT_WAIT_S = 1.0
"""Longest wait of the bridge for a rebooting MX-64(2.0) to answer again (firmware REBOOT_WAIT_MS)."""
"""An Uno-class board reboots when the port opens (DTR) and needs ~2 s before it answers."""
LONGEST_LINE = 64


def line_checksum(body: str) -> str:
    """Two upper-case hex digits: XOR of the body's bytes."""
    return f"{functools.reduce(operator.xor, body.encode('ascii'), 0):02X}"


def format_line(*fields: str) -> str:
    """``BODY*XX`` (without the newline)."""
    body = " ".join(fields)
    return f"{body}*{line_checksum(body)}"


def parse_line(line: str) -> Optional[list[str]]:
    """Fields of a ``BODY*XX`` line, or None when the checksum is missing or wrong."""
    body, star, checksum = line.strip().rpartition("*")
    if not star or checksum.upper() != line_checksum(body) or not body:
        return None
    return body.split(" ")


def answers(command: tuple[str, ...], reply: list[str]) -> bool:
    """Whether ``reply`` is the bridge's answer to ``command`` (and not a late one to another)."""
    if reply[0] == "ERR":
        return True
    expected = {"HELLO": "PDB", "READ": "A"}.get(command[0])
    return reply[0] == expected if expected else reply[:2] == ["OK", command[0]]


class ArduinoElbow(SerialElbow):
    """The ``arduino`` backend."""

    backend_name = "arduino"

    def __init__(self, config: ElbowConfig, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(config, clock)
        self.serial: Optional[serial.Serial] = None
        self.source = ""
        line_time = LONGEST_LINE * 10.0 / config.baudrate
        self.reply_timeout = line_time + 2.0 * config.latency_timer_ms / 1000.0 + 0.002

    def _close_port(self) -> None:
        if self.serial is not None:
            try:
                self.serial.close()
            except (OSError, serial.SerialException):
                pass
        self.serial = None

    def _exchange_once(self, fields: tuple[str, ...], wait_s: float) -> list[str]:
        """Send one command; return the first reply within ``wait_s`` that answers it (late replies to earlier commands are skipped)."""
        assert self.serial is not None
        deadline = time.monotonic() + wait_s
        try:
            self.serial.reset_input_buffer()
            self.serial.write((format_line(*fields) + "\n").encode("ascii"))
            while True:
                raw = self.serial.readline()
                reply = parse_line(raw.decode("ascii", "replace")) if raw.endswith(b"\n") else None
                if (raw and reply is None) or (reply is not None and answers(fields, reply)) or time.monotonic() >= deadline:
                    break
        except (OSError, serial.SerialException) as error:
            self.stats.record(False)
            raise LinkLost(f"serial I/O failed: {error}") from error
        ok = reply is not None and answers(fields, reply)
        self.stats.record(ok)
        if not ok:
            raise LinkFault("no reply" if not raw else f"corrupt or unexpected reply {raw!r}")
        return reply

    def _exchange(self, *fields: str, extra_wait_s: float = 0.0) -> list[str]:
        """Send one command and return the reply's fields, retrying timeouts and corrupt lines."""
        fault = LinkFault("no attempt")
        for _ in range(self.config.retries + 1):
            try:
                reply = self._exchange_once(fields, self.reply_timeout + extra_wait_s)
            except LinkFault as error:
                fault = error
                continue
            if reply[:2] == ["ERR", "checksum"]:
                fault = LinkFault("bridge saw a corrupt command")
                continue
            return reply
        raise fault

    def _connect(self) -> None:
        try:
            self.serial = serial.Serial(self.config.port, self.config.baudrate, timeout=self.reply_timeout)
        except serial.SerialException as error:
            cause = error.__context__ if isinstance(error.__context__, OSError) else None
            raise ElbowError(describe_os_error(self.config.port, cause) if cause else f"cannot open serial port {self.config.port}: {error}") from error
        deadline = self.clock() + HANDSHAKE_TIMEOUT_S
        while True:
            try:
                reply = self._exchange("HELLO", str(PROTOCOL_VERSION))
                break
            except LinkFault:
                if self.clock() >= deadline:
                    raise
        if reply[0] != "PDB" or len(reply) != 3 or reply[2] not in SOURCES:
            raise ElbowError(f"device on {self.config.port} is not a paindiffusion bridge (answered {' '.join(reply)!r})")
        if reply[1] != str(PROTOCOL_VERSION):
            raise ElbowError(
                f"bridge on {self.config.port} speaks line protocol v{reply[1]}, this driver v{PROTOCOL_VERSION}: "
                "flash firmware/paindiffusion_bridge from this release"
            )
        self.source = reply[2]

    def _read_state(self) -> ElbowState:
        reply = self._exchange("READ")
        stamp = self.clock()
        if reply[0] != "A" or len(reply) != 9:
            raise LinkFault(f"unexpected reply {' '.join(reply)!r} to READ")
        try:
            _, position, velocity, effort, temperature, voltage = (int(value) for value in reply[1:7])
            bits = int(reply[7], 16)
        except ValueError as error:
            raise LinkFault(f"malformed angle line {' '.join(reply)!r}") from error
        motor = self.source != "pot"  # a potentiometer bridge sends 0 for both
        self.temperature_c = float(temperature) if motor else math.nan
        self.voltage_v = voltage / 10.0 if motor else math.nan
        errors = tuple(name for bit, name in enumerate(ERROR_BITS) if bits & (1 << bit))
        if errors and errors != self.errors:
            LOG.error("Arduino bridge reports %s", ", ".join(errors))
        self.errors = errors
        self.torque_enabled = reply[8] == "1"
        if self.torque_enabled and SHUTDOWN_ERRORS.intersection(errors):
            self._torque_off()
        direction = self.config.direction
        return ElbowState(
            position=self.config.motor_to_joint(position / 1000.0),
            velocity=direction * velocity / 1000.0,
            effort=direction * effort / 1000.0,
            stamp=stamp,
        )

    def _command(self, *fields: str, extra_wait_s: float = 0.0) -> list[str]:
        reply = self._exchange(*fields, extra_wait_s=extra_wait_s)
        if reply[0] not in ("OK", "ERR"):
            raise LinkFault(f"unexpected reply {' '.join(reply)!r} to {' '.join(fields)}")
        return reply

    def _torque_off(self) -> None:
        self._command("TORQUE", "0")
        self.torque_enabled = False

    def _apply_mode(self, mode: str) -> None:
        self._command("MODE", mode, str(round(self.config.resist_effort * 1000)))
        if mode == "compliant":
            self._torque_off()
            return
        reply = self._command("TORQUE", "1", extra_wait_s=REBOOT_WAIT_S)
        self.torque_enabled = reply[0] == "OK"
        if not self.torque_enabled:
            reason = {
                "nomotor": "the bridge reads a potentiometer and has no motor",
                "fault": f"the motor reports {', '.join(self.errors) or 'a fault'}",
                "motor": "the motor refused the command or did not answer",
            }
            raise InstructionRefused(reason.get(reply[1], " ".join(reply)))
