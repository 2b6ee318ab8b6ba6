"""The operator console and trainee page in a real browser, against the real graph.

``paindiffusion demo --console`` runs the whole graph with the console in its own process;
this test process has a probe node (the trainee's ratings, PSPI, stimulus, the nodes'
parameters) and drives headless chromium with Selenium. Every wait has a generous deadline
and polls: the checks are about behaviour, not speed, on a busy 2-core machine.

With ``PAINDIFFUSION_SCREENSHOTS=docs/img`` (``make screenshots``) it also writes the
README's pictures: the console, the trainee page and an example report of the session.
"""

from __future__ import annotations

import re
import shutil
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Optional
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import numpy as np
import pytest
import rclpy
import yaml
from rclpy.context import Context
from rclpy.parameter import parameter_value_to_python
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosbags.highlevel import AnyReader
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select
from sensor_msgs.msg import Joy, Temperature
from std_msgs.msg import Float32

from browser import SCREENSHOTS, Process, chromium, until
from paindiffusion_ros.nodes.graph import NodeThreads
from paindiffusion_ros.nodes.qos import LATEST

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 180.0
"""The graph and the model loading, on a loaded machine."""
STEP_TIMEOUT_S = 120.0
TRAINEE_SECONDS = 40.0 if SCREENSHOTS else 10.0
"""How long the scripted trainee rates during the recording (longer for the README's example report)."""


class Probe:
    """A node of the test: what the trainee rated, the face's PSPI, the stimulus; the nodes' parameters."""

    def __init__(self) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("console_test_probe", context=self.context)
        self.lock = threading.Lock()
        self.ratings: list[Joy] = []
        self.pspi: deque[tuple[float, float]] = deque(maxlen=2000)
        self.heat: deque[float] = deque(maxlen=50)
        every = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)  # the test process may be slow to take them
        self.node.create_subscription(Joy, "/trainee/rating", self._store(self.ratings.append), every)
        self.node.create_subscription(Float32, "/pain/pspi", self._store(lambda m: self.pspi.append((time.monotonic(), m.data))), LATEST)
        self.node.create_subscription(Temperature, "/pain/stimulus", self._store(lambda m: self.heat.append(m.temperature)), LATEST)
        self.clients = {name: AsyncParameterClient(self.node, name) for name in ("pain_generator", "stimulus_mapper")}
        self.threads = NodeThreads([self.node], self.context).start()

    def _store(self, add):
        def store(message):
            with self.lock:
                add(message)

        return store

    def parameter(self, node: str, name: str):
        until(self.clients[node].services_are_ready, STEP_TIMEOUT_S, f"{node}'s parameter services")
        future = self.clients[node].get_parameters([name])
        until(future.done, STEP_TIMEOUT_S, f"{node} to answer get_parameters")
        return parameter_value_to_python(future.result().values[0])

    def pspi_at(self, t: float) -> float:
        """The face's PSPI at monotonic time ``t`` (the newest sample at or before it)."""
        with self.lock:
            earlier = [value for stamp, value in self.pspi if stamp <= t]
        return earlier[-1] if earlier else 0.0

    def rating_values(self) -> list[float]:
        with self.lock:
            return [m.axes[0] for m in self.ratings]

    def close(self) -> None:
        self.threads.stop()
        rclpy.try_shutdown(context=self.context)


