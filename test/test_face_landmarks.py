"""Pain must read: action units measured on rendered images with a face landmark detector.

MediaPipe Face Mesh (478 landmarks; its models ship inside the 0.10.21 wheel) runs in
``.venv-landmarks`` (``make venv``) through ``landmarks_probe.py``. Distances are taken
in units of the outer-eye-corner distance, so they compare across renders.
"""

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from paindiffusion_ros.face.human import EYE_L, EYE_R, TEETH, TONGUE
from paindiffusion_ros.face.models import load_face
from paindiffusion_ros.face.render import FaceRenderer
from paindiffusion_ros.face.snapshots import PAIN_JAW, PAIN_UNITS, expression_from_units

ROOT = Path(__file__).resolve().parents[1]
PROBE_PYTHON = ROOT / ".venv-landmarks" / "bin" / "python"
SIZE = 512
OPEN = {"AU25": 3.0, "AU26": 3.0, "AU27": 3.0}
CASES = {
    "neutral": ({}, 0.0),
    "brow_lowerer": ({"AU4": 4.0}, 0.0),
    "orbit_tightening": ({"AU6": 4.0, "AU7": 4.0}, 0.0),
    "levator_contraction": ({"AU9": 3.0, "AU10": 3.0}, 0.0),
    "eyes_closed": ({"AU43": 1.0}, 0.0),
    "mouth_open": (OPEN, 0.25),
    "pain": (PAIN_UNITS, float(PAIN_JAW[0])),
}
# MediaPipe Face Mesh indices (subject's right, then left).
BROW_LOWER = ([46, 53, 52, 65, 55], [276, 283, 282, 295, 285])
UPPER_LID = ([158, 159, 160], [385, 386, 387])
LID_PAIRS = ((159, 145), (386, 374))
OUTER_CORNERS = (33, 263)
SUBNASALE, UPPER_LIP_TOP = 2, 0
INNER_LIPS = (13, 14)


@pytest.fixture(scope="module")
def face():
    return load_face("human")


@pytest.fixture(scope="module")
def landmarks(face, tmp_path_factory):
    if not PROBE_PYTHON.exists():
        pytest.fail(f"the landmark detector's environment is missing: run `make venv` ({PROBE_PYTHON})")
    renderer = FaceRenderer(face, SIZE)
    folder = tmp_path_factory.mktemp("landmarks")
    paths = []
    for name, (units, jaw) in CASES.items():
        rgb = renderer.render(expression_from_units(units), np.array([jaw, 0.0, 0.0]))
        paths.append(str(folder / f"{name}.png"))
        cv2.imwrite(paths[-1], rgb[:, :, ::-1])
    result = subprocess.run([str(PROBE_PYTHON), str(Path(__file__).with_name("landmarks_probe.py")), *paths],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout)
    missing = [name for name, points in zip(CASES, found) if points is None]
    assert not missing, f"no face found in {missing}"
    return {name: np.asarray(points) for name, points in zip(CASES, found)}


def scale(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[OUTER_CORNERS[0]] - points[OUTER_CORNERS[1]]))


def brow_to_eye(points: np.ndarray) -> float:
    """Mean vertical gap from the lower edge of each brow down to its upper eyelid."""
    gaps = [points[lid, 1].mean() - points[brow, 1].mean() for brow, lid in zip(BROW_LOWER, UPPER_LID)]
    return float(np.mean(gaps)) / scale(points)


def eye_opening(points: np.ndarray) -> float:
    return float(np.mean([np.linalg.norm(points[a] - points[b]) for a, b in LID_PAIRS])) / scale(points)


def lip_to_nose(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[SUBNASALE] - points[UPPER_LIP_TOP])) / scale(points)


def mouth_opening(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[INNER_LIPS[0]] - points[INNER_LIPS[1]])) / scale(points)


def change(landmarks, case, measure) -> float:
    return measure(landmarks[case]) / measure(landmarks["neutral"]) - 1.0


def test_the_detector_finds_a_face_in_every_render(landmarks):
    for name, points in landmarks.items():
        assert points.shape == (478, 2), name
        assert 0.25 * SIZE < scale(points) < 0.6 * SIZE, name  # a frontal face filling the frame


def test_au4_lowers_the_brows_toward_the_eyes(landmarks):
    assert change(landmarks, "brow_lowerer", brow_to_eye) <= -0.20


def test_au6_and_au7_narrow_the_eyes(landmarks):
    assert change(landmarks, "orbit_tightening", eye_opening) <= -0.35


def test_au9_and_au10_raise_the_upper_lip_toward_the_nose(landmarks):
    assert change(landmarks, "levator_contraction", lip_to_nose) <= -0.15


def test_au43_closes_the_eyes(face, landmarks):
    assert change(landmarks, "eyes_closed", eye_opening) <= -0.6
    renderer = FaceRenderer(face, SIZE).renderer
    _, face_id, _ = renderer.rasterize(face.vertices(expression_from_units({"AU43": 1.0}), np.zeros(3)), face.faces)
    visible = face.material[face_id[face_id >= 0]]
    assert np.isin(visible, (EYE_L, EYE_R)).sum() <= 4  # the lids cover the eyeballs


def test_lips_part_and_jaw_drop_open_the_mouth_onto_teeth_and_tongue(face, landmarks):
    assert mouth_opening(landmarks["mouth_open"]) > 0.25 > 0.02 > mouth_opening(landmarks["neutral"])
    renderer = FaceRenderer(face, SIZE).renderer

    def visible(units, jaw):
        _, face_id, _ = renderer.rasterize(face.vertices(expression_from_units(units), np.array([jaw, 0, 0])), face.faces)
        shown = face.material[face_id[face_id >= 0]]
        return int((shown == TEETH).sum()), int((shown == TONGUE).sum())

    teeth, tongue = visible(OPEN, 0.25)
    closed_teeth, closed_tongue = visible({}, 0.0)
    assert teeth > 150 and tongue > 1000 and closed_tongue == 0 and teeth > 4 * closed_teeth


def test_the_pain_face_at_pspi_8_narrows_the_eyes_and_raises_the_upper_lip(landmarks):
    assert change(landmarks, "pain", eye_opening) <= -0.5
    assert change(landmarks, "pain", lip_to_nose) <= -0.15
