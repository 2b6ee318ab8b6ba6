"""Renderer: determinism, sizes, occlusion and back-face culling on a known scene; rviz arrays."""

import numpy as np
import pytest

from paindiffusion_ros.face.marker import triangle_list
from paindiffusion_ros.face.models import load_face
from paindiffusion_ros.face.render import FaceRenderer, RenderConfig, Renderer

RED, BLUE = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)
# Flat, unshaded colours: every lit pixel is exactly its vertex colour.
FLAT = RenderConfig(fov_deg=90.0, distance=1.0, ambient=1.0, specular=0.0, background=0x000000)


def scene(far_first: bool = True, flip_near: bool = False):
    """A far red triangle (z=0, camera depth 1) under a near blue one (z=0.5, depth 0.5)."""
    far = [[-0.9, -0.9, 0.0], [0.9, -0.9, 0.0], [-0.9, 0.9, 0.0]]
    near = [[-0.1, -0.2, 0.5], [0.4, -0.2, 0.5], [-0.1, 0.3, 0.5]]
    vertices = np.array(far + near, np.float32)
    faces = np.array([[0, 1, 2], [3, 5, 4] if flip_near else [3, 4, 5]], np.int32)
    if not far_first:
        faces = faces[::-1].copy()
    colors = np.array([RED] * 3 + [BLUE] * 3, np.float32)
    return vertices, faces, colors


def test_nearer_triangle_occludes_whatever_the_draw_order():
    r = Renderer(64, FLAT)
    centre = (32, 30)  # row, column: inside both triangles
    for far_first in (True, False):
        image = r.render(*scene(far_first))
        assert tuple(image[centre]) == (0, 0, 255)
        assert tuple(image[50, 10]) == (255, 0, 0)  # only the far one covers the lower left
        assert tuple(image[5, 60]) == (0, 0, 0)  # nothing: background
    depth, face_id, _ = r.rasterize(*scene()[:2])
    assert depth[centre] == pytest.approx(0.5, abs=1e-5) and face_id[centre] == 1
    assert depth[50, 10] == pytest.approx(1.0, abs=1e-5) and face_id[50, 10] == 0


def test_back_faces_are_culled_unless_asked():
    vertices, faces, colors = scene(flip_near=True)
    culled = Renderer(64, FLAT).render(vertices, faces, colors)
    assert tuple(culled[32, 30]) == (255, 0, 0)  # the clockwise near triangle is skipped
    two_sided = Renderer(64, RenderConfig(**{**FLAT.__dict__, "cull_back_faces": False})).render(vertices, faces, colors)
    assert tuple(two_sided[32, 30]) == (0, 0, 255)


