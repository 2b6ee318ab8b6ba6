"""Emulated elbow hardware on pseudo-terminals, so the real drivers can be tested without a rig.

:class:`MX64Emulator` answers Dynamixel Protocol 1.0 (checksum) or 2.0 (CRC-16 +
byte stuffing) instruction packets — PING, READ, WRITE, REBOOT — from an MX-64 control
table (:mod:`.mx64`). Its joint is compliant: with torque off a scripted *hand* (angle as a
function of time) moves it; with torque on the motor pulls it towards Goal Position with
the effort its torque limit allows. :class:`ArduinoBridgeEmulator` speaks the bridge's
line protocol (:mod:`.arduino`). Replies are delayed by the wire time of request and
reply (bytes × 10 / baud) plus the Return Delay Time.

The pty is reached through a stable symlink (like ``/dev/serial/by-id/...``). Faults:
``unplug()`` closes the pty and removes the link, which the driver sees exactly as a
pulled USB adapter (I/O error on the open port, then no such device); ``replug()`` brings
a new pty up behind the same path. ``mute()`` stops answering (power loss behind the
adapter), ``drop_replies(n)`` loses n replies (timeouts), ``corrupt_replies(n)`` flips a
bit in n replies, ``overheat()``/``overload()`` raise the motor's error bits.
"""

from __future__ import annotations

import math
import os
import select
import threading
import time
import tty
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from . import mx64
from .arduino import PROTOCOL_VERSION, ERROR_BITS, format_line, parse_line

Hand = Callable[[float], Optional[float]]
"""Scripted hand: motor angle (rad from the centre tick) it puts the joint at, or None when let go."""

HAND_STIFFNESS_NM_RAD = 30.0
MOTOR_STIFFNESS_NM_RAD = 60.0
VELOCITY_STEP_S = 0.005


class PtyCable:
    """A pseudo-terminal standing in for a USB serial adapter, reached through ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.master: Optional[int] = None
        self.slave: Optional[int] = None

    def plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        self.master, self.slave = master, slave
        if os.path.lexists(self.path):
            os.unlink(self.path)
        os.symlink(os.ttyname(slave), self.path)

    def unplug(self) -> None:
        if os.path.lexists(self.path):
            os.unlink(self.path)
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        self.master = self.slave = None


class PtyDevice(ABC):
    """Serves a request/reply protocol on a :class:`PtyCable` from a thread, with fault injection."""

    def __init__(self, path: str, baudrate: int, seed: int = 0) -> None:
        self.cable = PtyCable(path)
        self.baudrate = baudrate
        self.lock = threading.RLock()
        self.buffer = bytearray()
        self.rng = np.random.default_rng(seed)
        self.muted = False
        self.drop_count = 0
        self.corrupt_count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=type(self).__name__, daemon=True)

    @property
    def path(self) -> str:
        return self.cable.path

    def start(self) -> "PtyDevice":
        self.cable.plug()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        with self.lock:
            self.cable.unplug()

    def __enter__(self) -> "PtyDevice":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def unplug(self) -> None:
        """Pull the adapter: the open port fails with I/O errors and the path disappears."""
        with self.lock:
            self.cable.unplug()
            self.buffer.clear()

    def replug(self) -> None:
        """Plug the adapter back in (a new pty behind the same path)."""
        with self.lock:
            self.cable.plug()

    def mute(self, muted: bool = True) -> None:
        """Stop (or resume) answering while the port stays up."""
        self.muted = muted

    def drop_replies(self, count: int) -> None:
        """Do not answer the next ``count`` requests (the driver times out)."""
        self.drop_count = count

    def corrupt_replies(self, count: int) -> None:
        """Flip one bit in each of the next ``count`` replies."""
        self.corrupt_count = count

    @abstractmethod
    def handle(self, buffer: bytearray) -> list[tuple[int, bytes]]:
        """Consume complete requests from ``buffer``; return (request size, reply) per answered request."""

    def reply_delay(self, request_size: int, reply: bytes) -> float:
        """Wire time of request and reply at the emulated baud rate."""
        return (request_size + len(reply)) * 10.0 / self.baudrate

    def _serve(self) -> None:
        while not self._stop.is_set():
            master = self.cable.master
            if master is None:
                time.sleep(0.002)
                continue
            try:
                ready, _, _ = select.select([master], [], [], 0.01)
                if not ready:
                    continue
                data = os.read(master, 4096)
            except (OSError, ValueError):
                time.sleep(0.002)
                continue
            with self.lock:
                if self.cable.master != master:
                    continue
                self.buffer += data
                for request_size, reply in self.handle(self.buffer):
                    self._send(master, request_size, reply)

    def _send(self, master: int, request_size: int, reply: bytes) -> None:
        if self.muted:
            return
        if self.drop_count > 0:
            self.drop_count -= 1
            return
        if self.corrupt_count > 0:
            self.corrupt_count -= 1
            damaged = bytearray(reply)
            index = int(self.rng.integers(2, len(damaged)))
            damaged[index] ^= 1 << int(self.rng.integers(0, 8))
            reply = bytes(damaged)
        time.sleep(self.reply_delay(request_size, reply))
        try:
            os.write(master, reply)
        except OSError:
            pass


def crc16(data: bytes) -> int:
    """Dynamixel Protocol 2.0 CRC-16 (polynomial 0x8005, initial value 0, not reflected)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def stuff(payload: bytes) -> bytes:
    """P2.0 byte stuffing: FF FF FD → FF FF FD FD inside a packet's payload."""
    out = bytearray()
    for byte in payload:
        out.append(byte)
        if out[-3:] == b"\xff\xff\xfd":
            out.append(0xFD)
    return bytes(out)


