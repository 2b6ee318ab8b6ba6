"""MX-64 control tables for Dynamixel Protocol 1.0 (MX-64T/AR) and 2.0 (MX-64(2.0)), as data.

Addresses, sizes, units and error bits from the ROBOTIS e-Manual pages "MX-64T/R/AR"
(Protocol 1.0, model 310) and "MX-64T/R/AR (2.0)" (model 311). The driver and the emulator
both read these tables, so one place holds every address.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TICKS_PER_REV = 4096
CENTRE_TICK = 2048
RAD_PER_TICK = 2.0 * math.pi / TICKS_PER_REV
RPM_TO_RAD_S = 2.0 * math.pi / 60.0
STALL_TORQUE_NM = 6.0
"""MX-64 stall torque at 12 V (e-Manual), the scale for load → effort in N·m."""
STALL_CURRENT_A = 4.1
"""MX-64 stall current at 12 V (e-Manual); torque ≈ current × STALL_TORQUE_NM / STALL_CURRENT_A."""


@dataclass(frozen=True)
class Item:
    """One control-table entry: byte address and size."""

    address: int
    size: int


@dataclass(frozen=True)
class ControlTable:
    """Everything protocol-specific the driver and emulator need about one MX-64 variant."""

    protocol: int
    model_number: int
    items: dict[str, Item]
    defaults: dict[str, int]
    eeprom_end: int
    velocity_rpm_per_unit: float
    velocity_sign_bit: int
    """0: two's complement over the item size; else the bit that marks negative (CW) magnitude."""
    effort_per_unit_nm: float
    effort_sign_bit: int
    voltage_v_per_unit: float
    error_bits: dict[int, str]
    """bit → name, from the status packet (P1.0) or Hardware Error Status (P2.0)."""
    shutdown_errors: frozenset[str]
    """errors on which the motor drops torque and the driver turns torque off and reports."""
    instruction_errors: dict[int, str]
    """status-packet error → name, for errors that mean the instruction was not carried out:
    P1.0 bits of the error byte; P2.0 the error number in its low 7 bits (e-Manual)."""
    state_items: tuple[str, ...]
    """items of one full state read, contiguous in the table."""
    present_effort_item: str
    present_velocity_item: str
    velocity_limit_item: str
    torque_limit_item: str
    """P1.0 Torque Limit / P2.0 Goal Current: caps the motor's effort in resist mode."""
    torque_limit_max_item: str
    """P1.0 Max Torque / P2.0 Current Limit: the full scale of ``torque_limit_item``."""

    def __getitem__(self, name: str) -> Item:
        return self.items[name]

    @property
    def state_block(self) -> tuple[int, int]:
        """(start address, length) of the contiguous full-state read."""
        first = self.items[self.state_items[0]]
        last = self.items[self.state_items[-1]]
        return first.address, last.address + last.size - first.address

    def decode_signed(self, raw: int, size: int, sign_bit: int) -> int:
        """A present velocity/load/current value with the protocol's sign convention."""
        if sign_bit:
            magnitude = raw & ((1 << sign_bit) - 1)
            return -magnitude if raw & (1 << sign_bit) else magnitude
        bits = 8 * size
        return raw - (1 << bits) if raw & (1 << (bits - 1)) else raw

    def encode_signed(self, value: int, size: int, sign_bit: int) -> int:
        """Inverse of :meth:`decode_signed` (used by the emulator)."""
        if sign_bit:
            return (1 << sign_bit) | -value if value < 0 else value
        return value & ((1 << (8 * size)) - 1)

    def error_names(self, bits: int) -> tuple[str, ...]:
        """Names of the set error bits."""
        return tuple(name for bit, name in sorted(self.error_bits.items()) if bits & (1 << bit))

    def instruction_error(self, error_byte: int) -> str:
        """Name of the status packet's instruction error ('' when the instruction was carried out)."""
        if self.protocol == 2:
            code = error_byte & ~P2_ALERT_BIT
            return self.instruction_errors.get(code, f"error {code}") if code else ""
        return ", ".join(name for bit, name in sorted(self.instruction_errors.items()) if error_byte & (1 << bit))


