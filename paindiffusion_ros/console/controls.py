"""The operator console's controls: which node parameters the page may change, and the checks
a value passes before it is sent.

Each control is one run-time parameter of one node. What a value must be comes from that
node itself — the type, range, read-only flag and choices of the parameter's
``ParameterDescriptor`` (``describe_parameters``, as ``ros2 param describe`` shows it) —
so the console refuses, with the reason, an unknown control, a value of the wrong type,
one outside the range or not among the choices, and never passes one on. A value that
passes is set with ``ros2 param set`` semantics, and the node's own validation may still
refuse it; its reason goes back to the page unchanged. The patient profile is further
limited to the shipped profiles: the node also takes a file path, the web page does not.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, replace
from typing import Any, Optional, Sequence

from ..stimulus import patient_dir

CHOICES_PREFIX = "one of: "
"""How ``nodes/params.py`` writes a field's choices into ``ParameterDescriptor.additional_constraints``."""
ROLES = ("generator", "mapper", "elbow")
"""The nodes the console talks to, by role; their names are console parameters."""
KINDS = ("bool", "integer", "double", "string")


class ControlError(ValueError):
    """A control request the console refuses; the message is the reason shown on the page."""


@dataclass(frozen=True)
class Control:
    """One parameter of one node that the console offers."""

    key: str
    role: str
    parameter: str
    label: str
    group: str
    restrict_to_profiles: bool = False


CONTROLS: tuple[Control, ...] = (
    Control("mapper.patient_profile", "mapper", "patient_profile", "Patient profile", "Patient", restrict_to_profiles=True),
    Control("generator.expressiveness", "generator", "expressiveness", "Pain expressiveness (mean PSPI)", "Patient"),
    Control("generator.emotion", "generator", "emotion", "Emotion", "Patient"),
    Control("generator.guidance_stimulus", "generator", "guidance_stimulus", "Guidance λ stimulus", "Guidance"),
    Control("generator.guidance_expressiveness", "generator", "guidance_expressiveness", "Guidance λ expressiveness", "Guidance"),
    Control("generator.guidance_emotion", "generator", "guidance_emotion", "Guidance λ emotion", "Guidance"),
    Control("elbow.mode", "elbow", "mode", "Elbow mode", "Elbow"),
    Control("mapper.override_c", "mapper", "override_c", "Heat override (°C, 0 = off)", "Heat override"),
)
OVERRIDE_KEY = "mapper.override_c"


def shipped_profiles() -> tuple[str, ...]:
    """'' (the linear map) and the names of the profiles in ``config/patients``."""
    return ("",) + tuple(sorted(path.stem for path in patient_dir().glob("*.yaml")))


def choices_from_constraints(text: str) -> tuple[str, ...]:
    """The choices ``nodes/params.py`` lists in ``additional_constraints`` (none if it lists none)."""
    if not text.startswith(CHOICES_PREFIX):
        return ()
    return tuple(choice.strip() for choice in text[len(CHOICES_PREFIX) :].split(","))


@dataclass(frozen=True)
class ParameterSpec:
    """What a node says about one of its parameters, and the value it last reported."""

    kind: str
    value: Any
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    step: float = 0.0
    choices: tuple[str, ...] = ()
    read_only: bool = False
    description: str = ""


def shown(value: Any) -> str:
    """A value as the page sent it (JSON), for refusal messages."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        return repr(value)


def check_value(control: Control, spec: ParameterSpec, value: Any) -> Any:
    """``value`` converted to the parameter's type; ControlError with the reason when it is refused."""
    name = control.parameter
    if spec.read_only:
        raise ControlError(f"{name} is read-only on the node")
    if spec.kind == "double":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ControlError(f"{name} must be a number, got {shown(value)}")
        value = float(value)
        if not math.isfinite(value):
            raise ControlError(f"{name} must be a finite number, got {value}")
    elif spec.kind == "integer":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ControlError(f"{name} must be a whole number, got {shown(value)}")
    elif spec.kind == "string":
        if not isinstance(value, str):
            raise ControlError(f"{name} must be text, got {shown(value)}")
    elif spec.kind == "bool":
        if not isinstance(value, bool):
            raise ControlError(f"{name} must be true or false, got {shown(value)}")
    else:
        raise ControlError(f"{name} has the parameter type {spec.kind!r}, which the console does not set")
    if spec.minimum is not None and spec.maximum is not None and not spec.minimum <= value <= spec.maximum:
        raise ControlError(f"{name} = {value!r} is outside {spec.minimum:g}…{spec.maximum:g}")
    if spec.choices and value not in spec.choices:
        listed = ", ".join(repr(c) if c == "" else c for c in spec.choices)
        raise ControlError(f"{name} = {value!r} is not one of {listed}")
    return value


