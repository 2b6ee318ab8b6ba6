"""Numba shading kernels of the human face (one core), after ``raster.rasterize``.

Per covered pixel the triangle id and barycentrics give the interpolated normal, texture
coordinate and rest position; the material decides the shading:

- skin: albedo (bilinear, in linear light) and gloss from the painted map, darkened by
  the wrinkle maps weighted by the frame's intensities and by vertex ambient occlusion;
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
``antialias`` then smooths silhouette and material edges.
"""

from __future__ import annotations

import numba
import numpy as np

from .raster import pixel_normal

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
GOWN_TOP = -0.1
"""Anatomical height (m) above which no part of the gown reaches (the neckline is tested
only on skin triangles reaching below it, ``Surface.neck``)."""
NECKLINE_AZIMUTH = np.array([0.0, 0.6, 1.4, 2.2, np.pi])
NECKLINE_Y = np.array([-0.140, -0.136, -0.128, -0.112, -0.105])
"""Round neckline of the hospital gown: rest height (m) by azimuth about the neck (rad)."""
GOWN = np.array([0.31, 0.50, 0.56], np.float32)
"""Linear colour of the gown fabric (a pale hospital blue)."""
"""Extra wrap per channel (R, G, B) for the subsurface-like terminator."""


@numba.njit(cache=True, fastmath=True, nogil=True)
def _texel(albedo, wrinkles, weights, tx, ty, to_linear, out):
    """Albedo (linear RGB, bilinear), gloss and wrinkle depth (nearest texel) at (tx, ty); x wraps."""
    h, w = albedo.shape[0], albedo.shape[1]
    fx = tx - 0.5
    fy = min(max(ty - 0.5, 0.0), h - 1.001)
    x0f = np.floor(fx)
    y0 = int(fy)
    ax = fx - x0f
    ay = fy - y0
    x0 = int(x0f)
    if x0 < 0:
        x0 += w
    elif x0 >= w:
        x0 -= w
    x1 = x0 + 1 if x0 + 1 < w else 0
    y1 = y0 + 1
    c00 = (1 - ax) * (1 - ay)
    c10 = ax * (1 - ay)
    c01 = (1 - ax) * ay
    c11 = ax * ay
    for k in range(3):
        out[k] = (c00 * to_linear[albedo[y0, x0, k]] + c10 * to_linear[albedo[y0, x1, k]]
                  + c01 * to_linear[albedo[y1, x0, k]] + c11 * to_linear[albedo[y1, x1, k]])
    yn = y0 if ay < 0.5 else y1
    xn = x0 if ax < 0.5 else x1
    out[3] = albedo[yn, xn, 3] / 170.0
    groove = 0.0
    for k in range(weights.shape[0]):
        if weights[k] > 0.0:
            groove += weights[k] * wrinkles[yn, xn, k]
    out[4] = min(groove / 255.0, 1.0)


