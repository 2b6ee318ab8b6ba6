"""``NodeProcesses``: the node graph as one OS process per node, supervised as ``ros2 launch`` does.

Under ``launch/bringup.launch.py`` every node is its own process (its own GIL, its own
DDS participant), respawned after a crash, and a Ctrl-C reaches all of them. Where
``ros2 launch`` is not installed (the pip set-up, ``paindiffusion demo``, the tests and
benchmarks), this runner does the same with the standard library:

- each node is ``python -m paindiffusion_ros.nodes.entry <module> --ros-args -r
  __node:=<name> --params-file F [--params-file OVERRIDES]`` (what the node's executable
  runs: stop signals caught before the module loads, then its ``main``; the same YAML as
  launch; the per-node overrides go in a second YAML file so their types survive);
- the children stay in the runner's process group, so a terminal Ctrl-C reaches each node
  directly, as under launch, and ``stop()`` forwards SIGINT once more (the double SIGINT
  every node must take calmly). A node is sent a stop signal only once it catches SIGTERM
  (``/proc/PID/status``): until its executable has installed its handlers, a signal
  would kill the half-started interpreter instead of stopping the node;
- a node that exits while the graph is running is started again after
  ``respawn_delay`` (launch's ``respawn``/``respawn_delay``), unless the graph is stopping
  or the node exited with ``CANNOT_START`` (its settings are wrong: starting it again
  cannot help; ``cannot_start()`` gives its one-line reason);
- the nodes get the Fast DDS profile ``config/fastdds.xml`` as under launch (a shared-memory
  segment that carries the 0.8 MB face images whole), unless the environment names one
  or another RMW (``dds_profile_env``);
- a node stops cleanly when the runner dies without stopping it (``nodes.entry``,
  ``PR_SET_PDEATHSIG``): Linux signals the death of the *thread* that started the node, so
  call ``start()`` from a thread that outlives the graph (respawns come from each node's
  supervising thread, which does);
- every start, exit and respawn is an ``Event`` (time, node, what, pid, exit status), and
  each node's output goes, line by line, to ``log_dir/<node>.log``, and that of the nodes
  named in ``echo`` also to the runner's stderr, prefixed ``[node]``.

``kill(name, signal)`` and ``pid(name)`` are there for fault campaigns (kill -9 a node,
SIGSTOP it, ...). Exit statuses follow ``subprocess``: negative = ended by that signal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Collection, Iterable, Optional, Sequence

import yaml

from ..nodes.entry import RUNNER_ENV
from ..nodes.spin import CANNOT_START
from ..paths import package_path

DDS_PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")
"""Fast DDS 3 (Kilted on, and the PyPI wheels) reads the first, Fast DDS 2 (Humble, Jazzy) the
second; only one is set: Fast DDS 3 reads both and would load the file twice."""
FAST_DDS_2_DISTROS = ("humble", "iron", "jazzy")
RESPAWN_DELAY_S = 0.2
"""Seconds between a node's exit and its restart (the launch file uses the same)."""
POLL_S = 0.02
"""How often a waiting respawn looks at the stop request."""
HANDLERS_TIMEOUT_S = 30.0
"""Longest wait for a starting node to install its signal handlers before it is signalled anyway."""
STOP_TIMEOUT_S = 15.0
"""How long ``stop()`` waits after SIGINT before it sends SIGTERM, then as long again before SIGKILL."""


class NodeProcessError(RuntimeError):
    """A graph that cannot be started (no parameters file, an unknown node)."""


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph: its name (also the YAML key and the executable name), the
    Python module whose ``main(args)`` runs it, parameter overrides on top of the parameters
    file (what launch's ``parameters=[file, {overrides}]`` does), an optional namespace and
    further ROS arguments (remappings: ``("-r", "/from:=/to")``)."""

    name: str
    module: str
    overrides: tuple[tuple[str, Any], ...] = ()
    namespace: str = ""
    ros_args: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The node's full name, unique in a graph (``/namespace/name``)."""
        return f"/{self.namespace.strip('/')}/{self.name}".replace("//", "/")


@dataclass(frozen=True)
class Event:
    """Something that happened to a node process: ``what`` is start, exit or respawn."""

    time: float
    node: str
    what: str
    pid: int
    returncode: Optional[int] = None


@dataclass
class _Managed:
    name: str
    spec: NodeSpec
    command: list[str]
    log: Optional[IO[str]]
    process: Optional[subprocess.Popen] = None
    starts: int = 0
    returncodes: list[int] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)


