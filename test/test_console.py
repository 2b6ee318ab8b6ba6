"""The console's checks without a graph: control values, access rules, live data, ratings."""

from __future__ import annotations

import math
import time

import pytest

from paindiffusion_ros.console.controls import (
    CONTROLS,
    ControlError,
    ControlPanel,
    ParameterSpec,
    check_value,
    choices_from_constraints,
    shipped_profiles,
)
from paindiffusion_ros.console.live import LiveData
from paindiffusion_ros.console.security import Access, Tokens, is_loopback, loopback_hosts, presented_token, refusal
from paindiffusion_ros.session.rating import check_rating

NODES = {"generator": "pain_generator", "mapper": "stimulus_mapper", "elbow": "elbow_driver"}
EXPRESSIVENESS = ParameterSpec(kind="double", value=2.0, minimum=0.0, maximum=16.0)


def panel_with(key: str, spec: ParameterSpec) -> ControlPanel:
    panel = ControlPanel(NODES)
    panel.describe(panel.by_key[key], spec)
    return panel


def test_a_value_is_converted_to_the_parameters_type_or_refused_with_the_reason():
    panel = panel_with("generator.expressiveness", EXPRESSIVENESS)
    control, value = panel.validate("generator.expressiveness", 3)
    assert control.parameter == "expressiveness" and value == 3.0 and isinstance(value, float)
    for bad, reason in [
        ("3", 'expressiveness must be a number, got "3"'),
        (True, "expressiveness must be a number, got true"),
        (None, "expressiveness must be a number, got null"),
        (16.5, "expressiveness = 16.5 is outside 0…16"),
        (-1, "expressiveness = -1.0 is outside 0…16"),
    ]:
        with pytest.raises(ControlError) as refused:
            panel.validate("generator.expressiveness", bad)
        assert str(refused.value) == reason
    with pytest.raises(ControlError, match=r"must be a finite number, got nan"):
        panel.validate("generator.expressiveness", math.nan)


def test_unknown_controls_and_nodes_not_yet_described_are_refused():
    panel = ControlPanel(NODES)
    with pytest.raises(ControlError, match=r"unknown control 'generator.model'; the console offers mapper.patient_profile, "):
        panel.validate("generator.model", "/tmp/evil")
    with pytest.raises(ControlError, match=r"unknown control \['x'\]"):
        panel.validate(["x"], 1)
    with pytest.raises(ControlError, match="waiting for pain_generator"):
        panel.validate("generator.expressiveness", 2.0)
    panel.unavailable("generator", "pain_generator is not running (no parameter services)")
    with pytest.raises(ControlError, match="pain_generator is not running"):
        panel.validate("generator.emotion", "fear")
    assert [c["available"] for c in panel.snapshot()["controls"]] == [False] * len(CONTROLS)


def test_choices_integers_and_read_only():
    emotion = ParameterSpec(kind="string", value="neutral", choices=choices_from_constraints("one of: fear, neutral"))
    assert check_value(CONTROLS[2], emotion, "fear") == "fear"
    with pytest.raises(ControlError, match="emotion = 'joy' is not one of fear, neutral"):
        check_value(CONTROLS[2], emotion, "joy")
    seed = ParameterSpec(kind="integer", value=0, minimum=0, maximum=10)
    assert check_value(CONTROLS[1], seed, 4.0) == 4
    with pytest.raises(ControlError, match="must be a whole number"):
        check_value(CONTROLS[1], seed, 4.5)
    with pytest.raises(ControlError, match="read-only"):
        check_value(CONTROLS[1], ParameterSpec(kind="double", value=1.0, read_only=True), 1.0)
    assert choices_from_constraints("") == ()


def test_the_patient_profile_is_limited_to_the_shipped_profiles():
    panel = panel_with("mapper.patient_profile", ParameterSpec(kind="string", value=""))
    assert shipped_profiles() == ("", "elderly", "sensitive", "stoic", "typical")
    assert panel.validate("mapper.patient_profile", "stoic")[1] == "stoic"
    assert panel.validate("mapper.patient_profile", "")[1] == ""
    with pytest.raises(ControlError, match="is not one of ''"):
        panel.validate("mapper.patient_profile", "/etc/passwd")


