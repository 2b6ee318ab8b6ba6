"""The procedural FACS face: a head mesh generated from code, one blendshape per channel.

The fallback face (``kind: builtin``): the node shows it, with the same latent, when the
human face's assets are missing or broken (``human.py`` is the default face).

The head is a warped UV ellipsoid, sampled densely over the face, with the facial
features (brows, eye sockets, nose, cheeks, lips, chin, ears) added as smooth bumps.
Eyeballs are separate spheres; the eyelids are the skin itself, which dives behind the
eyeball inside the palpebral fissure and lies in front of it elsewhere, so the z-buffer
draws the eye opening and a linear blendshape on that depth closes it from the top
(the upper-lid slope is shallower than the lower-lid slope). The lips are separated by
a slit opening onto a dark mouth cavity with teeth.

Expression channels follow ``facs.EXPRESSION_CHANNELS`` (Ekman & Friesen's FACS action
units, intensity 0–5; AU43/AU45 are lid closure 0–1). Units are metres in the head frame:
x to the subject's left, y up, z out of the face (FLAME's convention). The jaw rotates
about a hinge in front of the ears with linear blend skinning; +x opens the mouth.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import facs

# Landmarks of the neutral face (metres, head frame).
EYE_X, EYE_Y = 0.032, 0.022
EYE_RADIUS = 0.0125
FISSURE_HALF_WIDTH = 0.0128
FISSURE_TOP, FISSURE_BOTTOM = 0.0046, 0.0036
LID_CLOSURE = 0.0041  # depth change that covers the whole fissure (> the largest margin g)
BROW_Y = 0.040
MOUTH_Y = -0.052
MOUTH_HALF_WIDTH = 0.022
JAW_HINGE = np.array([0.0, -0.005, 0.005])

SKIN = np.array([0.86, 0.66, 0.55])
LIP = np.array([0.72, 0.38, 0.38])
BROW = np.array([0.28, 0.19, 0.13])
HAIR = np.array([0.22, 0.15, 0.10])
CHEEK = np.array([0.88, 0.58, 0.52])
SCLERA = np.array([0.95, 0.94, 0.92])
IRIS = np.array([0.30, 0.42, 0.55])
PUPIL = np.array([0.04, 0.04, 0.05])
CAVITY = np.array([0.25, 0.05, 0.06])
TEETH = np.array([0.93, 0.91, 0.84])

N_LAT, N_LON = 118, 150
EYEBALL_LAT, EYEBALL_LON = 16, 24


@dataclass(frozen=True)
class BuiltinFaceMesh:
    """Neutral mesh, per-channel blendshapes and jaw skinning weights of the built-in face."""

    vertices: np.ndarray  # (V,3) float32
    faces: np.ndarray  # (F,3) int32
    vertex_colors: np.ndarray  # (V,3) float32
    blendshapes: np.ndarray  # (50,V,3) float32, displacement per unit intensity
    jaw_weights: np.ndarray  # (V,) float32
    eye_regions: np.ndarray  # (V,) bool: eyeballs and lids
    mouth_region: np.ndarray  # (V,) bool: lips, mouth cavity, teeth


def _smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _bump(x: np.ndarray, y: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    return np.exp(-0.5 * (((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2))


def _sym_bump(x: np.ndarray, y: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    return _bump(np.abs(x), y, cx, cy, sx, sy)


def _warp(t: np.ndarray, density: float) -> np.ndarray:
    """Map uniform t in [-1,1] to [-1,1], ``1/density`` times denser near 0."""
    return density * t + (1.0 - density) * t**3


def _grid_faces(n_rows: int, n_cols: int, wrap: bool) -> np.ndarray:
    """Two counter-clockwise (seen from outside) triangles per quad of a row-major grid."""
    r, c = np.meshgrid(np.arange(n_rows - 1), np.arange(n_cols if wrap else n_cols - 1), indexing="ij")
    c1 = (c + 1) % n_cols
    a, b, d, e = r * n_cols + c, r * n_cols + c1, (r + 1) * n_cols + c, (r + 1) * n_cols + c1
    return np.stack([np.stack([a, b, e], -1), np.stack([a, e, d], -1)], 2).reshape(-1, 3)


def _eye_geometry(x: np.ndarray, y: np.ndarray, side: float) -> tuple[np.ndarray, np.ndarray]:
    """The fissure's signed depth margin g (> 0 inside the eye opening) and the distance from the eye centre."""
    u = (x - side * EYE_X) / FISSURE_HALF_WIDTH
    v = y - EYE_Y
    shape = np.clip(1.0 - u**2, -1.0, 1.0)
    top, bottom = FISSURE_TOP * shape, -FISSURE_BOTTOM * shape
    upper, lower = 0.8 * (top - v), 3.5 * (v - bottom)
    g = -np.logaddexp(-upper / 4e-4, -lower / 4e-4) * 4e-4  # smooth min
    return np.clip(g, -0.0025, 0.0035), np.hypot(x - side * EYE_X, y - EYE_Y)


