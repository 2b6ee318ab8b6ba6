"""MX-64 elbow through the official ROBOTIS ``dynamixel-sdk``, Protocol 1.0 or 2.0.

A full state is one READ of the contiguous present-value block (position, velocity,
load/current, voltage, temperature), so one instruction and one status packet per sample.
``GroupSyncRead``/``GroupBulkRead`` are not used: with one motor they send the same number
of packets, and the SDK drops the status packet's error byte in their receive path, which
is where P1.0 reports overheating/overload and P2.0 raises its Alert bit.

Modes (e-Manual): ``compliant`` = torque off. ``hold`` = position control at the present
angle (clamped into the joint limits) with full torque. ``resist`` = a gentle spring to the present angle whose effort is
capped at ``resist_effort`` of the maximum: P2.0 current-based position control (operating
mode 5) with Goal Current, P1.0 position control with Torque Limit (address 34).
"""

from __future__ import annotations

import logging
import select
import time
from typing import Callable

import serial
from dynamixel_sdk import COMM_SUCCESS, PacketHandler, PortHandler

from . import mx64
from .base import ElbowConfig, ElbowError, ElbowState
from .link import InstructionRefused, LinkFault, LinkLost, SerialElbow, describe_os_error

LOG = logging.getLogger(__name__)

SUPPORTED_BAUDRATES = (9600, 57600, 115200, 1_000_000, 2_000_000, 3_000_000, 4_000_000)
GENTLE_SPEED_RAD_S = 1.0
"""Speed limit in hold/resist, so a released arm returns slowly to its anchor."""
REBOOT_WAIT_S = 1.0
"""How long a rebooting MX-64(2.0) may take to answer a ping again."""


class TunedPortHandler(PortHandler):
    """``PortHandler`` whose packet timeout uses the configured USB latency timer.

    The SDK's timeout is ``bytes·byte_time + 2·LATENCY_TIMER + 2`` ms with a fixed
    16 ms latency; adapters tuned to 1 ms (and the emulator) answer far faster.
    """

    def __init__(self, port_name: str, latency_ms: float) -> None:
        super().__init__(port_name)
        self.latency_ms = latency_ms

    def setPacketTimeout(self, packet_length: int) -> None:  # noqa: N802 (SDK name)
        self.packet_start_time = self.getCurrentTime()
        self.packet_timeout = self.tx_time_per_byte * packet_length + 2.0 * self.latency_ms + 2.0

    def readPort(self, length: int) -> bytes:  # noqa: N802 (SDK name)
        """What has arrived, after waiting in ``select`` for it until the packet timeout.

        The SDK calls this in a loop until the status packet is complete or its timeout has
        passed; the port's own read does not wait, so the loop would spin, holding the CPU and
        the GIL the other threads of the process (the node's executor, an emulator) need.
        """
        if self.ser.in_waiting == 0:
            remaining_ms = self.packet_timeout - self.getTimeSinceStart()
            if remaining_ms > 0:
                select.select([self.ser.fileno()], [], [], remaining_ms / 1000.0)
        return self.ser.read(length)


