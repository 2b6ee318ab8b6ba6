"""The face the console sends to the browser: ``/face/image/compressed`` passed on as it is,
else ``/face/image`` (rgb8) encoded to JPEG.

The console runs in its own process; this process publishes the images and reads the
console's WebSocket as the page does.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import cv2
import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from sensor_msgs.msg import CompressedImage, Image

from browser import Process
from paindiffusion_ros.nodes.graph import NodeThreads
from paindiffusion_ros.nodes.qos import LATEST

TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    process = Process([
        sys.executable, "-m", "paindiffusion_ros.nodes.operator_console", "--ros-args",
        "-p", "port:=0", "-p", f"record_dir:={tmp_path_factory.mktemp('recordings')}",
    ])
    url = process.match(r"operator console: (http://127\.0\.0\.1:\d+/)", TIMEOUT_S).group(1)
    yield url
    assert process.interrupt(60.0) == 0


@pytest.fixture
def camera():
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node("face_source", context=context)
    threads = NodeThreads([node], context).start()
    yield node
    threads.stop()
    rclpy.try_shutdown(context=context)


def face(size: int = 64) -> np.ndarray:
    """An RGB test card: red left half, blue right half."""
    rgb = np.zeros((size, size, 3), np.uint8)
    rgb[:, : size // 2, 0] = 220
    rgb[:, size // 2 :, 2] = 220
    return rgb


async def faces_received(url: str, publish, wanted) -> bytes:
    """Publish (10 Hz) until the WebSocket delivers a face for which ``wanted`` holds."""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url.replace("http://", "ws://") + "ws") as socket:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + TIMEOUT_S
            while loop.time() < deadline:
                publish()
                try:
                    message = await socket.receive(timeout=0.1)
                except asyncio.TimeoutError:
                    continue
                if message.type == aiohttp.WSMsgType.BINARY and wanted(message.data):
                    return message.data
    raise AssertionError(f"no matching face on the WebSocket within {TIMEOUT_S:.0f} s")


def test_a_compressed_face_is_passed_on_unchanged(console, camera):
    jpeg = cv2.imencode(".jpg", face()[..., ::-1])[1].tobytes()
    publisher = camera.create_publisher(CompressedImage, "/face/image/compressed", LATEST)
    message = CompressedImage(format="jpeg", data=jpeg)
    assert asyncio.run(faces_received(console, lambda: publisher.publish(message), lambda data: data == jpeg)) == jpeg


def decoded(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]


def test_without_a_compressed_face_the_raw_image_is_encoded(console, camera):
    rgb = np.ascontiguousarray(face().transpose(1, 0, 2))  # red top, blue bottom: not the compressed test's card
    publisher = camera.create_publisher(Image, "/face/image", LATEST)
    message = Image(height=64, width=64, encoding="rgb8", step=64 * 3, data=rgb.tobytes())
    like = lambda data: decoded(data).shape == rgb.shape and np.abs(decoded(data).astype(int) - rgb).mean() < 8  # noqa: E731
    # the same picture, through JPEG, colours the right way round (a BGR mix-up would differ by ~110)
    asyncio.run(faces_received(console, lambda: publisher.publish(message), like))