def _pole_caps(n_rows: int, n_cols: int) -> np.ndarray:
    """Fans closing the bottom and top rings of a wrapped grid onto two extra pole vertices."""
    c = np.arange(n_cols)
    c1 = (c + 1) % n_cols
    bottom, top = n_rows * n_cols, n_rows * n_cols + 1
    last = (n_rows - 1) * n_cols
    return np.concatenate([np.stack([np.full(n_cols, bottom), c1, c], -1),
                           np.stack([np.full(n_cols, top), last + c, last + c1], -1)])


def _skin(eye_front_z: float) -> tuple[np.ndarray, np.ndarray, dict, int]:
    """Neutral skin vertices, faces, per-vertex feature fields and the vertex count."""
    lat = 0.5 * np.pi * _warp(np.linspace(-1, 1, N_LAT), 0.45) * 0.98 - 0.02
    lon = np.pi * _warp(np.linspace(-1, 1, N_LON, endpoint=False), 0.35)
    LAT, LON = np.meshgrid(lat, lon, indexing="ij")
    x = 0.077 * np.cos(LAT) * np.sin(LON)
    y = 0.105 * np.sin(LAT) + 0.01
    z = 0.092 * np.cos(LAT) * np.cos(LON)
    front = _smoothstep(-0.1, 0.7, np.cos(LAT) * np.cos(LON))
    # Narrow the lower face toward the chin and flatten the cheeks a little.
    taper = 1.0 - 0.34 * _smoothstep(-0.01, -0.10, y) * front
    x = x * taper
    z = z - 0.010 * (1 - np.exp(-(x / 0.05) ** 2)) * front
    dz = (
        -0.006 * _sym_bump(x, y, EYE_X, EYE_Y + 0.002, 0.017, 0.012)
        + 0.014 * _bump(x, y, 0.0, -0.060, 0.040, 0.030)
        + 0.005 * _sym_bump(x, y, 0.030, BROW_Y + 0.004, 0.022, 0.006)
        + 0.006 * _sym_bump(x, y, 0.040, -0.012, 0.014, 0.014)
        + 0.005 * _bump(x, y, 0.0, -0.085, 0.016, 0.010)
        + 0.006 * _bump(x, y, 0.0, MOUTH_Y, 0.030, 0.016)
    )
    nose_profile = np.interp(y, [-0.036, -0.030, -0.020, 0.000, 0.022, 0.040],
                             [0.0, 0.012, 0.026, 0.016, 0.007, 0.0])
    nose_width = np.interp(y, [-0.036, -0.020, 0.030], [0.011, 0.011, 0.006])
    dz += nose_profile * np.exp(-0.5 * (x / nose_width) ** 2)
    dz += 0.004 * _sym_bump(x, y, 0.012, -0.026, 0.006, 0.006)
    upper_lip = _bump(x, y, 0.0, MOUTH_Y + 0.005, 0.019, 0.0045)
    lower_lip = _bump(x, y, 0.0, MOUTH_Y - 0.0065, 0.017, 0.0055)
    dz += 0.004 * upper_lip + 0.005 * lower_lip
    z = z + dz * front
    # Eyelids: skin behind the eyeball inside the fissure, in front of it elsewhere.
    lid_window = np.zeros_like(x)
    lash_line = np.zeros_like(x)
    for side in (1.0, -1.0):
        g, r = _eye_geometry(x, y, side)
        lid = eye_front_z - r**2 / (2 * EYE_RADIUS) - g
        outside = _smoothstep(0.0, -0.001, g)
        w = _smoothstep(1.6 * EYE_RADIUS, 1.1 * EYE_RADIUS, r) * front
        z = (1 - w) * z + w * ((1 - outside) * lid + outside * np.maximum(z, lid))
        lid_window = np.maximum(lid_window, w * _smoothstep(-0.004, 0.0, g))
        lash_line = np.maximum(lash_line, w * _smoothstep(-0.0011, -0.0002, g) * (g < 0) * (y > EYE_Y))
    # Ears.
    side_bump = _sym_bump(x, y, 0.072, 0.005, 0.006, 0.022) * _smoothstep(0.9, 1.3, np.abs(LON))
    x = x + np.sign(x) * 0.012 * side_bump
    poles = np.array([[0.0, y[0].mean(), z[0].mean()], [0.0, y[-1].mean(), z[-1].mean()]])
    vertices = np.concatenate([np.stack([x, y, z], -1).reshape(-1, 3), poles])
    faces = np.concatenate([_grid_faces(N_LAT, N_LON, wrap=True), _pole_caps(N_LAT, N_LON)])
    # Slit between the lips: drop the quads straddling the mouth line.
    row = int(np.argmin(np.abs(y[:, 0] - MOUTH_Y)))
    fr = faces // N_LON
    fx = vertices[faces, 0]
    in_slit = (fr.min(1) == row) & (fr.max(1) == row + 1) & (np.abs(fx).max(1) < MOUTH_HALF_WIDTH) & (vertices[faces, 2].min(1) > 0)
    faces = faces[~in_slit]
    fields = {name: np.concatenate([a.ravel(), np.zeros(2)]) for name, a in (
        ("front", front), ("lid_window", lid_window), ("lash_line", lash_line),
        ("upper_lip", upper_lip), ("lower_lip", lower_lip))}
    fields.update(x=vertices[:, 0], y=vertices[:, 1], mouth_row_y=y[row, 0])
    return vertices, faces, fields, len(vertices)


