"""Numba-compiled z-buffer rasteriser kernels (one core, compiled once and cached on disk).

Triangles are scan-converted row by row with edge functions (Pineda 1988): each row of
a triangle's bounding box is cut to the span of pixel centres where all three edge
functions are non-negative (inclusive, no top-left rule), so no pixel outside the
triangle is visited; the visible surface per pixel is kept by depth. Shading is deferred: the raster pass stores the triangle id and two barycentric
weights, and the shading pass interpolates vertex normals and colours (Phong 1975) for
each covered pixel once, so overdraw costs no lighting.
"""

from __future__ import annotations

import numba
import numpy as np


NEAR = 1e-4
"""Nearest camera depth (m) a drawn triangle may reach."""


@numba.njit(cache=True, fastmath=True, nogil=True)
def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals of a counter-clockwise triangle mesh."""
    normals = np.zeros(vertices.shape, np.float32)
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        e1x = vertices[b, 0] - vertices[a, 0]
        e1y = vertices[b, 1] - vertices[a, 1]
        e1z = vertices[b, 2] - vertices[a, 2]
        e2x = vertices[c, 0] - vertices[a, 0]
        e2y = vertices[c, 1] - vertices[a, 1]
        e2z = vertices[c, 2] - vertices[a, 2]
        nx = e1y * e2z - e1z * e2y
        ny = e1z * e2x - e1x * e2z
        nz = e1x * e2y - e1y * e2x
        for v in (a, b, c):
            normals[v, 0] += nx
            normals[v, 1] += ny
            normals[v, 2] += nz
    for v in range(normals.shape[0]):
        n = np.sqrt(normals[v, 0] ** 2 + normals[v, 1] ** 2 + normals[v, 2] ** 2)
        if n > 0:
            normals[v, 0] /= n
            normals[v, 1] /= n
            normals[v, 2] /= n
    return normals


FAR = 1e30
"""Stands in for an unbounded span end and is the depth of empty pixels (fastmath code must
not meet infinities)."""


@numba.njit(cache=True, fastmath=True, nogil=True)
def rasterize(screen: np.ndarray, faces: np.ndarray, depth: np.ndarray, face_id: np.ndarray,
              bary: np.ndarray, cull_back: bool) -> None:
    """Fill ``depth`` (smaller is nearer), ``face_id`` (-1 empty) and ``bary`` (H,W,2).

    ``screen`` is (V,3): pixel x, pixel y (down), depth. Triangles reaching nearer than
    ``NEAR`` are skipped. Triangles are front-facing when
    counter-clockwise in the head frame, i.e. clockwise in y-down pixel coordinates.
    """
    h, w = depth.shape
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        x0, y0, z0 = screen[a, 0], screen[a, 1], screen[a, 2]
        x1, y1, z1 = screen[b, 0], screen[b, 1], screen[b, 2]
        x2, y2, z2 = screen[c, 0], screen[c, 1], screen[c, 2]
        if min(z0, z1, z2) <= NEAR:
            continue  # touches or crosses the camera plane
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if area == 0.0 or (cull_back and area > 0.0):
            continue
        xmin = max(int(np.floor(min(x0, x1, x2))), 0)
        xmax = min(int(np.ceil(max(x0, x1, x2))), w - 1)
        ymin = max(int(np.floor(min(y0, y1, y2))), 0)
        ymax = min(int(np.ceil(max(y0, y1, y2))), h - 1)
        if xmin > xmax or ymin > ymax:
            continue
        inv = 1.0 / area
        # Barycentrics are affine in the pixel centre: w_i = a_i x + b_i y + c_i (w2 = 1 - w0 - w1).
        a0, b0, c0 = (y1 - y2) * inv, (x2 - x1) * inv, (x1 * y2 - x2 * y1) * inv
        a1, b1, c1 = (y2 - y0) * inv, (x0 - x2) * inv, (x2 * y0 - x0 * y2) * inv
        # Each edge bounds the rows' spans on the left (where w_i grows with x) or on the
        # right; a horizontal edge bounds the rows instead. Row ends are x = x_e + y dx_e.
        lx0, ldx0, rx0, rdx0, ymin, ymax = _edge(x1, y1, x2, y2, y0, a0, ymin, ymax)
        lx1, ldx1, rx1, rdx1, ymin, ymax = _edge(x2, y2, x0, y0, y1, a1, ymin, ymax)
        lx2, ldx2, rx2, rdx2, ymin, ymax = _edge(x0, y0, x1, y1, y2, -a0 - a1, ymin, ymax)
        for py in range(ymin, ymax + 1):
            cy = py + 0.5
            lo = max(xmin + 0.5, lx0 + cy * ldx0, lx1 + cy * ldx1, lx2 + cy * ldx2)
            hi = min(xmax + 0.5, rx0 + cy * rdx0, rx1 + cy * rdx1, rx2 + cy * rdx2)
            r0 = b0 * cy + c0
            r1 = b1 * cy + c1
            for px in range(int(np.ceil(lo - 0.5)), int(np.floor(hi - 0.5)) + 1):
                cx = px + 0.5
                w0 = a0 * cx + r0
                w1 = a1 * cx + r1
                z = w0 * z0 + w1 * z1 + (1.0 - w0 - w1) * z2
                if z < depth[py, px]:
                    depth[py, px] = z
                    face_id[py, px] = f
                    bary[py, px, 0] = w0
                    bary[py, px, 1] = w1


@numba.njit(cache=True, fastmath=True, nogil=True)
def _edge(xa: float, ya: float, xb: float, yb: float, y_opposite: float, a: float, ymin: int, ymax: int) -> tuple:
    """The edge a–b as a row bound: ``(left x at y=0, left dx/dy, right x, right dx/dy, ymin,
    ymax)``, the side it does not bound set to ±FAR; ``a`` is dw/dx of the barycentric
    that vanishes on it. The line is computed from its endpoints in a fixed order, so two
    triangles sharing the edge cut their rows at exactly the same x (no gaps, inclusive
    ends). A horizontal edge narrows the rows ``ymin…ymax`` to the opposite vertex's side."""
    if ya == yb:
        if y_opposite > ya:
            ymin = max(ymin, int(np.ceil(ya - 0.5)))
        else:
            ymax = min(ymax, int(np.floor(ya - 0.5)))
        return -FAR, 0.0, FAR, 0.0, ymin, ymax
    if yb < ya or (yb == ya and xb < xa):
        xa, ya, xb, yb = xb, yb, xa, ya
    slope = (xb - xa) / (yb - ya)
    x = xa - ya * slope
    if a > 0.0:
        return x, slope, FAR, 0.0, ymin, ymax
    return -FAR, 0.0, x, slope, ymin, ymax


