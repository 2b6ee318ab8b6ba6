"""Reference frames of the built-in face for the docs: neutral and strong pain (PSPI 8).

``python -m paindiffusion_ros.face.snapshots [OUT_DIR]`` writes ``neutral.png`` and
``pain.png`` (default ``docs/img``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from . import facs
from .models import load_face
from .render import FaceRenderer, RenderConfig

PAIN_UNITS = {"AU4": 2.5, "AU6": 2.5, "AU7": 3.0, "AU9": 2.0, "AU10": 2.0, "AU43": 0.5, "AU20": 1.0, "AU25": 1.0}
"""A strong pain face: PSPI = AU4 2.5 + max(AU6, AU7) 3 + max(AU9, AU10) 2 + AU43 0.5 = 8."""
PAIN_JAW = np.array([0.06, 0.0, 0.0], np.float32)


def expression_from_units(units: dict[str, float]) -> np.ndarray:
    """A 50-channel expression with the given action units set on both sides."""
    e = np.zeros(facs.EXPRESSION_DIM, np.float32)
    for au, value in units.items():
        e[list(facs.au_indices(au))] = value
    return e


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs/img")
    out.mkdir(parents=True, exist_ok=True)
    renderer = FaceRenderer(load_face("builtin"), 512, RenderConfig(supersample=3))
    frames = {
        "neutral": renderer.render(expression_from_units({}), np.zeros(3)),
        "pain": renderer.render(expression_from_units(PAIN_UNITS), PAIN_JAW),
    }
    for name, rgb in frames.items():
        cv2.imwrite(str(out / f"{name}.png"), rgb[:, :, ::-1])
    print(f"wrote {', '.join(str(out / f'{n}.png') for n in frames)} "
          f"(pain PSPI {float(facs.pspi(expression_from_units(PAIN_UNITS))):g})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
