"""The built-in FACS face: mesh, per-channel regions, jaw, and what the renders show."""

import numpy as np
import pytest

from paindiffusion_ros.face import builtin, facs
from paindiffusion_ros.face.models import BuiltinFace, load_face
from paindiffusion_ros.face.render import FaceRenderer
from paindiffusion_ros.face.snapshots import PAIN_UNITS, expression_from_units

UPPER_FACE = ("AU1", "AU2", "AU4", "AU5", "AU7", "AU41", "AU42", "AU43", "AU44", "AU45", "AU61", "AU62", "AU63", "AU64")
LOWER_FACE = ("AU10", "AU12", "AU14", "AU15", "AU16", "AU17", "AU18", "AU20", "AU22", "AU23", "AU24", "AU25",
              "AU26", "AU27", "AU28")
SIZE = 160


@pytest.fixture(scope="module")
def face() -> BuiltinFace:
    return load_face("builtin")


@pytest.fixture(scope="module")
def renderer(face) -> FaceRenderer:
    return FaceRenderer(face, SIZE)


def expression(**units: float) -> np.ndarray:
    return expression_from_units(units)


def pixel_box(renderer: FaceRenderer, x: float, y: float, half_w: float, half_h: float):
    corners = renderer.renderer.project(np.array([[x - half_w, y + half_h, 0.08], [x + half_w, y - half_h, 0.08]]))
    (c0, r0), (c1, r1) = corners[:, :2].astype(int)
    return slice(r0, r1), slice(c0, c1)


def regions(renderer):
    return {
        "eyes": pixel_box(renderer, 0.0, builtin.EYE_Y, 0.05, 0.011),
        "mouth": pixel_box(renderer, 0.0, builtin.MOUTH_Y, 0.03, 0.012),
    }


def diff(a: np.ndarray, b: np.ndarray, box) -> float:
    return float(np.abs(a[box].astype(int) - b[box].astype(int)).mean())


def test_mesh_is_a_closed_enough_head_with_valid_arrays(face):
    mesh = face.mesh
    assert len(mesh.vertices) >= 3000
    assert face.faces.dtype == np.int32 and face.faces.min() >= 0 and face.faces.max() < len(mesh.vertices)
    assert face.vertex_colors.dtype == np.float32 and 0 <= face.vertex_colors.min() and face.vertex_colors.max() <= 1
    assert mesh.blendshapes.shape == (50, len(mesh.vertices), 3)
    height = np.ptp(mesh.vertices[:, 1])
    assert 0.18 < height < 0.28  # an adult head, in metres
    assert face.binding.name == "builtin-facs-53"
    assert builtin.build_mesh() is builtin.build_mesh()


def test_every_channel_moves_something_and_only_its_side(face):
    v = face.mesh.vertices
    for i, name in enumerate(facs.EXPRESSION_CHANNELS):
        moved = np.linalg.norm(face.mesh.blendshapes[i], axis=1) * facs.CHANNEL_MAX[i]
        assert moved.max() > 5e-4, name
        if name.endswith("_L"):
            assert moved[v[:, 0] < -0.006].max() < 0.05 * moved.max(), name
        if name.endswith("_R"):
            assert moved[v[:, 0] > 0.006].max() < 0.05 * moved.max(), name


@pytest.mark.parametrize("au", UPPER_FACE)
def test_upper_face_units_leave_the_mouth_alone(face, au):
    moved = np.linalg.norm(face.mesh.blendshapes[list(facs.au_indices(au))].sum(0), axis=1)
    assert moved[face.mesh.mouth_region].max() < 0.02 * moved.max(), au


@pytest.mark.parametrize("au", LOWER_FACE)
def test_lower_face_units_leave_the_eyes_alone(face, au):
    moved = np.linalg.norm(face.mesh.blendshapes[list(facs.au_indices(au))].sum(0), axis=1)
    assert moved[face.mesh.eye_regions].max() < 0.02 * moved.max(), au