def unstuff(payload: bytes) -> bytes:
    """Inverse of :func:`stuff`."""
    return payload.replace(b"\xff\xff\xfd\xfd", b"\xff\xff\xfd")


@dataclass(frozen=True)
class Instruction:
    """A parsed instruction packet."""

    motor_id: int
    code: int
    params: bytes
    intact: bool
    size: int


def parse_protocol1(buffer: bytearray) -> Optional[Instruction]:
    """Take one P1.0 instruction packet (FF FF ID LEN INST PARAMS CHK) off ``buffer``."""
    while True:
        start = buffer.find(b"\xff\xff")
        if start < 0:
            del buffer[: max(len(buffer) - 1, 0)]
            return None
        del buffer[:start]
        if len(buffer) < 4:
            return None
        if buffer[2] == 0xFF or buffer[3] < 2:  # FF FF FF …, or no packet (e.g. a P2.0 header FF FF FD 00)
            del buffer[0]
            continue
        total = buffer[3] + 4
        if len(buffer) < total:
            return None
        packet = bytes(buffer[:total])
        del buffer[:total]
        intact = (~sum(packet[2:-1])) & 0xFF == packet[-1]
        return Instruction(packet[2], packet[4], packet[5:-1], intact, total)


def parse_protocol2(buffer: bytearray) -> Optional[Instruction]:
    """Take one P2.0 instruction packet (FF FF FD 00 ID LEN16 INST PARAMS CRC16) off ``buffer``."""
    start = buffer.find(b"\xff\xff\xfd\x00")
    if start < 0:
        del buffer[: max(len(buffer) - 3, 0)]
        return None
    del buffer[:start]
    if len(buffer) < 7:
        return None
    total = 7 + int.from_bytes(buffer[5:7], "little")
    if len(buffer) < total:
        return None
    packet = bytes(buffer[:total])
    del buffer[:total]
    intact = crc16(packet[:-2]) == int.from_bytes(packet[-2:], "little")
    payload = unstuff(packet[7:-2])
    return Instruction(packet[4], payload[0] if payload else 0, payload[1:], intact, total)


def status_protocol1(motor_id: int, error: int, params: bytes = b"") -> bytes:
    """A P1.0 status packet: FF FF ID LEN ERR PARAMS CHK."""
    body = bytes([motor_id, len(params) + 2, error]) + params
    return b"\xff\xff" + body + bytes([(~sum(body)) & 0xFF])