PROTOCOL1 = ControlTable(
    protocol=1,
    model_number=310,
    items={
        "model_number": Item(0, 2),
        "firmware_version": Item(2, 1),
        "id": Item(3, 1),
        "baud_rate": Item(4, 1),
        "return_delay_time": Item(5, 1),
        "min_position_limit": Item(6, 2),
        "max_position_limit": Item(8, 2),
        "temperature_limit": Item(11, 1),
        "min_voltage_limit": Item(12, 1),
        "max_voltage_limit": Item(13, 1),
        "max_torque": Item(14, 2),
        "status_return_level": Item(16, 1),
        "alarm_led": Item(17, 1),
        "shutdown": Item(18, 1),
        "torque_enable": Item(24, 1),
        "led": Item(25, 1),
        "d_gain": Item(26, 1),
        "i_gain": Item(27, 1),
        "p_gain": Item(28, 1),
        "goal_position": Item(30, 2),
        "moving_speed": Item(32, 2),
        "torque_limit": Item(34, 2),
        "present_position": Item(36, 2),
        "present_speed": Item(38, 2),
        "present_load": Item(40, 2),
        "present_voltage": Item(42, 1),
        "present_temperature": Item(43, 1),
        "moving": Item(46, 1),
    },
    defaults={
        "model_number": 310, "firmware_version": 41, "id": 1, "baud_rate": 34, "return_delay_time": 250,
        "min_position_limit": 0, "max_position_limit": 4095, "temperature_limit": 80,
        "min_voltage_limit": 60, "max_voltage_limit": 160, "max_torque": 1023, "status_return_level": 2,
        "alarm_led": 36, "shutdown": 36, "p_gain": 32, "goal_position": CENTRE_TICK, "torque_limit": 1023,
    },
    eeprom_end=24,
    velocity_rpm_per_unit=0.114,
    velocity_sign_bit=10,
    effort_per_unit_nm=0.001 * STALL_TORQUE_NM,
    effort_sign_bit=10,
    voltage_v_per_unit=0.1,
    error_bits={0: "input_voltage", 1: "angle_limit", 2: "overheating", 3: "range", 4: "checksum", 5: "overload", 6: "instruction"},
    shutdown_errors=frozenset({"input_voltage", "overheating", "overload"}),
    instruction_errors={1: "angle_limit", 3: "range", 4: "checksum", 6: "instruction"},
    state_items=("present_position", "present_speed", "present_load", "present_voltage", "present_temperature"),
    present_effort_item="present_load",
    present_velocity_item="present_speed",
    velocity_limit_item="moving_speed",
    torque_limit_item="torque_limit",
    torque_limit_max_item="max_torque",
)

PROTOCOL2 = ControlTable(
    protocol=2,
    model_number=311,
    items={
        "model_number": Item(0, 2),
        "firmware_version": Item(6, 1),
        "id": Item(7, 1),
        "baud_rate": Item(8, 1),
        "return_delay_time": Item(9, 1),
        "drive_mode": Item(10, 1),
        "operating_mode": Item(11, 1),
        "homing_offset": Item(20, 4),
        "temperature_limit": Item(31, 1),
        "max_voltage_limit": Item(32, 2),
        "min_voltage_limit": Item(34, 2),
        "current_limit": Item(38, 2),
        "velocity_limit": Item(44, 4),
        "max_position_limit": Item(48, 4),
        "min_position_limit": Item(52, 4),
        "shutdown": Item(63, 1),
        "torque_enable": Item(64, 1),
        "led": Item(65, 1),
        "status_return_level": Item(68, 1),
        "hardware_error_status": Item(70, 1),
        "position_p_gain": Item(84, 2),
        "goal_current": Item(102, 2),
        "profile_velocity": Item(112, 4),
        "goal_position": Item(116, 4),
        "moving": Item(122, 1),
        "present_current": Item(126, 2),
        "present_velocity": Item(128, 4),
        "present_position": Item(132, 4),
        "velocity_trajectory": Item(136, 4),
        "position_trajectory": Item(140, 4),
        "present_input_voltage": Item(144, 2),
        "present_temperature": Item(146, 1),
    },
    defaults={
        "model_number": 311, "firmware_version": 45, "id": 1, "baud_rate": 1, "return_delay_time": 250,
        "operating_mode": 3, "temperature_limit": 80, "max_voltage_limit": 160, "min_voltage_limit": 95,
        "current_limit": 1941, "velocity_limit": 285, "max_position_limit": 4095, "min_position_limit": 0,
        "shutdown": 52, "status_return_level": 2, "position_p_gain": 850, "goal_current": 1941,
        "goal_position": CENTRE_TICK,
    },
    eeprom_end=64,
    velocity_rpm_per_unit=0.229,
    velocity_sign_bit=0,
    effort_per_unit_nm=0.00336 * STALL_TORQUE_NM / STALL_CURRENT_A,
    effort_sign_bit=0,
    voltage_v_per_unit=0.1,
    error_bits={0: "input_voltage", 2: "overheating", 3: "motor_encoder", 4: "electrical_shock", 5: "overload"},
    shutdown_errors=frozenset({"input_voltage", "overheating", "motor_encoder", "electrical_shock", "overload"}),
    instruction_errors={1: "result_fail", 2: "instruction", 3: "crc", 4: "data_range", 5: "data_length", 6: "data_limit", 7: "access"},
    state_items=("present_current", "present_velocity", "present_position", "velocity_trajectory", "position_trajectory", "present_input_voltage", "present_temperature"),
    present_effort_item="present_current",
    present_velocity_item="present_velocity",
    velocity_limit_item="profile_velocity",
    torque_limit_item="goal_current",
    torque_limit_max_item="current_limit",
)

OPERATING_MODE_POSITION = 3
OPERATING_MODE_CURRENT_BASED_POSITION = 5
P2_ALERT_BIT = 0x80


def control_table(protocol: int) -> ControlTable:
    """The MX-64 table for protocol 1 or 2."""
    return {1: PROTOCOL1, 2: PROTOCOL2}[protocol]


def radians_to_ticks(angle: float) -> int:
    """Motor angle (rad from centre) → position ticks."""
    return int(round(CENTRE_TICK + angle / RAD_PER_TICK))


def ticks_to_radians(ticks: int) -> float:
    """Position ticks → motor angle (rad from centre)."""
    return (ticks - CENTRE_TICK) * RAD_PER_TICK