class Demo:
    """``paindiffusion demo --console`` in its own process, the console on a free port."""

    def __init__(self, out: Path) -> None:
        params = yaml.safe_load((ROOT / "config" / "paindiffusion.yaml").read_text())
        params["/**/operator_console"]["ros__parameters"]["port"] = 0
        self.params_file = out / "params.yaml"
        self.params_file.write_text(yaml.safe_dump(params))
        self.out = out
        self.process = Process([
            sys.executable, "-m", "paindiffusion_ros.cli", "demo", "--console", "--duration", "1200", "--no-video",
            "--out", str(out / "demo"), "--image-size", "128", "--params-file", str(self.params_file),
        ])
        self.url = self.process.match(r"operator console: (http://127\.0\.0\.1:\d+/)", START_TIMEOUT_S).group(1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    graph = Demo(tmp_path_factory.mktemp("console"))
    yield graph
    graph.process.interrupt(120.0)


@pytest.fixture(scope="module")
def probe():
    node = Probe()
    yield node
    node.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """The operator's browser."""
    driver = chromium(tmp_path_factory.mktemp("operator-profile"), 1440, 1060)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def tablet(tmp_path_factory):
    """The trainee's browser (another chromium, as on the tablet beside the bench)."""
    driver = chromium(tmp_path_factory.mktemp("tablet-profile"), 1100, 560)
    yield driver
    driver.quit()


class ScriptedTrainee(threading.Thread):
    """Moves the trainee page's slider to follow the face's PSPI one second late (mapped onto
    the NRS, 5 times a second) until stopped; the page sends each move as it would a finger's."""

    DELAY_S = 1.0

    def __init__(self, tablet, probe: Probe) -> None:
        super().__init__(daemon=True)
        self.tablet, self.probe, self.moves = tablet, probe, 0
        self.halt = threading.Event()
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            while not self.halt.wait(0.2):
                value = round(min(10.0, self.probe.pspi_at(time.monotonic() - self.DELAY_S) * 10 / 16), 1)
                self.tablet.execute_script(
                    "const s = document.getElementById('rating'); s.value = arguments[0]; s.dispatchEvent(new Event('input'));", value
                )
                self.moves += 1
        except BaseException as error:  # reported by stop()
            self.error = error

    def stop(self) -> None:
        self.halt.set()
        self.join(30.0)
        if self.error is not None:
            raise self.error


def message_of(browser, key: str) -> str:
    """The message under a control (read in one step: the page redraws controls as the nodes report)."""
    return browser.execute_script("return document.querySelector(`.control[data-key='${arguments[0]}'] .message`).textContent", key)


def value_of(browser, name: str) -> str:
    return browser.execute_script("return document.getElementsByName(arguments[0])[0].value", name)


def stable(action):
    """Do ``action`` on page elements, again if the page redrew them meanwhile (it redraws the
    controls whenever a node reports a parameter, and the status twice a second)."""
    for _ in range(50):
        try:
            return action()
        except StaleElementReferenceException:
            time.sleep(0.1)
    return action()


def type_into(browser, name: str, text: str) -> None:
    """Replace the text of a control's number field and leave it (Tab), as an operator does."""
    stable(lambda: browser.find_element(By.NAME, name).click())
    ActionChains(browser).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys(text, Keys.TAB).perform()


def no_page_errors(browser) -> None:
    """Nothing went wrong in the page since the last look: no script error, no failed load
    (an API request the console refused, 4xx, is an answer, not a failure)."""
    severe = [
        entry["message"] for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and not re.search(r"/api/\S+ - Failed to load resource: the server responded with a status of 4\d\d", entry["message"])
    ]
    assert not severe, severe


def screenshot(browser, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(SCREENSHOTS) / name))


def test_console_loads_with_the_nodes_controls_and_the_face_updates(demo, browser, probe):
    browser.get(demo.url)
    until(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".control:not(.unavailable)")) == 8, START_TIMEOUT_S, "all eight controls to come from their nodes")
    face = browser.find_element(By.ID, "face")
    first = until(lambda: int(face.get_attribute("data-frames") or 0), STEP_TIMEOUT_S, "the first face image")
    until(lambda: int(face.get_attribute("data-frames")) >= first + 5, STEP_TIMEOUT_S, "five more face images")
    # A new frame's JPEG is set as the image's source ~10 times a second and has no size until
    # decoded (naturalWidth 0 was read once mid-decode): look at a frame the browser has decoded.
    shown = until(lambda: browser.execute_script("const f = document.getElementById('face'); return f.complete && f.naturalWidth"),
                  STEP_TIMEOUT_S, "a decoded face image")
    assert shown == 128
    until(lambda: browser.execute_script("return ['angle', 'heat', 'pspi'].every((n) => charts.samples[n].length > 5)"), STEP_TIMEOUT_S, "the live traces")
    until(lambda: "pain_generator: generator" in browser.find_element(By.ID, "diagnostics").text, STEP_TIMEOUT_S, "the generator's status")
    assert browser.find_element(By.ID, "connection").text == "live"
    assert value_of(browser, "generator.emotion") == "neutral"
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    assert all(name.startswith((demo.url, "ws://127.0.0.1", "data:")) for name in loaded), loaded  # nothing from elsewhere
    no_page_errors(browser)


