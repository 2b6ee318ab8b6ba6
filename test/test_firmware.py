"""The real bridge firmware (firmware/paindiffusion_bridge) between the ``arduino`` backend and the MX-64 emulator.

The sketch is compiled for the Mega 2560 and the Uno with Debian's AVR toolchain and run in simavr
(firmware/sim/bridge_sim.c): the backend talks to the simulated board's host link (Mega: USART1;
Uno: SoftwareSerial on D7/D8, bit by bit), the emulated MX-64 answers on its Dynamixel line (USART0
through the shield's half-duplex direction pin). Same reads, modes and faults as test_hw_arduino.py,
now through the firmware binary. The harness reports bytes the firmware would lose on the half-duplex
line; every test ends with none reported.
"""

import math
import re
import subprocess
import time

import pytest
import serial

from elbow_reads import Hand, read_fresh
from paindiffusion_ros.hardware import mx64
from paindiffusion_ros.hardware.arduino import format_line, parse_line
from paindiffusion_ros.hardware.base import ElbowConfig, make_backend
from paindiffusion_ros.hardware.emulator import MX64Emulator, parse_protocol1
from paindiffusion_ros.hardware.firmware_sim import BUILD, REPLY_TIMEOUT_S, SimulatedBridge, build

QUANTUM = mx64.RAD_PER_TICK / 2 + 0.5e-3 + 1e-5
"""Angle resolution through the bridge: the MX-64's tick (±half) and the line protocol's mrad (±half)."""


@pytest.fixture(scope="module", autouse=True)
def firmware():
    build()


@pytest.fixture
def bench(tmp_path):
    """connect(board, protocol) → (emulator or None, simulated bridge, opened arduino elbow)."""
    hand = Hand(0.3)
    parts = []

    def connect(board="mega", protocol=2, pot_mv=None, **changes):
        emulator = None
        if protocol:
            emulator = MX64Emulator(str(tmp_path / "ttyDXL"), protocol=protocol, hand=hand).start()
            parts.append(emulator)
        bridge = SimulatedBridge(board, tmp_path / "ttyUSB0", tmp_path / "bridge_sim.log",
                                 dxl_path=emulator.path if emulator else None, pot_mv=pot_mv)
        parts.append(bridge)
        settings = dict(backend="arduino", port=bridge.path, baudrate=bridge.baudrate,
                        reconnect_min_s=0.02, reconnect_max_s=0.1, lower_limit=-2.0, upper_limit=2.0)
        settings.update(changes)
        elbow = make_backend(ElbowConfig(**settings))
        elbow.reply_timeout = REPLY_TIMEOUT_S
        parts.append(elbow)
        elbow.open()
        return emulator, bridge, elbow

    yield hand, connect
    messages = ""
    for part in reversed(parts):
        if isinstance(part, SimulatedBridge):
            alive = part.process.poll() is None
            part.stop()
            messages = part.messages()
            assert alive, f"bridge_sim exited: {messages}"
        elif isinstance(part, MX64Emulator):
            part.stop()
        else:
            part.close()
    assert messages == "", messages


MOTORS = [pytest.param("mega", 2, id="mega-dxl2"), pytest.param("mega", 1, id="mega-dxl1"), pytest.param("uno", 2, id="uno-dxl2")]