def test_output_size_dtype_and_determinism():
    face = load_face("builtin")
    r = FaceRenderer(face, 96)
    e = np.random.default_rng(0).uniform(0, 1, 50).astype(np.float32)
    a, b = r.render(e, [0.1, 0, 0]), r.render(e, [0.1, 0, 0])
    assert a.shape == (96, 96, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    eyes = FaceRenderer(face, 120, region="eyes").render(e, np.zeros(3))
    assert eyes.shape[1] == 120 and eyes.shape[0] < 80
    assert Renderer(80, FLAT, aspect=2.0).render(*scene()).shape == (40, 80, 3)
    head = face.vertices(np.zeros(50), np.zeros(3))
    default = Renderer(64).render(head, face.faces, face.vertex_colors)  # default framing shows a head
    assert default.shape == (64, 64, 3) and 0.2 < (default != default[0, 0]).any(axis=2).mean() < 0.9


def test_supersampling_averages_edges_down_to_the_requested_size():
    plain = Renderer(64, FLAT).render(*scene())
    smooth = Renderer(64, RenderConfig(**{**FLAT.__dict__, "supersample": 3})).render(*scene())
    assert smooth.shape == plain.shape
    assert tuple(smooth[32, 30]) == (0, 0, 255) and tuple(smooth[50, 10]) == (255, 0, 0)
    blended = lambda img: int(((img > 10) & (img < 245)).any(axis=2).sum())  # noqa: E731 - partial-coverage pixels
    assert blended(plain) == 0 < blended(smooth)


def test_triangles_behind_the_camera_are_not_drawn():
    v, f, c = scene()
    v[3:, 2] = 2.0  # the blue triangle moves behind the camera at z=1
    image = Renderer(64, FLAT).render(v, f, c)
    assert not (image[..., 2] > 0).any()


def test_bad_input_is_a_clear_error():
    r = Renderer(32, FLAT)
    v, f, c = scene()
    with pytest.raises(ValueError, match="face indices"):
        r.render(v, f + 10, c)
    with pytest.raises(ValueError, match="vertex_colors"):
        r.render(v, f, c[:3])
    with pytest.raises(ValueError, match="render size"):
        Renderer(4, FLAT)
    with pytest.raises(ValueError, match="crop region 'nose'"):
        FaceRenderer(load_face("builtin"), 32, region="nose")


def test_triangle_list_unrolls_corners_with_rgba():
    v, f, c = scene()
    points, colors = triangle_list(v, f, c, alpha=0.5)
    assert points.shape == (6, 3) and colors.shape == (6, 4)
    np.testing.assert_array_equal(points[3:], v[f[1]])
    np.testing.assert_array_equal(colors[:, 3], 0.5)
    np.testing.assert_array_equal(colors[:3, :3], [RED] * 3)


def test_the_human_face_renders_deterministically_with_smoothed_edges():
    face = load_face("human")
    r = FaceRenderer(face, 128)
    e = np.random.default_rng(0).uniform(0, 2, 50).astype(np.float32)
    a, b = r.render(e, [0.1, 0, 0]), r.render(e, [0.1, 0, 0])
    assert a.shape == (128, 128, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    _, face_id, _ = r.renderer.rasterize(face.vertices(e, [0.1, 0, 0]), face.faces)
    covered = face_id >= 0
    rim = covered & ~np.roll(covered, 1, axis=1)  # face pixels with background on their left
    background = np.array([0x20, 0x24, 0x28])
    blended = np.abs(a[:, 1:][rim[:, 1:]].astype(int) - background).sum(axis=1)
    left = np.abs(a[:, :-1][rim[:, 1:]].astype(int) - background).sum(axis=1)
    assert rim.sum() > 50 and (left > 0).mean() > 0.8  # the background pixel beside the rim is blended too
    assert (blended > 0).all()


@pytest.mark.parametrize("size", [256, 512])
def test_the_rasteriser_is_watertight_no_background_shows_between_triangles(size):
    """Triangles sharing an edge cut their rows at the same x: no pixel enclosed by the face is left empty."""
    face = load_face("human")
    r = FaceRenderer(face, size).renderer
    rng = np.random.default_rng(size)
    for jaw in (0.0, 0.1, 0.25):
        _, face_id, _ = r.rasterize(face.vertices(rng.uniform(0, 2, 50), [jaw, 0, 0]), face.faces)
        inner = face_id[1:-1, 1:-1]
        neighbours = np.stack([face_id[:-2, 1:-1], face_id[2:, 1:-1], face_id[1:-1, :-2], face_id[1:-1, 2:]])
        assert not ((inner < 0) & (neighbours >= 0).all(axis=0)).any()


def test_a_stage_clock_times_each_stage_of_a_human_frame():
    from paindiffusion_ros.face.render import StageClock

    clock = StageClock()
    r = FaceRenderer(load_face("human"), 64)
    for _ in range(2):
        r.render(np.zeros(50), np.zeros(3), clock)
    assert list(clock.times) == ["blendshapes + jaw", "rasterise", "normals", "occlusion", "wrinkle map",
                                 "shade + edge filter"]
    assert all(len(ms) == 2 and min(ms) >= 0.0 for ms in clock.times.values())