@numba.njit(cache=True, fastmath=True, nogil=True)
def shade_human(face_id, bary, faces, material, neck, corner_tex, normals, anatomy, occlusion, albedo, wrinkles,
                weights, colours, eye_centres, mouth_front_z, light, background, image):
    """Shade covered pixels of the human face into uint8 sRGB (see the module docstring).

    ``light`` = (ambient, wrap, specular, shininess); ``colours`` rows: mouth, teeth,
    tongue, lash, sclera, pupil, iris, hair (linear); ``eye_centres`` (2,3) rest centres.
    """
    to_linear = TO_LINEAR
    lut = SRGB_LUT
    ambient, wrap, specular, shininess = light[0], light[1], light[2], light[3]
    h, w = face_id.shape
    tex = np.empty(5, np.float32)
    col = np.empty(3, np.float32)
    lut_scale = (lut.shape[0] - 1) / LUT_RANGE
    wraps = np.empty(3, np.float32)
    inv_wraps = np.empty(3, np.float32)
    for k in range(3):
        wraps[k] = wrap + SCATTER[k]
        inv_wraps[k] = 1.0 / (1.0 + wraps[k])
    inv_plain = 1.0 / (1.0 + wrap)
    # Blinn half vector of the key light with the view (0, 0, 1).
    kh = np.array([KEY[0], KEY[1], KEY[2] + 1.0], np.float32)
    kh /= np.sqrt(kh[0] ** 2 + kh[1] ** 2 + kh[2] ** 2)
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
            ao = w0 * occlusion[a] + w1 * occlusion[b] + w2 * occlusion[c]
            m = material[f]
            spec_strength = 0.0
            shine = shininess
            catchlight = 0.0
            if m == 0:  # skin
                tx = w0 * corner_tex[f, 0, 0] + w1 * corner_tex[f, 1, 0] + w2 * corner_tex[f, 2, 0]
                ty = w0 * corner_tex[f, 0, 1] + w1 * corner_tex[f, 1, 1] + w2 * corner_tex[f, 2, 1]
                _texel(albedo, wrinkles, weights, tx, ty, to_linear, tex)
                dark = 1.0 - 0.5 * tex[4]
                for k in range(3):
                    col[k] = tex[k] * dark
                spec_strength = specular * tex[3] * (1.0 - 0.8 * tex[4])
                ry = w0 * anatomy[a, 1] + w1 * anatomy[b, 1] + w2 * anatomy[c, 1] if neck[f] else 0.0
                if ry < GOWN_TOP:
                    rx = w0 * anatomy[a, 0] + w1 * anatomy[b, 0] + w2 * anatomy[c, 0]
                    rz = w0 * anatomy[a, 2] + w1 * anatomy[b, 2] + w2 * anatomy[c, 2]
                    below = np.interp(abs(np.arctan2(rx, rz)), NECKLINE_AZIMUTH, NECKLINE_Y) - ry
                    if below > -0.0015:
                        cover = min((below + 0.0015) / 0.003, 1.0)
                        weave = 1.0 + 0.05 * np.sin(rx * 2600.0) * np.sin(ry * 2600.0)
                        hem = 0.8 if below < 0.004 else 1.0
                        for k in range(3):
                            col[k] += cover * (GOWN[k] * weave * hem - col[k])
                        spec_strength *= 1.0 - cover
            elif m == 2 or m == 3:  # eyes
                e = m - 2
                dx = w0 * anatomy[a, 0] + w1 * anatomy[b, 0] + w2 * anatomy[c, 0] - eye_centres[e, 0]
                dy = w0 * anatomy[a, 1] + w1 * anatomy[b, 1] + w2 * anatomy[c, 1] - eye_centres[e, 1]
                dz = w0 * anatomy[a, 2] + w1 * anatomy[b, 2] + w2 * anatomy[c, 2] - eye_centres[e, 2]
                r = np.sqrt(dx * dx + dy * dy + dz * dz) + 1e-12
                cos_axis = dz / r
                radial = np.sqrt(dx * dx + dy * dy) / r  # sine of the angle to the axis
                if radial < 0.19 and cos_axis > 0:
                    for k in range(3):
                        col[k] = colours[5, k]
                elif radial < 0.47 and cos_axis > 0:
                    t = (radial - 0.19) / 0.28
                    angle = np.arctan2(dy, dx)
                    fibre = 0.78 + 0.22 * np.sin(angle * 37.0 + 3.0 * t) * np.sin(angle * 11.0 - 5.0 * t)
                    ring = 1.0 - 0.65 * max(t - 0.72, 0.0) / 0.28
                    collar = 1.0 + 0.35 * max(0.25 - t, 0.0) / 0.25
                    for k in range(3):
                        col[k] = colours[6, k] * fibre * ring * collar
                else:
                    edge = min(max((0.85 - cos_axis) / 0.6, 0.0), 1.0)
                    col[0] = colours[4, 0] * (1.0 - 0.08 * edge)
                    col[1] = colours[4, 1] * (1.0 - 0.22 * edge)
                    col[2] = colours[4, 2] * (1.0 - 0.24 * edge)
                lid = min(max((dy / r - 0.05) / 0.5, 0.0), 1.0)
                ao = 0.62 + 0.3 * (1.0 - lid)
                nx, ny, nz = dx / r, dy / r, dz / r
                glint = nx * EYE_GLINT[0] + ny * EYE_GLINT[1] + nz * EYE_GLINT[2]
                if glint > 0.97:
                    catchlight = 1.4 * np.exp(160.0 * np.log(glint))
                spec_strength = 1.4
                shine = 420.0
            elif m == 6:  # eyelashes
                for k in range(3):
                    col[k] = colours[3, k]
            else:  # mouth interior, teeth, tongue: darker the deeper behind the lips
                row = 0 if m == 1 else (1 if m == 4 else 2)
                z = w0 * anatomy[a, 2] + w1 * anatomy[b, 2] + w2 * anatomy[c, 2]
                depth = min(max((mouth_front_z - z) / 0.035, 0.0), 1.0)
                shade = (1.0 - depth) * (1.0 - depth)
                if m == 4:
                    shade = 0.25 + 0.75 * shade
                    spec_strength = 0.25 * shade
                    shine = 60.0
                else:
                    shade = 0.04 + 0.96 * shade
                for k in range(3):
                    col[k] = colours[row, k] * shade
            ndk = nx * KEY[0] + ny * KEY[1] + nz * KEY[2]
            ndf = nx * FILL[0] + ny * FILL[1] + nz * FILL[2]
            sky = ambient * (0.6 + 0.4 * ny) * ao
            spec = 0.0
            if spec_strength > 0.0:
                hk = nx * kh[0] + ny * kh[1] + nz * kh[2]
                if hk > 0.7:
                    rim = 1.0 - max(nz, 0.0)
                    rim2 = rim * rim
                    fresnel = 0.04 + 0.96 * rim2 * rim2 * rim
                    spec = np.exp(shine * np.log(hk)) * spec_strength * (0.5 + 4.0 * fresnel) * ao
            key_ao = (1.0 - ambient) * (0.35 + 0.65 * ao)
            fill_ao = (1.0 - ambient) * ao
            for k in range(3):
                if m == 0:
                    wk, iw = wraps[k], inv_wraps[k]
                else:
                    wk, iw = wrap, inv_plain
                dk = max((ndk + wk) * iw, 0.0)
                df = max((ndf + wk) * iw, 0.0)
                value = col[k] * (sky + KEY_RGB[k] * dk * key_ao + FILL_RGB[k] * df * fill_ao) * 1.25 + spec + catchlight
                i = int(value * lut_scale + 0.5)
                image[py, px, k] = lut[min(max(i, 0), lut.shape[0] - 1)]


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


