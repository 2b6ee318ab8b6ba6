"""FLAME loader: numerics on a small FLAME-format file, both stored layouts, and errors."""

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from paindiffusion_ros.face import flame
from paindiffusion_ros.face.models import load_face
from paindiffusion_ros.face.render import FaceRenderer

V = 12
JAW_VERTS = np.arange(6)


def small_model(seed: int = 0, posedirs: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    v = rng.normal(0, 0.05, (V, 3))
    regressor = np.zeros((5, V))
    for j in range(5):
        regressor[j, [j, j + 5]] = 0.5
    weights = np.zeros((V, 5))
    weights[JAW_VERTS, 2] = 1.0
    weights[6:, 0] = 1.0
    faces = np.array([[i, i + 1, i + 2] for i in range(V - 2)], np.int64)
    return {
        "v_template": v,
        "shapedirs": rng.normal(0, 0.01, (V, 3, 400)),
        "posedirs": rng.normal(0, 0.01, (V, 3, 36)) if posedirs else np.zeros((V, 3, 36)),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], np.uint32),
        "f": faces,
    }


def write(tmp_path, model, name="flame.pkl"):
    path = tmp_path / name
    path.write_bytes(pickle.dumps(model, protocol=2))
    return path


def test_expression_is_the_linear_blendshape_after_300_shape_components(tmp_path):
    m = small_model()
    face = flame.load_flame(write(tmp_path, m))
    psi = np.random.default_rng(1).normal(size=50).astype(np.float32)
    np.testing.assert_allclose(face.vertices(np.zeros(50), np.zeros(3)), m["v_template"], atol=1e-6)
    expected = m["v_template"] + m["shapedirs"][:, :, 300:350] @ psi
    np.testing.assert_allclose(face.vertices(psi, np.zeros(3)), expected, atol=1e-6)


def test_jaw_lbs_matches_hand_computed_rotation_about_the_jaw_joint(tmp_path):
    m = small_model()
    face = flame.load_flame(write(tmp_path, m))
    angle = 0.3
    c, s = np.cos(angle), np.sin(angle)
    rx = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    jaw_joint = m["J_regressor"][2] @ m["v_template"]
    expected = m["v_template"].copy()
    expected[JAW_VERTS] = (m["v_template"][JAW_VERTS] - jaw_joint) @ rx.T + jaw_joint
    np.testing.assert_allclose(face.vertices(np.zeros(50), [angle, 0, 0]), expected, atol=1e-6)


def test_pose_correctives_use_rotation_minus_identity_of_the_non_root_joints(tmp_path):
    m = small_model(posedirs=True)
    m["weights"][:] = 0.0
    m["weights"][:, 0] = 1.0  # nothing skinned to the jaw: only the correctives move vertices
    face = flame.load_flame(write(tmp_path, m))
    jaw = np.array([0.0, 0.2, 0.1])
    rotations = np.tile(np.eye(3), (4, 1, 1))
    angle = np.linalg.norm(jaw)
    k = np.array([[0, -jaw[2], jaw[1]], [jaw[2], 0, -jaw[0]], [-jaw[1], jaw[0], 0]]) / angle
    rotations[1] = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k  # jaw is joint 2 = index 1 here
    feature = (rotations - np.eye(3)).reshape(-1)
    expected = m["v_template"] + (m["posedirs"].reshape(V * 3, 36) @ feature).reshape(V, 3)
    np.testing.assert_allclose(face.vertices(np.zeros(50), jaw), expected, atol=1e-6)


def rotation(axis_angle) -> np.ndarray:
    r = np.asarray(axis_angle, float)
    angle = np.linalg.norm(r)
    k = np.array([[0, -r[2], r[1]], [r[2], 0, -r[0]], [-r[1], r[0], 0]]) / angle
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def test_configured_shape_and_global_pose_compose_with_the_jaw(tmp_path):
    m = small_model(seed=2)
    beta = np.random.default_rng(4).normal(size=300)
    pose = np.zeros((5, 3))
    pose[0] = [0.0, 0.4, 0.1]  # global head rotation
    pose[2] = [9.0, 9.0, 9.0]  # the jaw row is replaced by the jaw parameter
    face = flame.load_flame(write(tmp_path, m), shape=beta, pose=pose)
    shaped = m["v_template"] + m["shapedirs"][:, :, :300] @ beta
    joints = m["J_regressor"] @ shaped
    rg, rj = rotation(pose[0]), rotation([0.2, 0.0, 0.0])
    expected = (shaped - joints[0]) @ rg.T + joints[0]
    jaw_part = (shaped[JAW_VERTS] - joints[2]) @ rj.T + joints[2]
    expected[JAW_VERTS] = (jaw_part - joints[0]) @ rg.T + joints[0]
    np.testing.assert_allclose(face.vertices(np.zeros(50), [0.2, 0, 0]), expected, atol=1e-6)
    with pytest.raises(flame.FlameError, match=r"pose must be \(5,3\)"):
        flame.load_flame(write(tmp_path, m), pose=np.zeros(3))
    with pytest.raises(flame.FlameError, match="shape must be 300"):
        flame.load_flame(write(tmp_path, m), shape=np.zeros(100))


