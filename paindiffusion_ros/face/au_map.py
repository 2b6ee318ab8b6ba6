"""FACS action units → face-unit targets: the mapping that drives the human face.

Each of the 50 ``builtin-facs-53`` expression channels moves one or more targets with a
weight; a channel at its maximum (intensity 5, or 1 for the eye-closure units AU43/AU45)
applies each of its targets at ``weight`` (1.0 = the target's full extreme), so target
weight = weight × intensity / maximum. Targets are the ARKit face units of the CC0
"Face Units" pack (names like ``browDownLeft``); ``{S}`` is the side of a bilateral
channel (``AU4_L`` → ``browDownLeft``; ``{s}`` → ``left`` in MakeHuman names), or both
sides for a midline channel. A midline target driven by a bilateral channel
(AU1 → ``browInnerUp``) is split across the midline with a smooth side mask, so each
side moves its own half. Where ARKit has no unit for a motion (nostril dilation and
compression, AU38/AU39) or it is too weak for FACS's description (AU4 lowers the whole
brow, ARKit's ``browDown`` mostly its inner half), the MakeHuman expression units
(``mh:`` prefix, CC0) are used; a negative weight runs a unit backwards (AU4 pulls the
outer brow down with MakeHuman's outer-brow raiser reversed).

The jaw is not a morph: AU26/AU27 and the latent's jaw axis-angle rotate the skinned jaw
about its hinge (``human.py``); ``JAW_OPEN_PER_UNIT`` gives the opening each unit implies.
"""

from __future__ import annotations

import numpy as np

from . import facs

AU_NAMES: dict[str, str] = {
    "AU1": "inner brow raiser", "AU2": "outer brow raiser", "AU4": "brow lowerer", "AU5": "upper lid raiser",
    "AU6": "cheek raiser", "AU7": "lid tightener", "AU9": "nose wrinkler", "AU10": "upper lip raiser",
    "AU11": "nasolabial deepener", "AU12": "lip corner puller", "AU13": "sharp lip puller", "AU14": "dimpler",
    "AU15": "lip corner depressor", "AU16": "lower lip depressor", "AU17": "chin raiser", "AU18": "lip pucker",
    "AU20": "lip stretcher", "AU22": "lip funneler", "AU23": "lip tightener", "AU24": "lip pressor",
    "AU25": "lips part", "AU26": "jaw drop", "AU27": "mouth stretch", "AU28": "lip suck", "AU33": "cheek blow",
    "AU35": "cheek suck", "AU38": "nostril dilator", "AU39": "nostril compressor", "AU41": "lid droop",
    "AU42": "slit", "AU43": "eyes closed", "AU44": "squint", "AU45": "blink", "AU61": "eyes turn left",
    "AU62": "eyes turn right", "AU63": "eyes up", "AU64": "eyes down",
}
"""FACS names of the action units (Ekman, Friesen & Hager 2002)."""

AU_TARGETS: dict[str, tuple[tuple[str, float], ...]] = {
    "AU1": (("browInnerUp", 1.0),),
    "AU2": (("browOuterUp{S}", 1.0),),
    "AU4": (("browDown{S}", 1.0), ("mh:eyebrows-{s}-down", 1.0), ("mh:eyebrows-{s}-extern-up", -0.5)),
    "AU5": (("eyeWide{S}", 1.0),),
    "AU6": (("cheekSquint{S}", 1.0), ("eyeSquint{S}", 0.4)),
    "AU7": (("eyeSquint{S}", 1.0), ("eyeBlink{S}", 0.15)),
    "AU9": (("noseSneerLeft", 1.0), ("noseSneerRight", 1.0), ("mouthUpperUpLeft", 0.35), ("mouthUpperUpRight", 0.35)),
    "AU10": (("mouthUpperUp{S}", 1.0), ("mouthShrugUpper", 0.5)),
    "AU11": (("mouthUpperUpLeft", 0.4), ("mouthUpperUpRight", 0.4), ("cheekSquintLeft", 0.2), ("cheekSquintRight", 0.2)),
    "AU12": (("mouthSmile{S}", 1.0),),
    "AU13": (("mouthSmileLeft", 0.6), ("mouthSmileRight", 0.6), ("cheekPuff", 0.3)),
    "AU14": (("mouthDimple{S}", 1.0),),
    "AU15": (("mouthFrown{S}", 1.0),),
    "AU16": (("mouthLowerDownLeft", 1.0), ("mouthLowerDownRight", 1.0)),
    "AU17": (("mouthShrugLower", 1.0),),
    "AU18": (("mouthPucker", 1.0),),
    "AU20": (("mouthStretch{S}", 1.0),),
    "AU22": (("mouthFunnel", 1.0),),
    "AU23": (("mouthRollUpper", 0.35), ("mouthRollLower", 0.35), ("mouthPressLeft", 0.3), ("mouthPressRight", 0.3)),
    "AU24": (("mouthPressLeft", 1.0), ("mouthPressRight", 1.0)),
    "AU25": (("mouthLowerDownLeft", 0.5), ("mouthLowerDownRight", 0.5), ("mouthUpperUpLeft", 0.3), ("mouthUpperUpRight", 0.3)),
    "AU26": (("mouthLowerDownLeft", 0.2), ("mouthLowerDownRight", 0.2)),
    "AU27": (("mouthStretchLeft", 0.4), ("mouthStretchRight", 0.4), ("mouthLowerDownLeft", 0.3), ("mouthLowerDownRight", 0.3)),
    "AU28": (("mouthRollUpper", 1.0), ("mouthRollLower", 1.0)),
    "AU33": (("cheekPuff", 1.0),),
    "AU35": (("cheekPuff", -0.5), ("mouthFunnel", 0.2)),
    "AU38": (("mh:nose-left-dilatation", 1.0), ("mh:nose-right-dilatation", 1.0)),
    "AU39": (("mh:nose-compression", 1.0),),
    "AU41": (("eyeBlink{S}", 0.35),),
    "AU42": (("eyeBlink{S}", 0.55), ("eyeSquint{S}", 0.3)),
    "AU43": (("eyeBlink{S}", 1.0), ("eyeWide{S}", -0.25)),
    "AU44": (("eyeSquint{S}", 1.0), ("eyeBlink{S}", 0.25)),
    "AU45": (("eyeBlink{S}", 1.0), ("eyeWide{S}", -0.25)),
    "AU61": (("eyeLookOutLeft", 1.0), ("eyeLookInRight", 1.0)),
    "AU62": (("eyeLookInLeft", 1.0), ("eyeLookOutRight", 1.0)),
    "AU63": (("eyeLookUpLeft", 1.0), ("eyeLookUpRight", 1.0)),
    "AU64": (("eyeLookDownLeft", 1.0), ("eyeLookDownRight", 1.0)),
}
"""Targets and weights (at the channel's maximum) of every action unit."""

