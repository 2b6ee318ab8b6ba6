"""Who may use the console: a console on a non-loopback interface needs its tokens.

The ``operator_console`` node runs in its own process (no other node: access rules need
no graph) on 0.0.0.0 with a free port; requests go to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import sys
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import aiohttp
import pytest
from selenium.webdriver.common.by import By

from browser import Process, chromium, until

TIMEOUT_S = 120.0


class Console:
    """An operator console that must generate and print its tokens."""

    def __init__(self, record_dir, port: int = 0) -> None:
        self.process = Process([
            sys.executable, "-m", "paindiffusion_ros.nodes.operator_console", "--ros-args",
            "-p", "host:=0.0.0.0", "-p", f"port:={port}", "-p", f"record_dir:={record_dir}",
        ])


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    served = Console(tmp_path_factory.mktemp("recordings"))
    operator = served.process.match(r"operator console: http://0\.0\.0\.0:(\d+)/\?token=(\S+)", TIMEOUT_S)
    trainee = served.process.match(r"trainee page: http://0\.0\.0\.0:\d+/trainee\?token=(\S+)", TIMEOUT_S)
    served.base = f"http://127.0.0.1:{operator.group(1)}"
    served.port = int(operator.group(1))
    served.token, served.trainee_token = operator.group(2), trainee.group(1)
    yield served
    assert served.process.interrupt(60.0) == 0


def call(console, path: str, body=None, token: str = "", content_type: str = "application/json") -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    request = Request(console.base + path, data=data, headers=headers, method="POST" if body is not None else "GET")
    try:
        with urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


def test_tokens_are_generated_and_required(console):
    assert len(console.token) >= 20 and console.token != console.trainee_token
    status, answer = call(console, "/api/state")
    assert status == 401 and "needs its access token" in answer["reason"]
    assert call(console, "/api/state", token="guess")[0] == 401
    assert call(console, "/api/state", token=console.token)[0] == 200
    assert call(console, f"/api/state?token={console.token}")[0] == 200
    assert call(console, "/api/recording", {"action": "start"})[0] == 401
    assert call(console, "/reports/session_20260101_000000/report.html")[0] == 401


def test_the_trainee_token_can_only_submit_ratings(console):
    assert call(console, "/api/rating", {"value": 4.5}, token=console.trainee_token) == (200, {"ok": True, "value": 4.5})
    assert call(console, "/api/rating", {"value": 4.5})[0] == 401
    for path, body in (("/api/state", None), ("/api/control", {"key": "generator.expressiveness", "value": 3.0}), ("/api/recording", {"action": "start"})):
        assert call(console, path, body, token=console.trainee_token)[0] == 401, path


def test_the_websocket_needs_the_operator_token(console):
    async def connect(query: str) -> int:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(f"{console.base}/ws{query}") as socket:
                    message = await socket.receive_json(timeout=30)
                    return 101 if message["type"] == "update" else 0
            except aiohttp.WSServerHandshakeError as error:
                return error.status

    assert asyncio.run(connect("")) == 401
    assert asyncio.run(connect(f"?token={console.trainee_token}")) == 401
    assert asyncio.run(connect(f"?token={console.token}")) == 101


def test_every_input_is_checked_and_refused_with_the_reason(console):
    token = console.token
    status, answer = call(console, "/api/control", {"key": "generator.model", "value": "/tmp/other"}, token=token)
    assert status == 422 and answer["reason"].startswith("unknown control 'generator.model'")
    status, answer = call(console, "/api/control", {"key": "generator.expressiveness", "value": 3.0}, token=token)
    assert status == 422 and "pain_generator" in answer["reason"]  # no such node: refused, never passed on
    assert call(console, "/api/control", {"key": "generator.expressiveness"}, token=token)[0] == 400
    assert call(console, "/api/control", {"key": "x", "value": 1, "node": "y"}, token=token)[0] == 400
    assert call(console, "/api/control", b"{not json", token=token)[0] == 400
    assert call(console, "/api/control", b"key=x", token=token, content_type="application/x-www-form-urlencoded")[0] == 415
    assert call(console, "/api/recording", {"action": "erase"}, token=token)[0] == 400
    status, answer = call(console, "/api/recording", {"action": "stop"}, token=token)
    assert status == 409 and answer["reason"] == "not recording"
    assert call(console, "/api/rating", {"value": "7"}, token=token)[0] == 422
    assert call(console, "/api/rating", {"value": 10.5}, token=token)[0] == 422
    assert call(console, "/reports/..%2F..%2Fetc/passwd", token=token)[0] == 404


def test_in_the_browser_the_page_without_its_token_is_refused(console, tmp_path):
    browser = chromium(tmp_path / "profile", 1000, 700)
    try:
        browser.get(console.base + "/")
        banner = browser.find_element(By.ID, "auth-banner")
        until(banner.is_displayed, TIMEOUT_S, "the access banner")
        assert "needs its access token" in banner.text
        assert browser.find_element(By.ID, "connection").text == "no access"
        browser.get(f"{console.base}/?token={console.token}")
        until(lambda: browser.find_element(By.ID, "connection").text == "live", TIMEOUT_S, "the live connection with the token")
        assert not browser.find_element(By.ID, "auth-banner").is_displayed()
    finally:
        browser.quit()


def test_a_port_in_use_is_reported_and_retried_not_fatal(console, tmp_path):
    second = Console(tmp_path, port=console.port)
    second.process.match(rf"cannot serve the console on 0\.0\.0\.0:{console.port}: .*in use; retrying every 5 s", TIMEOUT_S)
    assert second.process.interrupt(60.0) == 0