def test_moving_the_expressiveness_slider_changes_the_generators_parameter(demo, browser, probe):
    assert probe.parameter("pain_generator", "expressiveness") == 2.0
    browser.execute_script("document.getElementsByName('generator.expressiveness.slider')[0].focus()")
    ActionChains(browser).send_keys(Keys.ARROW_RIGHT * 5).perform()
    shown = lambda: float(value_of(browser, "generator.expressiveness"))  # noqa: E731
    until(lambda: shown() > 2.0 and probe.parameter("pain_generator", "expressiveness") == pytest.approx(shown()), STEP_TIMEOUT_S,
          "the generator's expressiveness to follow the slider")
    until(lambda: message_of(browser, "generator.expressiveness").startswith("✓ set to"), STEP_TIMEOUT_S, "the acknowledgement")
    stable(lambda: Select(browser.find_element(By.NAME, "generator.emotion")).select_by_value("fear"))
    until(lambda: probe.parameter("pain_generator", "emotion") == "fear", STEP_TIMEOUT_S, "the emotion to become fear")
    stable(lambda: Select(browser.find_element(By.NAME, "mapper.patient_profile")).select_by_value("typical"))
    until(lambda: probe.parameter("stimulus_mapper", "patient_profile") == "typical", STEP_TIMEOUT_S, "the typical patient profile")


def test_bad_values_show_the_console_s_or_the_node_s_rejection(demo, browser, probe):
    before = probe.parameter("pain_generator", "expressiveness")
    type_into(browser, "generator.expressiveness", "99")
    until(lambda: "refused" in message_of(browser, "generator.expressiveness"), STEP_TIMEOUT_S, "the console's refusal")
    assert message_of(browser, "generator.expressiveness") == "✗ refused: expressiveness = 99.0 is outside 0…16"
    assert float(value_of(browser, "generator.expressiveness")) == pytest.approx(before)
    type_into(browser, "mapper.override_c", "20")  # inside the parameter's range; the mapper's own check refuses it
    until(lambda: "refused" in message_of(browser, "mapper.override_c"), STEP_TIMEOUT_S, "the mapper's refusal")
    assert message_of(browser, "mapper.override_c") == (
        "✗ refused: stimulus_mapper refused override_c = 20.0: override_c (20.0) must be 0 (off) or between baseline_c (32.0) and max_c (50.5)"
    )
    assert probe.parameter("pain_generator", "expressiveness") == before
    assert probe.parameter("stimulus_mapper", "override_c") == 0.0
    assert not browser.find_element(By.ID, "override-banner").is_displayed()


def test_the_heat_override_drives_the_stimulus_and_is_marked_while_active(demo, browser, probe):
    type_into(browser, "mapper.override_c", "44.5")
    banner = browser.find_element(By.ID, "override-banner")
    until(banner.is_displayed, STEP_TIMEOUT_S, "the heat override banner")
    assert "HEAT OVERRIDE ACTIVE" in banner.text and "44.5 °C" in banner.text
    until(lambda: list(probe.heat)[-5:] == [44.5] * 5, STEP_TIMEOUT_S, "the stimulus to be held at 44.5 °C")
    until(lambda: "heat override 44.5" in browser.find_element(By.ID, "diagnostics").text, STEP_TIMEOUT_S, "the mapper's WARN")
    stable(lambda: browser.find_element(By.NAME, "override-off").click())
    until(lambda: not browser.find_element(By.ID, "override-banner").is_displayed(), STEP_TIMEOUT_S, "the banner to go")
    until(lambda: value_of(browser, "mapper.override_c") == "0", STEP_TIMEOUT_S, "the override field to show 0")
    until(lambda: 44.5 not in list(probe.heat)[-5:], STEP_TIMEOUT_S, "the elbow to drive the stimulus again")