@numba.njit(cache=True, fastmath=True, nogil=True)
def antialias(face_id, material, depth, image, scratch):
    """Smooth pixels on silhouettes, material edges and depth steps with their 3×3 neighbourhood.

    A cheap edge filter in the spirit of morphological anti-aliasing: jagged edges of the
    z-buffer are averaged with their neighbours (weight 1/2 centre, 1/2 ring), interior
    pixels are untouched, so texture detail stays sharp.
    """
    h, w = face_id.shape
    edges = np.zeros((h, w), np.bool_)
    for py in range(h - 1):
        for px in range(w - 1):
            f = face_id[py, px]
            for dy, dx in ((0, 1), (1, 0)):
                g = face_id[py + dy, px + dx]
                if g != f and ((g < 0) != (f < 0) or (f >= 0 and (
                        material[g] != material[f] or abs(depth[py + dy, px + dx] - depth[py, px]) > 0.004))):
                    edges[py, px] = True
                    edges[py + dy, px + dx] = True
    scratch[:] = image
    for py in range(1, h - 1):
        for px in range(1, w - 1):
            if not edges[py, px]:
                continue
            for k in range(3):
                ring = (scratch[py - 1, px - 1, k] + scratch[py - 1, px, k] + scratch[py - 1, px + 1, k]
                        + scratch[py, px - 1, k] + scratch[py, px + 1, k]
                        + scratch[py + 1, px - 1, k] + scratch[py + 1, px, k] + scratch[py + 1, px + 1, k])
                image[py, px, k] = np.uint8(0.5 * scratch[py, px, k] + 0.0625 * ring + 0.5)