@numba.njit(cache=True, fastmath=True, nogil=True)
def pixel_normal(normals: np.ndarray, a: int, b: int, c: int, w0: float, w1: float, w2: float) -> tuple:
    """Unit normal interpolated from the corner normals of one triangle (Phong)."""
    nx = w0 * normals[a, 0] + w1 * normals[b, 0] + w2 * normals[c, 0]
    ny = w0 * normals[a, 1] + w1 * normals[b, 1] + w2 * normals[c, 1]
    nz = w0 * normals[a, 2] + w1 * normals[b, 2] + w2 * normals[c, 2]
    nn = np.sqrt(nx * nx + ny * ny + nz * nz)
    if nn > 0:
        return nx / nn, ny / nn, nz / nn
    return nx, ny, nz


@numba.njit(cache=True, fastmath=True, nogil=True)
def shade(face_id: np.ndarray, bary: np.ndarray, faces: np.ndarray, normals: np.ndarray,
          colors: np.ndarray, light: np.ndarray, view: np.ndarray, ambient: float, wrap: float,
          specular: float, shininess: float, background: np.ndarray, image: np.ndarray) -> None:
    """Phong-shade covered pixels into uint8 RGB: ambient + wrapped Lambert key light (``wrap`` > 0
    softens the terminator, as for skin) + Blinn highlight."""
    h, w = face_id.shape
    hx = light[0] + view[0]
    hy = light[1] + view[1]
    hz = light[2] + view[2]
    hn = np.sqrt(hx * hx + hy * hy + hz * hz)
    hx /= hn
    hy /= hn
    hz /= hn
    for py in range(h):
        for px in range(w):
            f = face_id[py, px]
            if f < 0:
                for k in range(3):
                    image[py, px, k] = background[k]
                continue
            w0 = bary[py, px, 0]
            w1 = bary[py, px, 1]
            w2 = 1.0 - w0 - w1
            a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
            nx, ny, nz = pixel_normal(normals, a, b, c, w0, w1, w2)
            diffuse = max((nx * light[0] + ny * light[1] + nz * light[2] + wrap) / (1.0 + wrap), 0.0)
            ndh = nx * hx + ny * hy + nz * hz
            spec = specular * np.exp(shininess * np.log(ndh)) if ndh > 1e-3 else 0.0
            lit = ambient + (1.0 - ambient) * diffuse
            for k in range(3):
                col = w0 * colors[a, k] + w1 * colors[b, k] + w2 * colors[c, k]
                value = 255.0 * (col * lit + spec) + 0.5
                image[py, px, k] = np.uint8(min(max(value, 0.0), 255.0))