def test_reported_values_move_the_revision_only_when_they_change():
    panel = panel_with("generator.expressiveness", EXPRESSIVENESS)
    revision = panel.revision
    panel.reported("generator", "expressiveness", 2.0)
    assert panel.revision == revision
    panel.reported("generator", "expressiveness", 5.0)
    assert panel.revision == revision + 1 and panel.value("generator.expressiveness") == 5.0


@pytest.mark.parametrize(
    "access, tokens, token, allowed",
    [
        (Access.OPERATOR, Tokens(None, None), "", True),
        (Access.OPERATOR, Tokens("op", "tr"), "", False),
        (Access.OPERATOR, Tokens("op", "tr"), "tr", False),
        (Access.OPERATOR, Tokens("op", "tr"), "op", True),
        (Access.TRAINEE, Tokens("op", "tr"), "tr", True),
        (Access.TRAINEE, Tokens("op", "tr"), "op", True),
        (Access.TRAINEE, Tokens("op", "tr"), "xx", False),
        (Access.PUBLIC, Tokens("op", "tr"), "", True),
    ],
)
def test_tokens_grant_what_they_should_and_no_more(access, tokens, token, allowed):
    problem = refusal(access, tokens, token, "h:1", None, None, changes=True)
    assert (problem is None) == allowed
    if not allowed:
        assert problem[0] == 401


def test_host_and_origin_guards():
    hosts = loopback_hosts("127.0.0.1", 8080)
    assert "localhost:8080" in hosts and "127.0.0.1:8080" in hosts
    none = Tokens(None, None)
    assert refusal(Access.PUBLIC, none, "", "rebound.example:8080", hosts, None, False)[0] == 403
    assert refusal(Access.OPERATOR, none, "", "127.0.0.1:8080", hosts, "http://evil.example", True)[0] == 403
    assert refusal(Access.OPERATOR, none, "", "127.0.0.1:8080", hosts, "http://127.0.0.1:8080", True) is None
    assert refusal(Access.OPERATOR, none, "", "127.0.0.1:8080", hosts, "http://evil.example", False) is None  # reads are not forgeable
    assert loopback_hosts("0.0.0.0", 8080) is None


def test_tokens_are_generated_off_loopback_only():
    assert not Tokens.for_host("127.0.0.1").required and not Tokens.for_host("localhost").required
    generated = Tokens.for_host("0.0.0.0")
    assert generated.required and len(generated.operator) >= 20 and generated.operator != generated.trainee
    assert Tokens.for_host("0.0.0.0", "a", "b") == Tokens("a", "b")
    assert Tokens.for_host("127.0.0.1", "a").operator == "a"  # a configured token is always required
    assert is_loopback("::1") and not is_loopback("192.168.1.4") and not is_loopback("bench.local")
    assert presented_token({"Authorization": "Bearer abc"}, {"token": "x"}) == "abc"
    assert presented_token({}, {"token": "x"}) == "x"


def test_ratings_must_be_numbers_on_the_nrs():
    assert check_rating(7) == 7.0
    for bad in ("7", True, None, -0.1, 10.5, math.inf, math.nan):
        with pytest.raises(ValueError):
            check_rating(bad)


def test_live_traces_are_decimated_windowed_and_read_once_per_cursor():
    live = LiveData(rate=20.0, window=0.3)
    for value in range(50):
        live.add("angle", value)
    assert len(live.traces_after({})["angle"]) == 1  # 50 samples within 1/20 s: one kept
    live.add("rating", 1.0, force=True)
    live.add("rating", 2.0, force=True)
    cursors: dict[str, float] = {}
    assert [v for _, v in live.traces_after(cursors)["rating"]] == [1.0, 2.0]
    assert live.traces_after(cursors)["rating"] == []
    time.sleep(0.35)
    live.add("rating", 3.0, force=True)
    assert [v for _, v in live.traces_after({})["rating"]] == [3.0]  # the older ones left the window


def test_faces_are_kept_at_most_at_the_face_rate():
    live = LiveData()
    assert live.face is None and live.face_due(0.1) and live.face_age() is None
    live.set_face(b"jpeg", "image/jpeg")
    assert live.face.sequence == 1 and not live.face_due(10.0) and live.face_age() < 10.0
