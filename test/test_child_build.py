"""A face not cached yet is built in a child process (``face/child_build.py``)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from paindiffusion_ros.face import child_build, face_cache, human
from paindiffusion_ros.face.appearance import Appearance
from paindiffusion_ros.face.human import HumanFace


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(face_cache.CACHE_ENV, str(tmp_path / "cache"))
    human.human_face.cache_clear()
    yield tmp_path / "cache"
    human.human_face.cache_clear()


def test_the_child_builds_the_face_this_process_would_bit_for_bit():
    appearance = Appearance(sex="female", age=70.0, seed=3)
    child = child_build.human_arrays(appearance)
    here = HumanFace(appearance).arrays()
    assert child is not None and child.keys() == here.keys()
    for name in here:
        assert child[name].dtype == here[name].dtype and np.array_equal(child[name], here[name]), name


def test_a_node_builds_its_uncached_face_in_the_child_and_only_loads_it(cache, monkeypatch):
    def fail(*_):
        raise AssertionError("the face was built in this process")

    monkeypatch.setattr(HumanFace, "__init__", fail)
    face = human.human_face(Appearance())
    assert face.rest.shape[1] == 3 and len(face.faces) > 1000
    assert len(list(cache.glob("human-*.npz"))) == 1


def test_a_child_that_fails_is_one_warning_naming_why_and_the_face_is_built_here(caplog):
    impossible = Appearance(age=1000.0)  # not validated here: the child rejects it
    with caplog.at_level(logging.WARNING, logger=child_build.__name__):
        assert child_build.human_arrays(impossible) is None
    warnings = [r.getMessage() for r in caplog.records if r.name == child_build.__name__]
    assert len(warnings) == 1 and "age" in warnings[0] and "building in this process" in warnings[0]
