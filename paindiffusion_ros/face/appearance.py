"""Patient appearance: sex, age, skin tone, ancestry and a seed for small identity variation.

The face's shape follows MakeHuman's macro system (the CC0 ``macrodetails`` targets):
a base mesh plus ``universal-<sex>-<age>-<muscle>-<weight>`` and
``<ancestry>-<sex>-<age>`` targets weighted by how far the patient lies between the
modelled ages (11, 25 and 90 years) and sexes. The seed adds small modelling offsets
(head, nose, mouth, chin, brows, cheeks; seed 0 adds none) and picks hair and iris
colours. ``skin_tone`` follows the Fitzpatrick scale (Fitzpatrick 1988), I = very fair
… VI = deeply pigmented, as a continuous 1–6.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..data.settings import check_fields, from_mapping

SEXES = ("female", "male")
ANCESTRIES = ("mixed", "african", "asian", "caucasian")
AGE_RANGE = (18.0, 100.0)
SKIN_TONE_RANGE = (1.0, 6.0)
SEED_RANGE = (0, 9999)

MODELLED_AGES = (11.0, 25.0, 90.0)
"""Years of MakeHuman's child, young and old targets (age value 0.1875, 0.5, 1)."""


@dataclass(frozen=True)
class Appearance:
    """Who the patient looks like."""

    sex: str = field(default="male", metadata={"help": "patient sex (face shape, beard shadow)", "choices": SEXES})
    age: float = field(default=55.0, metadata={
        "help": "patient age in years (shape from MakeHuman's 25 and 90 year targets, skin ageing, greying)",
        "range": AGE_RANGE})
    skin_tone: float = field(default=3.0, metadata={
        "help": "skin tone on the Fitzpatrick scale: 1 very fair, 2 fair, 3 medium, 4 olive, 5 brown, 6 dark brown",
        "range": SKIN_TONE_RANGE})
    ancestry: str = field(default="mixed", metadata={
        "help": "face shape family of MakeHuman's ancestry targets (mixed = equal parts)", "choices": ANCESTRIES})
    seed: int = field(default=0, metadata={
        "help": "small identity variation (face proportions, hair and iris colour); 0 = the average face",
        "range": SEED_RANGE})

    def validate(self) -> "Appearance":
        """This appearance, or ValueError naming the first field outside its choices or range."""
        check_fields(self, "appearance")
        return self


FIELDS = tuple(f.name for f in dataclasses.fields(Appearance))


def parse_appearance(text: str, base: Appearance = Appearance()) -> Appearance:
    """``"sex=female,age=80,skin_tone=2.5"`` (the ``--appearance`` syntax) over ``base``."""
    changes: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in FIELDS:
            raise ValueError(f"appearance: {item!r} is not NAME=VALUE with NAME one of {', '.join(FIELDS)}")
        changes[name] = _convert(name, value.strip())
    return dataclasses.replace(base, **changes).validate()


def _convert(name: str, value: Any) -> Any:
    kind = type(getattr(Appearance(), name))
    if kind is str:
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"appearance: {name}={value!r} is not a number") from None
    if not np.isfinite(number):
        raise ValueError(f"appearance: {name}={value!r} is not a finite number")
    if kind is int:
        if number != int(number):
            raise ValueError(f"appearance: {name}={value!r} is not a whole number")
        return int(number)
    return number


def appearance_from_profile(profile: str, base: Appearance = Appearance()) -> Appearance:
    """The ``appearance:`` block of a patient profile (a name in ``config/patients`` or a YAML
    path) over ``base``; ValueError naming the file and the bad key or value."""
    from ..stimulus import resolve_profile_path

    path = resolve_profile_path(profile)
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read patient profile {path}: {error}") from None
    block = data.get("appearance", {}) if isinstance(data, dict) else None
    if not isinstance(block, dict):
        raise ValueError(f"patient profile {path}: 'appearance' must be a mapping of {', '.join(FIELDS)}")
    try:
        from_mapping(Appearance, {name: 0 for name in block}, "appearance")  # names unknown keys
        return dataclasses.replace(base, **{k: _convert(k, v) for k, v in block.items()}).validate()
    except ValueError as error:
        raise ValueError(f"patient profile {path}: {error}") from None


