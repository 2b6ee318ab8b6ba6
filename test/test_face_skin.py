"""The painted surface of the human face: wrinkles driven by intensity, features where anatomy puts them."""

import numpy as np
import pytest

from paindiffusion_ros.face import skin
from paindiffusion_ros.face.human import EYE_L, SKIN
from paindiffusion_ros.face.models import load_face
from paindiffusion_ros.face.render import FaceRenderer, RenderConfig
from paindiffusion_ros.face.snapshots import expression_from_units

SIZE = 384


@pytest.fixture(scope="module")
def face():
    return load_face("human")


@pytest.fixture(scope="module")
def renderer(face):
    return FaceRenderer(face, SIZE)


def box(renderer, face, x, y, half_w, half_h):
    """Pixel box around the skin at anatomical (x, y) (base-mesh head frame, where the skin is painted)."""
    a = face.surface.anatomy
    near = (np.abs(a[:, 0] - x) < half_w) & (np.abs(a[:, 1] - y) < half_h) & (a[:, 2] > 0.05)
    near &= np.isin(np.arange(len(a)), np.unique(face.faces[face.material == SKIN]))
    p = renderer.renderer.project(face.rest[near])
    return slice(int(p[:, 1].min()), int(p[:, 1].max()) + 1), slice(int(p[:, 0].min()), int(p[:, 0].max()) + 1)


def luminance(image, where) -> float:
    return float(image[where].astype(float).mean())


def render(renderer, face, expression, weights):
    v = face.vertices(expression, np.zeros(3))
    return renderer.renderer.render_surface(v, face.faces, face.surface, weights)


@pytest.mark.parametrize("wrinkle, au, where", [
    ("glabella", "AU4", (0.0, 0.049, 0.008, 0.007)),
    ("crow_L", "AU6", (0.060, 0.030, 0.006, 0.008)),
    ("crow_R", "AU6", (-0.060, 0.030, 0.006, 0.008)),
    ("nasal", "AU9", (0.0, 0.026, 0.008, 0.005)),
])
def test_wrinkles_darken_their_region_in_proportion_to_intensity(face, renderer, wrinkle, au, where):
    """Same geometry, only the wrinkle shading differs: the region darkens, more at higher intensity."""
    region = box(renderer, face, *where)
    e = expression_from_units({au: 4.0})
    none = render(renderer, face, e, np.zeros(len(skin.WRINKLES), np.float32))
    weak = render(renderer, face, e, skin.wrinkle_weights(expression_from_units({au: 2.0})))
    strong = render(renderer, face, e, skin.wrinkle_weights(e))
    assert skin.wrinkle_weights(e)[skin.WRINKLES.index(wrinkle)] == pytest.approx(0.8 if wrinkle != "glabella" else 0.8)
    assert luminance(strong, region) < luminance(weak, region) - 0.3 < luminance(none, region) - 0.6
    elsewhere = box(renderer, face, 0.0, -0.075, 0.01, 0.006)  # the chin
    assert luminance(strong, elsewhere) == pytest.approx(luminance(none, elsewhere), abs=0.05)


def test_wrinkle_weights_follow_the_units_and_their_sides():
    w = skin.wrinkle_weights(expression_from_units({"AU6": 5.0}))
    assert w[skin.WRINKLES.index("crow_L")] == w[skin.WRINKLES.index("crow_R")] == 1.0
    left_only = np.zeros(50, np.float32)
    left_only[0 + 2 * 4] = 5.0  # AU6_L (channels: AU1_L, AU1_R, AU2_L, AU2_R, AU4_L, AU4_R, AU5_L, AU5_R, AU6_L)
    w = skin.wrinkle_weights(left_only)
    assert w[skin.WRINKLES.index("crow_L")] == 1.0 and w[skin.WRINKLES.index("crow_R")] == 0.0
    assert not skin.wrinkle_weights(np.full(50, -2.0, np.float32)).any()  # clipped into FACS range
    assert skin.wrinkle_weights(np.full(50, 9.0, np.float32)).max() == 1.0


def test_painted_features_sit_where_anatomy_puts_them(face, renderer):
    image = renderer.render(np.zeros(50), np.zeros(3))
    forehead = box(renderer, face, 0.0, 0.075, 0.012, 0.006)
    brow = box(renderer, face, 0.034, 0.055, 0.008, 0.002)
    cheek = box(renderer, face, 0.045, -0.005, 0.006, 0.006)
    lips = box(renderer, face, 0.0, -0.040, 0.010, 0.002)
    scalp = box(renderer, face, 0.0, 0.135, 0.015, 0.006)
    assert luminance(image, brow) < luminance(image, forehead) - 25
    assert luminance(image, scalp) < luminance(image, forehead) - 20  # short hair above the hairline
    red = lambda where: float(image[where][..., 0].mean() - image[where][..., 1].mean())  # noqa: E731
    assert red(lips) > red(cheek) + 10


def test_eyes_show_a_dark_iris_and_pupil_in_white_sclera_with_a_wet_highlight(face):
    renderer = FaceRenderer(face, 768, RenderConfig(), region="eyes")
    image = renderer.render(np.zeros(50), np.zeros(3))
    _, face_id, _ = renderer.renderer.rasterize(face.vertices(np.zeros(50), np.zeros(3)), face.faces)
    eye = np.zeros(face_id.shape, bool)
    eye[face_id >= 0] = face.material[face_id[face_id >= 0]] == EYE_L
    values = image[eye].astype(int).sum(axis=1)
    assert eye.sum() > 300
    assert (values > 560).sum() > 10  # sclera and highlight
    assert (values < 120).sum() > 10  # pupil and iris


def test_surface_arrays_are_consistent(face):
    s = face.surface
    assert s.corner_tex.shape == (len(face.faces), 3, 2) and s.albedo.shape == (skin.TEX_H, skin.TEX_W, 4)
    assert s.wrinkles.shape == (skin.TEX_H, skin.TEX_W, len(skin.WRINKLES))
    assert s.neighbour_start.shape == (len(face.rest) + 1,) and s.neighbours.max() < len(face.rest)
    assert s.vertex_colors.shape == face.rest.shape and 0.0 <= s.vertex_colors.min() and s.vertex_colors.max() <= 1.0
    assert set(s.regions) == {"full", "eyes", "mouth"}
