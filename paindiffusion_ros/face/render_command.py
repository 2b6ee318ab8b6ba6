"""``paindiffusion render``: generated face parameters → mp4 (one face, or N side by side).

A parameters file is an ``.npz`` with ``expression`` ``(N,E)`` and ``jaw_pose`` ``(N,3)``
(or ``(G,N,E)``/``(G,N,3)``: G generations; E = 50, or 100 for ``flame-emoca-100``), optional ``fps`` (default 25) and optional
``face_binding`` (checked against the face). Several files, or G > 1, render as a grid
for diversity review (paper §IV-B); a shorter generation holds its last frame.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from tqdm import tqdm

from .appearance import Appearance, appearance_from_profile, parse_appearance
from .assets import AssetError
from .binding import require_binding
from .models import KINDS, FaceModel, load_face
from .render import REGIONS, FaceRenderer, RenderConfig
from .video import Mp4Writer

DEFAULT_FPS = 25.0
GRID_GAP = 4


@dataclass(frozen=True)
class Generations:
    """Parameter sequences to render: ``expression (G,N,50)`` and ``jaw_pose (G,N,3)`` at ``fps``."""

    expression: np.ndarray
    jaw_pose: np.ndarray
    fps: float


def load_params(path: str | Path, face: FaceModel) -> Generations:
    """Read one parameters file, with errors naming the file and the key."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read face parameters ({error})") from None
    with data:
        for key in ("expression", "jaw_pose"):
            if key not in data.files:
                raise ValueError(f"{path}: missing key {key!r} (has {', '.join(data.files)})")
        if "face_binding" in data.files:
            require_binding(str(data["face_binding"]), face.binding.name, f"parameters file {path}")
        expression = np.asarray(data["expression"], np.float32)
        jaw = np.asarray(data["jaw_pose"], np.float32)
        fps = float(data["fps"]) if "fps" in data.files else DEFAULT_FPS
    if expression.ndim == 2:
        expression, jaw = expression[None], jaw[None]
    n_expr = len(face.binding.expression_names)
    if expression.ndim != 3 or expression.shape[-1] != n_expr:
        raise ValueError(f"{path}: 'expression' must be (N,{n_expr}) or (G,N,{n_expr}), got {expression.shape}")
    if jaw.shape != expression.shape[:2] + (3,):
        raise ValueError(f"{path}: 'jaw_pose' must be {expression.shape[:2] + (3,)}, got {jaw.shape}")
    if expression.shape[1] == 0:
        raise ValueError(f"{path}: no frames")
    if not (np.isfinite(expression).all() and np.isfinite(jaw).all()):
        raise ValueError(f"{path}: parameters contain NaN or infinity")
    return Generations(expression, jaw, fps)


def combine(parts: Sequence[Generations], names: Sequence[str]) -> Generations:
    """Stack the generations of several files, padding shorter ones with their last frame."""
    fps = {p.fps for p in parts}
    if len(fps) > 1:
        raise ValueError(f"parameter files disagree on fps ({', '.join(f'{n}: {p.fps}' for n, p in zip(names, parts))})")
    n = max(p.expression.shape[1] for p in parts)

    def pad(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, np.repeat(a[:, -1:], n - a.shape[1], axis=1)], axis=1)

    return Generations(
        np.concatenate([pad(p.expression) for p in parts]), np.concatenate([pad(p.jaw_pose) for p in parts]), fps.pop())


def tile(frames: Sequence[np.ndarray], columns: int, background: int = 0) -> np.ndarray:
    """Lay equal-size RGB frames out in a grid, row by row, with a small gap."""
    h, w = frames[0].shape[:2]
    rows = math.ceil(len(frames) / columns)
    out = np.full((rows * h + (rows - 1) * GRID_GAP, columns * w + (columns - 1) * GRID_GAP, 3), background, np.uint8)
    for i, frame in enumerate(frames):
        r, c = divmod(i, columns)
        out[r * (h + GRID_GAP):r * (h + GRID_GAP) + h, c * (w + GRID_GAP):c * (w + GRID_GAP) + w] = frame
    return out


def render_video(generations: Generations, renderer: FaceRenderer, out: Path, columns: Optional[int] = None,
                 fps: Optional[float] = None) -> int:
    """Render every frame (a grid when there are several generations) into ``out``; returns the frame count."""
    g, n = generations.expression.shape[:2]
    columns = columns or math.ceil(math.sqrt(g))
    with Mp4Writer(out, fps or generations.fps) as writer:
        for t in tqdm(range(n), desc=f"render {out.name}", unit="frame"):
            frames = [renderer.render(generations.expression[k, t], generations.jaw_pose[k, t]) for k in range(g)]
            writer.write(frames[0] if g == 1 else tile(frames, min(columns, g)))
    return n


def appearance_argument(spec: str) -> Appearance:
    """``--appearance``: NAME=VALUE pairs, or a patient profile whose appearance block to use."""
    return parse_appearance(spec) if "=" in spec or not spec else appearance_from_profile(spec)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", nargs="+", required=True, metavar="GEN.npz",
                        help="face parameter file(s); several files or a leading generation axis render as a grid")
    parser.add_argument("--out", required=True, metavar="VIDEO.mp4", help="mp4 to write")
    parser.add_argument("--face", choices=KINDS, default="human", help="face model (default: human)")
    parser.add_argument("--appearance", default="", metavar="SPEC",
                        help="the human face's patient: a profile name or YAML (e.g. elderly), or "
                             "NAME=VALUE pairs (e.g. sex=female,age=80,skin_tone=2.5,seed=3)")
    parser.add_argument("--flame-model", default="", metavar="PATH", help="FLAME model .pkl (with --face flame)")
    parser.add_argument("--flame-expression", type=int, choices=(50, 100), default=50,
                        help="FLAME expression coefficients in the files: 50 (flame-emoca-53) or 100 (flame-emoca-100)")
    parser.add_argument("--size", type=int, default=512, help="width of one face in pixels (default 512)")
    parser.add_argument("--crop", choices=REGIONS, default="full", help="frame the full face, the eyes or the mouth")
    parser.add_argument("--columns", type=int, default=None, help="grid columns (default: about square)")
    parser.add_argument("--fps", type=float, default=None, help="override the files' frame rate")
    parser.add_argument("--supersample", type=int, default=1, choices=(1, 2, 3, 4),
                        help="anti-aliasing factor (render k× larger and average down; default 1)")


def run(args: argparse.Namespace) -> int:
    try:
        face = load_face(args.face, args.flame_model, appearance_argument(args.appearance), args.flame_expression)
        generations = combine([load_params(p, face) for p in args.params], args.params)
        if args.columns is not None and args.columns < 1:
            raise ValueError(f"--columns must be at least 1, got {args.columns}")
        renderer = FaceRenderer(face, args.size, RenderConfig(supersample=args.supersample), region=args.crop)
    except (ValueError, AssetError) as exc:  # also FlameError and FaceBindingError
        print(f"paindiffusion render: {exc}", file=sys.stderr)
        return 2
    n = render_video(generations, renderer, Path(args.out), args.columns, args.fps)
    print(f"wrote {args.out}: {n} frames, {generations.expression.shape[0]} generation(s), "
          f"{args.fps or generations.fps:g} fps")
    return 0