def status_protocol2(motor_id: int, error: int, params: bytes = b"") -> bytes:
    """A P2.0 status packet: FF FF FD 00 ID LEN16 0x55 ERR PARAMS CRC16 (payload stuffed)."""
    payload = stuff(bytes([0x55, error]) + params)
    head = b"\xff\xff\xfd\x00" + bytes([motor_id]) + (len(payload) + 2).to_bytes(2, "little")
    packet = head + payload
    return packet + crc16(packet).to_bytes(2, "little")


INST_PING, INST_READ, INST_WRITE, INST_REBOOT = 0x01, 0x02, 0x03, 0x08
P1_ERR_RANGE, P1_ERR_CHECKSUM, P1_ERR_INSTRUCTION, P1_ERR_ANGLE = 0x08, 0x10, 0x40, 0x02
P2_ERR_INSTRUCTION, P2_ERR_CRC, P2_ERR_RANGE, P2_ERR_ACCESS = 0x02, 0x03, 0x04, 0x07
BROADCAST_ID = 0xFE


class CompliantJoint:
    """The elbow joint: follows the hand with torque off, a saturating spring to the goal with torque on.

    With torque on, hand (stiffness K_h) and motor (K_m, effort ≤ limit) reach the static
    equilibrium x = (K_h·h + K_m·g)/(K_h + K_m); when that needs more than the limit the
    motor gives way at its limit. Let go (hand None), the joint rests or goes to the goal.
    """

    def __init__(self, hand: Hand) -> None:
        self.hand = hand
        self.rest = 0.0

    def settle(self, hand: Optional[float], torque_on: bool, goal: float, limit_nm: float) -> tuple[float, float]:
        """(angle rad, motor torque N·m) for a hand angle and the motor's command."""
        if not torque_on:
            return (self.rest if hand is None else hand), 0.0
        if hand is None:
            return goal, 0.0
        angle = (HAND_STIFFNESS_NM_RAD * hand + MOTOR_STIFFNESS_NM_RAD * goal) / (HAND_STIFFNESS_NM_RAD + MOTOR_STIFFNESS_NM_RAD)
        torque = MOTOR_STIFFNESS_NM_RAD * (goal - angle)
        if abs(torque) > limit_nm:
            torque = math.copysign(limit_nm, goal - hand)
            angle = hand + torque / HAND_STIFFNESS_NM_RAD
        return angle, torque

    def sample(self, now: float, torque_on: bool, goal: float, limit_nm: float) -> tuple[float, float, float]:
        """(angle rad, velocity rad/s, torque N·m) at ``now``."""
        hand = self.hand(now)
        angle, torque = self.settle(hand, torque_on, goal, limit_nm)
        before = self.hand(now - VELOCITY_STEP_S)
        velocity = 0.0
        if hand is not None and before is not None:
            velocity = (angle - self.settle(before, torque_on, goal, limit_nm)[0]) / VELOCITY_STEP_S
        self.rest = angle
        return angle, velocity, torque


