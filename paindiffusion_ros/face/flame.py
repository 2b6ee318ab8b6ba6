"""FLAME (Li et al. 2017, "Learning a model of facial shape and expression from 4D scans").

Reads the user's licensed model file (the pickled dict with ``v_template``, ``shapedirs``,
``posedirs``, ``J_regressor``, ``weights``, ``kintree_table``, ``f``) and poses it from
the PainDiffusion latent: ψ, the first 50 expression coefficients (binding
``flame-emoca-53``) or all 100 (``flame-emoca-100``, the latent of the authors' BioVid
model), and θ_jaw, the jaw axis-angle; shape (β) and the other joints' poses (global, neck, eyes) stay
fixed: neutral unless given to ``load_flame``.

Vertices follow FLAME's eqs. 1–4: T_P = T̄ + B_S(β) + B_E(ψ) + B_P(θ), joints J regressed
from the shaped template, then linear blend skinning along the 5-joint kinematic tree
(global, neck, jaw, left eye, right eye). ``shapedirs`` holds the shape components first
and the expression components after them (300 + 100 in FLAME 2020 and 2023).

FLAME 2020 and FLAME 2023 (revised eye region) share these keys and shapes; what varies
between files is how the arrays are stored, and both ways load: chumpy arrays with a
scipy sparse ``J_regressor`` (read here without chumpy or scipy, by a restricted unpickler
that maps those classes to plain records) and plain NumPy arrays. Extra keys
(``bs_style``, ``bs_type``, ...) are ignored; nothing but NumPy is ever instantiated.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .binding import FLAME_EMOCA, FLAME_EMOCA_100, FaceBinding
from .builtin import IRIS, PUPIL, SCLERA, SKIN
from .geometry import axis_angle_to_matrix
from .models import blend, check_parameters, regions_from_bounds

REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
N_SHAPE = 300
N_JOINTS = 5
FLAME_BINDINGS: dict[int, FaceBinding] = {len(b.expression_names): b for b in (FLAME_EMOCA, FLAME_EMOCA_100)}
"""The FLAME face bindings by their number of expression coefficients."""
JAW, LEFT_EYE, RIGHT_EYE = 2, 3, 4
EYE_TO_MOUTH = 0.068  # m, typical adult eye-line to mouth distance, for the mouth crop


SAFE_GLOBALS = {("copyreg", "_reconstructor"), ("builtins", "object"), ("__builtin__", "object"), ("_codecs", "encode")}


class FlameError(ValueError):
    """A FLAME model file that is missing, unreadable or not in a FLAME layout."""


class _Record:
    """Stand-in for a pickled chumpy or scipy.sparse object: keeps its state only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _ChumpyArray(_Record):
    pass


class _SparseMatrix(_Record):
    column_major = False


class _CscMatrix(_SparseMatrix):
    column_major = True


class _FlameUnpickler(pickle.Unpickler):
    """Allow NumPy and plain containers; map chumpy and scipy.sparse classes to records."""

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "numpy":
            return super().find_class(module, name)
        if module.startswith("chumpy"):
            return _ChumpyArray
        if module.startswith("scipy.sparse") and name in ("csc_matrix", "csr_matrix"):
            return _CscMatrix if name == "csc_matrix" else _SparseMatrix
        if (module, name) in SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a FLAME file")


def _to_array(value: Any, key: str, path: Path) -> np.ndarray:
    """Plain array from a NumPy array, a chumpy record (its ``x``) or a sparse CSC/CSR record."""
    if isinstance(value, _ChumpyArray):
        state = value.state if isinstance(value.state, dict) else {}
        if "x" not in state:
            raise FlameError(f"{path}: key {key!r} is a chumpy expression, not a stored array")
        return np.asarray(state["x"])
    if isinstance(value, _SparseMatrix):
        s = value.state if isinstance(value.state, dict) else {}
        try:
            data, indices, indptr = s["data"], s["indices"], s["indptr"]
            shape = s["_shape"] if "_shape" in s else s["shape"]  # older scipy stored ``shape``
        except KeyError as missing:
            raise FlameError(f"{path}: sparse {key!r} lacks {missing}") from None
        dense = np.zeros(shape)
        compressed = dense.T if value.column_major else dense
        for major in range(len(indptr) - 1):
            lo, hi = indptr[major], indptr[major + 1]
            compressed[major, indices[lo:hi]] = data[lo:hi]
        return dense
    return np.asarray(value)


