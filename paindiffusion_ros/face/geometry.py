"""Small rigid-body helpers shared by the face models."""

from __future__ import annotations

import numpy as np


def axis_angle_to_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """Rotation matrices from axis-angle vectors ``(..., 3)`` (Rodrigues' formula) → ``(..., 3, 3)``."""
    r = np.asarray(axis_angle, np.float64)
    angle = np.linalg.norm(r, axis=-1, keepdims=True)
    axis = r / np.where(angle > 1e-12, angle, 1.0)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(r.shape[:-1] + (3, 3))
    s, c = np.sin(angle)[..., None], np.cos(angle)[..., None]
    return np.eye(3) + s * k + (1.0 - c) * (k @ k)