def test_the_trainee_slider_publishes_ratings_and_shows_no_ground_truth(demo, tablet, probe):
    tablet.get(demo.url + "trainee")
    until(lambda: 0.0 in probe.rating_values(), STEP_TIMEOUT_S, "the page's first rating (0 on opening)")
    tablet.execute_script("document.getElementById('rating').focus()")
    ActionChains(tablet).send_keys(Keys.ARROW_RIGHT * 12).perform()
    until(lambda: probe.rating_values()[-1] == pytest.approx(1.2, abs=1e-4), STEP_TIMEOUT_S, "the rating 1.2 on /trainee/rating")
    assert tablet.find_element(By.ID, "value").text == "1.2"
    with probe.lock:
        last = probe.ratings[-1]
    assert last.header.frame_id == "nrs" and last.header.stamp.sec > 0 and list(last.buttons) == []
    requested = tablet.execute_script("return performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)")
    assert set(requested) <= {"/static/console.css", "/static/common.js", "/static/trainee.js", "/api/rating"}, requested
    text = tablet.find_element(By.TAG_NAME, "body").text
    assert "PSPI" not in text and "°C" not in text
    no_page_errors(tablet)


def test_a_recording_of_a_scripted_trainee_gets_its_report_linked_from_the_console(demo, browser, tablet, probe):
    browser.find_element(By.ID, "record").click()
    until(lambda: browser.find_element(By.ID, "record").text == "Stop recording", STEP_TIMEOUT_S, "the recording to start")
    assert browser.find_element(By.ID, "recording-pill").is_displayed()
    trainee = ScriptedTrainee(tablet, probe)
    trainee.start()
    moves = 5 * TRAINEE_SECONDS  # the session: the face reacts to the elbow, the trainee rates it
    until(lambda: trainee.moves >= moves, 10 * TRAINEE_SECONDS, f"{moves:.0f} moves of the scripted trainee")
    until(lambda: browser.execute_script("return charts.samples.rating.length") > 3, STEP_TIMEOUT_S, "the ratings on the console")
    screenshot(browser, "console.png")
    screenshot(tablet, "trainee.png")
    browser.find_element(By.ID, "record").click()
    until(lambda: browser.find_element(By.ID, "record").text == "Start recording", STEP_TIMEOUT_S, "the recording to stop")
    trainee.stop()
    href = until(lambda: browser.execute_script("const a = document.getElementById('report-link'); return a && a.href"), 180.0, "the report link")
    console = browser.current_window_handle
    browser.switch_to.new_window("tab")
    browser.get(href)
    assert browser.title.startswith("Training session report")
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Pearson r" in body and "trainee ratings" in body and "pain episodes were detected" in body
    session = href.split("/reports/")[1].split("/")[0]
    report = demo.out / "demo" / "recordings" / session / "report"
    assert (report / "timeline.png").stat().st_size > 10_000
    if SCREENSHOTS:
        for name in ("timeline.png", "bland_altman.png", "lag.png"):
            shutil.copy(report / name, Path(SCREENSHOTS) / f"report_{name}")
        shutil.copy(report / "report.json", Path(SCREENSHOTS) / "report_example.json")
    browser.close()
    browser.switch_to.window(console)
    no_page_errors(browser)


def test_the_console_refuses_a_forged_host_and_a_cross_site_request(demo):
    port = demo.url.rsplit(":", 1)[1].rstrip("/")
    forged = Request(demo.url + "api/state", headers={"Host": f"rebinding.example:{port}"})
    with pytest.raises(HTTPError) as refused:
        urlopen(forged, timeout=30)
    assert refused.value.code == 403
    cross = Request(demo.url + "api/rating", data=b'{"value": 3}', method="POST",
                    headers={"Content-Type": "application/json", "Origin": "http://evil.example"})
    with pytest.raises(HTTPError) as refused:
        urlopen(cross, timeout=30)
    assert refused.value.code == 403 and b"cross-origin" in refused.value.read()


def test_the_demo_closes_cleanly_with_the_ratings_in_its_bag(demo, probe):
    assert demo.process.interrupt(120.0) == 0, demo.process.output()[-3000:]
    with AnyReader([demo.out / "demo" / "session"]) as reader:
        connections = [c for c in reader.connections if c.topic == "/trainee/rating"]
        assert connections and connections[0].msgtype == "sensor_msgs/msg/Joy"
        recorded = [reader.deserialize(raw, c.msgtype).axes[0] for c, _, raw in reader.messages(connections=connections)]
    assert np.allclose(recorded, probe.rating_values()[: len(recorded)]) and len(recorded) == len(probe.rating_values())