class MX64Emulator(PtyDevice):
    """An MX-64 (Protocol 1.0 or 2.0) behind a pty: control table, compliant joint, faults."""

    def __init__(
        self,
        path: str,
        protocol: int = 2,
        motor_id: int = 1,
        baudrate: int = 1_000_000,
        hand: Hand = lambda t: 0.0,
        model_number: Optional[int] = None,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
    ) -> None:
        super().__init__(path, baudrate, seed)
        self.table = mx64.control_table(protocol)
        self.motor_id = motor_id
        self.clock = clock
        self.joint = CompliantJoint(hand)
        self.memory = bytearray(256)
        for name, value in self.table.defaults.items():
            self.poke(name, value)
        self.poke("id", motor_id)
        self.poke("model_number", self.table.model_number if model_number is None else model_number)
        self.temperature_c = 36.0
        self.voltage_v = 12.0
        self.overloaded = False
        self.hardware_errors = 0
        self.writes: list[tuple[str, int]] = []
        self.refusals: dict[str, int] = {}
        self.parse = parse_protocol1 if protocol == 1 else parse_protocol2
        self.status_packet = status_protocol1 if protocol == 1 else status_protocol2

    @property
    def hand(self) -> Hand:
        return self.joint.hand

    @hand.setter
    def hand(self, hand: Hand) -> None:
        self.joint.hand = hand

    def peek(self, name: str) -> int:
        """Unsigned value of a control-table item."""
        item = self.table[name]
        return int.from_bytes(self.memory[item.address : item.address + item.size], "little")

    def poke(self, name: str, value: int) -> None:
        item = self.table[name]
        self.memory[item.address : item.address + item.size] = (value & ((1 << (8 * item.size)) - 1)).to_bytes(item.size, "little")

    def overheat(self, temperature_c: float = 85.0) -> None:
        """Set the motor temperature (above the 80 °C limit → overheating error, torque off)."""
        with self.lock:
            self.temperature_c = temperature_c
            self._update_errors()

    def refuse_writes(self, name: str, error: Optional[int] = None) -> None:
        """Answer every write to item ``name`` with an instruction error and leave it unchanged
        (default: P1.0 Range error, P2.0 Access error); ``error=0`` accepts writes again."""
        with self.lock:
            self.refusals[name] = (P1_ERR_RANGE if self.table.protocol == 1 else P2_ERR_ACCESS) if error is None else error

    def overload(self, overloaded: bool = True) -> None:
        """Raise or clear the overload condition (error bit 5, torque off)."""
        with self.lock:
            self.overloaded = overloaded
            self._update_errors()

    def reply_delay(self, request_size: int, reply: bytes) -> float:
        return super().reply_delay(request_size, reply) + 2e-6 * self.peek("return_delay_time")

    def _update_errors(self) -> None:
        bits = 0
        if self.temperature_c > self.peek("temperature_limit"):
            bits |= 1 << 2
        if self.overloaded:
            bits |= 1 << 5
        volts = round(self.voltage_v * 10)
        if not self.peek("min_voltage_limit") <= volts <= self.peek("max_voltage_limit"):
            bits |= 1
        if self.table.protocol == 2:
            bits |= self.hardware_errors
            self.hardware_errors = bits
            self.poke("hardware_error_status", bits)
        else:
            self.hardware_errors = bits
        if bits & self.peek("shutdown"):
            self.poke("torque_enable", 0)

    def _limit_nm(self) -> float:
        if self.table.protocol == 2 and self.peek("operating_mode") == mx64.OPERATING_MODE_POSITION:
            units = self.peek("current_limit")
        else:
            units = self.peek(self.table.torque_limit_item)
        scale = mx64.STALL_TORQUE_NM / 1023 if self.table.protocol == 1 else self.table.effort_per_unit_nm
        return units * scale

    def _refresh(self) -> None:
        """Write the present values into the control table."""
        table = self.table
        goal = mx64.ticks_to_radians(table.decode_signed(self.peek("goal_position"), table["goal_position"].size, 0))
        angle, velocity, torque = self.joint.sample(self.clock(), bool(self.peek("torque_enable")), goal, self._limit_nm())
        ticks = mx64.radians_to_ticks(angle)
        self.poke("present_position", ticks % mx64.TICKS_PER_REV if table.protocol == 1 else ticks)
        speed = round(velocity / mx64.RPM_TO_RAD_S / table.velocity_rpm_per_unit)
        self.poke(table.present_velocity_item, table.encode_signed(speed, table[table.present_velocity_item].size, table.velocity_sign_bit))
        effort = round(torque / table.effort_per_unit_nm)
        self.poke(table.present_effort_item, table.encode_signed(effort, table[table.present_effort_item].size, table.effort_sign_bit))
        self.poke("present_voltage" if table.protocol == 1 else "present_input_voltage", round(self.voltage_v * 10))
        self.poke("present_temperature", round(self.temperature_c))
        self.poke("moving", int(abs(velocity) > 0.01))
        self._update_errors()

    def handle(self, buffer: bytearray) -> list[tuple[int, bytes]]:
        replies = []
        while (instruction := self.parse(buffer)) is not None:
            reply = self._execute(instruction)
            if reply is not None:
                replies.append((instruction.size, reply))
        return replies

    def _execute(self, instruction: Instruction) -> Optional[bytes]:
        if instruction.motor_id not in (self.motor_id, BROADCAST_ID):
            return None
        p1 = self.table.protocol == 1
        if instruction.motor_id == BROADCAST_ID and not (instruction.code == INST_PING and not p1):
            return None
        if not instruction.intact:
            return self._status(P1_ERR_CHECKSUM if p1 else P2_ERR_CRC)
        if instruction.code == INST_PING:
            return self._status(0, b"" if p1 else self.memory[0:2] + bytes([self.peek("firmware_version")]))
        if instruction.code == INST_READ:
            return self._read(instruction.params)
        if instruction.code == INST_WRITE:
            return self._write(instruction.params)
        if instruction.code == INST_REBOOT and not p1:
            self.hardware_errors = 0
            self.poke("hardware_error_status", 0)
            self.poke("torque_enable", 0)
            self._update_errors()
            return self._status(0)
        return self._status(P1_ERR_INSTRUCTION if p1 else P2_ERR_INSTRUCTION)

    def _status(self, error: int, params: bytes = b"") -> bytes:
        if self.table.protocol == 1:
            error |= self.hardware_errors
        elif self.hardware_errors:
            error |= mx64.P2_ALERT_BIT
        return self.status_packet(self.motor_id, error, bytes(params))

    def _address_and_rest(self, params: bytes) -> tuple[int, bytes]:
        width = 1 if self.table.protocol == 1 else 2
        return int.from_bytes(params[:width], "little"), params[width:]

    def _read(self, params: bytes) -> bytes:
        address, rest = self._address_and_rest(params)
        length = int.from_bytes(rest, "little")
        if not rest or address + length > len(self.memory):
            return self._status(P1_ERR_RANGE if self.table.protocol == 1 else P2_ERR_RANGE)
        self._refresh()
        return self._status(0, self.memory[address : address + length])

    def _item_at(self, address: int) -> Optional[str]:
        return next((name for name, item in self.table.items.items() if item.address == address), None)

    def _write(self, params: bytes) -> bytes:
        address, data = self._address_and_rest(params)
        p1 = self.table.protocol == 1
        if not data or address + len(data) > len(self.memory):
            return self._status(P1_ERR_RANGE if p1 else P2_ERR_RANGE)
        if not p1 and address < self.table.eeprom_end and self.peek("torque_enable"):
            return self._status(P2_ERR_ACCESS)
        name = self._item_at(address)
        if self.refusals.get(name):
            return self._status(self.refusals[name])
        value = int.from_bytes(data, "little")
        if name == "goal_position":
            low, high = self.peek("min_position_limit"), self.peek("max_position_limit")
            if not low <= value <= high:
                if p1:
                    return self._status(P1_ERR_ANGLE)
                value = min(max(value, low), high)
                data = value.to_bytes(len(data), "little")
        if name == "torque_enable" and value and self.hardware_errors & self.peek("shutdown"):
            return self._status(P1_ERR_RANGE if p1 else P2_ERR_ACCESS)
        if name == "torque_enable" and value and not self.peek("torque_enable"):
            self.joint.rest = mx64.ticks_to_radians(self.peek("present_position"))
        self.memory[address : address + len(data)] = data
        self.writes.append((name or str(address), value))
        return self._status(0)


