"""Numba shading kernels of the human face (one core), after ``raster.rasterize``.

Per covered pixel the triangle id and barycentrics give the interpolated normal, texture
coordinate and rest position; the material decides the shading:

- skin: albedo (bilinear, in linear light) and gloss from the painted map, darkened by
  the wrinkle maps weighted by the frame's intensities (one byte per texel a frame,
  ``groove_map``) and by vertex ambient occlusion;
  two lights with wrap lighting whose wrap is wider in red than in blue (light scattered
  under the skin reddens the terminator, a cheap stand-in for subsurface scattering),
  a hemispherical ambient and a soft Blinn–Phong highlight of the key light with
  Schlick's Fresnel;
- eyes: iris, pupil and limbal ring from the angle to the eye's optical axis (rest
  positions, so they turn with the eyeball), a sharp wet highlight on the sphere's
  normal, a catchlight of a light near the camera, shadow under the upper lid;
- teeth, tongue, mouth interior: flat colours darkened with depth behind the lips;
- eyelashes: hair colour;
- below a round neckline at the base of the neck, a hospital gown.

Light is accumulated linearly and encoded to sRGB through a lookup table.
``antialias_row`` smooths silhouette and material edges a row behind.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from .raster import FAR

SRGB_LUT_SIZE = 4096
LUT_RANGE = 2.0
_LINEAR = np.linspace(0.0, LUT_RANGE, SRGB_LUT_SIZE)
_ROLLED = np.clip(_LINEAR / (1.0 + 0.12 * _LINEAR) * 1.12 / (1.0 + 0.12 * 0.0), 0.0, 1.0)
SRGB_LUT = np.round(255.0 * np.where(_ROLLED <= 0.0031308, 12.92 * _ROLLED,
                                     1.055 * _ROLLED ** (1 / 2.4) - 0.055)).astype(np.uint8)
"""Linear light 0–2 (4096 steps) → sRGB byte, with a gentle roll-off of highlights."""
TO_LINEAR = (np.where(np.arange(256) / 255.0 <= 0.04045, np.arange(256) / 255.0 / 12.92,
                      ((np.arange(256) / 255.0 + 0.055) / 1.055) ** 2.4)).astype(np.float32)
"""sRGB byte → linear 0–1."""

KEY = np.array([-0.40, 0.55, 0.95], np.float32) / np.float32(np.linalg.norm([-0.40, 0.55, 0.95]))
EYE_GLINT = np.array([-0.30, 0.22, 1.0], np.float32) / np.float32(np.linalg.norm([-0.30, 0.22, 1.0]))
"""Half vector of the eyes' catchlight (a light near the camera), so the wet highlight
sits on the cornea rather than under the upper lid."""
FILL = np.array([0.75, 0.05, 0.65], np.float32) / np.float32(np.linalg.norm([0.75, 0.05, 0.65]))
KEY_RGB = np.array([1.0, 0.97, 0.93], np.float32)
FILL_RGB = np.array([0.30, 0.32, 0.36], np.float32)
SCATTER = np.array([0.30, 0.10, 0.04], np.float32)
"""Extra wrap per channel (R, G, B) for the subsurface-like terminator."""
GOWN_TOP = -0.1
"""Anatomical height (m) above which no part of the gown reaches (the neckline is tested
only on skin triangles reaching below it, ``Surface.neck``)."""
NECKLINE_AZIMUTH = np.array([0.0, 0.6, 1.4, 2.2, np.pi])
NECKLINE_Y = np.array([-0.140, -0.136, -0.128, -0.112, -0.105])
"""Round neckline of the hospital gown: rest height (m) by azimuth about the neck (rad)."""
GOWN = np.array([0.31, 0.50, 0.56], np.float32)
"""Linear colour of the gown fabric (a pale hospital blue)."""


SPEC_FROM = 0.7
"""Smallest cosine to the half vector that gets a highlight."""
SPEC_STEPS = 2048
EYE_SHININESS = 420.0
TEETH_SHININESS = 60.0


def specular_table(shininess: float) -> np.ndarray:
    """(3, SPEC_STEPS + 1) float32 ``cos ** exponent`` over cos SPEC_FROM…1 for the skin's
    ``shininess``, the eyes' and the teeth's exponents (read with linear interpolation)."""
    cos = np.linspace(SPEC_FROM, 1.0, SPEC_STEPS + 1)
    return np.stack([cos ** e for e in (shininess, EYE_SHININESS, TEETH_SHININESS)]).astype(np.float32)


@numba.njit(cache=True, fastmath=True, nogil=True)
def groove_map(texels, depths, weights, out):
    """The frame's wrinkle depth at the texels where any wrinkle map is non-zero: ``out.flat[texels[i]]``
    = min(Σ_k max(weights[k], 0) · depths[i, k], 255) (0–255 = groove 0–1)."""
    flat = out.reshape(-1)
    for i in range(texels.shape[0]):
        groove = np.float32(0.0)
        for k in range(depths.shape[1]):
            if weights[k] > 0.0:
                groove += weights[k] * np.float32(depths[i, k])
        flat[texels[i]] = np.uint8(min(groove + np.float32(0.5), np.float32(255.0)))


@numba.njit(cache=True, fastmath=True, nogil=True)
def shade_human(face_id, bary, faces, material, neck, corner_tex, normals, anatomy, occlusion, albedo, groove,
                colours, eye_centres, mouth_front_z, light, spec_table, background, depth, image, edges):
    """Shade the human face into uint8 sRGB (see the module docstring) and smooth its edges
    a row behind (``antialias_row``; ``edges``: ``edge_buffers(W)``).

    ``groove``: (H,W) uint8 wrinkle depth of this frame (``groove_map``); ``light`` =
    (ambient, wrap, specular, shininess); ``spec_table``: ``specular_table(shininess)``;
    ``colours`` rows: mouth, teeth, tongue, lash, sclera, pupil, iris, hair (linear);
    ``eye_centres`` (2,3) rest centres.
    """
    f32 = np.float32
    to_linear = TO_LINEAR
    lut = SRGB_LUT
    lut_top = lut.shape[0] - 1
    lut_scale = f32(lut_top / LUT_RANGE)
    ambient, wrap, specular = f32(light[0]), f32(light[1]), f32(light[2])
    th, tw = albedo.shape[0], albedo.shape[1]
    y_top = f32(th - 1.001)
    wr, wg, wb = wrap + SCATTER[0], wrap + SCATTER[1], wrap + SCATTER[2]
    ir, ig, ib = f32(1.0) / (f32(1.0) + wr), f32(1.0) / (f32(1.0) + wg), f32(1.0) / (f32(1.0) + wb)
    inv_plain = f32(1.0) / (f32(1.0) + wrap)
    spec_scale = f32(spec_table.shape[1] - 1) / f32(1.0 - SPEC_FROM)
    spec_top = spec_table.shape[1] - 2
    key_x, key_y, key_z = KEY[0], KEY[1], KEY[2]
    fill_x, fill_y, fill_z = FILL[0], FILL[1], FILL[2]
    # Blinn half vector of the key light with the view (0, 0, 1).
    kn = np.sqrt(key_x * key_x + key_y * key_y + (key_z + f32(1.0)) ** 2)
    kh_x, kh_y, kh_z = key_x / kn, key_y / kn, (key_z + f32(1.0)) / kn
    h, w = face_id.shape
    edges.kinds[:] = BACKGROUND
    edges.counts[:] = 0
    for py in range(h):
        here, above = py % 2, 1 - py % 2
        f_left, kind_left, depth_left = -1, BACKGROUND, FAR
        for px in range(w):
            f = face_id[py, px]
            kind = material[f] if f >= 0 else BACKGROUND
            d = depth[py, px]
            # Edges to the left and upper neighbours, for the filter of the row above.
            edges.across[here, px] = _step(f_left, f, kind_left, kind, depth_left, d)
            if py > 0:
                edges.down[above, px] = _step(face_id[py - 1, px], f, edges.kinds[above, px], kind, depth[py - 1, px], d)
            edges.kinds[here, px] = kind
            f_left, kind_left, depth_left = f, kind, d
            if f < 0:
                image[py, px, 0] = background[0]
                image[py, px, 1] = background[1]
                image[py, px, 2] = background[2]
                continue
            w0 = bary[py, px, 0]
            w1 = bary[py, px, 1]
            w2 = f32(1.0) - w0 - w1
            a, b, c = np.uintp(faces[f, 0]), np.uintp(faces[f, 1]), np.uintp(faces[f, 2])
            nx = w0 * normals[a, 0] + w1 * normals[b, 0] + w2 * normals[c, 0]
            ny = w0 * normals[a, 1] + w1 * normals[b, 1] + w2 * normals[c, 1]
            nz = w0 * normals[a, 2] + w1 * normals[b, 2] + w2 * normals[c, 2]
            nn = np.sqrt(nx * nx + ny * ny + nz * nz)
            if nn > 0:
                inv = f32(1.0) / nn
                nx, ny, nz = nx * inv, ny * inv, nz * inv
            ao = w0 * occlusion[a] + w1 * occlusion[b] + w2 * occlusion[c]
            m = kind
            spec_strength = f32(0.0)
            table = 0
            catchlight = f32(0.0)
            if m == 0:  # skin: bilinear albedo in linear light, gloss and groove at the nearest texel
                tx = w0 * corner_tex[f, 0, 0] + w1 * corner_tex[f, 1, 0] + w2 * corner_tex[f, 2, 0] - f32(0.5)
                fy = min(max(w0 * corner_tex[f, 0, 1] + w1 * corner_tex[f, 1, 1] + w2 * corner_tex[f, 2, 1]
                             - f32(0.5), f32(0.0)), y_top)
                x0f = np.floor(tx)
                y0 = np.uintp(fy)
                ax = tx - x0f
                ay = fy - f32(y0)
                x0 = np.intp(x0f)
                if x0 < 0:
                    x0 += tw
                elif x0 >= tw:
                    x0 -= tw
                x0 = np.uintp(x0)
                x1 = x0 + np.uintp(1) if x0 + 1 < tw else np.uintp(0)
                y1 = y0 + np.uintp(1)
                c00 = (f32(1.0) - ax) * (f32(1.0) - ay)
                c10 = ax * (f32(1.0) - ay)
                c01 = (f32(1.0) - ax) * ay
                c11 = ax * ay
                yn = y0 if ay < f32(0.5) else y1
                xn = x0 if ax < f32(0.5) else x1
                g = f32(groove[yn, xn]) * f32(1.0 / 255.0)
                dark = f32(1.0) - f32(0.5) * g
                cr = (c00 * to_linear[albedo[y0, x0, 0]] + c10 * to_linear[albedo[y0, x1, 0]]
                      + c01 * to_linear[albedo[y1, x0, 0]] + c11 * to_linear[albedo[y1, x1, 0]]) * dark
                cg = (c00 * to_linear[albedo[y0, x0, 1]] + c10 * to_linear[albedo[y0, x1, 1]]
                      + c01 * to_linear[albedo[y1, x0, 1]] + c11 * to_linear[albedo[y1, x1, 1]]) * dark
                cb = (c00 * to_linear[albedo[y0, x0, 2]] + c10 * to_linear[albedo[y0, x1, 2]]
                      + c01 * to_linear[albedo[y1, x0, 2]] + c11 * to_linear[albedo[y1, x1, 2]]) * dark
                spec_strength = specular * (f32(albedo[yn, xn, 3]) * f32(1.0 / 170.0)) * (f32(1.0) - f32(0.8) * g)
                if neck[f]:
                    ry = w0 * anatomy[a, 1] + w1 * anatomy[b, 1] + w2 * anatomy[c, 1]
                    if ry < GOWN_TOP:
                        rx = w0 * anatomy[a, 0] + w1 * anatomy[b, 0] + w2 * anatomy[c, 0]
                        rz = w0 * anatomy[a, 2] + w1 * anatomy[b, 2] + w2 * anatomy[c, 2]
                        below = np.interp(abs(np.arctan2(rx, rz)), NECKLINE_AZIMUTH, NECKLINE_Y) - ry
                        if below > -0.0015:
                            cover = f32(min((below + 0.0015) / 0.003, 1.0))
                            weave = f32(1.0 + 0.05 * np.sin(rx * 2600.0) * np.sin(ry * 2600.0))
                            hem = f32(0.8) if below < 0.004 else f32(1.0)
                            cr += cover * (GOWN[0] * weave * hem - cr)
                            cg += cover * (GOWN[1] * weave * hem - cg)
                            cb += cover * (GOWN[2] * weave * hem - cb)
                            spec_strength *= f32(1.0) - cover
                wk_r, wk_g, wk_b, iw_r, iw_g, iw_b = wr, wg, wb, ir, ig, ib
            else:
                wk_r, wk_g, wk_b, iw_r, iw_g, iw_b = wrap, wrap, wrap, inv_plain, inv_plain, inv_plain
                if m == 2 or m == 3:  # eyes
                    e = m - 2
                    dx = w0 * anatomy[a, 0] + w1 * anatomy[b, 0] + w2 * anatomy[c, 0] - eye_centres[e, 0]
                    dy = w0 * anatomy[a, 1] + w1 * anatomy[b, 1] + w2 * anatomy[c, 1] - eye_centres[e, 1]
                    dz = w0 * anatomy[a, 2] + w1 * anatomy[b, 2] + w2 * anatomy[c, 2] - eye_centres[e, 2]
                    r = np.sqrt(dx * dx + dy * dy + dz * dz) + f32(1e-12)
                    cos_axis = dz / r
                    radial = np.sqrt(dx * dx + dy * dy) / r  # sine of the angle to the axis
                    if radial < 0.19 and cos_axis > 0:
                        cr, cg, cb = colours[5, 0], colours[5, 1], colours[5, 2]
                    elif radial < 0.47 and cos_axis > 0:
                        t = (radial - 0.19) / 0.28
                        angle = np.arctan2(dy, dx)
                        fibre = 0.78 + 0.22 * np.sin(angle * 37.0 + 3.0 * t) * np.sin(angle * 11.0 - 5.0 * t)
                        ring = 1.0 - 0.65 * max(t - 0.72, 0.0) / 0.28
                        collar = 1.0 + 0.35 * max(0.25 - t, 0.0) / 0.25
                        iris = f32(fibre * ring * collar)
                        cr, cg, cb = colours[6, 0] * iris, colours[6, 1] * iris, colours[6, 2] * iris
                    else:
                        edge = min(max((f32(0.85) - cos_axis) / f32(0.6), f32(0.0)), f32(1.0))
                        cr = colours[4, 0] * (f32(1.0) - f32(0.08) * edge)
                        cg = colours[4, 1] * (f32(1.0) - f32(0.22) * edge)
                        cb = colours[4, 2] * (f32(1.0) - f32(0.24) * edge)
                    lid = min(max((dy / r - f32(0.05)) / f32(0.5), f32(0.0)), f32(1.0))
                    ao = f32(0.62) + f32(0.3) * (f32(1.0) - lid)
                    nx, ny, nz = dx / r, dy / r, dz / r
                    glint = nx * EYE_GLINT[0] + ny * EYE_GLINT[1] + nz * EYE_GLINT[2]
                    if glint > 0.97:
                        catchlight = f32(1.4 * np.exp(160.0 * np.log(glint)))
                    spec_strength = f32(1.4)
                    table = 1
                elif m == 6:  # eyelashes
                    cr, cg, cb = colours[3, 0], colours[3, 1], colours[3, 2]
                else:  # mouth interior, teeth, tongue: darker the deeper behind the lips
                    row = 0 if m == 1 else (1 if m == 4 else 2)
                    z = w0 * anatomy[a, 2] + w1 * anatomy[b, 2] + w2 * anatomy[c, 2]
                    behind = f32(min(max((mouth_front_z - z) / 0.035, 0.0), 1.0))
                    shade = (f32(1.0) - behind) * (f32(1.0) - behind)
                    if m == 4:
                        shade = f32(0.25) + f32(0.75) * shade
                        spec_strength = f32(0.25) * shade
                        table = 2
                    else:
                        shade = f32(0.04) + f32(0.96) * shade
                    cr, cg, cb = colours[row, 0] * shade, colours[row, 1] * shade, colours[row, 2] * shade
            ndk = nx * key_x + ny * key_y + nz * key_z
            ndf = nx * fill_x + ny * fill_y + nz * fill_z
            sky = ambient * (f32(0.6) + f32(0.4) * ny) * ao
            spec = catchlight
            if spec_strength > 0.0:
                hk = nx * kh_x + ny * kh_y + nz * kh_z
                if hk > f32(SPEC_FROM):
                    rim = f32(1.0) - max(nz, f32(0.0))
                    rim2 = rim * rim
                    fresnel = f32(0.04) + f32(0.96) * rim2 * rim2 * rim
                    s = (hk - f32(SPEC_FROM)) * spec_scale
                    i = min(int(s), spec_top)
                    t = s - f32(i)
                    power = spec_table[table, i] + t * (spec_table[table, i + 1] - spec_table[table, i])
                    spec += power * spec_strength * (f32(0.5) + f32(4.0) * fresnel) * ao
            key_ao = (f32(1.0) - ambient) * (f32(0.35) + f32(0.65) * ao)
            fill_ao = (f32(1.0) - ambient) * ao
            r_lit = sky + KEY_RGB[0] * max((ndk + wk_r) * iw_r, f32(0.0)) * key_ao \
                + FILL_RGB[0] * max((ndf + wk_r) * iw_r, f32(0.0)) * fill_ao
            g_lit = sky + KEY_RGB[1] * max((ndk + wk_g) * iw_g, f32(0.0)) * key_ao \
                + FILL_RGB[1] * max((ndf + wk_g) * iw_g, f32(0.0)) * fill_ao
            b_lit = sky + KEY_RGB[2] * max((ndk + wk_b) * iw_b, f32(0.0)) * key_ao \
                + FILL_RGB[2] * max((ndf + wk_b) * iw_b, f32(0.0)) * fill_ao
            image[py, px, 0] = lut[min(max(int((cr * r_lit * f32(1.25) + spec) * lut_scale + f32(0.5)), 0), lut_top)]
            image[py, px, 1] = lut[min(max(int((cg * g_lit * f32(1.25) + spec) * lut_scale + f32(0.5)), 0), lut_top)]
            image[py, px, 2] = lut[min(max(int((cb * b_lit * f32(1.25) + spec) * lut_scale + f32(0.5)), 0), lut_top)]
        if py >= 2:  # the row above is complete now that its lower neighbours are shaded
            antialias_row(image, edges, py - 1)
    antialias_row(image, edges, h - 1)


@numba.njit(cache=True, fastmath=True, nogil=True)
def occlusion(vertices, normals, neighbour_start, neighbours, scale, out):
    """Per-vertex ambient occlusion (0.55–1) from concavity: how far a vertex lies below the
    mean of its neighbours along its normal, so folds that deepen with an expression
    (brow furrow, nasolabial fold, closed lids) darken as they form."""
    for v in range(vertices.shape[0]):
        start, stop = neighbour_start[v], neighbour_start[v + 1]
        if stop == start:
            out[v] = 1.0
            continue
        mx = 0.0
        my = 0.0
        mz = 0.0
        for i in range(start, stop):
            u = neighbours[i]
            mx += vertices[u, 0]
            my += vertices[u, 1]
            mz += vertices[u, 2]
        inv = 1.0 / (stop - start)
        depth = ((mx * inv - vertices[v, 0]) * normals[v, 0] + (my * inv - vertices[v, 1]) * normals[v, 1]
                 + (mz * inv - vertices[v, 2]) * normals[v, 2])
        out[v] = 1.0 - 0.45 * min(max(depth * scale, 0.0), 1.0)


BACKGROUND = 255
"""Material code of an empty pixel for the edge filter."""


class EdgeBuffers(NamedTuple):
    """Row buffers of the edge filter, indexed by row parity (``edge_buffers``): ``kinds``
    the material per pixel (BACKGROUND: none), ``across`` whether a pixel lies across an
    edge from its left neighbour, ``down`` from the pixel below; ``filtered``, ``columns``
    and ``counts`` hold a filtered row's new pixels until the row below it is filtered from
    the unfiltered ones."""

    kinds: np.ndarray  # (2,W) uint8
    across: np.ndarray  # (2,W) bool
    down: np.ndarray  # (2,W) bool
    filtered: np.ndarray  # (2,W,3) uint8
    columns: np.ndarray  # (2,W) int32
    counts: np.ndarray  # (2,) int64


def edge_buffers(width: int) -> EdgeBuffers:
    """Edge-filter buffers for images ``width`` pixels wide."""
    return EdgeBuffers(np.empty((2, width), np.uint8), np.empty((2, width), np.bool_), np.empty((2, width), np.bool_),
                       np.empty((2, width, 3), np.uint8), np.empty((2, width), np.int32), np.zeros(2, np.int64))


@numba.njit(cache=True, fastmath=True, nogil=True)
def _step(f, g, kind_f, kind_g, depth_f, depth_g):
    """Whether two neighbouring pixels (triangles f, g; materials kind_f, kind_g with
    BACKGROUND for none) lie across a silhouette, a material edge or a depth step."""
    crease = (kind_f != kind_g) | ((kind_f != BACKGROUND) & (abs(depth_g - depth_f) > 0.004))
    return (f != g) & crease


@numba.njit(cache=True, fastmath=True, nogil=True)
def antialias_row(image, edges, py):
    """Smooth row ``py`` of ``image`` on silhouettes, material edges and depth steps once the
    rows around it are shaded and their ``edges`` found (call for py = 1 … h - 1 in order;
    py = h - 1 only writes back row h - 2).

    A cheap edge filter in the spirit of morphological anti-aliasing: a pixel across an
    edge (``_step``) from one of its four neighbours is averaged with its ring (weight 1/2
    centre, 1/2 ring, of the unfiltered image); interior pixels are untouched, so texture
    detail stays sharp. A row's new pixels are written back after the next row is
    filtered, so every ring reads unfiltered pixels. The border rows and columns stay as shaded.
    """
    h, w = image.shape[0], image.shape[1]
    here, above = py % 2, 1 - py % 2
    n = 0
    if py < h - 1:
        for px in range(1, w - 1):
            if edges.across[here, px] | edges.across[here, px + 1] | edges.down[above, px] | edges.down[here, px]:
                for k in range(3):
                    ring = (np.int32(image[py - 1, px - 1, k]) + image[py - 1, px, k] + image[py - 1, px + 1, k]
                            + image[py, px - 1, k] + image[py, px + 1, k]
                            + image[py + 1, px - 1, k] + image[py + 1, px, k] + image[py + 1, px + 1, k])
                    edges.filtered[here, n, k] = np.uint8(0.5 * image[py, px, k] + 0.0625 * ring + 0.5)
                edges.columns[here, n] = px
                n += 1
    for i in range(edges.counts[above]):
        px = edges.columns[above, i]
        for k in range(3):
            image[py - 1, px, k] = edges.filtered[above, i, k]
    edges.counts[here] = n
