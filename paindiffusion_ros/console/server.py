"""The console's web server (aiohttp): the operator page, the trainee page, their API and
the live WebSocket. It knows nothing of ROS: the node hands it a ``ControlPanel``,
``LiveData``, ``Recordings`` and the two actions that reach the graph (``RosActions``),
and runs it on a thread with its own asyncio loop.

Routes (access in brackets, see ``security.py``):

* ``GET /`` operator page, ``GET /trainee`` trainee page, ``/static/…`` their files [public]
* ``GET /api/state`` controls, recording, the trainee page's path (with its token) [operator]
* ``POST /api/control`` ``{"key": …, "value": …}`` set one control [operator]
* ``POST /api/recording`` ``{"action": "start" | "stop"}`` [operator]
* ``POST /api/rating`` ``{"value": 0…10}`` one trainee rating [trainee]
* ``GET /ws`` WebSocket: JSON updates (traces, diagnostics, controls, recording) at 10 Hz
  and the face as binary JPEG messages [operator]
* ``GET /reports/{session}/{file}`` a finished recording's report [operator]

Refusals are JSON ``{"ok": false, "reason": …}`` with a 4xx/5xx status.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import weakref
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional, Protocol

from aiohttp import WSMsgType, web

from ..session.rating import check_rating
from .controls import Control, ControlError, ControlPanel
from .live import LiveData
from .recording import Recordings
from .security import Access, Tokens, loopback_hosts, presented_token, refusal

STATIC = Path(__file__).resolve().parent / "static"
UPDATE_INTERVAL_S = 0.1
"""WebSocket update period: the traces and the newest face, 10 times a second."""
SLOW_INTERVAL_S = 0.5
"""Diagnostics and recording state go with every fifth update."""
SET_TIMEOUT_S = 10.0
"""Longest wait for a node to answer a parameter change."""
MAX_BODY_BYTES = 16 * 1024
REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
"""A report is one self-contained page: its own inline style and embedded images, no script."""
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class RosActions(Protocol):
    """What the web side asks of the ROS side."""

    def set_parameter(self, control: Control, value: Any) -> concurrent.futures.Future:
        """Set the control's parameter on its node; the future gives ``(successful, reason)``."""

    def publish_rating(self, value: float) -> None:
        """Publish one trainee rating on ``/trainee/rating``."""


class Refused(Exception):
    """A request answered with ``status`` and ``reason``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def refused(status: int, reason: str) -> web.Response:
    return web.json_response({"ok": False, "reason": reason}, status=status)


def access_of(path: str) -> Access:
    if path == "/api/rating":
        return Access.TRAINEE
    if path.startswith(("/api/", "/reports/")) or path == "/ws":
        return Access.OPERATOR
    return Access.PUBLIC


async def read_json(request: web.Request, keys: set[str]) -> dict[str, Any]:
    """The request's JSON object, which must have exactly ``keys``."""
    if request.content_type != "application/json":
        raise Refused(415, "send the request as JSON (Content-Type: application/json)")
    try:
        body = json.loads(await request.text())
    except ValueError:
        raise Refused(400, "the request body is not valid JSON") from None
    if not isinstance(body, dict) or set(body) != keys:
        raise Refused(400, f"expected a JSON object with exactly the keys {', '.join(sorted(keys))}")
    return body


