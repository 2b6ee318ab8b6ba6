"""Session recordings started and stopped from the console, and their reports.

A recording is the project's recorder (``python -m paindiffusion_ros.session.recorder``,
``BagRecorder``) in its own process, so a long recording never competes with the web
server for the interpreter and a crash of either leaves the other running. Stopping sends
SIGINT: the recorder drains what DDS still delivers and closes the bag. Then
``paindiffusion report`` runs, also in its own process, and the console links to its
``report.html``. Each recording is a folder ``RECORD_DIR/session_YYYYmmdd_HHMMSS/`` with
``bag/`` (rosbag2, MCAP), ``report/``, and the two processes' logs.

All methods run on the web server's asyncio loop.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Optional, Sequence

from .controls import ControlError

SESSION_NAME = re.compile(r"^session_\d{8}_\d{6}(_\d+)?$")
REPORT_FILE = re.compile(r"^[a-z_]+\.(html|png|json)$")
READY_TIMEOUT_S = 120.0
"""Longest wait for a new recorder process to start recording."""
STOP_TIMEOUT_S = 60.0
"""Longest wait for the recorder to close its bag after SIGINT before it is killed."""


@dataclass
class Session:
    """One recording and what became of its report."""

    name: str
    folder: Path
    started: float
    stopped: Optional[float] = None
    report: str = "not started"
    """``not started``, ``running``, ``ready`` or ``failed``."""
    message: str = ""

    @property
    def bag(self) -> Path:
        return self.folder / "bag"

    @property
    def report_dir(self) -> Path:
        return self.folder / "report"

    def to_dict(self) -> dict:
        end = self.stopped if self.stopped is not None else time.monotonic()
        return {
            "name": self.name,
            "seconds": end - self.started,
            "report": self.report,
            "message": self.message,
            "report_url": f"/reports/{self.name}/report.html" if self.report == "ready" else None,
        }


def last_line(path: Path) -> str:
    """The last non-empty line of a log file ('' if none)."""
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


class Recordings:
    """Starts/stops the recorder process and runs the report when a recording ends.

    ``listeners()`` counts the subscribers of a topic the console publishes (the trainee
    rating): a new recorder is recording once it has subscribed there, so ``start``
    returns only then and no rating given after "recording" shows is lost.
    """

    def __init__(self, record_dir: Path, topics: Sequence[str], listeners: Callable[[], int]) -> None:
        self.record_dir = Path(record_dir).expanduser()
        self.topics = list(topics)
        self.listeners = listeners
        self.current: Optional[Session] = None
        self.last: Optional[Session] = None
        self.error = ""
        self._starting = False
        self._recorder: Optional[asyncio.subprocess.Process] = None
        self._report: Optional[asyncio.subprocess.Process] = None
        self._tasks: set[asyncio.Task] = set()

    def state(self) -> dict:
        return {
            "recording": self.current is not None,
            "current": self.current.to_dict() if self.current else None,
            "last": self.last.to_dict() if self.last else None,
            "error": self.error,
            "record_dir": str(self.record_dir),
        }

    def _new_session(self) -> Session:
        stem = datetime.now().strftime("session_%Y%m%d_%H%M%S")
        name, n = stem, 1
        while (self.record_dir / name).exists():
            n += 1
            name = f"{stem}_{n}"
        folder = self.record_dir / name
        folder.mkdir(parents=True)
        return Session(name, folder, time.monotonic())

    async def start(self) -> dict:
        """Start the recorder; returns once it records (ControlError with the reason if it does not)."""
        if self.current is not None or self._starting:
            raise ControlError(f"already recording {self.current.name}" if self.current else "a recording is starting")
        self._starting = True
        try:
            return await self._start()
        finally:
            self._starting = False

    async def _start(self) -> dict:
        try:
            session = self._new_session()
        except OSError as error:
            raise ControlError(f"cannot create a recording folder in {self.record_dir}: {error}") from None
        before = self.listeners()
        log = (session.folder / "recorder.log").open("wb")
        try:
            self._recorder = process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "paindiffusion_ros.session.recorder", str(session.bag), *self.topics,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
            )
        finally:
            log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while self.listeners() <= before and process.returncode is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if process.returncode is not None or self.listeners() <= before:
            if process.returncode is None:
                process.kill()
            status = await process.wait()
            self.last = session
            session.report, session.message = "failed", "no recording"
            raise ControlError(f"the recorder did not start (exit status {status}): {last_line(session.folder / 'recorder.log')}")
        session.started = time.monotonic()
        self.current, self.error = session, ""
        self._spawn(self._watch(process, session))
        return self.state()

    async def _watch(self, process: asyncio.subprocess.Process, session: Session) -> None:
        """A recorder that exits by itself (a crash, a full disk) ends the recording with its reason."""
        status = await process.wait()
        if self.current is session:
            self.current = None
            self.error = f"the recorder stopped by itself (exit status {status}): {last_line(session.folder / 'recorder.log')}"
            await self._finish(session)

    async def stop(self, report: bool = True) -> dict:
        """End the recording (the bag is closed by the recorder), then make its report."""
        if self.current is None or self._recorder is None:
            raise ControlError("not recording")
        session, process, self.current = self.current, self._recorder, None
        process.send_signal(signal.SIGINT)
        try:
            status = await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except asyncio.TimeoutError:
            process.kill()
            status = await process.wait()
            self.error = f"the recorder did not close the bag within {STOP_TIMEOUT_S:.0f} s and was killed"
        if status != 0 and not self.error:
            self.error = f"the recorder exited with status {status}: {last_line(session.folder / 'recorder.log')}"
        await self._finish(session, report)
        return self.state()

    async def _finish(self, session: Session, report: bool = True) -> None:
        session.stopped = time.monotonic()
        self.last = session
        if not (session.bag / "metadata.yaml").exists():
            session.report, session.message = "failed", "the recording left no complete bag"
        elif report:
            session.report = "running"
            self._spawn(self._make_report(session))
        else:
            session.message = f"no report made (the console was closing): paindiffusion report {session.bag}"

    async def _make_report(self, session: Session) -> None:
        log = (session.folder / "report.log").open("wb")
        try:
            self._report = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "paindiffusion_ros.cli", "report", str(session.bag), "--out", str(session.report_dir),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
            )
        finally:
            log.close()
        status = await self._report.wait()
        self._report = None
        if status == 0 and (session.report_dir / "report.html").exists():
            session.report, session.message = "ready", json.loads((session.report_dir / "report.json").read_text())["summary"]
        else:
            session.report, session.message = "failed", last_line(session.folder / "report.log")

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def report_file(self, name: str, filename: str) -> Path:
        """A file of a finished recording's report; FileNotFoundError for anything else."""
        if not SESSION_NAME.match(name) or not REPORT_FILE.match(filename):
            raise FileNotFoundError(f"no report file {name}/{filename}")
        path = self.record_dir / name / "report" / filename
        if not path.is_file():
            raise FileNotFoundError(f"no report file {name}/{filename}")
        return path

    async def close(self) -> None:
        """Stop a running recording (the bag is closed properly; no report) and end a running report."""
        if self.current is not None:
            await self.stop(report=False)
        if self._report is not None:
            self._report.terminate()
            await self._report.wait()
        for task in list(self._tasks):
            task.cancel()