def age_weights(years: float) -> dict[str, float]:
    """Weights of MakeHuman's child/young/old targets for an age in years."""
    child, young, old = MODELLED_AGES
    if years <= young:
        t = float(np.clip((years - child) / (young - child), 0.0, 1.0))
        return {"child": 1.0 - t, "young": t}
    t = float(np.clip((years - young) / (old - young), 0.0, 1.0))
    return {"young": 1.0 - t, "old": t}


def ancestry_weights(ancestry: str) -> dict[str, float]:
    """MakeHuman ancestry mix: one family, or equal thirds for ``mixed``."""
    if ancestry == "mixed":
        return {name: 1.0 / 3.0 for name in ANCESTRIES[1:]}
    return {ancestry: 1.0}


def _sides(value: float, low: str, high: str) -> dict[str, float]:
    """A 0–1 macro value between two targets with an average in the middle (MakeHuman's muscle/weight)."""
    if value < 0.5:
        return {low: 1.0 - 2.0 * value, "average" + high[3:]: 2.0 * value}
    return {"average" + high[3:]: 2.0 - 2.0 * value, high: 2.0 * value - 1.0}


def macro_targets(appearance: Appearance) -> dict[str, float]:
    """``{target path under mpfb2/targets/macrodetails: weight}`` for this appearance."""
    rng = np.random.default_rng(appearance.seed) if appearance.seed else None
    male = 1.0 if appearance.sex == "male" else 0.0
    if rng is not None:
        male = abs(male - rng.uniform(0.0, 0.12))
    sexes = {"female": 1.0 - male, "male": male}
    ages = age_weights(appearance.age)
    body_weight = 0.5 + (rng.uniform(-0.2, 0.2) if rng is not None else 0.0)
    weights = _sides(body_weight, "minweight", "maxweight")
    out: dict[str, float] = {}
    for sex, ws in sexes.items():
        for age, wa in ages.items():
            for weight, ww in weights.items():
                out[f"universal-{sex}-{age}-averagemuscle-{weight}.target.gz"] = ws * wa * ww
            for family, wf in ancestry_weights(appearance.ancestry).items():
                out[f"{family}-{sex}-{age}.target.gz"] = ws * wa * wf
    return {name: w for name, w in out.items() if w > 1e-6}


IDENTITY_TARGETS: tuple[tuple[str, str, float], ...] = (
    ("head/head-oval", "head/head-round", 0.5),
    ("head/head-scale-horiz-decr", "head/head-scale-horiz-incr", 0.4),
    ("nose/nose-scale-horiz-decr", "nose/nose-scale-horiz-incr", 0.5),
    ("nose/nose-scale-vert-decr", "nose/nose-scale-vert-incr", 0.4),
    ("nose/nose-hump-decr", "nose/nose-hump-incr", 0.5),
    ("nose/nose-point-width-decr", "nose/nose-point-width-incr", 0.4),
    ("mouth/mouth-scale-horiz-decr", "mouth/mouth-scale-horiz-incr", 0.4),
    ("mouth/mouth-upperlip-volume-decr", "mouth/mouth-upperlip-volume-incr", 0.5),
    ("mouth/mouth-lowerlip-volume-decr", "mouth/mouth-lowerlip-volume-incr", 0.5),
    ("chin/chin-prominent-decr", "chin/chin-prominent-incr", 0.5),
    ("chin/chin-width-decr", "chin/chin-width-incr", 0.4),
    ("eyebrows/eyebrows-trans-down", "eyebrows/eyebrows-trans-up", 0.4),
    ("eyebrows/eyebrows-angle-down", "eyebrows/eyebrows-angle-up", 0.4),
    ("cheek/l-cheek-bones-decr", "cheek/l-cheek-bones-incr", 0.4),
    ("cheek/r-cheek-bones-decr", "cheek/r-cheek-bones-incr", 0.4),
)
"""Modelling target pairs (decrease, increase) and the largest weight the seed may give."""


