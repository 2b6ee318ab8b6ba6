"""ROS parameters from settings dataclasses: one config path, YAML → parameters → dataclass.

Algorithm packages describe their settings as dataclasses whose fields carry
``metadata={"help": ..., "range": (lo, hi)}`` or ``{"help": ..., "choices": (...)}``
(docs/interfaces.md). ``ParameterGroup`` declares one ROS parameter per field with a
``ParameterDescriptor`` (description, numeric range, read-only for start-up settings,
choices as ``additional_constraints = "one of: a, b"``, which the operator console reads),
reads the values back into the dataclass, and validates run-time changes: rclpy checks
type, range and read-only; the group adds choices and the caller's own validation (the
library's, e.g. ``PainGenerator.update``) and rejects a bad value with its reason, so the
node keeps running with the old value.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Collection, Generic, Optional, TypeVar

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

Settings = TypeVar("Settings")
Apply = Callable[[dict[str, Any]], None]
"""Called with ``{field: new value}`` for accepted changes; raise ValueError to reject."""


def describe(item: dataclasses.Field, default: Any, read_only: bool) -> ParameterDescriptor:
    """Descriptor for one dataclass field from its metadata."""
    meta = item.metadata
    text = meta.get("help", item.name)
    constraints = ""
    if "choices" in meta:
        constraints = f"one of: {', '.join(map(str, meta['choices']))}"
        text += f" ({constraints})"
    descriptor = ParameterDescriptor(description=text, additional_constraints=constraints, read_only=read_only)
    if "range" in meta and not isinstance(default, bool):
        lo, hi = meta["range"]
        if isinstance(default, int):
            descriptor.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=1)]
        elif isinstance(default, float):
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)]
    return descriptor


def check_choices(item: dataclasses.Field, value: Any) -> None:
    """ValueError when a field with ``choices`` gets a value outside them."""
    choices = item.metadata.get("choices")
    if choices is not None and value not in choices:
        raise ValueError(f"{item.name}={value!r} is not one of {', '.join(map(str, choices))}")


class ParameterGroup(Generic[Settings]):
    """The ROS parameters of one settings dataclass on one node.

    ``defaults`` is an instance giving default values; ``mutable`` names the fields that
    may change at run time (all others are read-only); ``apply`` receives accepted
    run-time changes and may veto them by raising ValueError. ``prefix`` namespaces the
    parameter names (``prefix.field``).
    """

    def __init__(
        self,
        node: Node,
        defaults: Settings,
        mutable: Collection[str] = (),
        apply: Optional[Apply] = None,
        prefix: str = "",
    ) -> None:
        self.node = node
        self.cls = type(defaults)
        self.fields = {f.name: f for f in dataclasses.fields(defaults)}
        unknown = set(mutable) - set(self.fields)
        if unknown:
            raise ValueError(f"{self.cls.__name__} has no fields {sorted(unknown)}")
        self.mutable = frozenset(mutable)
        self.apply = apply
        self.prefix = f"{prefix}." if prefix else ""
        for name, item in self.fields.items():
            default = getattr(defaults, name)
            node.declare_parameter(self.prefix + name, default, describe(item, default, name not in self.mutable))
        self.settings: Settings = self._read()
        node.add_on_set_parameters_callback(self._on_set)

    def _read(self) -> Settings:
        values = {name: self.node.get_parameter(self.prefix + name).value for name in self.fields}
        for name, value in values.items():
            try:
                check_choices(self.fields[name], value)
            except ValueError as error:
                raise ValueError(f"node {self.node.get_name()}: parameter {self.prefix}{error}") from None
        return self.cls(**values)

    def _on_set(self, parameters: list[Parameter]) -> SetParametersResult:
        changes = {}
        for parameter in parameters:
            if not parameter.name.startswith(self.prefix):
                continue
            name = parameter.name[len(self.prefix) :]
            if name not in self.fields:
                continue
            try:
                check_choices(self.fields[name], parameter.value)
            except ValueError as error:
                return SetParametersResult(successful=False, reason=str(error))
            changes[name] = parameter.value
        if not changes:
            return SetParametersResult(successful=True)
        try:
            updated = dataclasses.replace(self.settings, **changes)
            if self.apply is not None:
                self.apply(changes)
        except (ValueError, RuntimeError) as error:  # the library's validation errors
            return SetParametersResult(successful=False, reason=str(error))
        self.settings = updated
        return SetParametersResult(successful=True)
