"""Settings dataclasses from YAML sections: unknown keys and out-of-range values are named."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, TypeVar

T = TypeVar("T")


def check_fields(settings: Any, what: str) -> None:
    """ValueError naming ``what.field`` when a value is outside its metadata range or choices."""
    for item in dataclasses.fields(settings):
        value = getattr(settings, item.name)
        choices = item.metadata.get("choices")
        if choices is not None and value not in choices:
            raise ValueError(f"{what}: {item.name}={value!r} is not one of {', '.join(map(str, choices))}")
        bounds = item.metadata.get("range")
        if bounds is not None and isinstance(value, (int, float)) and not bounds[0] <= value <= bounds[1]:
            raise ValueError(f"{what}: {item.name}={value!r} is outside [{bounds[0]}, {bounds[1]}]")


def from_mapping(cls: type[T], values: Mapping[str, Any] | None, what: str) -> T:
    """Build ``cls`` from a mapping, naming unknown keys; defaults fill the rest."""
    values = dict(values or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{what}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return cls(**values)