def identity_targets(appearance: Appearance) -> dict[str, float]:
    """``{target path under mpfb2/targets: weight}``: the seed's small modelling offsets."""
    if not appearance.seed:
        return {}
    rng = np.random.default_rng(10_000 + appearance.seed)
    cheek = rng.uniform(-1.0, 1.0)
    out = {}
    for low, high, scale in IDENTITY_TARGETS:
        value = scale * (cheek if "cheek-bones" in low else rng.uniform(-1.0, 1.0))
        out[f"{high if value > 0 else low}.target.gz"] = abs(value)
    return out


FITZPATRICK_SRGB = np.array([
    [236, 200, 182], [224, 182, 155], [203, 153, 120], [170, 118, 84], [122, 80, 55], [78, 52, 39],
], np.float64) / 255.0
"""Representative forehead/cheek skin albedo of Fitzpatrick types I–VI (sRGB)."""

HAIR_SRGB = {
    "black": (28, 24, 22), "dark brown": (52, 38, 28), "brown": (88, 62, 42), "light brown": (128, 96, 64),
    "blond": (176, 146, 100), "auburn": (110, 56, 34),
}
IRIS_SRGB = {
    "dark brown": (62, 38, 22), "brown": (98, 60, 30), "hazel": (118, 92, 48), "green": (88, 108, 64),
    "blue": (78, 112, 150), "grey": (112, 124, 134),
}
GREY_HAIR_SRGB = (200, 198, 192)


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def skin_albedo(skin_tone: float) -> np.ndarray:
    """Linear RGB skin albedo for a Fitzpatrick value 1–6 (interpolated between types)."""
    linear = srgb_to_linear(FITZPATRICK_SRGB)
    t = float(np.clip(skin_tone, 1.0, 6.0)) - 1.0
    i = min(int(t), 4)
    return linear[i] + (t - i) * (linear[i + 1] - linear[i])


def _pick(rng: np.random.Generator, table: dict[str, tuple[int, int, int]], weights: list[float]) -> np.ndarray:
    names = list(table)
    p = np.asarray(weights, np.float64)
    return srgb_to_linear(np.asarray(table[names[rng.choice(len(names), p=p / p.sum())]]) / 255.0)


def hair_colour(appearance: Appearance) -> tuple[np.ndarray, float]:
    """Linear RGB of the pigmented hair and the fraction of grey hairs (age)."""
    dark = float(np.clip((appearance.skin_tone - 2.5) / 2.0, 0.0, 1.0))
    if appearance.seed:
        rng = np.random.default_rng(20_000 + appearance.seed)
        colour = _pick(rng, HAIR_SRGB, [1 + 6 * dark, 2 + 2 * dark, 2, 1.5 * (1 - dark), 1 - dark, 0.4 * (1 - dark)])
    else:
        colour = srgb_to_linear(np.asarray(HAIR_SRGB["dark brown" if dark < 0.5 else "black"]) / 255.0)
    grey = float(np.clip((appearance.age - 45.0) / 40.0, 0.0, 0.92))
    return colour, grey


def iris_colour(appearance: Appearance) -> np.ndarray:
    """Linear RGB of the iris."""
    dark = float(np.clip((appearance.skin_tone - 2.5) / 2.0, 0.0, 1.0))
    if not appearance.seed:
        return srgb_to_linear(np.asarray(IRIS_SRGB["brown" if dark < 0.5 else "dark brown"]) / 255.0)
    rng = np.random.default_rng(30_000 + appearance.seed)
    return _pick(rng, IRIS_SRGB, [1 + 6 * dark, 2, 1, 1 - dark, 1.5 * (1 - dark), 1 - dark])