class ConsoleServer:
    """The web side of the operator console, served from its own thread."""

    def __init__(
        self,
        host: str,
        port: int,
        tokens: Tokens,
        panel: ControlPanel,
        live: LiveData,
        actions: RosActions,
        recordings: Recordings,
    ) -> None:
        self.host, self.port, self.tokens = host, port, tokens
        self.panel, self.live, self.actions, self.recordings = panel, live, actions, recordings
        self.allowed_hosts = loopback_hosts(host, port)
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._runner: Optional[web.AppRunner] = None
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self._thread: Optional[threading.Thread] = None
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None

    @property
    def clients(self) -> int:
        """Browsers connected to the live WebSocket."""
        return len(self._sockets)

    def url(self, path: str = "/", token: Optional[str] = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}" + (f"?token={token}" if token else "")

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_BODY_BYTES)
        app.router.add_get("/", self._page("console.html"))
        app.router.add_get("/trainee", self._page("trainee.html"))
        app.router.add_static("/static/", STATIC, follow_symlinks=False)
        app.router.add_get("/api/state", self._state)
        app.router.add_post("/api/control", self._control)
        app.router.add_post("/api/recording", self._recording)
        app.router.add_post("/api/rating", self._rating)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/reports/{name}/{file}", self._report)
        return app

    @staticmethod
    def _page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            return web.FileResponse(STATIC / name)

        return serve

    @web.middleware
    async def _guard(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        problem = refusal(
            access_of(request.path),
            self.tokens,
            presented_token(request.headers, request.query),
            request.host,
            self.allowed_hosts,
            request.headers.get("Origin"),
            changes=request.method not in ("GET", "HEAD") or request.path == "/ws",
        )
        if problem is not None:
            response: web.StreamResponse = refused(*problem)
        else:
            try:
                response = await handler(request)
            except Refused as error:
                response = refused(error.status, error.reason)
        if not isinstance(response, web.WebSocketResponse):
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        return response

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response({
            "controls": self.panel.snapshot(),
            "recording": self.recordings.state(),
            "trainee_path": "/trainee" + (f"?token={self.tokens.trainee}" if self.tokens.trainee else ""),
            "window": self.live.window,
        })

    async def _control(self, request: web.Request) -> web.Response:
        body = await read_json(request, {"key", "value"})
        try:
            control, value = self.panel.validate(body["key"], body["value"])
        except ControlError as error:
            raise Refused(422, str(error)) from None
        node = self.panel.node_names[control.role]
        try:
            successful, reason = await asyncio.wait_for(asyncio.wrap_future(self.actions.set_parameter(control, value)), SET_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise Refused(504, f"no answer from {node} within {SET_TIMEOUT_S:.0f} s") from None
        except ControlError as error:
            raise Refused(503, str(error)) from None
        if not successful:
            raise Refused(422, f"{node} refused {control.parameter} = {value!r}: {reason}")
        return web.json_response({"ok": True, "key": control.key, "value": value})

    async def _recording(self, request: web.Request) -> web.Response:
        body = await read_json(request, {"action"})
        actions = {"start": self.recordings.start, "stop": self.recordings.stop}
        if body["action"] not in actions:
            raise Refused(400, f"action must be start or stop, got {body['action']!r}")
        try:
            return web.json_response({"ok": True, "recording": await actions[body["action"]]()})
        except ControlError as error:
            raise Refused(409, str(error)) from None

    async def _rating(self, request: web.Request) -> web.Response:
        body = await read_json(request, {"value"})
        try:
            value = check_rating(body["value"])
        except ValueError as error:
            raise Refused(422, str(error)) from None
        self.actions.publish_rating(value)
        self.live.add("rating", value, force=True)
        return web.json_response({"ok": True, "value": value})

    async def _report(self, request: web.Request) -> web.StreamResponse:
        try:
            path = self.recordings.report_file(request.match_info["name"], request.match_info["file"])
        except FileNotFoundError as error:
            raise Refused(404, str(error)) from None
        return web.FileResponse(path, headers={"Content-Security-Policy": REPORT_POLICY})

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
        await socket.prepare(request)
        self._sockets.add(socket)
        reader = asyncio.ensure_future(self._ignore_incoming(socket))
        cursors: dict[str, float] = {}
        face, revision, slow = 0, -1, 0.0
        try:
            while not reader.done() and not socket.closed:
                message: dict[str, Any] = {"type": "update", "now": self.live.now(), "traces": self.live.traces_after(cursors)}
                if self.panel.revision != revision:
                    revision = self.panel.revision
                    message["controls"] = self.panel.snapshot()
                if message["now"] >= slow:
                    slow = message["now"] + SLOW_INTERVAL_S
                    message["diagnostics"] = self.live.diagnostics()
                    message["recording"] = self.recordings.state()
                await socket.send_json(message)
                latest = self.live.face
                if latest is not None and latest.sequence != face:
                    face = latest.sequence
                    await socket.send_bytes(latest.data)
                await asyncio.sleep(UPDATE_INTERVAL_S)
        except (ConnectionResetError, RuntimeError):
            pass  # the browser went away mid-send
        finally:
            reader.cancel()
            await socket.close()
        return socket

    @staticmethod
    async def _ignore_incoming(socket: web.WebSocketResponse) -> None:
        """Read (and drop) what the page sends, so a close from the browser is seen."""
        async for message in socket:
            if message.type == WSMsgType.ERROR:
                break

    @property
    def serving(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._error is None

    def start(self, timeout: float = 30.0) -> None:
        """Serve from a new thread; returns once listening (``port`` 0 becomes the port taken).
        OSError (e.g. the port is in use) is raised here, and ``start`` may be tried again."""
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._serve, name="console-web", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the console's web server did not start within {timeout:.0f} s")
        if self._error is not None:
            raise self._error

    def _serve(self) -> None:
        self.loop = loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
            loop.run_until_complete(self._runner.setup())
            loop.run_until_complete(web.TCPSite(self._runner, self.host, self.port, reuse_address=True).start())
            self.port = self._runner.addresses[0][1]
            self.allowed_hosts = loopback_hosts(self.host, self.port)
        except BaseException as error:  # reported to start()'s caller
            self._error = error
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.close()
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()

    def stop(self, timeout: float = 90.0) -> None:
        """Close a running recording (its bag is finished), the WebSockets and the server; idempotent."""
        if self.loop is None or not self.serving:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)

    async def _shutdown(self) -> None:
        await self.recordings.close()
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
