"""Helpers for the browser tests: Debian's headless chromium through its chromedriver, a
process whose output lines are kept, and polling with a deadline."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Optional, Sequence, TypeVar

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

T = TypeVar("T")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
)
SCREENSHOTS = os.environ.get("PAINDIFFUSION_SCREENSHOTS", "")
"""Folder into which the browser tests also write the README's pictures (``make screenshots``)."""


def chromium(profile: Path, width: int = 1400, height: int = 900) -> webdriver.Chrome:
    """A fresh headless chromium (its own profile folder), driven by chromedriver."""
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.fail("the browser tests need Debian's chromium and chromium-driver: `make test` installs them (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def until(condition: Callable[[], Optional[T]], timeout: float, what: str, poll: float = 0.1) -> T:
    """Poll ``condition`` until it returns something truthy; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


class Process:
    """A child process whose output (stdout and stderr, split at newlines and carriage
    returns, as progress bars write them) is collected by a thread."""

    def __init__(self, command: Sequence[str], cwd: Optional[Path] = None) -> None:
        self.popen = subprocess.Popen(list(command), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        pending = b""
        while chunk := os.read(self.popen.stdout.fileno(), 65536):
            parts = re.split(rb"[\r\n]", pending + chunk)
            pending = parts.pop()
            with self._lock:
                self.lines.extend(p.decode(errors="replace") for p in parts if p.strip())
        if pending.strip():
            with self._lock:
                self.lines.append(pending.decode(errors="replace"))

    def output(self) -> str:
        with self._lock:
            return "\n".join(line for line in self.lines if "it/s]" not in line and "s/s]" not in line)

    def match(self, pattern: str, timeout: float) -> re.Match:
        """The first output line matching ``pattern`` (waits for it; fails if the process ends first)."""
        compiled = re.compile(pattern)

        def found() -> Optional[re.Match]:
            with self._lock:
                hit = next((m for line in self.lines if (m := compiled.search(line))), None)
            if hit is None and self.popen.poll() is not None:
                raise AssertionError(f"the process ended (status {self.popen.returncode}) before printing {pattern!r}:\n{self.output()[-3000:]}")
            return hit

        try:
            return until(found, timeout, f"{pattern!r} in the output of {self.popen.args[:4]}")
        except AssertionError:
            self.end()  # a fixture that fails here has no teardown: the process must not outlive the test
            raise

    def end(self, timeout: float = 120.0) -> None:
        """Stop the process as Ctrl-C would (its children with it), killing it if that takes too long."""
        try:
            self.interrupt(timeout)
        except AssertionError:
            pass

    def interrupt(self, timeout: float) -> int:
        """SIGINT (Ctrl-C), then the exit status; killed, and a failure, if it does not end in time."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
        try:
            status = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise AssertionError(f"{self.popen.args[:4]} did not end within {timeout:.0f} s of SIGINT:\n{self.output()[-3000:]}") from None
        self._reader.join(5.0)
        return status