class ArduinoBridgeEmulator(PtyDevice):
    """The Arduino bridge sketch behind a pty, speaking the :mod:`.arduino` line protocol.

    Motor faults as the firmware reports them: a ``dxl1`` motor's error bits follow their cause;
    a ``dxl2`` motor keeps them (MX-64(2.0) latches a shutdown error) until ``TORQUE 1`` makes the
    bridge reboot it, which delays that reply by ``reboot_s``.
    """

    def __init__(
        self,
        path: str,
        baudrate: int = 115_200,
        hand: Hand = lambda t: 0.0,
        source: str = "dxl2",
        version: int = PROTOCOL_VERSION,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
        reboot_s: float = 0.2,
    ) -> None:
        super().__init__(path, baudrate, seed)
        self.joint = CompliantJoint(hand)
        self.source = source
        self.reboot_s = reboot_s
        self.rebooting_s = 0.0
        self.overloaded = False
        self.version = version
        self.clock = clock
        self.torque = False
        self.mode = "compliant"
        self.resist_permille = 300
        self.goal = 0.0
        self.sequence = 0
        self.temperature_c = 36.0
        self.voltage_v = 12.0
        self.error_bits = 0
        self.commands: list[str] = []

    @property
    def hand(self) -> Hand:
        return self.joint.hand

    @hand.setter
    def hand(self, hand: Hand) -> None:
        self.joint.hand = hand

    def overheat(self, temperature_c: float = 85.0) -> None:
        """Set the motor temperature (above the MX-64's 80 °C limit: overheating, torque off)."""
        with self.lock:
            self.temperature_c = temperature_c
            self._update_errors()

    def overload(self, overloaded: bool = True) -> None:
        with self.lock:
            self.overloaded = overloaded
            self._update_errors()

    def _update_errors(self, reboot: bool = False) -> None:
        causes = (self.temperature_c > 80.0) << ERROR_BITS.index("overheating") | self.overloaded << ERROR_BITS.index("overload")
        latched = self.source == "dxl2" and not reboot
        self.error_bits = self.error_bits | causes if latched else causes
        self.torque = self.torque and not self.error_bits

    def reply_delay(self, request_size: int, reply: bytes) -> float:
        delay, self.rebooting_s = super().reply_delay(request_size, reply) + self.rebooting_s, 0.0
        return delay

    def handle(self, buffer: bytearray) -> list[tuple[int, bytes]]:
        replies = []
        while (end := buffer.find(b"\n")) >= 0:
            raw = bytes(buffer[: end + 1])
            del buffer[: end + 1]
            replies.append((len(raw), (self._answer(raw.decode("ascii", "replace").strip()) + "\n").encode("ascii")))
        return replies

    def _answer(self, line: str) -> str:
        fields = parse_line(line)
        if fields is None:
            return format_line("ERR", "checksum")
        self.commands.append(" ".join(fields))
        command, args = fields[0], fields[1:]
        if command == "HELLO":
            return format_line("PDB", str(self.version), self.source)
        if command == "READ":
            self._update_errors()
            return self._angle_line()
        if command == "TORQUE" and args in (["0"], ["1"]):
            if args == ["1"] and self.source == "pot":
                return format_line("ERR", "nomotor")
            if args == ["1"] and self.error_bits and self.source == "dxl2":
                self.rebooting_s = self.reboot_s
                self._update_errors(reboot=True)
            if args == ["1"] and self.error_bits:
                return format_line("ERR", "fault")
            self.torque = args == ["1"]
            self.goal = self.joint.settle(self.joint.hand(self.clock()), False, 0.0, 0.0)[0]
            return format_line("OK", command, *args)
        if command == "MODE" and len(args) == 2 and args[0] in ("compliant", "hold", "resist"):
            self.mode, self.resist_permille = args[0], int(args[1])
            return format_line("OK", command, *args)
        return format_line("ERR", "command")

    def _angle_line(self) -> str:
        limit = mx64.STALL_TORQUE_NM * (1.0 if self.mode == "hold" else self.resist_permille / 1000.0)
        torque_on = self.torque and self.mode != "compliant"
        angle, velocity, torque = self.joint.sample(self.clock(), torque_on, self.goal, limit)
        self.sequence = (self.sequence + 1) % 65536
        motor = self.source != "pot"
        temperature, voltage = (round(self.temperature_c), round(self.voltage_v * 10)) if motor else (0, 0)
        return format_line(
            "A", str(self.sequence), str(round(angle * 1000)), str(round(velocity * 1000)), str(round(torque * 1000)),
            str(temperature), str(voltage), f"{self.error_bits:02X}", str(int(self.torque)),
        )