def read_model_file(path: str | Path) -> dict[str, np.ndarray]:
    """The required FLAME arrays from a model file, with clear errors for every failure."""
    if not str(path).strip():
        raise FlameError("no FLAME model file given (flame_path parameter / --flame-model)")
    path = Path(path)
    if not path.is_file():
        raise FlameError(f"FLAME model file not found: {path}")
    try:
        with path.open("rb") as handle:
            raw = _FlameUnpickler(handle, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as error:
        raise FlameError(f"{path}: not a readable FLAME pickle ({error})") from None
    if not isinstance(raw, dict):
        raise FlameError(f"{path}: expected a pickled dict, found {type(raw).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise FlameError(f"{path}: missing key(s) {', '.join(repr(k) for k in missing)}")
    return {k: _to_array(raw[k], k, path) for k in REQUIRED_KEYS}


def _check_layout(m: dict[str, np.ndarray], path: Path, n_expression: int) -> None:
    v = m["v_template"]
    if v.ndim != 2 or v.shape[1] != 3:
        raise FlameError(f"{path}: 'v_template' must be (V,3), got {v.shape}")
    n = v.shape[0]
    expected = {
        "shapedirs": (n, 3, None), "posedirs": (n, 3, 9 * (N_JOINTS - 1)), "J_regressor": (N_JOINTS, n),
        "weights": (n, N_JOINTS), "kintree_table": (2, N_JOINTS), "f": (None, 3),
    }
    for key, shape in expected.items():
        got = m[key].shape
        if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
            want = "(" + ",".join("*" if s is None else str(s) for s in shape) + ")"
            raise FlameError(f"{path}: {key!r} has shape {got}, the FLAME layout needs {want}")
    if m["shapedirs"].shape[2] < N_SHAPE + n_expression:
        raise FlameError(f"{path}: 'shapedirs' has {m['shapedirs'].shape[2]} components; "
                         f"FLAME needs {N_SHAPE} shape + at least {n_expression} expression")
    if m["f"].min() < 0 or m["f"].max() >= n:
        raise FlameError(f"{path}: 'f' indexes vertices outside 0..{n - 1}")


class FlameFace:
    """A FLAME model driven by the binding's expression coefficients (50 or 100) and the jaw pose."""

    def __init__(self, model: dict[str, np.ndarray], path: Path, shape: Optional[np.ndarray] = None,
                 pose: Optional[np.ndarray] = None, binding: FaceBinding = FLAME_EMOCA) -> None:
        if binding not in FLAME_BINDINGS.values():
            raise FlameError(f"FLAME renders the {', '.join(b.name for b in FLAME_BINDINGS.values())} latents, not {binding.name!r}")
        self.binding = binding
        self._n_expression = n_expression = len(binding.expression_names)
        _check_layout(model, path, n_expression)
        dirs = model["shapedirs"].astype(np.float64)
        beta = np.zeros(N_SHAPE) if shape is None else np.asarray(shape, np.float64)
        if beta.shape != (N_SHAPE,) or not np.isfinite(beta).all():
            raise FlameError(f"FLAME shape must be {N_SHAPE} finite coefficients, got shape {beta.shape}")
        self._pose = np.zeros((N_JOINTS, 3)) if pose is None else np.array(pose, np.float64)
        if self._pose.shape != (N_JOINTS, 3) or not np.isfinite(self._pose).all():
            raise FlameError(f"FLAME pose must be ({N_JOINTS},3) finite axis-angles "
                             f"(global, neck, jaw, left eye, right eye), got shape {self._pose.shape}")
        n = model["v_template"].shape[0]
        self._template = (model["v_template"] + dirs[:, :, :N_SHAPE] @ beta).reshape(-1)
        self._expression_dirs = np.ascontiguousarray(dirs[:, :, N_SHAPE:N_SHAPE + n_expression].reshape(n * 3, n_expression).T)
        regressor = model["J_regressor"].astype(np.float64)
        self._joints0 = regressor @ self._template.reshape(n, 3)
        self._joint_dirs = np.einsum("jv,pvc->jcp", regressor, self._expression_dirs.reshape(n_expression, n, 3))
        self._posedirs = np.ascontiguousarray(model["posedirs"].astype(np.float64).reshape(n * 3, -1).T)
        self._weights = model["weights"].astype(np.float64)
        self._parents = model["kintree_table"][0].astype(np.int64)
        self.faces = model["f"].astype(np.int32)
        self.vertex_colors = self._colors()
        eye_y = float(self._joints0[[LEFT_EYE, RIGHT_EYE], 1].mean())
        eye_half_w = 1.8 * float(abs(self._joints0[LEFT_EYE, 0] - self._joints0[RIGHT_EYE, 0]))
        self.regions = regions_from_bounds(self._template.reshape(n, 3), eye_y, eye_y - EYE_TO_MOUTH, eye_half_w)

    def _colors(self) -> np.ndarray:
        """Skin, with the eyeballs (vertices skinned to the eye joints) coloured as eyes."""
        template = self._template.reshape(-1, 3)
        colors = np.tile(SKIN, (len(template), 1))
        owner = self._weights.argmax(1)
        for joint in (LEFT_EYE, RIGHT_EYE):
            ball = owner == joint
            if ball.sum() < 3:
                continue
            rel = template[ball] - self._joints0[joint]
            cos = rel[:, 2] / np.maximum(np.linalg.norm(rel, axis=1), 1e-9)
            colors[ball] = np.where((cos > 0.985)[:, None], PUPIL, np.where((cos > 0.92)[:, None], IRIS, SCLERA))
        return colors.astype(np.float32)

    def vertices(self, expression: np.ndarray, jaw_pose: np.ndarray) -> np.ndarray:
        e, jaw = check_parameters(expression, jaw_pose, self._n_expression)
        e64 = e.astype(np.float64)
        shaped = (self._template + blend(e64, self._expression_dirs)).reshape(-1, 3)
        joints = self._joints0 + self._joint_dirs @ e64
        pose = self._pose.copy()
        pose[JAW] = jaw
        rotations = axis_angle_to_matrix(pose)
        posed = shaped + blend((rotations[1:] - np.eye(3)).reshape(-1), self._posedirs).reshape(-1, 3)
        transforms = self._skinning_transforms(rotations, joints)
        blended = np.einsum("vj,jk->vk", self._weights, transforms.reshape(N_JOINTS, 12)).reshape(-1, 3, 4)
        out = (blended[:, :, :3] * posed[:, None, :]).sum(-1) + blended[:, :, 3]
        return out.astype(np.float32)

    def _skinning_transforms(self, rotations: np.ndarray, joints: np.ndarray) -> np.ndarray:
        """(J,3,4) world transforms relative to the rest pose along the kinematic tree."""
        world = np.zeros((N_JOINTS, 4, 4))
        for j in range(N_JOINTS):
            local = np.eye(4)
            local[:3, :3] = rotations[j]
            parent = self._parents[j]
            if j == 0 or parent < 0 or parent >= N_JOINTS:
                local[:3, 3] = joints[j]
                world[j] = local
            else:
                local[:3, 3] = joints[j] - joints[parent]
                world[j] = world[parent] @ local
        rest = world[:, :3, :3] @ joints[:, :, None]
        world[:, :3, 3] -= rest[:, :, 0]
        return world[:, :3, :]


def load_flame(path: str | Path, shape: Optional[np.ndarray] = None, pose: Optional[np.ndarray] = None,
               expression: int = 50) -> FlameFace:
    """Load a FLAME model file (``FlameError`` naming the problem if it cannot be used).

    ``shape``: the 300 fixed shape coefficients β; ``pose``: fixed (5,3) axis-angles of
    the global, neck, jaw, left-eye and right-eye joints (the jaw row is replaced by θ_jaw);
    ``expression``: coefficients driven, 50 (``flame-emoca-53``) or 100 (``flame-emoca-100``).
    """
    if expression not in FLAME_BINDINGS:
        raise FlameError(f"FLAME expression coefficients must be one of {', '.join(map(str, FLAME_BINDINGS))}, got {expression}")
    return FlameFace(read_model_file(path), Path(path), shape, pose, FLAME_BINDINGS[expression])