def _skin_colors(f: dict) -> np.ndarray:
    x, y, front = f["x"], f["y"], f["front"]
    color = np.tile(SKIN, (x.size, 1))
    cheek = 0.6 * _sym_bump(x, y, 0.040, -0.015, 0.014, 0.012)[:, None]
    color = color * (1 - cheek) + CHEEK * cheek
    lips = np.clip(1.4 * np.maximum(f["upper_lip"], f["lower_lip"]) - 0.35, 0, 1)[:, None] * front[:, None]
    color = color * (1 - lips) + LIP * lips
    brow_shape = BROW_Y + 0.006 - 0.006 * ((np.abs(x) - 0.030) / 0.022) ** 2
    brow = (_smoothstep(0.0036, 0.0012, np.abs(y - brow_shape)) * _smoothstep(0.056, 0.048, np.abs(x))
            * _smoothstep(0.008, 0.012, np.abs(x)) * front)[:, None]
    color = color * (1 - brow) + BROW * brow
    lash = f["lash_line"][:, None]
    color = color * (1 - 0.8 * lash) + BROW * 0.8 * lash
    hairline = 0.076 - 0.3 * np.maximum(np.abs(x) - 0.03, 0.0)
    hair = (_smoothstep(hairline - 0.004, hairline + 0.004, y) + (1 - front) * _smoothstep(0.02, 0.05, y) * (y > 0)).clip(0, 1)
    hair = hair * (1 - _smoothstep(0.25, 0.6, front * _smoothstep(0.09, 0.07, y)))
    color = color * (1 - hair[:, None]) + HAIR * hair[:, None]
    return color


