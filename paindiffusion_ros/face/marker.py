"""Mesh → arrays for a ``visualization_msgs/Marker`` TRIANGLE_LIST (the node fills the message)."""

from __future__ import annotations

import numpy as np


def triangle_list(vertices: np.ndarray, faces: np.ndarray, vertex_colors: np.ndarray,
                  alpha: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Unrolled triangle corners: ``points (3F,3) float64`` and RGBA ``colors (3F,4) float32``.

    rviz draws every three consecutive points as one triangle, each corner in its colour.
    """
    v = np.asarray(vertices)
    c = np.asarray(vertex_colors)
    f = np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3 or c.shape != v.shape or f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"expected vertices (V,3), vertex_colors (V,3), faces (F,3); got {v.shape}, {c.shape}, {f.shape}")
    corners = f.reshape(-1)
    points = v[corners].astype(np.float64)
    colors = np.empty((corners.size, 4), np.float32)
    colors[:, :3] = c[corners]
    colors[:, 3] = alpha
    return points, colors