def test_directions_brows_lower_with_au4_rise_with_au1_lip_corners_rise_with_au12(face):
    v0 = face.vertices(expression(), np.zeros(3))
    brow = (np.abs(v0[:, 1] - builtin.BROW_Y) < 0.006) & (np.abs(v0[:, 0]) < 0.03) & (v0[:, 2] > 0.05)
    corner = (np.abs(np.abs(v0[:, 0]) - builtin.MOUTH_HALF_WIDTH) < 0.004) & (np.abs(v0[:, 1] - builtin.MOUTH_Y) < 0.004)
    assert (face.vertices(expression(AU4=3), np.zeros(3)) - v0)[brow, 1].mean() < -1e-3
    assert (face.vertices(expression(AU1=3), np.zeros(3)) - v0)[brow, 1].mean() > 1e-3
    assert (face.vertices(expression(AU12=3), np.zeros(3)) - v0)[corner, 1].mean() > 5e-4
    assert (face.vertices(expression(AU15=3), np.zeros(3)) - v0)[corner, 1].mean() < -5e-4


def test_lateral_motions_au4_knits_the_brows_au20_stretches_the_lips(face):
    v0 = face.vertices(expression(), np.zeros(3))
    inner_brow = (np.abs(v0[:, 1] - builtin.BROW_Y) < 0.006) & (np.abs(v0[:, 0]) > 0.008) & (np.abs(v0[:, 0]) < 0.02) & (v0[:, 2] > 0.05)
    corner = (np.abs(np.abs(v0[:, 0]) - builtin.MOUTH_HALF_WIDTH) < 0.004) & (np.abs(v0[:, 1] - builtin.MOUTH_Y) < 0.004)
    side = np.sign(v0[:, 0])
    assert ((face.vertices(expression(AU4=3), np.zeros(3)) - v0)[:, 0] * side)[inner_brow].mean() < -1e-3
    assert ((face.vertices(expression(AU20=3), np.zeros(3)) - v0)[:, 0] * side)[corner].mean() > 1e-3
    assert ((face.vertices(expression(AU12=3), np.zeros(3)) - v0)[:, 0] * side)[corner].mean() > 5e-4


def test_eye_closure_changes_the_eyes_not_the_mouth(renderer):
    neutral = renderer.render(expression(), np.zeros(3))
    closed = renderer.render(expression(AU43=1.0), np.zeros(3))
    box = regions(renderer)
    assert diff(neutral, closed, box["eyes"]) > 8.0
    assert diff(neutral, closed, box["mouth"]) < 0.5

    def sclera(img: np.ndarray) -> int:  # white-of-the-eye pixels
        return int((img[box["eyes"]].min(axis=2) > 200).sum())

    assert sclera(neutral) > 4 and sclera(closed) == 0


def test_lip_corner_puller_changes_the_mouth_not_the_eyes(renderer):
    neutral = renderer.render(expression(), np.zeros(3))
    smile = renderer.render(expression(AU12=4.0), np.zeros(3))
    box = regions(renderer)
    assert diff(neutral, smile, box["mouth"]) > 2.0
    assert diff(neutral, smile, box["eyes"]) < 0.5


def test_jaw_opening_moves_the_chin_down_and_opens_the_mouth(face, renderer):
    v0 = face.vertices(expression(), np.zeros(3))
    v1 = face.vertices(expression(), np.array([0.25, 0.0, 0.0]))
    chin = (np.abs(v0[:, 0]) < 0.01) & (np.abs(v0[:, 1] + 0.085) < 0.005) & (v0[:, 2] > 0.04)
    assert (v1 - v0)[chin, 1].mean() < -0.005
    forehead = (v0[:, 1] > 0.03)
    np.testing.assert_array_equal(v1[forehead], v0[forehead])
    box = regions(renderer)["mouth"]
    def cavity(img: np.ndarray) -> int:  # dark red pixels of the open mouth
        r, g = img[box][..., 0].astype(int), img[box][..., 1].astype(int)
        return int(((g < 25) & (r > 2 * g + 8)).sum())

    assert cavity(renderer.render(expression(), [0.25, 0, 0])) > 3 * cavity(renderer.render(expression(), np.zeros(3))) + 10


def test_pain_face_moves_brows_eyes_and_nose(renderer):
    pain = expression_from_units(PAIN_UNITS)
    assert facs.pspi(pain) == pytest.approx(8.0)
    neutral = renderer.render(expression(), np.zeros(3))
    assert diff(neutral, renderer.render(pain, np.zeros(3)), regions(renderer)["eyes"]) > 8.0


def test_bad_parameters_are_clear_errors(face):
    with pytest.raises(ValueError, match=r"expression \(50,\)"):
        face.vertices(np.zeros(53), np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        face.vertices(np.full(50, np.nan), np.zeros(3))
    with pytest.raises(ValueError, match="unknown face kind 'smpl'"):
        load_face("smpl")