def test_sketch_fits_the_boards():
    sizes = {}
    for board, flash, ram in (("uno", 32_256, 2_048), ("mega", 253_952, 8_192)):  # flash less the bootloader
        elf = BUILD / board / "paindiffusion_bridge.elf"
        out = subprocess.run(["avr-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
        section = {name: int(size) for name, size in re.findall(r"^\.(\w+)\s+(\d+)", out, re.MULTILINE)}
        sizes[board] = (section["text"] + section["data"], section["data"] + section["bss"])
        assert sizes[board][0] < flash and sizes[board][1] < ram // 2, sizes  # half the RAM left for the stack


def test_a_protocol1_motor_ignores_a_protocol2_ping():
    """Start-up detection pings P2.0 first; an MX-64 on P1.0 must see no packet in it."""
    buffer = bytearray(bytes.fromhex("ffff fd00 0103 0001 194e") + bytes.fromhex("ffff 0102 01fb"))
    instruction = parse_protocol1(buffer)
    assert instruction is not None and instruction.motor_id == 1 and instruction.code == 1 and instruction.intact


@pytest.mark.parametrize("board,protocol", MOTORS)
def test_handshake_then_angles_within_the_resolution(bench, board, protocol):
    hand, connect = bench
    _, _, elbow = connect(board, protocol)
    assert elbow.source == f"dxl{protocol}"
    for angle in (-0.9, 0.0, 0.42, 1.3):
        hand.angle = angle
        assert read_fresh(elbow).position == pytest.approx(angle, abs=QUANTUM)
    status = elbow.status()
    assert status.connected and status.temperature_c == 36.0 and status.voltage_v == pytest.approx(12.0)
    assert status.comm_errors == 0 and status.level == 0, status


@pytest.mark.parametrize("protocol", [2, 1])
def test_velocity_and_effort_are_scaled_like_the_motor_reports_them(bench, protocol):
    hand, connect = bench
    emulator, _, elbow = connect("mega", protocol, mode="hold", direction=-1)
    table = emulator.table
    hand.angle = 0.8
    state = read_fresh(elbow)
    raw = table.decode_signed(emulator.peek(table.present_effort_item), 2, table.effort_sign_bit)
    assert raw != 0 and state.effort == pytest.approx(-raw * table.effort_per_unit_nm, abs=1e-3)
    elbow.set_mode("compliant")
    hand.sweep(0.0, 0.5)
    state = read_fresh(elbow)
    speed_item = table[table.present_velocity_item]
    raw = table.decode_signed(emulator.peek(table.present_velocity_item), speed_item.size, table.velocity_sign_bit)
    assert abs(raw) > 10 and state.velocity == pytest.approx(-raw * table.velocity_rpm_per_unit * mx64.RPM_TO_RAD_S, abs=1e-3)


@pytest.mark.parametrize("board,protocol", MOTORS)
def test_modes_configure_the_motor(bench, board, protocol):
    hand, connect = bench
    emulator, _, elbow = connect(board, protocol, resist_effort=0.4)
    table = emulator.table
    full = emulator.peek(table.torque_limit_max_item)
    elbow.set_mode("hold")
    assert emulator.peek("torque_enable") == 1 and elbow.status().torque_enabled
    assert emulator.peek(table.torque_limit_item) == full
    assert emulator.peek("goal_position") == mx64.radians_to_ticks(0.3)
    if protocol == 2:
        assert emulator.peek("operating_mode") == mx64.OPERATING_MODE_POSITION
    hand.angle = 1.0
    assert read_fresh(elbow).effort != 0.0
    elbow.set_mode("resist")
    assert emulator.peek("torque_enable") == 1 and emulator.peek(table.torque_limit_item) == round(0.4 * full)
    if protocol == 2:
        assert emulator.peek("operating_mode") == mx64.OPERATING_MODE_CURRENT_BASED_POSITION
    elbow.set_mode("compliant")
    assert emulator.peek("torque_enable") == 0 and not elbow.status().torque_enabled
    assert elbow.status().level == 0, elbow.status()


def test_hold_anchors_at_the_joint_limit_when_the_arm_is_past_it(bench):
    hand, connect = bench
    emulator, _, elbow = connect("mega", 1)
    emulator.poke("max_position_limit", mx64.radians_to_ticks(0.5))
    hand.angle = 0.9
    elbow.set_mode("hold")
    assert emulator.peek("torque_enable") == 1 and emulator.peek("goal_position") == mx64.radians_to_ticks(0.5)


@pytest.mark.parametrize("board", ["mega", "uno"])
def test_potentiometer_bridge_reads_a0_and_refuses_torque_modes(bench, board):
    _, connect = bench
    _, bridge, elbow = connect(board, protocol=None, pot_mv=3000, mode="hold")
    assert elbow.source == "pot"
    status = elbow.status()
    assert not status.torque_enabled and "no motor" in status.message
    assert math.isnan(status.temperature_c) and math.isnan(status.voltage_v)
    for millivolts in (3000, 1200):
        bridge.command(f"pot {millivolts}")
        adc = millivolts * 1023 // 5000  # simavr's ADC: Vin · 1023 / AVCC
        expected = round((2 * adc - 1023) * 5236 / 2046) / 1000.0  # 300° potentiometer, centre = 0
        deadline = time.monotonic() + 5.0
        while (position := read_fresh(elbow).position) != pytest.approx(expected, abs=1e-9) and time.monotonic() < deadline:
            pass
        assert position == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("protocol", [2, 1])
def test_dynamixel_line_faults_are_retried_by_the_bridge(bench, protocol):
    hand, connect = bench
    emulator, _, elbow = connect("mega", protocol)
    hand.angle = 0.8
    emulator.corrupt_replies(1)
    assert read_fresh(elbow).position == pytest.approx(0.8, abs=QUANTUM)
    hand.angle = -0.4
    emulator.drop_replies(1)
    assert read_fresh(elbow).position == pytest.approx(-0.4, abs=QUANTUM)
    status = elbow.status()
    assert status.errors == () and status.comm_errors == 0 and status.level == 0, status


def test_a_silent_motor_is_reported_and_found_again(bench):
    hand, connect = bench
    emulator, _, elbow = connect("mega", 2, mode="hold")
    emulator.mute()
    read_fresh(elbow)
    status = elbow.status()
    assert status.connected and "motor_lost" in status.errors and status.level == 2
    hand.angle = -0.3
    emulator.mute(False)
    read_fresh(elbow)  # the motor answers again: the bridge applies hold anew, at the present angle
    assert elbow.status().errors == () and elbow.status().torque_enabled
    assert emulator.peek("torque_enable") == 1 and emulator.peek("goal_position") == mx64.radians_to_ticks(-0.3)
    assert read_fresh(elbow).position == pytest.approx(-0.3, abs=QUANTUM)


def test_a_pulled_dynamixel_cable_is_reported_and_torque_comes_back_with_it(bench):
    hand, connect = bench
    emulator, _, elbow = connect("mega", 2, mode="hold")
    emulator.unplug()
    read_fresh(elbow)
    assert "motor_lost" in elbow.status().errors
    emulator.poke("torque_enable", 0)  # the motor lost power with its cable
    emulator.replug()
    hand.angle = 0.6
    deadline = time.monotonic() + 10.0
    while elbow.status().errors and time.monotonic() < deadline:
        read_fresh(elbow)
    assert elbow.status().errors == () and emulator.peek("torque_enable") == 1
    assert emulator.peek("goal_position") == mx64.radians_to_ticks(0.6)


def test_host_adapter_unplug_and_replug_reconnects(bench):
    hand, connect = bench
    emulator, bridge, elbow = connect("mega", 2, mode="hold")
    bridge.command("unplug")
    deadline = time.monotonic() + 5.0
    while elbow.status().connected and time.monotonic() < deadline:
        elbow.read()
    assert not elbow.status().connected
    bridge.command("replug")
    hand.angle = -0.5
    deadline = time.monotonic() + 10.0
    while not elbow.status().connected and time.monotonic() < deadline:
        elbow.read()
        time.sleep(0.01)
    assert elbow.status().reconnects == 1 and elbow.status().mode == "hold"
    assert emulator.peek("torque_enable") == 1
    assert read_fresh(elbow).position == pytest.approx(-0.5, abs=QUANTUM)


@pytest.mark.parametrize("protocol", [2, 1])
@pytest.mark.parametrize("fault", ["overheating", "overload"])
def test_motor_faults_drop_torque_and_are_reported(bench, protocol, fault):
    _, connect = bench
    emulator, _, elbow = connect("mega", protocol, mode="hold")
    emulator.overheat() if fault == "overheating" else emulator.overload()
    read_fresh(elbow)
    status = elbow.status()
    assert fault in status.errors and not status.torque_enabled and status.level == 2, status
    assert emulator.peek("torque_enable") == 0
    elbow.set_mode("resist")
    assert emulator.peek("torque_enable") == 0 and "refused" in elbow.status().message


@pytest.mark.parametrize("protocol", [2, 1])
def test_hold_after_the_motor_cooled_down_is_entered_again(bench, protocol):
    """P1.0 drops the error bit when the cause is gone; P2.0 latches it until the bridge reboots the motor."""
    _, connect = bench
    emulator, _, elbow = connect("mega", protocol, mode="hold")
    emulator.overheat(85.0)
    read_fresh(elbow)
    elbow.set_mode("hold")
    assert "hold refused: the motor reports overheating" in elbow.status().message
    emulator.overheat(40.0)
    elbow.set_mode("hold")
    read_fresh(elbow)
    status = elbow.status()
    assert status.torque_enabled and emulator.peek("torque_enable") == 1
    assert status.errors == () and status.level == 0, status


def test_close_turns_torque_off(bench):
    _, connect = bench
    emulator, _, elbow = connect("uno", 2, mode="hold")
    assert emulator.peek("torque_enable") == 1
    elbow.close()
    assert emulator.peek("torque_enable") == 0


def test_bad_lines_are_answered_and_overlong_ones_dropped(bench):
    """The host link straight from a serial port: what the firmware answers to each line."""
    hand, connect = bench
    _, bridge, elbow = connect("mega", 2)
    elbow.close()
    with serial.Serial(bridge.path, bridge.baudrate, timeout=REPLY_TIMEOUT_S) as port:

        def ask(raw):
            port.reset_input_buffer()
            port.write(raw)
            return port.readline().decode("ascii")

        assert ask(b"READ*00\n") == format_line("ERR", "checksum") + "\r\n"
        assert ask(b"READ\n") == format_line("ERR", "checksum") + "\r\n"
        for fields in (("FOO",), ("MODE", "sideways", "300"), ("TORQUE", "2"), ("READ", "now")):
            assert ask((format_line(*fields) + "\n").encode()) == format_line("ERR", "command") + "\r\n", fields
        port.write(b"X" * 100 + b"\n")
        assert ask((format_line("HELLO", "1") + "\r\n").encode()) == format_line("PDB", "1", "dxl2") + "\r\n"
        hand.angle = 0.3
        reply = parse_line(ask((format_line("READ") + "\n").encode()))
        assert reply[0] == "A" and reply[2] == "301" and reply[5:] == ["36", "120", "00", "0"]


def test_the_readme_session_is_what_the_firmware_says(bench):
    hand, connect = bench
    _, bridge, elbow = connect("mega", 2)
    elbow.close()
    readme = (BUILD.parent / "README.md").read_text()
    session = [line for line in readme.splitlines() if line.startswith(("> ", "< "))]
    hand.angle = 0.3
    with serial.Serial(bridge.path, bridge.baudrate, timeout=REPLY_TIMEOUT_S) as port:
        for request, reply in zip(session[::2], session[1::2]):
            port.write((request[2:] + "\n").encode())
            assert port.readline().decode("ascii").rstrip("\r\n") == reply[2:]