def test_sparse_regressor_from_an_older_scipy_with_a_plain_shape_attribute():
    record = flame._CscMatrix()
    record.__setstate__({"data": np.array([1.0, 2.0]), "indices": np.array([1, 0]),
                         "indptr": np.array([0, 1, 2]), "shape": (2, 2)})
    np.testing.assert_array_equal(flame._to_array(record, "J_regressor", Path("old.pkl")), [[0, 2], [1, 0]])


def _fake_class(module: str, name: str):
    mod = types.ModuleType(module)
    cls = type(name, (), {"__module__": module})
    setattr(mod, name, cls)
    return mod, cls


def test_chumpy_and_sparse_layout_loads_without_chumpy_or_scipy(tmp_path, monkeypatch):
    m = small_model(seed=3)
    ch_mod, Ch = _fake_class("chumpy.ch", "Ch")
    sp_mod, Csc = _fake_class("scipy.sparse._csc", "csc_matrix")
    for name, mod in (("chumpy", types.ModuleType("chumpy")), ("chumpy.ch", ch_mod),
                      ("scipy", types.ModuleType("scipy")), ("scipy.sparse", types.ModuleType("scipy.sparse")),
                      ("scipy.sparse._csc", sp_mod)):
        monkeypatch.setitem(sys.modules, name, mod)
    legacy = dict(m)
    for key in ("v_template", "shapedirs", "weights"):
        legacy[key] = Ch()
        legacy[key].__dict__.update(x=m[key])
    dense = m["J_regressor"]
    cols = [np.nonzero(dense[:, c])[0] for c in range(V)]
    sparse = Csc()
    sparse.__dict__.update(data=np.concatenate([dense[r, c] for c, r in enumerate(cols)]),
                           indices=np.concatenate(cols), _shape=dense.shape,
                           indptr=np.concatenate([[0], np.cumsum([len(r) for r in cols])]))
    legacy["J_regressor"] = sparse
    path = write(tmp_path, legacy, "legacy.pkl")
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    monkeypatch.delitem(sys.modules, "scipy.sparse._csc")
    arrays = flame.read_model_file(path)
    for key in flame.REQUIRED_KEYS:
        np.testing.assert_array_equal(arrays[key], m[key])


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(flame.FlameError, match="not found"):
        flame.load_flame(tmp_path / "absent.pkl")
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"\x00not a pickle")
    with pytest.raises(flame.FlameError, match="not a readable FLAME pickle"):
        flame.load_flame(garbage)
    m = small_model()
    del m["posedirs"]
    with pytest.raises(flame.FlameError, match="'posedirs'"):
        flame.load_flame(write(tmp_path, m, "nopose.pkl"))
    m = small_model()
    m["shapedirs"] = m["shapedirs"][:, :, :100]
    with pytest.raises(flame.FlameError, match="'shapedirs' has 100 components"):
        flame.load_flame(write(tmp_path, m, "short.pkl"))
    m = small_model()
    m["weights"] = m["weights"][:, :3]
    with pytest.raises(flame.FlameError, match="'weights' has shape"):
        flame.load_flame(write(tmp_path, m, "weights.pkl"))


def test_arbitrary_classes_in_the_pickle_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": Evil()}))
    with pytest.raises(flame.FlameError, match="refusing to load builtins.print"):
        flame.load_flame(path)


def test_load_face_flame_renders(tmp_path):
    face = load_face("flame", str(write(tmp_path, small_model())))
    assert face.binding.name == "flame-emoca-53"
    image = FaceRenderer(face, 64).render(np.zeros(50), np.zeros(3))
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8


def test_100_coefficients_drive_components_300_to_399(tmp_path):
    m = small_model()
    face = flame.load_flame(write(tmp_path, m), expression=100)
    assert face.binding.name == "flame-emoca-100" and len(face.binding.expression_names) == 100
    psi = np.random.default_rng(2).normal(size=100).astype(np.float32)
    expected = m["v_template"] + m["shapedirs"][:, :, 300:400] @ psi
    np.testing.assert_allclose(face.vertices(psi, np.zeros(3)), expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"expected expression \(100,\)"):
        face.vertices(np.zeros(50), np.zeros(3))


def test_100_coefficients_need_400_components_and_only_50_or_100_exist(tmp_path):
    m = small_model()
    m["shapedirs"] = m["shapedirs"][:, :, :350]
    path = write(tmp_path, m)
    assert flame.load_flame(path).binding.name == "flame-emoca-53"
    with pytest.raises(flame.FlameError, match="'shapedirs' has 350 components; FLAME needs 300 shape \\+ at least 100"):
        flame.load_flame(path, expression=100)
    with pytest.raises(flame.FlameError, match="must be one of 50, 100, got 80"):
        flame.load_flame(path, expression=80)


def test_load_face_flame_100_renders(tmp_path):
    face = load_face("flame", str(write(tmp_path, small_model())), flame_expression=100)
    image = FaceRenderer(face, 64).render(np.full(100, 0.5), np.zeros(3))
    assert face.binding.name == "flame-emoca-100" and image.shape == (64, 64, 3)
