"""The FACS action-unit channels of the built-in face and the PSPI read-out.

This is the single definition of the ``builtin-facs-53`` latent layout: a frame is
50 expression channels (below, in this order) followed by 3 jaw axis-angle values
(radians). Each expression channel is the intensity of one FACS action unit on the
FACS A–E scale mapped to 0–5, except the eye-closure channels (AU43, AU45), which
are the fraction of lid closure in 0–1. ``_L``/``_R`` are the subject's left/right.

PSPI (Prkachin & Solomon 2008) = AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43,
range 0–16; bilateral units enter as the mean of their two sides, each clipped into
its FACS range first, so the read-out of any frame lies in 0–16.
"""

from __future__ import annotations

import numpy as np

BILATERAL_AUS: tuple[str, ...] = (
    "AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU10", "AU12", "AU14", "AU15", "AU20", "AU43", "AU45",
)
MIDLINE_AUS: tuple[str, ...] = (
    "AU9", "AU11", "AU13", "AU16", "AU17", "AU18", "AU22", "AU23", "AU24", "AU25", "AU26", "AU27",
    "AU28", "AU33", "AU35", "AU38", "AU39", "AU41", "AU42", "AU44", "AU61", "AU62", "AU63", "AU64",
)

EXPRESSION_CHANNELS: tuple[str, ...] = tuple(
    f"{au}_{side}" for au in BILATERAL_AUS for side in ("L", "R")
) + MIDLINE_AUS
"""Names of the 50 expression channels, in latent order."""

JAW_CHANNELS: tuple[str, ...] = ("jaw_rx", "jaw_ry", "jaw_rz")
"""Jaw pose as axis-angle (radians) in the head frame; +x opens the mouth."""

EXPRESSION_DIM = len(EXPRESSION_CHANNELS)
JAW_DIM = len(JAW_CHANNELS)
LATENT_DIM = EXPRESSION_DIM + JAW_DIM

EYE_CLOSURE_AUS: frozenset[str] = frozenset({"AU43", "AU45"})
INTENSITY_MAX = 5.0
PSPI_MAX = 16.0

assert EXPRESSION_DIM == 50, EXPRESSION_DIM


def channel_index(name: str) -> int:
    """Index of an expression channel by its exact name (e.g. ``"AU4_L"``, ``"AU9"``)."""
    try:
        return EXPRESSION_CHANNELS.index(name)
    except ValueError:
        raise KeyError(f"unknown FACS channel {name!r}; known: {', '.join(EXPRESSION_CHANNELS)}") from None


def au_indices(au: str) -> tuple[int, ...]:
    """Indices of every channel of one action unit (both sides for bilateral units)."""
    if au in BILATERAL_AUS:
        return (channel_index(f"{au}_L"), channel_index(f"{au}_R"))
    return (channel_index(au),)


def channel_max(name: str) -> float:
    """Upper bound of a channel's intensity: 1 for eye closure, 5 otherwise."""
    return 1.0 if name.split("_")[0] in EYE_CLOSURE_AUS else INTENSITY_MAX


CHANNEL_MAX = np.array([channel_max(n) for n in EXPRESSION_CHANNELS], dtype=np.float32)
"""Per-channel upper intensity bound, in latent order."""


def au_intensity(expression: np.ndarray, au: str) -> np.ndarray:
    """Intensity of one action unit over ``expression[..., 50]`` (mean of the sides).

    Each side is first clipped into its FACS range (0 to ``channel_max``), so a decoded
    model frame that strays a little outside it (e.g. -0.05) reads as a valid intensity.
    """
    indices = list(au_indices(au))
    return np.clip(np.asarray(expression)[..., indices], 0.0, CHANNEL_MAX[indices]).mean(axis=-1)


def pspi(expression: np.ndarray) -> np.ndarray:
    """PSPI = AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43 for ``expression[..., 50]``."""
    e = np.asarray(expression, dtype=np.float64)
    if e.shape[-1] != EXPRESSION_DIM:
        raise ValueError(f"expected {EXPRESSION_DIM} expression channels, got shape {e.shape}")
    value = (
        au_intensity(e, "AU4")
        + np.maximum(au_intensity(e, "AU6"), au_intensity(e, "AU7"))
        + np.maximum(au_intensity(e, "AU9"), au_intensity(e, "AU10"))
        + au_intensity(e, "AU43")
    )
    return value.astype(np.float32)
