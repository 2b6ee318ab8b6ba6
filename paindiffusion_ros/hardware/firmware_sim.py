"""The bridge firmware (``firmware/``) built with Debian's AVR toolchain and run in simavr.

``firmware/sim/bridge_sim.c`` runs the compiled sketch with its host link and its Dynamixel
line each on a pty, so the ``arduino`` backend and :class:`~.emulator.MX64Emulator` talk to
the real firmware binary (tests and benchmarks; needs a source checkout, as ``firmware/`` is
not part of the Python package).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
BUILD = FIRMWARE / "build"
BOARDS = {"mega": ("atmega2560", 115_200), "uno": ("atmega328p", 57_600)}
"""board → (MCU, host-link baud rate)."""
GRACE_MS = 500
"""How long the harness waits (wall clock) for a status packet before the firmware's own timeout runs."""
REPLY_TIMEOUT_S = 3.0
"""Host wait for a reply from the simulated bridge: simulated time runs at most as fast as the wall
clock and stands still while a status packet is awaited, so a READ whose motor stays silent takes
two graces (the firmware's two tries) instead of the board's 2 × 10 ms."""


class FirmwareError(RuntimeError):
    """The firmware could not be built or the simulator did not start."""


def build() -> None:
    """``make -C firmware``: both boards and the harness (a no-op when up to date)."""
    result = subprocess.run(["make", "-C", str(FIRMWARE), "-s"], capture_output=True, text=True)
    if result.returncode != 0:
        tools = subprocess.run(["make", "-C", str(FIRMWARE), "-s", "check-tools"], capture_output=True, text=True)
        raise FirmwareError(f"firmware build failed: {tools.stdout.strip() or result.stderr[-2000:]}")


class SimulatedBridge:
    """One ``bridge_sim`` process: the firmware ELF for ``board``, its host link on a pty at ``host_path``."""

    def __init__(self, board: str, host_path: Path, log_path: Path, dxl_path: Optional[str] = None, pot_mv: Optional[int] = None) -> None:
        """Start the simulator; returns once the host link's pty exists at ``host_path``."""
        mcu, self.baudrate = BOARDS[board]
        self.path = str(host_path)
        self.log_path = log_path
        command = [str(BUILD / "sim" / "bridge_sim"), "--mcu", mcu, "--elf", str(BUILD / board / "paindiffusion_bridge.elf"),
                   "--host", self.path, "--grace-ms", str(GRACE_MS)]
        if dxl_path is not None:
            command += ["--dxl", dxl_path]
        if pot_mv is not None:
            command += ["--pot-mv", str(pot_mv)]
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)
        ready = self.process.stdout.readline()
        if ready.strip() != "ready":
            self.stop()
            raise FirmwareError(f"bridge_sim did not start: {ready!r} {self.messages()}")

    def command(self, line: str) -> None:
        """A harness command: ``unplug``, ``replug``, ``pot MV``."""
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def messages(self) -> str:
        """What the harness reported (firmware crash, bytes lost on the Dynamixel line, …)."""
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