REST_TARGETS: tuple[tuple[str, float], ...] = (("eyeWideLeft", 0.25), ("eyeWideRight", 0.25))
"""Targets applied to the neutral face: MakeHuman's upper lids rest low over the iris, so
the rest pose opens them by a quarter of ``eyeWide``; the closure units (AU43, AU45) take
that quarter back, so a full closure still shuts the eye."""

JAW_OPEN_PER_UNIT: dict[str, float] = {"AU26": 0.06, "AU27": 0.1}
"""Jaw opening (rad) per intensity unit. The face opens the jaw to the larger of the
latent's jaw angle and these units' sum, so a model that already writes AU26's drop into
the jaw pose (the synthetic data: 0.06 rad per AU26 unit) does not open it twice."""

SIDES = {"L": "Left", "R": "Right"}
MH_SIDES = {"L": "left", "R": "right"}
MH_UNITS = "mpfb2/targets/expression/units"
"""MakeHuman expression units (``mh:`` targets); one file per ancestry, averaged."""
MH_ANCESTRIES = ("african", "asian", "caucasian")

assert set(AU_TARGETS) == {name.split("_")[0] for name in facs.EXPRESSION_CHANNELS}


def channel_targets(channel: str) -> list[tuple[str, float, str]]:
    """``(target, weight, side)`` of one channel; side is ``L``/``R`` when a midline target
    must be restricted to that half of the face, else ``""``."""
    au, _, side = channel.partition("_")
    out = []
    for target, weight in AU_TARGETS[au]:
        if "{S}" in target or "{s}" in target:
            out.extend((target.replace("{S}", SIDES[s]).replace("{s}", MH_SIDES[s]), weight, "")
                       for s in ([side] if side else SIDES))
        elif side and not target.endswith(("Left", "Right")):
            out.append((target, weight, side))
        elif side and not target.endswith(SIDES[side]):
            continue
        else:
            out.append((target, weight, ""))
    return out


def target_names() -> list[str]:
    """Every target the mapping uses, in first-use order."""
    names: list[str] = []
    for channel in facs.EXPRESSION_CHANNELS:
        for target, _, _ in channel_targets(channel):
            if target not in names:
                names.append(target)
    return names


def jaw_opening(expression: np.ndarray) -> float:
    """Jaw angle (rad) that AU26/AU27 imply for one frame (clipped into their FACS range)."""
    return float(sum(rate * facs.au_intensity(expression, au) for au, rate in JAW_OPEN_PER_UNIT.items()))


def markdown_table() -> str:
    """The README's mapping table: one row per action unit."""
    lines = ["| AU | FACS name | channels | face-unit targets (weight at the channel's maximum) |", "|---|---|---|---|"]
    for au, targets in AU_TARGETS.items():
        channels = ", ".join(facs.EXPRESSION_CHANNELS[i] for i in facs.au_indices(au))
        moved = ", ".join(f"`{t.replace('{S}', '{Left,Right}').replace('{s}', '{left,right}')}` {w:g}"
                          for t, w in targets)
        if au in JAW_OPEN_PER_UNIT:
            moved += f"; jaw rotation {JAW_OPEN_PER_UNIT[au]:g} rad per unit"
        lines.append(f"| {au} | {AU_NAMES[au]} | {channels} | {moved} |")
    return "\n".join(lines)