@dataclass
class _State:
    node: str
    spec: Optional[ParameterSpec] = None
    error: str = ""
    """Why the control is unavailable (names the node)."""


class ControlPanel:
    """The controls with what their nodes last reported; shared by the ROS side and the web side.

    The node fills it (``describe``, ``reported``, ``unavailable``); the web server reads
    ``snapshot()`` and checks requests with ``validate``. Thread-safe. ``revision`` counts
    changes, so the page knows when to redraw.
    """

    def __init__(self, node_names: dict[str, str], controls: Sequence[Control] = CONTROLS) -> None:
        if set(node_names) != set(ROLES):
            raise ValueError(f"node names must be given for exactly {', '.join(ROLES)}")
        self.node_names = dict(node_names)
        self.controls = tuple(controls)
        self.by_key = {control.key: control for control in self.controls}
        self._states = {c.key: _State(self.node_names[c.role], error=f"waiting for {self.node_names[c.role]}") for c in self.controls}
        self._lock = threading.Lock()
        self.revision = 0

    def for_role(self, role: str) -> list[Control]:
        return [c for c in self.controls if c.role == role]

    def describe(self, control: Control, spec: ParameterSpec) -> None:
        """The node's descriptor and current value arrived."""
        if control.restrict_to_profiles:
            spec = replace(spec, choices=shipped_profiles())
        with self._lock:
            self._states[control.key] = _State(node=self.node_names[control.role], spec=spec)
            self.revision += 1

    def reported(self, role: str, parameter: str, value: Any) -> None:
        """The node reported a new value (a parameter event: from the console or anyone else)."""
        with self._lock:
            for control in self.for_role(role):
                state = self._states[control.key]
                if control.parameter == parameter and state.spec is not None and state.spec.value != value:
                    state.spec = replace(state.spec, value=value)
                    self.revision += 1

    def unavailable(self, role: str, reason: str) -> None:
        """The node is gone (or never came): its controls are shown disabled with ``reason``."""
        with self._lock:
            for control in self.for_role(role):
                state = self._states[control.key]
                if state.spec is not None or state.error != reason:
                    self._states[control.key] = _State(node=state.node, error=reason)
                    self.revision += 1

    def known(self, role: str) -> bool:
        """Whether every control of ``role`` has its node's descriptor."""
        with self._lock:
            return all(self._states[c.key].spec is not None for c in self.for_role(role))

    def validate(self, key: Any, value: Any) -> tuple[Control, Any]:
        """The control and the checked value for a request; ControlError naming what is wrong."""
        if not isinstance(key, str) or key not in self.by_key:
            raise ControlError(f"unknown control {key!r}; the console offers {', '.join(self.by_key)}")
        control = self.by_key[key]
        with self._lock:
            state = self._states[key]
        if state.spec is None:
            raise ControlError(state.error)
        return control, check_value(control, state.spec, value)

    def snapshot(self) -> dict:
        """Everything the page needs to draw the controls (JSON-ready)."""
        with self._lock:
            items = []
            for control in self.controls:
                state = self._states[control.key]
                item = {"key": control.key, "label": control.label, "group": control.group, "node": state.node, "parameter": control.parameter}
                if state.spec is None:
                    item.update(available=False, error=state.error)
                else:
                    spec = state.spec
                    item.update(
                        available=True, kind=spec.kind, value=spec.value, min=spec.minimum, max=spec.maximum,
                        step=spec.step, choices=list(spec.choices), read_only=spec.read_only, description=spec.description,
                    )
                items.append(item)
            return {"revision": self.revision, "controls": items}

    def value(self, key: str) -> Any:
        """The last reported value of a control (None while unknown)."""
        with self._lock:
            spec = self._states[key].spec
            return None if spec is None else spec.value