def _sphere(center: np.ndarray, radius: float | np.ndarray, n_lat: int, n_lon: int,
            inward: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UV sphere (or ellipsoid, for per-axis radii) with its pole on +z: vertices, faces, polar angle."""
    theta = np.linspace(0.0, np.pi, n_lat)
    phi = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    T, P = np.meshgrid(theta, phi, indexing="ij")
    unit = np.stack([np.sin(T) * np.cos(P), np.sin(T) * np.sin(P), np.cos(T)], -1).reshape(-1, 3)
    faces = _grid_faces(n_lat, n_lon, wrap=True)
    faces = faces[:, [0, 2, 1]] if not inward else faces  # outward winding for a +z pole
    return center + radius * unit, faces, T.ravel()


def _teeth(y0: float, y1: float, z_front: float, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """A curved band of teeth (an arc of a vertical cylinder facing +z)."""
    ang = np.linspace(-0.8, 0.8, 20)
    ys = np.array([y0, y1])
    A, Y = np.meshgrid(ang, ys, indexing="xy")
    verts = np.stack([radius * np.sin(A), Y, z_front - radius * (1 - np.cos(A))], -1).reshape(-1, 3)
    return verts, _grid_faces(2, ang.size, wrap=False)


def _region(v: np.ndarray, cx: float, cy: float, sx: float, sy: float, front: np.ndarray) -> np.ndarray:
    return _bump(v[:, 0], v[:, 1], cx, cy, sx, sy) * front


def _side_mask(v: np.ndarray, side: str) -> np.ndarray:
    s = 1.0 if side == "L" else -1.0
    return _smoothstep(-0.004, 0.004, s * v[:, 0])


def _blendshapes(v: np.ndarray, front: np.ndarray, skin: np.ndarray, lid_window: np.ndarray,
                 eyeballs: dict[str, np.ndarray], jaw: np.ndarray) -> np.ndarray:
    """Per-unit displacement of every channel (FACS appearance changes, Ekman & Friesen 2002)."""
    mm = 1e-3
    x, y = v[:, 0], v[:, 1]
    ax = np.abs(x)
    sx = np.tanh(x / 0.01)  # a smooth sign: lateral motions never tear or fold the midline
    front = front * skin
    shapes: dict[str, np.ndarray] = {}

    def field(dx=0.0, dy=0.0, dz=0.0, weight=None) -> np.ndarray:
        d = np.zeros_like(v)
        d[:, 0], d[:, 1], d[:, 2] = dx, dy, dz
        return d * (1.0 if weight is None else weight[:, None])

    brow_band = _smoothstep(EYE_Y + 0.002, EYE_Y + 0.016, y) * _smoothstep(BROW_Y + 0.03, BROW_Y + 0.01, y) * front
    inner_brow = brow_band * _smoothstep(0.045, 0.015, ax)
    outer_brow = brow_band * _smoothstep(0.018, 0.040, ax) * _smoothstep(0.07, 0.055, ax)
    upper_window = lid_window * (y > EYE_Y - 0.001)
    lower_window = lid_window * (y < EYE_Y + 0.003)
    cheek = _region(np.column_stack([ax, y]), 0.040, -0.012, 0.016, 0.014, front)
    below_eye = _region(np.column_stack([ax, y]), EYE_X, EYE_Y - 0.012, 0.016, 0.007, front)
    nose = _region(v, 0.0, 0.005, 0.012, 0.022, front)
    nostrils = _region(np.column_stack([ax, y]), 0.013, -0.027, 0.007, 0.006, front)
    upper_lip = _region(v, 0.0, MOUTH_Y + 0.006, 0.022, 0.007, front) * (y > MOUTH_Y)
    lower_lip = _region(v, 0.0, MOUTH_Y - 0.007, 0.020, 0.007, front) * (y < MOUTH_Y)
    lips = np.maximum(upper_lip, lower_lip)
    nasolabial = _region(np.column_stack([ax, y]), 0.022, -0.035, 0.004, 0.010, front)
    glabella_furrow = _region(np.column_stack([ax, y]), 0.004, BROW_Y - 0.004, 0.0025, 0.007, front)
    nose_wrinkles = _region(v, 0.0, EYE_Y - 0.004, 0.010, 0.006, front) * np.sin(2 * np.pi * y / 0.0035)
    corners = _region(np.column_stack([ax, y]), MOUTH_HALF_WIDTH, MOUTH_Y, 0.010, 0.010, front)
    chin = _region(v, 0.0, -0.082, 0.020, 0.014, front)
    closure = field(dz=LID_CLOSURE, weight=lid_window)

    bilateral = {
        "AU1": field(dy=2.0 * mm, dz=0.3 * mm, weight=inner_brow),
        "AU2": field(dy=2.0 * mm, weight=outer_brow),
        "AU4": field(dx=-1.2 * mm * sx, dy=-2.0 * mm, dz=0.6 * mm, weight=inner_brow + 0.6 * outer_brow)
        + field(dz=-0.7 * mm, weight=glabella_furrow),
        "AU5": field(dz=-0.6 * mm, weight=upper_window) + field(dy=0.3 * mm, weight=brow_band),
        "AU6": field(dy=0.9 * mm, dz=0.5 * mm, weight=cheek + below_eye) + field(dz=0.6 * mm, weight=lower_window),
        "AU7": field(dz=0.9 * mm, weight=lower_window) + field(dz=0.25 * mm, weight=upper_window),
        "AU10": field(dy=0.9 * mm, dz=0.3 * mm, weight=upper_lip) + field(dy=0.4 * mm, weight=nostrils)
        + field(dz=-0.3 * mm, weight=nasolabial),
        "AU12": field(dx=1.4 * mm * sx, dy=1.6 * mm, dz=-0.5 * mm, weight=corners),
        "AU14": field(dx=0.2 * mm * sx, dz=-0.6 * mm, weight=corners),
        "AU15": field(dy=-1.6 * mm, weight=corners),
        "AU20": field(dx=2.0 * mm * sx, dy=-0.3 * mm, dz=-0.3 * mm, weight=corners + 0.4 * lips),
        "AU43": closure,
        "AU45": closure,
    }
    ex = np.array([1.0, 0.0, 0.0])
    ey = np.array([0.0, 1.0, 0.0])

    def gaze(axis: np.ndarray, rad: float) -> np.ndarray:
        d = np.zeros_like(v)
        for mask in eyeballs.values():
            c = v[mask].mean(0)
            d[mask] = rad * np.cross(axis, v[mask] - c)
        return d

    midline = {
        "AU9": field(dy=1.0 * mm, dz=0.2 * mm, weight=nose) + field(dz=0.6 * mm, weight=nose_wrinkles) + field(dy=0.7 * mm, weight=nostrils)
        + field(dy=0.4 * mm, weight=upper_lip) + field(dy=-0.4 * mm, weight=inner_brow),
        "AU11": field(dy=0.4 * mm, dz=-0.4 * mm, weight=nasolabial),
        "AU13": field(dx=0.3 * mm * sx, dy=0.9 * mm, dz=0.3 * mm, weight=corners),
        "AU16": field(dy=-0.8 * mm, dz=0.2 * mm, weight=lower_lip),
        "AU17": field(dy=0.9 * mm, dz=0.4 * mm, weight=chin) + field(dy=0.4 * mm, dz=0.4 * mm, weight=lower_lip),
        "AU18": field(dx=-0.9 * mm * sx, dz=0.6 * mm, weight=lips + corners),
        "AU22": field(dz=1.0 * mm, weight=lips) + field(dy=0.4 * mm, weight=upper_lip) + field(dy=-0.4 * mm, weight=lower_lip),
        "AU23": field(dx=-0.3 * mm * sx, dz=-0.3 * mm, weight=lips),
        "AU24": field(dy=-0.5 * mm, weight=upper_lip) + field(dy=0.5 * mm, dz=-0.2 * mm, weight=lower_lip),
        "AU25": field(dy=0.5 * mm, weight=upper_lip) + field(dy=-0.9 * mm, weight=lower_lip),
        "AU26": field(dy=-1.2 * mm, dz=-0.2 * mm, weight=jaw),
        "AU27": field(dy=-2.0 * mm, dz=-0.4 * mm, weight=jaw) + field(dx=-0.3 * mm * sx, weight=corners),
        "AU28": field(dz=-0.5 * mm, weight=lips),
        "AU33": field(dx=0.5 * mm * sx, dz=0.6 * mm, weight=cheek),
        "AU35": field(dx=-0.5 * mm * sx, dz=-0.6 * mm, weight=cheek),
        "AU38": field(dx=0.6 * mm * sx, weight=nostrils),
        "AU39": field(dx=-0.5 * mm * sx, weight=nostrils),
        "AU41": 0.08 * closure * (upper_window[:, None] > 0),
        "AU42": 0.10 * closure,
        "AU44": field(dz=1.1 * mm, weight=lower_window) + field(dz=0.4 * mm, weight=upper_window),
        "AU61": gaze(ey, 0.07),
        "AU62": gaze(ey, -0.07),
        "AU63": gaze(ex, -0.06),
        "AU64": gaze(ex, 0.06),
    }
    for au, d in bilateral.items():
        for side in ("L", "R"):
            shapes[f"{au}_{side}"] = d * _side_mask(v, side)[:, None]
    shapes.update(midline)
    missing = set(facs.EXPRESSION_CHANNELS) - set(shapes)
    assert not missing, missing
    return np.stack([shapes[name] for name in facs.EXPRESSION_CHANNELS]).astype(np.float32)


def _jaw_weights(v: np.ndarray, skin: np.ndarray, mouth_row_y: float) -> np.ndarray:
    """Skinning weight of the jaw: chin fully, the lower lip less toward the mouth corners
    (so the mouth opens as a lens), fading toward the hinge."""
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    ax = np.abs(x)
    band = 0.0004 + 0.5 * np.maximum(ax - MOUTH_HALF_WIDTH, 0.0)
    below = _smoothstep(0.0, band, mouth_row_y + 0.0005 - y)
    lens = np.sqrt(_smoothstep(MOUTH_HALF_WIDTH + 0.002, 0.0, ax))
    near_lips = _smoothstep(0.012, 0.0, mouth_row_y - y)
    lateral = _smoothstep(0.068, 0.040, ax)
    forward = _smoothstep(-0.02, 0.02, z)
    return (below * (1 - near_lips * (1 - lens)) * lateral * forward * skin).astype(np.float32)


@lru_cache(maxsize=1)
def build_mesh() -> BuiltinFaceMesh:
    """Generate the built-in face (deterministic; cached for the process)."""
    eye_front_z = 0.0715
    skin_v, skin_f, fields, n_skin = _skin(eye_front_z)
    parts_v, parts_f, parts_c = [skin_v], [skin_f], [_skin_colors(fields)]
    offset = n_skin
    eyeballs: dict[str, np.ndarray] = {}
    for name, side in (("L", 1.0), ("R", -1.0)):
        c = np.array([side * EYE_X, EYE_Y, eye_front_z - EYE_RADIUS])
        ev, ef, theta = _sphere(c, EYE_RADIUS, EYEBALL_LAT, EYEBALL_LON)
        col = np.where((theta < 0.18)[:, None], PUPIL, np.where((theta < 0.42)[:, None], IRIS, SCLERA))
        eyeballs[name] = np.arange(offset, offset + len(ev))
        parts_v.append(ev); parts_f.append(ef + offset); parts_c.append(col)
        offset += len(ev)
    near_lips = (np.abs(skin_v[:, 0]) < 0.004) & (np.abs(skin_v[:, 1] - MOUTH_Y) < 0.004)
    lips_z = float(skin_v[near_lips, 2].max())
    cavity_v, cavity_f, _ = _sphere(np.array([0.0, MOUTH_Y - 0.003, lips_z - 0.026]), np.array([0.024, 0.010, 0.015]),
                                    10, 16, inward=True)
    parts_v.append(cavity_v); parts_f.append(cavity_f + offset); parts_c.append(np.tile(CAVITY, (len(cavity_v), 1)))
    cavity = np.arange(offset, offset + len(cavity_v))
    offset += len(cavity_v)
    teeth_ids = []
    for y0, y1, jaw in ((MOUTH_Y + 0.001, MOUTH_Y + 0.007, False), (MOUTH_Y - 0.001, MOUTH_Y - 0.006, True)):
        tv, tf = _teeth(min(y0, y1), max(y0, y1), lips_z - 0.010, 0.022)
        parts_v.append(tv); parts_f.append(tf + offset); parts_c.append(np.tile(TEETH, (len(tv), 1)))
        teeth_ids.append((np.arange(offset, offset + len(tv)), jaw))
        offset += len(tv)
    vertices = np.concatenate(parts_v).astype(np.float32)
    faces = np.concatenate(parts_f).astype(np.int32)
    colors = np.clip(np.concatenate(parts_c), 0, 1).astype(np.float32)
    n = len(vertices)
    skin = np.zeros(n); skin[:n_skin] = 1.0
    front = np.zeros(n); front[:n_skin] = fields["front"]
    lid_window = np.zeros(n); lid_window[:n_skin] = fields["lid_window"]
    eye_mask = {k: np.isin(np.arange(n), idx) for k, idx in eyeballs.items()}
    jaw = _jaw_weights(vertices, skin, fields["mouth_row_y"])
    for idx, on_jaw in teeth_ids:
        jaw[idx] = 1.0 if on_jaw else 0.0
    jaw[cavity] = np.where(vertices[cavity, 1] < MOUTH_Y - 0.004, 0.6, 0.0)
    blend = _blendshapes(vertices, front, skin, lid_window, eye_mask, jaw)
    eye_regions = (lid_window > 0.05) | eye_mask["L"] | eye_mask["R"]
    mouth = np.zeros(n, bool)
    mouth[cavity] = True
    for idx, _ in teeth_ids:
        mouth[idx] = True
    mouth[:n_skin] |= (np.abs(vertices[:n_skin, 0]) < 0.035) & (np.abs(vertices[:n_skin, 1] - MOUTH_Y) < 0.015)
    return BuiltinFaceMesh(vertices, faces, colors, blend, jaw, eye_regions, mouth)