class DynamixelElbow(SerialElbow):
    """The ``dynamixel`` backend: an MX-64 on a U2D2 (or any half-duplex TTL/RS-485 adapter)."""

    backend_name = "dynamixel"

    def __init__(self, config: ElbowConfig, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(config, clock)
        if config.baudrate not in SUPPORTED_BAUDRATES:
            raise ElbowError(f"elbow setting baudrate={config.baudrate} is not a Dynamixel rate {SUPPORTED_BAUDRATES}")
        self.table = mx64.control_table(config.protocol)
        self.packets = PacketHandler(float(config.protocol))
        self.port: PortHandler | None = None
        self.torque_full_scale = self.table.defaults[self.table.torque_limit_max_item]
        self.position_limits = (0, mx64.TICKS_PER_REV - 1)

    def _close_port(self) -> None:
        if self.port is not None and self.port.is_open:
            try:
                self.port.closePort()
            except (OSError, serial.SerialException):
                pass
        self.port = None

    def _transact(self, call: Callable[[], tuple], data_length: int = 0) -> tuple:
        """Run one SDK call (returning ``(*values, comm_result, error_byte)``) with retries.

        Returns ``(*values, error_byte)``. With ``data_length``, a reply whose data is shorter
        (a late status packet answering an earlier instruction) counts as corrupt. LinkFault
        after the last retry, LinkLost on an I/O error.
        """
        reason = ""
        for _ in range(self.config.retries + 1):
            if self.port is not None:
                self.port.is_using = False  # single-threaded: only an interrupted transaction leaves it set
            try:
                *values, code, error_byte = call()
            except (OSError, serial.SerialException) as error:
                self.stats.record(False)
                raise LinkLost(f"serial I/O failed: {error}") from error
            except IndexError:
                code, reason = -1, "status packet too short"
            else:
                reason = self.packets.getTxRxResult(code)
                if code == COMM_SUCCESS and data_length and len(values[0]) < data_length:
                    code, reason = -1, f"status packet with {len(values[0])} of {data_length} data bytes"
            self.stats.record(code == COMM_SUCCESS)
            if code == COMM_SUCCESS:
                return (*values, error_byte)
            self._drain()
        raise LinkFault(reason)

    def _drain(self) -> None:
        """After a failure, let a late status packet arrive and discard it, so it cannot answer the next instruction."""
        time.sleep(self.config.latency_timer_ms / 1000.0)
        try:
            self.port.clearPort()
        except (OSError, serial.SerialException) as error:
            raise LinkLost(f"serial I/O failed: {error}") from error

    def _read_block(self, address: int, length: int) -> bytes:
        """``length`` bytes from ``address``; notes the status packet's error byte."""
        data, error_byte = self._transact(lambda: self.packets.readTxRx(self.port, self.config.motor_id, address, length), length)
        self._note_error_byte(error_byte)
        return bytes(data[:length])

    def _read_item(self, name: str) -> int:
        item = self.table[name]
        return int.from_bytes(self._read_block(item.address, item.size), "little")

    def _write_item(self, name: str, value: int) -> None:
        item = self.table[name]
        writers = {1: self.packets.write1ByteTxRx, 2: self.packets.write2ByteTxRx, 4: self.packets.write4ByteTxRx}
        raw = value & ((1 << (8 * item.size)) - 1)
        (error_byte,) = self._transact(lambda: writers[item.size](self.port, self.config.motor_id, item.address, raw))
        self._note_error_byte(error_byte)
        refusal = self.table.instruction_error(error_byte)
        if refusal:
            raise InstructionRefused(f"MX-64 ID {self.config.motor_id} refused writing {name}={value} ({refusal} error)")

    def _ensure_item(self, name: str, value: int) -> None:
        """Write ``value`` only when it differs (spares the EEPROM)."""
        if self._read_item(name) != value:
            self._write_item(name, value)

    def _connect(self) -> None:
        port = TunedPortHandler(self.config.port, self.config.latency_timer_ms)
        try:
            port.setBaudRate(self.config.baudrate)
        except serial.SerialException as error:
            cause = error.__context__ if isinstance(error.__context__, OSError) else None
            raise ElbowError(describe_os_error(self.config.port, cause) if cause else f"cannot open serial port {self.config.port}: {error}") from error
        except OSError as error:
            raise ElbowError(describe_os_error(self.config.port, error)) from error
        self.port = port
        model, _ = self._transact(lambda: self.packets.ping(port, self.config.motor_id))
        if model != self.table.model_number:
            raise ElbowError(
                f"Dynamixel ID {self.config.motor_id} on {self.config.port} is model {model}, "
                f"not the MX-64 for protocol {self.config.protocol} (model {self.table.model_number})"
            )
        self._torque_off()
        self.errors = ()
        self._ensure_item("return_delay_time", 0)
        self._write_position_limits()
        self.torque_full_scale = self._read_item(self.table.torque_limit_max_item)

    def _write_position_limits(self) -> None:
        """Mirror the joint limits into the motor's position limits (EEPROM: written only on change)."""
        ends = [mx64.radians_to_ticks(self.config.joint_to_motor(angle)) for angle in (self.config.lower_limit, self.config.upper_limit)]
        low, high = max(min(ends), 0), min(max(ends), mx64.TICKS_PER_REV - 1)
        self._ensure_item("min_position_limit", low)
        self._ensure_item("max_position_limit", high)
        self.position_limits = (low, high)

    @property
    def _shut_down(self) -> bool:
        """Whether the motor reports an error on which it drops torque (overheating, overload, …)."""
        return bool(self.table.shutdown_errors.intersection(self.errors))

    def _note_error_byte(self, error_byte: int) -> None:
        """Record hardware errors from a status packet; shutdown errors → torque off + report."""
        if self.table.protocol == 2:
            if not error_byte & mx64.P2_ALERT_BIT:
                self.errors = ()
                return
            status_item = self.table["hardware_error_status"]
            data, _ = self._transact(lambda: self.packets.readTxRx(self.port, self.config.motor_id, status_item.address, 1), 1)
            bits = data[0]
        else:
            bits = error_byte
        errors = self.table.error_names(bits)
        if errors != self.errors and errors:
            LOG.error("MX-64 ID %d reports %s", self.config.motor_id, ", ".join(errors))
        self.errors = errors
        if self.torque_enabled and self._shut_down:
            self.torque_enabled = False
            self._write_item("torque_enable", 0)

    def _clear_latched_errors(self) -> None:
        """P2.0 keeps a hardware error (and torque off) until REBOOT (e-Manual, Hardware Error
        Status); reboot it so a cleared fault does not block the mode. If the cause is still
        there the motor latches it again and the mode is refused. P1.0 keeps none."""
        if self.table.protocol != 2 or not self._shut_down:
            return
        LOG.warning("MX-64 ID %d: rebooting to clear %s", self.config.motor_id, ", ".join(self.errors))
        self._transact(lambda: self.packets.reboot(self.port, self.config.motor_id))
        deadline = time.monotonic() + REBOOT_WAIT_S
        while True:
            try:
                _, error_byte = self._transact(lambda: self.packets.ping(self.port, self.config.motor_id))
                break
            except LinkFault:
                if time.monotonic() >= deadline:
                    raise
        self.torque_enabled = False
        self._note_error_byte(error_byte)

    def _read_state(self) -> ElbowState:
        start, length = self.table.state_block
        block = self._read_block(start, length)
        stamp = self.clock()

        def field(name: str) -> int:
            item = self.table[name]
            offset = item.address - start
            return int.from_bytes(block[offset : offset + item.size], "little")

        table = self.table
        position_item = table["present_position"]
        ticks = table.decode_signed(field("present_position"), position_item.size, 0) if table.protocol == 2 else field("present_position")
        speed_item, effort_item = table[table.present_velocity_item], table[table.present_effort_item]
        speed = table.decode_signed(field(table.present_velocity_item), speed_item.size, table.velocity_sign_bit)
        effort = table.decode_signed(field(table.present_effort_item), effort_item.size, table.effort_sign_bit)
        voltage_name = "present_voltage" if table.protocol == 1 else "present_input_voltage"
        self.voltage_v = field(voltage_name) * table.voltage_v_per_unit
        self.temperature_c = float(field("present_temperature"))
        direction = self.config.direction
        return ElbowState(
            position=self.config.motor_to_joint(mx64.ticks_to_radians(ticks)),
            velocity=direction * speed * table.velocity_rpm_per_unit * mx64.RPM_TO_RAD_S,
            effort=direction * effort * table.effort_per_unit_nm,
            stamp=stamp,
        )

    def _torque_off(self) -> None:
        self._write_item("torque_enable", 0)
        self.torque_enabled = False

    def _anchor_ticks(self) -> int:
        """Goal for hold/resist: the present angle, clamped into the motor's position limits.

        An arm moved past a limit while compliant would otherwise give a goal the motor
        rejects (P1.0 Angle Limit error), and torque on would pull it to the previous goal.
        """
        item = self.table["present_position"]
        present = self._read_item("present_position")
        if self.table.protocol == 2:
            present = self.table.decode_signed(present, item.size, 0)
        low, high = self.position_limits
        return min(max(present, low), high)

    def _apply_mode(self, mode: str) -> None:
        self._torque_off()
        if mode == "compliant":
            return
        if self._shut_down:
            raise InstructionRefused(f"the motor reports {', '.join(self.errors)}")
        table = self.table
        if table.protocol == 2:
            operating = mx64.OPERATING_MODE_POSITION if mode == "hold" else mx64.OPERATING_MODE_CURRENT_BASED_POSITION
            self._ensure_item("operating_mode", operating)
        limit = self.torque_full_scale if mode == "hold" else max(1, round(self.config.resist_effort * self.torque_full_scale))
        self._write_item(table.torque_limit_item, limit)
        speed_units = GENTLE_SPEED_RAD_S / mx64.RPM_TO_RAD_S / table.velocity_rpm_per_unit
        self._write_item(table.velocity_limit_item, max(1, round(speed_units)))
        self._write_item("goal_position", self._anchor_ticks())
        self._write_item("torque_enable", 1)
        self.torque_enabled = True

