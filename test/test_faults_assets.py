"""Faults in what the nodes load at start-up: a truncated or corrupt checkpoint, a missing face asset.

Each runs the one node concerned in its own process (``fault_rig.Rig``) and checks what a user
sees: one clear error line naming the file, an ERROR on ``/diagnostics``, and a neutral face that
keeps its rate instead of a node that exits and is respawned over and over.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from fault_rig import RECOVERY_TIMEOUT_S, Rig, gray, neutral_face, wait_until
from paindiffusion_ros.model.settings import default_model_dir

pytestmark = pytest.mark.faults

FPS = 25.0
WINDOW_S = 3.0


def damaged_model(directory, damage: str):
    """A copy of the shipped checkpoint whose weights file is cut in half or has a garbage header."""
    shutil.copytree(default_model_dir(), directory)
    weights = directory / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncated" else bytes(range(256)) * 4 + data[1024:])
    return directory


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_checkpoint_is_one_clear_line_and_a_neutral_face_at_25_hz(tmp_path, damage):
    model = damaged_model(tmp_path / "model", damage)
    rig = Rig(tmp_path, emulated_elbow=False, nodes=["pain_generator"], overrides={"pain_generator": {"model": str(model)}})
    try:
        rig.start()
        probe = rig.probe
        error = wait_until(lambda: [s for s in probe.statuses("pain_generator: generator") if s.level == 2],
                           RECOVERY_TIMEOUT_S, "ERROR on /diagnostics")[0]
        assert "model.safetensors" in error.message, error.message
        begin = error.time
        wait_until(lambda: probe.first_after("/face/jaw_pose", begin + WINDOW_S), RECOVERY_TIMEOUT_S, "frames after the error")
        assert probe.rate("/face/jaw_pose", begin, begin + WINDOW_S) == pytest.approx(FPS, rel=0.05)
        expression = np.array([m.data for _, m in probe.messages_between("/face/expression", begin, begin + WINDOW_S)])
        jaw = np.array([[m.vector.x, m.vector.y, m.vector.z] for _, m in probe.messages_between("/face/jaw_pose", begin, begin + WINDOW_S)])
        assert len(expression) > 0 and not expression.any() and not jaw.any(), "the face is not neutral"
        assert rig.nodes.starts("pain_generator") == 1
    finally:
        rig.stop()
    lines = [line for line in rig.log("pain_generator").splitlines() if "model.safetensors" in line]
    assert len(lines) == 1 and "publishing a neutral face" in lines[0], lines
    assert "Traceback" not in rig.log("pain_generator")


def test_a_missing_face_asset_is_one_clear_line_and_a_neutral_face_that_keeps_rendering(tmp_path):
    missing = tmp_path / "generic_model.pkl"
    rig = Rig(tmp_path, emulated_elbow=False, nodes=["face_renderer"],
              overrides={"face_renderer": {"kind": "flame", "flame_path": str(missing)}})
    neutral = neutral_face()
    try:
        rig.start()
        probe = rig.probe
        error = wait_until(lambda: [s for s in probe.statuses("face_renderer: face") if s.level == 2],
                           RECOVERY_TIMEOUT_S, "ERROR on /diagnostics")[0]
        assert str(missing) in error.message, error.message
        begin = error.time
        wait_until(lambda: probe.first_after("/face/image/compressed", begin + WINDOW_S), RECOVERY_TIMEOUT_S, "images after the error")
        images = probe.messages_between("/face/image/compressed", begin, begin + WINDOW_S)
        assert max(np.abs(gray(m.data) - neutral).mean() for _, m in images) < 2.0, "the face is not the neutral one"
        assert probe.longest_gap("/face/image/compressed", begin, begin + WINDOW_S) < 1.0
        assert rig.nodes.starts("face_renderer") == 1, "the renderer exited instead of showing a face"
    finally:
        rig.stop()
    lines = [line for line in rig.log("face_renderer").splitlines() if str(missing) in line]
    assert len(lines) == 1 and "showing the human face, neutral" in lines[0], lines