def _file_name(spec: NodeSpec) -> str:
    return spec.key.strip("/").replace("/", ".")


def node_command(spec: NodeSpec, params_file: Path, overrides_file: Optional[Path]) -> list[str]:
    """The command line that runs ``spec`` as its own process."""
    command = [sys.executable, "-m", "paindiffusion_ros.nodes.entry", spec.module, "--ros-args", "-r", f"__node:={spec.name}"]
    if spec.namespace:
        command += ["-r", f"__ns:=/{spec.namespace.strip('/')}"]
    command += ["--params-file", str(params_file)]
    if overrides_file is not None:
        command += ["--params-file", str(overrides_file)]
    return command + list(spec.ros_args)


def write_overrides(spec: NodeSpec, directory: Path) -> Optional[Path]:
    """A parameters YAML with ``spec``'s overrides (None when it has none)."""
    if not spec.overrides:
        return None
    path = directory / f"{_file_name(spec)}.overrides.yaml"
    path.write_text(yaml.safe_dump({f"/**/{spec.name}": {"ros__parameters": dict(spec.overrides)}}))
    return path


class NodeProcesses:
    """Runs ``specs`` as supervised child processes (see the module doc); a context manager."""

    def __init__(
        self,
        specs: Sequence[NodeSpec],
        params_file: Path,
        run_dir: Path,
        respawn: bool = True,
        respawn_delay: float = RESPAWN_DELAY_S,
        echo: Collection[str] = (),
        env: Optional[dict[str, str]] = None,
        stop_requested: Optional[threading.Event] = None,
    ) -> None:
        params_file = Path(params_file)
        if not params_file.is_file():
            raise NodeProcessError(f"parameters file {params_file} does not exist")
        names = [spec.key for spec in specs]
        if len(set(names)) != len(names):
            raise NodeProcessError(f"node names must be unique, got {names}")
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.respawn = respawn
        self.respawn_delay = respawn_delay
        self.echo = frozenset(echo)
        self.env = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1", **{RUNNER_ENV: str(os.getpid())})
        self.env.update(dds_profile_env(self.env))
        self.events: list[Event] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._stop_requested = stop_requested or self._stopping
        self._nodes: dict[str, _Managed] = {}
        for spec in specs:
            command = node_command(spec, params_file.resolve(), write_overrides(spec, self.run_dir))
            self._nodes[_file_name(spec)] = _Managed(_file_name(spec), spec, command, None)

    @property
    def names(self) -> list[str]:
        """The nodes' names (``namespace.name`` for a namespaced one), as the other methods take them."""
        return list(self._nodes)

    def log_path(self, name: str) -> Path:
        """Where node ``name``'s output goes (every run of it, appended)."""
        return self.run_dir / f"{name}.log"

    def start(self) -> "NodeProcesses":
        """Start every node; each gets a thread that waits for it and respawns it."""
        for managed in self._nodes.values():
            managed.log = open(self.log_path(managed.name), "a", encoding="utf-8", errors="replace")
            self._launch(managed, "start")
            self._thread(managed, self._supervise, f"supervise-{managed.name}", managed)
        return self

    @property
    def stopping(self) -> bool:
        """True once ``stop()`` was called or the owner's ``stop_requested`` event is set."""
        return self._stopping.is_set() or self._stop_requested.is_set()

    @staticmethod
    def _thread(managed: _Managed, target: Any, name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        managed.threads.append(thread)
        thread.start()

    def _record(self, name: str, what: str, pid: int, returncode: Optional[int] = None) -> None:
        with self._lock:
            self.events.append(Event(time.monotonic(), name, what, pid, returncode))

    def _launch(self, managed: _Managed, what: str) -> None:
        process = subprocess.Popen(
            managed.command, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, encoding="utf-8", errors="replace",
        )
        managed.process = process
        managed.starts += 1
        self._record(managed.name, what, process.pid)
        self._thread(managed, self._copy_output, f"output-{managed.name}", managed.name, process, managed.log)

    def _copy_output(self, name: str, process: subprocess.Popen, log: IO[str]) -> None:
        for line in process.stdout:
            log.write(line)
            log.flush()
            if name in self.echo:
                sys.stderr.write(f"[{name}] {line}")

    def _supervise(self, managed: _Managed) -> None:
        """Wait for the node; while the graph runs, start it again after ``respawn_delay``."""
        while True:
            process = managed.process
            returncode = process.wait()
            with self._lock:
                managed.returncodes.append(returncode)
            self._record(managed.name, "exit", process.pid, returncode)
            if returncode == CANNOT_START:
                return
            deadline = time.monotonic() + self.respawn_delay
            while self.respawn and not self.stopping and time.monotonic() < deadline:
                time.sleep(min(POLL_S, max(deadline - time.monotonic(), 0.0)))
            with self._lock:
                if not self.respawn or self.stopping:
                    return
                self._launch(managed, "respawn")

    def pid(self, name: str) -> int:
        """Process id of the current run of node ``name``."""
        return self._nodes[name].process.pid

    def alive(self, name: str) -> bool:
        process = self._nodes[name].process
        return process is not None and process.poll() is None

    def starts(self, name: str) -> int:
        """How often node ``name`` has been started (1 + respawns)."""
        return self._nodes[name].starts

    def cannot_start(self) -> dict[str, str]:
        """``{node: reason}`` for each node that exited because it cannot start for its
        settings (the reason is the ``cannot start: …`` line of its log)."""
        reasons = {}
        for name, codes in self.returncodes().items():
            if codes and codes[-1] == CANNOT_START:
                lines = [line for line in self.log_path(name).read_text(errors="replace").splitlines() if "cannot start: " in line]
                reasons[name] = lines[-1].split("cannot start: ", 1)[1] if lines else f"exit status {CANNOT_START}"
        return reasons

    def returncodes(self) -> dict[str, list[int]]:
        """Exit status of every finished run of each node, in order."""
        with self._lock:
            return {name: list(m.returncodes) for name, m in self._nodes.items()}

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` to node ``name``'s current process; returns its pid."""
        process = self._nodes[name].process
        process.send_signal(sig)
        return process.pid

    def forward(self, sig: int) -> None:
        """Send ``sig`` to every running node (SIGINT/SIGTERM once it can take them calmly,
        followed by SIGCONT, so a node stopped with SIGSTOP takes them too)."""
        for name, managed in self._nodes.items():
            if self.alive(name):
                if sig in (signal.SIGINT, signal.SIGTERM):
                    _wait_until_catching(managed.process, signal.SIGTERM, HANDLERS_TIMEOUT_S)
                managed.process.send_signal(sig)
                if sig in (signal.SIGINT, signal.SIGTERM):
                    managed.process.send_signal(signal.SIGCONT)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> dict[str, list[int]]:
        """Stop respawning, SIGINT every node (SIGTERM, then SIGKILL, for one that does not
        exit within ``timeout``), wait for all; returns ``returncodes()``."""
        with self._lock:
            self._stopping.set()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            self.forward(sig)
            deadline = time.monotonic() + timeout
            for managed in self._nodes.values():
                if managed.process is not None:
                    try:
                        managed.process.wait(max(deadline - time.monotonic(), 0.0))
                    except subprocess.TimeoutExpired:
                        pass
            if not any(self.alive(name) for name in self._nodes):
                break
        for managed in self._nodes.values():
            for thread in list(managed.threads):
                thread.join()
        for managed in self._nodes.values():
            if managed.log is not None:
                managed.log.close()
        return self.returncodes()

    def __enter__(self) -> "NodeProcesses":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def dds_profile_env(env: dict[str, str]) -> dict[str, str]:
    """The variables that point Fast DDS at ``config/fastdds.xml`` (what bringup.launch.py
    sets); none when ``env`` already names a profile or selects another RMW."""
    if env.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp") != "rmw_fastrtps_cpp" or any(env.get(v) for v in DDS_PROFILE_VARIABLES):
        return {}
    variable = DDS_PROFILE_VARIABLES[1] if env.get("ROS_DISTRO") in FAST_DDS_2_DISTROS else DDS_PROFILE_VARIABLES[0]
    return {variable: str(package_path("config", "fastdds.xml"))}


def catches(pid: int, sig: int) -> bool:
    """Whether process ``pid`` has a handler for ``sig`` (Linux ``/proc``; True where unknown)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            mask = next(int(line.split()[1], 16) for line in status if line.startswith("SigCgt:"))
    except (OSError, StopIteration, ValueError):
        return True
    return bool(mask >> (sig - 1) & 1)


def _wait_until_catching(process: subprocess.Popen, sig: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while process.poll() is None and not catches(process.pid, sig) and time.monotonic() < deadline:
        time.sleep(POLL_S)


def exited_cleanly(returncodes: dict[str, list[int]], names: Optional[Iterable[str]] = None) -> bool:
    """True when every run of the named nodes (default: all) exited with status 0."""
    wanted = returncodes if names is None else {n: returncodes[n] for n in names}
    return all(code == 0 for codes in wanted.values() for code in codes)
