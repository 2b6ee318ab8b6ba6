"""Painting the human face: skin albedo, brows, lips, hair and wrinkle maps in texture space.

The head gets a spherical texture map (azimuth × elevation about a point inside the
skull, 1024×512 texels, about 0.4 mm each on the face). The skin triangles are
rasterised into that map once per appearance; each texel then knows its anatomical
position on the base mesh (head frame, metres) and its coordinate in the base mesh's own
UV layout, where the CC0 masks of MakeHuman (lips, ears) are read. Everything painted
is a function of those two: skin tone with low-frequency mottling and redness, beard
shadow, the eyebrows (strands along the brow), the lips, short hair above a hairline
(strands from the crown, greying with age) and age lines. (The hospital gown at the base
of the neck is shaded in ``shade.py`` from the anatomical position.)

The wrinkle maps are the intensity-driven shading of the action units (FACS: the
furrows appear where the skin bunches): glabellar furrows (AU4), crow's feet (AU6, one
map per side), nasal wrinkles across the root of the nose (AU9), horizontal forehead
lines (AU1/AU2) and the nasolabial furrow (AU10/AU12). Each map holds the depth of the
grooves (0–1); the renderer darkens the skin by the sum of the maps weighted by the
frame's intensities (``wrinkle_weights``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numba
import numpy as np

from . import assets, facs, raster, shade
from .appearance import Appearance, hair_colour, iris_colour, skin_albedo, srgb_to_linear
from .assets import AssetError

if TYPE_CHECKING:
    from .human import HeadMesh, HumanFace

TEX_W, TEX_H = 1024, 512
SPHERE_CENTRE = np.array([0.0, 0.03, 0.0])
"""Centre of the spherical texture map in the base head frame (m): inside the skull, at eye height."""
AZIMUTH_KNOTS = ((-np.pi, -1.2, 1.2, np.pi), (0.0, 0.2, 0.8, 1.0))
ELEVATION_KNOTS = ((-np.pi / 2, -1.25, -0.85, 0.7, np.pi / 2), (1.0, 0.96, 0.80, 0.16, 0.0))
"""Piecewise-linear warps of azimuth and elevation (rad) to map x and y (0–1): the face
(|azimuth| < 1.2, elevation −0.85…0.7) gets 60 % × 64 % of the texels, ~0.4 mm each,
the neck down to the gown (elevation −1.25) 16 %."""

WRINKLES = ("glabella", "crow_L", "crow_R", "nasal", "forehead", "nasolabial")
WRINKLE_UNITS: dict[str, tuple[tuple[str, float], ...]] = {
    "glabella": (("AU4_L", 0.5), ("AU4_R", 0.5)),
    "crow_L": (("AU6_L", 1.0),),
    "crow_R": (("AU6_R", 1.0),),
    "nasal": (("AU9", 1.0),),
    "forehead": (("AU1_L", 0.3), ("AU1_R", 0.3), ("AU2_L", 0.2), ("AU2_R", 0.2)),
    "nasolabial": (("AU10_L", 0.3), ("AU10_R", 0.3), ("AU12_L", 0.2), ("AU12_R", 0.2), ("AU9", 0.2)),
}
"""Channels (and weights) whose intensity, over its maximum, deepens each wrinkle map."""

WRINKLE_MATRIX = np.zeros((len(WRINKLES), facs.EXPRESSION_DIM), np.float32)
for _k, _name in enumerate(WRINKLES):
    for _channel, _weight in WRINKLE_UNITS[_name]:
        WRINKLE_MATRIX[_k, facs.channel_index(_channel)] = _weight / facs.channel_max(_channel)

MATERIAL_COLOURS_SRGB = {
    "mouth": (128, 48, 52), "teeth": (232, 226, 208), "tongue": (196, 96, 98), "lash": (34, 26, 22),
    "sclera": (236, 230, 222), "pupil": (8, 8, 10),
}


def wrinkle_weights(expression: np.ndarray) -> np.ndarray:
    """(K,) depth of each wrinkle map (0–1) for one frame's 50 intensities (clipped to FACS ranges)."""
    e = np.clip(np.asarray(expression, np.float32), 0.0, facs.CHANNEL_MAX)
    return np.clip(WRINKLE_MATRIX @ e, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class Surface:
    """What the renderer shades: textures, per-corner texture coordinates and materials."""

    corner_tex: np.ndarray  # (F,3,2) float32 texel coordinates (x may pass TEX_W across the back seam)
    albedo: np.ndarray  # (H,W,4) uint8: sRGB albedo + gloss
    wrinkles: np.ndarray  # (H,W,K) uint8 groove depth per wrinkle map
    wrinkle_texels: np.ndarray  # (N,) int32 flat indices of the texels where any wrinkle map is non-zero
    wrinkle_depths: np.ndarray  # (N,K) uint8 the wrinkle maps at those texels (what a frame re-weights)
    material: np.ndarray  # (F,) uint8
    neck: np.ndarray  # (F,) bool: skin reaching below shade.GOWN_TOP, where the gown's neckline is tested
    neighbour_start: np.ndarray  # (V+1,) int64 CSR adjacency for the per-frame occlusion
    neighbours: np.ndarray  # (E,) int32
    anatomy: np.ndarray  # (V,3) float32 base-mesh positions (head frame): eyes, teeth, mouth depth, gown
    colours: np.ndarray  # (8,3) float32 linear colours: mouth, teeth, tongue, lash, sclera, pupil, iris, hair
    eye_centres: np.ndarray  # (2,3) float32 base-mesh centres of the left and right eyeball
    mouth_front_z: float  # base-mesh z (m) of the front of the teeth: depth behind it darkens the mouth
    vertex_colors: np.ndarray  # (V,3) float32 sRGB 0–1 (rviz marker)
    regions: dict


def spherical_texels(points: np.ndarray) -> np.ndarray:
    """(N,2) texel coordinates of head-frame points on the spherical map."""
    d = np.asarray(points, np.float64) - SPHERE_CENTRE
    u = np.interp(np.arctan2(d[:, 0], d[:, 2]), *AZIMUTH_KNOTS) * TEX_W
    v = np.interp(np.arctan2(d[:, 1], np.hypot(d[:, 0], d[:, 2])), *ELEVATION_KNOTS) * TEX_H
    return np.stack([u, v], axis=-1)


def corner_texels(anatomy: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,3,2) texel coordinates per triangle corner; a triangle across the back seam is
    unwrapped past ``TEX_W`` (the renderer wraps x)."""
    tex = spherical_texels(anatomy)[faces]
    u = tex[..., 0]
    seam = (u.max(axis=1) - u.min(axis=1)) > TEX_W / 2
    u[seam] = np.where(u[seam] < TEX_W / 2, u[seam] + TEX_W, u[seam])
    return tex.astype(np.float32)


def _texel_attributes(tex: np.ndarray, attributes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise triangles (F,3,2 texels) into the map; interpolate (F,3,C) corner attributes.

    The outermost surface (largest distance from the map centre, attribute 0–2 being the
    anatomical position) wins where triangles overlap. Returns (covered (H,W) bool, (H,W,C)).
    """
    shifted = tex.copy()
    shifted[..., 0] -= TEX_W
    across = (tex[..., 0] > TEX_W).any(axis=1)
    tex = np.concatenate([tex, shifted[across]])
    attributes = np.concatenate([attributes, attributes[across]])
    radius = np.linalg.norm(attributes[..., :3] - SPHERE_CENTRE, axis=-1)
    screen = np.concatenate([tex, (1.0 - radius)[..., None]], axis=-1).reshape(-1, 3).astype(np.float32)
    faces = np.arange(len(screen), dtype=np.int32).reshape(-1, 3)
    depth = np.full((TEX_H, TEX_W), np.inf, np.float32)
    face_id = np.full((TEX_H, TEX_W), -1, np.int32)
    bary = np.zeros((TEX_H, TEX_W, 2), np.float32)
    raster.rasterize(screen, faces, depth, face_id, bary, False)
    covered = face_id >= 0
    f = face_id[covered]
    w0, w1 = bary[covered, 0:1], bary[covered, 1:2]
    a = attributes[f]
    values = np.zeros((TEX_H, TEX_W, attributes.shape[-1]), np.float32)
    values[covered] = w0 * a[:, 0] + w1 * a[:, 1] + (1.0 - w0 - w1) * a[:, 2]
    return covered, values


def _mask(name: str, uv: np.ndarray) -> np.ndarray:
    """A CC0 MakeHuman UV mask (``mpfb2/textures/<name>``) read at base-mesh UVs, 0–1 (float32)."""
    path = assets.asset_path(f"mpfb2/textures/{name}")
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise AssetError(f"face assets: cannot read image {path}")
    h, w = image.shape
    cols = np.clip(uv[:, 0] * (w - 1), 0, w - 1).astype(np.float32)
    rows = np.clip((1.0 - uv[:, 1]) * (h - 1), 0, h - 1).astype(np.float32)
    pad = -len(cols) % 1024  # cv2.remap takes maps of under 32767 rows
    cols, rows = np.pad(cols, (0, pad)).reshape(-1, 1024), np.pad(rows, (0, pad)).reshape(-1, 1024)
    return cv2.remap(image, cols, rows, cv2.INTER_LINEAR).reshape(-1)[:len(uv)].astype(np.float32) / np.float32(255.0)


def _noise(rng: np.random.Generator, cells: tuple[int, int], shape: tuple[int, int] = (TEX_H, TEX_W)) -> np.ndarray:
    """Smooth value noise in −1..1: random cells (rows, cols) resized up to the map."""
    grid = rng.uniform(-1.0, 1.0, cells).astype(np.float32)
    return cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _noise3(rng: np.random.Generator, points: np.ndarray, cell: float) -> np.ndarray:
    """Smooth value noise in −1..1 over 3-D points (m): a hashed random value per
    ``cell``-sized lattice point, interpolated (smoothstep-trilinear) between them, so the
    skin's grain is isotropic wherever the texture map stretches."""
    table = rng.uniform(-1.0, 1.0, 1 << 16).astype(np.float32)
    return _lattice_noise(np.ascontiguousarray(points, np.float32), np.float32(1.0 / cell), table)


@numba.njit(cache=True, fastmath=True, nogil=True)
def _lattice_noise(points: np.ndarray, scale: float, table: np.ndarray) -> np.ndarray:
    out = np.empty(points.shape[0], np.float32)
    for n in range(points.shape[0]):
        gx, gy, gz = points[n, 0] * scale, points[n, 1] * scale, points[n, 2] * scale
        ix, iy, iz = int(np.floor(gx)), int(np.floor(gy)), int(np.floor(gz))
        tx, ty, tz = gx - ix, gy - iy, gz - iz
        tx = tx * tx * (3.0 - 2.0 * tx)
        ty = ty * ty * (3.0 - 2.0 * ty)
        tz = tz * tz * (3.0 - 2.0 * tz)
        total = 0.0
        for dx in range(2):
            wx = tx if dx else 1.0 - tx
            for dy in range(2):
                wy = ty if dy else 1.0 - ty
                for dz in range(2):
                    wz = tz if dz else 1.0 - tz
                    key = ((ix + dx) * 73856093) ^ ((iy + dy) * 19349663) ^ ((iz + dz) * 83492791)
                    total += wx * wy * wz * table[key & 0xFFFF]
        out[n] = total
    return out


def _smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _grooves(phase: np.ndarray, sharpness: float = 6.0) -> np.ndarray:
    """Narrow grooves (0–1) at integer values of ``phase``."""
    return np.exp(-sharpness * (1.0 - np.cos(2.0 * np.pi * phase)))


def _brow(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Eyebrow density (0–1) at anatomical points (both sides): an arch over each eye."""
    ax = np.abs(x)
    centre = np.interp(ax, [0.010, 0.020, 0.036, 0.050, 0.060], [0.0505, 0.0525, 0.0560, 0.0540, 0.049])
    half = np.interp(ax, [0.010, 0.018, 0.040, 0.058], [0.0050, 0.0048, 0.0036, 0.0016])
    along = _smoothstep(0.009, 0.015, ax) * (1.0 - _smoothstep(0.054, 0.061, ax))
    across = 1.0 - _smoothstep(0.6, 1.0, np.abs(y - centre) / half)
    return along * across * _smoothstep(0.05, 0.08, z)


def _hairline(x: np.ndarray, y: np.ndarray, z: np.ndarray, recession: float) -> np.ndarray:
    """Scalp hair coverage (0–1): above a hairline that runs from the forehead over the ears to the nape."""
    phi = np.abs(np.arctan2(x, z))
    line = np.interp(phi, [0.0, 0.45, 0.8, 1.15, 1.35, 1.75, 2.1, np.pi],
                     [0.102, 0.098, 0.088, 0.045, 0.050, 0.055, -0.01, -0.055])
    line = line + recession * np.interp(phi, [0.0, 0.5, 0.9, 1.3], [0.012, 0.03, 0.015, 0.0])
    return _smoothstep(-0.003, 0.004, y - line)


def hair_recession(appearance: Appearance) -> float:
    """How far (0–1) the hairline has receded at the temples: with age, more for men (seeded)."""
    old = float(np.clip((appearance.age - 30.0) / 50.0, 0.0, 1.0))
    if appearance.sex != "male":
        return 0.1 * old
    return 0.8 * float(np.random.default_rng(40_000 + appearance.seed).uniform(0.3, 1.0)) * old


def hair_coverage(appearance: Appearance, anatomy: np.ndarray) -> np.ndarray:
    """(N,) scalp hair coverage (0–1) at anatomical points (head frame of the base mesh)."""
    x, y, z = (np.asarray(anatomy)[:, i] for i in range(3))
    return _hairline(x, y, z, hair_recession(appearance))


def paint(appearance: Appearance, anatomy: np.ndarray, base_uv: np.ndarray,
          covered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Albedo (H,W,4 uint8 sRGB + gloss) and wrinkle maps (H,W,K uint8) of texels with
    anatomical positions ``anatomy`` (N,3) and base UVs ``base_uv`` (N,2) where ``covered``.

    Each feature is evaluated only on the texels of the region where it can appear.
    """
    rng = np.random.default_rng(appearance.seed)
    points = np.ascontiguousarray(anatomy, np.float32)
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    at = lambda field: field[covered]  # noqa: E731 - sample a full-map field at the covered texels
    old = float(np.clip((appearance.age - 30.0) / 50.0, 0.0, 1.2))
    tint = lambda *rgb: np.array(rgb, np.float32)  # noqa: E731

    skin = skin_albedo(appearance.skin_tone).astype(np.float32)[None, :] * (
        1.0 + 0.05 * _noise3(rng, points, 0.012) + 0.025 * _noise3(rng, points, 0.004)
        + 0.012 * _noise3(rng, points, 0.0012))[:, None]
    ears = _mask("mpfb_ears.jpg", base_uv)
    skin *= 1.0 + (0.3 * ears)[:, None] * tint(0.05, -0.10, -0.08)

    face = np.flatnonzero((z > 0.02) & (np.abs(y) < 0.11))
    fx, fy, fz = x[face], y[face], z[face]
    front = _smoothstep(0.03, 0.09, fz)
    cheek = np.exp(-(((np.abs(fx) - 0.040) / 0.018) ** 2 + ((fy + 0.002) / 0.02) ** 2))
    nose = np.exp(-((fx / 0.012) ** 2 + (fy / 0.02) ** 2)) * front
    skin[face] *= 1.0 + (0.35 * cheek + 0.25 * nose)[:, None] * tint(0.05, -0.10, -0.08)
    socket = np.exp(-((np.hypot(np.abs(fx) - 0.031, (fy - 0.030) * 1.3) / 0.018) ** 2)) * front
    skin[face] *= 1.0 - (0.05 + 0.08 * old) * socket[:, None] * tint(0.9, 1.0, 0.95)
    if appearance.sex == "male":
        chin = face[fy < 0.004]
        cx, cy = x[chin], y[chin]
        beard = _smoothstep(0.003, -0.015, cy) * (1.0 - _smoothstep(0.6, 1.8, np.abs(np.arctan2(cx, z[chin]))))
        beard *= 1.0 - np.exp(-((cx / 0.030) ** 2 + ((cy + 0.035) / 0.012) ** 2) * 1.5)  # not on the lips
        stubble = beard * (0.75 + 0.25 * _noise3(rng, points[chin], 0.0008))
        skin[chin] *= 1.0 - 0.16 * stubble[:, None] * tint(1.0, 0.95, 0.85)
    if old > 0.5:
        spots = np.clip(_noise3(rng, points, 0.0018) - 0.6, 0.0, 1.0) * 2.5 * min(old - 0.5, 0.7)
        skin *= 1.0 - 0.15 * spots[:, None] * tint(0.7, 1.0, 1.3)

    lips = np.clip(_mask("mpfb_lips.jpg", base_uv) * 1.3, 0.0, 1.0)
    on_lips = np.flatnonzero(lips > 0.0)
    wobble = at(_noise(rng, (96, 192)))
    lip_lines = _grooves(x[on_lips] * 900.0 + 0.3 * wobble[on_lips], 3.0)
    lip_colour = skin[on_lips] * tint(0.80, 0.48, 0.60) * (0.90 - 0.08 * old) * (1.0 - 0.10 * lip_lines)[:, None]
    skin[on_lips] += lips[on_lips, None] * (lip_colour - skin[on_lips])

    hair_rgb, grey = hair_colour(appearance)
    hair_rgb = hair_rgb.astype(np.float32)
    grey_rgb = srgb_to_linear(np.array([0.72, 0.71, 0.69])).astype(np.float32)
    fine = at(_noise(rng, (TEX_H, TEX_W // 3)))
    scalp = np.flatnonzero(y > -0.07)
    streaks = at(_noise(rng, (TEX_H // 2, TEX_W // 24)))[scalp]
    hair = hair_coverage(appearance, points[scalp]) * (1.0 - ears[scalp])
    greying = np.clip(grey * (1.0 + 0.5 * fine[scalp]), 0.0, 1.0)
    strand = (hair_rgb + greying[:, None] * (grey_rgb - hair_rgb)) * (0.8 + 0.12 * fine[scalp] + 0.08 * streaks)[:, None]
    coverage = np.zeros(len(x), np.float32)
    coverage[scalp] = np.clip(hair * (0.9 + 0.1 * streaks), 0.0, 1.0)
    skin[scalp] += coverage[scalp, None] * (strand - skin[scalp])

    brows = np.flatnonzero((y > 0.035) & (y < 0.066) & (z > 0.04))
    hairs = at(_noise(rng, (TEX_H, TEX_W // 12)))[brows]  # thin strands along the brow (map x)
    brow = np.zeros(len(x), np.float32)
    brow[brows] = np.clip(_brow(x[brows], y[brows], z[brows]) * np.clip(0.9 + 0.2 * hairs, 0.0, 1.0), 0.0, 0.92)
    brow_rgb = 0.7 * hair_rgb + 0.6 * max(grey - 0.4, 0.0) * (grey_rgb - hair_rgb)
    skin[brows] += brow[brows, None] * (brow_rgb * (0.85 + 0.15 * hairs)[:, None] - skin[brows])

    maps = np.zeros((len(x), len(WRINKLES)), np.float32)
    maps[face] = _wrinkle_maps(fx, fy, fz, wobble[face])
    full = np.zeros((TEX_H, TEX_W), np.float32)
    for k in range(len(WRINKLES)):  # soften the grooves across a texel or two
        full[covered] = maps[:, k]
        maps[:, k] = cv2.GaussianBlur(full, (0, 0), 1.2)[covered]
    age_lines = old * (0.35 * maps[face, WRINKLES.index("forehead")] + 0.45 * maps[face, WRINKLES.index("nasolabial")]
                       + 0.25 * (maps[face, WRINKLES.index("crow_L")] + maps[face, WRINKLES.index("crow_R")]))
    skin[face] *= 1.0 - 0.3 * np.clip(age_lines, 0.0, 1.0)[:, None] * (1.0 - coverage[face, None])

    gloss = 0.55 + 0.6 * lips - 0.5 * np.clip(coverage + brow, 0.0, 1.0)
    gloss[face] += 0.25 * front * _smoothstep(0.0, 0.06, fy)
    albedo = np.zeros((TEX_H, TEX_W, 4), np.uint8)
    albedo[covered, :3] = _srgb_bytes(skin)
    albedo[covered, 3] = np.round(255.0 * np.clip(gloss, 0.0, 1.0) / 1.5).astype(np.uint8)
    wrinkles = np.zeros((TEX_H, TEX_W, len(WRINKLES)), np.uint8)
    wrinkles[covered] = np.round(255.0 * np.clip(maps * (1.0 - coverage[:, None]), 0.0, 1.0)).astype(np.uint8)
    return _dilate(albedo, covered), _dilate(wrinkles, covered)


def _wrinkle_maps(x: np.ndarray, y: np.ndarray, z: np.ndarray, wobble: np.ndarray) -> np.ndarray:
    """(N,K) groove depth of each wrinkle map at anatomical points of the face."""
    ax = np.abs(x)
    front = _smoothstep(0.06, 0.10, z)
    out = np.zeros((len(x), len(WRINKLES)), np.float32)
    # Glabella: a vertical furrow each side of the midline between the brows, and a
    # transverse line at the root of the nose.
    vertical = np.exp(-(((ax - 0.0048 - 0.0006 * wobble) / 0.0011) ** 2))
    band = np.exp(-(((y - 0.049) / 0.009) ** 2))
    root = np.exp(-(((y - 0.038 - 0.0005 * wobble) / 0.0012) ** 2)) * np.exp(-((x / 0.009) ** 2))
    out[:, 0] = (vertical * band + 0.5 * root) * front
    # Crow's feet: four lines fanning out from each lateral canthus.
    for k, side in ((1, 1.0), (2, -1.0)):
        dx, dy = side * x - 0.050, y - 0.030
        r = np.hypot(dx, dy)
        angle = np.arctan2(dy, np.maximum(dx, 1e-4))
        fan = _grooves(angle / 0.32 + 0.5 + 0.08 * wobble, 5.0) * (np.abs(angle) < 0.75)
        reach = _smoothstep(0.003, 0.007, r) * (1.0 - _smoothstep(0.014, 0.022, r)) * (dx > 0)
        out[:, k] = fan * reach
    # Nasal wrinkles (AU9): two or three oblique lines across the upper nose.
    nasal = _grooves((y - 0.026 + 0.3 * ax) / 0.0042 + 0.1 * wobble, 6.0)
    out[:, 3] = nasal * np.exp(-(((y - 0.026) / 0.007) ** 2)) * (1.0 - _smoothstep(0.010, 0.017, ax)) * front
    # Forehead: three long horizontal lines.
    lines = _grooves((y - 0.068) / 0.009 + 0.2 * wobble, 5.0)
    out[:, 4] = lines * _smoothstep(0.060, 0.068, y) * (1.0 - _smoothstep(0.088, 0.098, y)) * (1.0 - _smoothstep(0.04, 0.058, ax)) * front
    # Nasolabial furrow: from the nose wing to beside the mouth corner.
    t = np.clip((0.006 - y) / 0.040, 0.0, 1.0)
    fold = np.exp(-(((ax - 0.020 - 0.012 * t) / 0.0025) ** 2)) * _smoothstep(-0.04, -0.03, y) * (1.0 - _smoothstep(0.004, 0.010, y))
    out[:, 5] = fold * front
    return np.clip(out, 0.0, 1.0)


def _dilate(image: np.ndarray, covered: np.ndarray, steps: int = 4) -> np.ndarray:
    """Grow painted texels a few texels into the empty map so bilinear reads at edges stay clean."""
    out = image.copy()
    filled = covered.copy()
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(steps):
        grown = cv2.dilate(filled.astype(np.uint8), kernel).astype(bool) & ~filled
        if not grown.any():
            break
        for c in range(out.shape[2]):
            out[..., c] = np.where(grown, cv2.dilate(out[..., c], kernel), out[..., c])
        filled |= grown
    return out


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(np.maximum(c, 0.0), 1 / 2.4) - 0.055)


SRGB_BYTES = np.round(255.0 * _linear_to_srgb(np.linspace(0.0, 1.0, 4096))).astype(np.uint8)


def _srgb_bytes(linear: np.ndarray) -> np.ndarray:
    """Linear 0–1 colours as sRGB bytes (through a 4096-step table)."""
    return SRGB_BYTES[np.clip((linear * 4095.0 + 0.5).astype(np.int32), 0, 4095)]


def neighbour_lists(faces: np.ndarray, n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR adjacency of a triangle mesh: ``(start (V+1,), neighbours)`` with each edge once per end."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    both = np.concatenate([edges, edges[:, ::-1]])
    both = both[np.argsort(both[:, 0], kind="stable")]
    start = np.searchsorted(both[:, 0], np.arange(n_vertices + 1)).astype(np.int64)
    return start, both[:, 1].astype(np.int32)


def paint_surface(face: "HumanFace", head: "HeadMesh", anatomy: np.ndarray) -> Surface:
    """Texture map, materials and colours of a human face for its appearance (``anatomy``:
    the crop's base-mesh positions, ``human.base_anatomy``)."""
    from .human import EYE_L, EYE_R, LASH, MOUTH, SKIN, TEETH, TONGUE, eye_centres

    tex = corner_texels(anatomy, head.faces)
    skin_faces = np.flatnonzero(head.material == SKIN)
    attributes = np.concatenate([anatomy[head.faces[skin_faces]], head.corner_uvs[skin_faces]], axis=-1)
    covered, values = _texel_attributes(tex[skin_faces], attributes)
    albedo, wrinkles = paint(face.appearance, values[covered, :3].astype(np.float64), values[covered, 3:5], covered)

    hair_rgb, _ = hair_colour(face.appearance)
    srgb = lambda name: srgb_to_linear(np.asarray(MATERIAL_COLOURS_SRGB[name]) / 255.0)  # noqa: E731
    colours = np.stack([srgb("mouth"), srgb("teeth"), srgb("tongue"), hair_rgb * 0.6, srgb("sclera"), srgb("pupil"),
                        iris_colour(face.appearance), hair_rgb]).astype(np.float32)

    vertex_colors = np.zeros((len(anatomy), 3), np.float32)
    texel = spherical_texels(anatomy)
    rows = np.clip(texel[:, 1].astype(int), 0, TEX_H - 1)
    cols = np.clip(texel[:, 0].astype(int), 0, TEX_W - 1)
    vertex_colors[:] = albedo[rows, cols, :3] / 255.0
    linear_to_display = lambda c: _linear_to_srgb(c).astype(np.float32)  # noqa: E731
    for material, colour in ((MOUTH, colours[0]), (TEETH, colours[1]), (TONGUE, colours[2]), (LASH, colours[3]),
                             (EYE_L, colours[4]), (EYE_R, colours[4])):
        vertex_colors[np.unique(head.faces[head.material == material])] = linear_to_display(colour)

    rest = face.rest
    hi = rest.max(axis=0)
    eyes = eye_centres(assets.load_base_mesh().vertices).astype(np.float32)
    eye_y = float(eyes[:, 1].mean())
    regions = {
        "full": (0.0, 0.034, float(hi[2]), 0.12, 0.12),
        "eyes": (0.0, eye_y + 0.006, float(hi[2]), 0.07, 0.028),
        "mouth": (0.0, eye_y - 0.067, float(hi[2]), 0.05, 0.028),
    }
    teeth = np.unique(head.faces[head.material == TEETH])
    # Occlusion on the skin only: helper parts (eyes, teeth, lashes) are separate shells.
    start, neighbours = neighbour_lists(head.faces[head.material <= MOUTH], len(rest))
    neck = (head.material == SKIN) & (anatomy[head.faces, 1].min(axis=1) < shade.GOWN_TOP)
    wrinkle_texels = np.flatnonzero(wrinkles.any(axis=2)).astype(np.int32)
    wrinkle_depths = wrinkles.reshape(-1, len(WRINKLES))[wrinkle_texels]
    return Surface(tex, albedo, wrinkles, wrinkle_texels, wrinkle_depths, head.material, neck, start, neighbours, anatomy,
                   colours, eyes, float(anatomy[teeth, 2].max()) + 0.004,
                   vertex_colors, regions)
