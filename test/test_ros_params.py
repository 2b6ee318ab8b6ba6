"""ROS parameters from settings dataclasses: descriptors, YAML, run-time validation."""

from dataclasses import dataclass, field

import pytest
import rclpy
from rclpy.exceptions import InvalidParameterValueException
from rclpy.parameter import Parameter

from paindiffusion_ros.nodes.params import ParameterGroup


@dataclass
class Settings:
    gain: float = field(default=1.0, metadata={"help": "a gain", "range": (0.0, 2.0)})
    count: int = field(default=3, metadata={"help": "a count", "range": (1, 10)})
    colour: str = field(default="red", metadata={"help": "a colour", "choices": ("red", "green")})
    enabled: bool = field(default=True, metadata={"help": "a switch"})
    name: str = field(default="x", metadata={"help": "start-up only"})



def make(context, overrides=(), apply=None):
    node = rclpy.create_node("params_under_test", context=context, parameter_overrides=list(overrides))
    applied = []

    def record(changes):
        if apply is not None:
            apply(changes)
        applied.append(changes)

    group = ParameterGroup(node, Settings(), mutable=("gain", "count", "colour", "enabled"), apply=record)
    return node, group, applied


def test_descriptors_carry_help_range_choices_and_read_only(context):
    node, group, _ = make(context)
    gain, count, colour, name = node.describe_parameters(["gain", "count", "colour", "name"])
    assert gain.description == "a gain" and gain.floating_point_range[0].to_value == 2.0
    assert count.integer_range[0].from_value == 1 and count.integer_range[0].to_value == 10
    assert "red, green" in colour.description
    assert colour.additional_constraints == "one of: red, green" and gain.additional_constraints == ""
    assert name.read_only and not gain.read_only
    assert group.settings == Settings()
    node.destroy_node()


def test_overrides_flow_into_the_dataclass(context):
    node, group, _ = make(context, [Parameter("gain", value=1.5), Parameter("colour", value="green")])
    assert group.settings.gain == 1.5 and group.settings.colour == "green"
    node.destroy_node()


def test_bad_startup_choice_names_node_and_parameter(context):
    with pytest.raises(ValueError, match="params_under_test.*colour='blue'"):
        make(context, [Parameter("colour", value="blue")])


def test_out_of_range_startup_value_is_refused(context):
    with pytest.raises(InvalidParameterValueException):
        make(context, [Parameter("gain", value=5.0)])


@pytest.mark.parametrize(
    "parameter, reason",
    [
        (Parameter("gain", value=2.5), "out of range"),
        (Parameter("gain", value="high"), "Wrong parameter type"),
        (Parameter("count", value=0), "out of range"),
        (Parameter("colour", value="blue"), "not one of red, green"),
        (Parameter("name", value="y"), "read-only"),
    ],
)
def test_bad_runtime_values_are_rejected_with_a_reason(context, parameter, reason):
    node, group, applied = make(context)
    (result,) = node.set_parameters([parameter])
    assert not result.successful and reason in result.reason
    assert group.settings == Settings() and applied == []
    assert node.get_parameter(parameter.name).value == getattr(Settings(), parameter.name)
    node.destroy_node()


def test_library_validation_vetoes_and_good_values_apply(context):
    def veto_odd(changes):
        if changes.get("count", 2) % 2:
            raise ValueError("count must be even")

    node, group, applied = make(context, apply=veto_odd)
    (rejected,) = node.set_parameters([Parameter("count", value=5)])
    assert not rejected.successful and rejected.reason == "count must be even"
    assert group.settings.count == 3
    (accepted,) = node.set_parameters([Parameter("count", value=4)])
    assert accepted.successful and group.settings.count == 4 and applied == [{"count": 4}]
    node.destroy_node()
