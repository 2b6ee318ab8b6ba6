"""Reference pictures of the human face for the docs: neutral, strong pain (PSPI 8), appearances.

``python -m paindiffusion_ros.face.snapshots [OUT_DIR]`` writes ``neutral.png``,
``pain.png`` and ``appearances.png`` (default ``docs/img``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from . import facs
from .appearance import Appearance
from .models import load_face
from .render import FaceRenderer, RenderConfig
from .render_command import tile

PAIN_UNITS = {"AU4": 2.5, "AU6": 2.5, "AU7": 3.0, "AU9": 2.0, "AU10": 2.0, "AU43": 0.5, "AU20": 1.0, "AU25": 1.0}
"""A strong pain face: PSPI = AU4 2.5 + max(AU6, AU7) 3 + max(AU9, AU10) 2 + AU43 0.5 = 8."""
PAIN_JAW = np.array([0.06, 0.0, 0.0], np.float32)

APPEARANCES: tuple[Appearance, ...] = (
    Appearance(sex="male", age=25, skin_tone=2.0, ancestry="caucasian", seed=1),
    Appearance(sex="female", age=30, skin_tone=5.5, ancestry="african", seed=7),
    Appearance(sex="male", age=45, skin_tone=4.0, ancestry="asian", seed=2),
    Appearance(sex="female", age=55, skin_tone=3.0, ancestry="mixed", seed=4),
    Appearance(sex="male", age=70, skin_tone=5.0, ancestry="african", seed=11),
    Appearance(sex="female", age=88, skin_tone=1.5, ancestry="caucasian", seed=21),
)
"""The appearance grid: sexes, ages 25–88, Fitzpatrick 1.5–5.5, the three ancestry families."""


def expression_from_units(units: dict[str, float]) -> np.ndarray:
    """A 50-channel expression with the given action units set on both sides."""
    e = np.zeros(facs.EXPRESSION_DIM, np.float32)
    for au, value in units.items():
        e[list(facs.au_indices(au))] = value
    return e


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs/img")
    out.mkdir(parents=True, exist_ok=True)
    config = RenderConfig(supersample=3)
    renderer = FaceRenderer(load_face("human"), 512, config)
    frames = {
        "neutral": renderer.render(expression_from_units({}), np.zeros(3)),
        "pain": renderer.render(expression_from_units(PAIN_UNITS), PAIN_JAW),
    }
    faces = []
    for appearance in tqdm(APPEARANCES, desc="appearances", unit="face"):
        face = FaceRenderer(load_face("human", appearance=appearance), 256, config)
        faces.append(face.render(expression_from_units({}), np.zeros(3)))
        faces.append(face.render(expression_from_units(PAIN_UNITS), PAIN_JAW))
    frames["appearances"] = tile(faces, 4, background=255)
    for name, rgb in frames.items():
        cv2.imwrite(str(out / f"{name}.png"), rgb[:, :, ::-1])
    print(f"wrote {', '.join(str(out / f'{n}.png') for n in frames)} "
          f"(pain PSPI {float(facs.pspi(expression_from_units(PAIN_UNITS))):g})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
