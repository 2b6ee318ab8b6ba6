"""Face renderer speed on one core: median fps at 256/512/1024 for the human face (the
default), the procedural fallback face and a FLAME-size mesh.

Pins the process to one CPU and one numba thread. The faces are timed end to end
(expression blendshapes + jaw skinning + rasterise + shade; for the human face also the
per-frame occlusion, textured material shading and edge anti-aliasing): the human face,
the procedural face, and a synthetic model in FLAME's layout and size (5,023 vertices, 9,976 triangles, 400
blendshapes, pose correctives, 5-joint LBS) loaded through ``flame.FlameFace``. For
comparison it also times the obvious OpenCV alternative: painter's algorithm with
``cv2.fillConvexPoly`` per depth-sorted triangle, flat-shaded (no z-buffer, no smooth
shading). Each median is taken twice: wall-clock time and the thread's CPU time; on a
shared, loaded machine the CPU time is the better estimate of what one free core does,
and the 1-minute load average is recorded with the numbers. The human face's frame is
also split into its stages (``render.StageClock``: median thread CPU ms of blendshapes +
jaw, rasterisation, normals, occlusion, wrinkle map, shading with the edge filter).
Prints tables and writes JSON to ``$PAINDIFFUSION_BENCH_JSON`` when set.
"""

from __future__ import annotations

import json
import os
import time

for _var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from pathlib import Path  # noqa: E402

from paindiffusion_ros.face import facs  # noqa: E402
from paindiffusion_ros.face.flame import FlameFace  # noqa: E402
from paindiffusion_ros.face.models import load_face  # noqa: E402
from paindiffusion_ros.face.render import FaceRenderer, RenderConfig, Renderer, StageClock  # noqa: E402

SIZES = (256, 512, 1024)
FRAMES = 40
FLAME_VERTICES, FLAME_TRIANGLES = 5023, 9976


def median_fps(step, frames: int = FRAMES, clock=time.perf_counter) -> float:
    step(0)
    times = []
    for i in range(frames):
        t0 = clock()
        step(i)
        times.append(clock() - t0)
    return 1.0 / float(np.median(times))


def both_fps(step, frames: int = FRAMES) -> tuple[float, float]:
    """Median fps by wall clock and by this thread's CPU time."""
    return median_fps(step, frames), median_fps(step, frames, time.thread_time)


def flame_size_mesh() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An ellipsoidal head with exactly FLAME's vertex and triangle counts.

    A chin pole fanned onto 77 latitude rings of 66 vertices, cut at 5,023 vertices: its
    first 9,976 triangles use every vertex; like FLAME's, the surface is open (at the crown).
    """
    n_lat, n_lon = 77, 66
    lat = np.linspace(-np.pi / 2, np.pi / 2, n_lat + 1)[1:]
    lon = np.linspace(-np.pi, np.pi, n_lon, endpoint=False)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    rings = np.stack([0.075 * np.cos(la) * np.sin(lo), 0.11 * np.sin(la), 0.095 * np.cos(la) * np.cos(lo)], -1)
    v = np.concatenate([[[0.0, -0.11, 0.0]], rings.reshape(-1, 3)])[:FLAME_VERTICES].astype(np.float32)
    r, c = np.meshgrid(np.arange(n_lat - 1), np.arange(n_lon), indexing="ij")
    a, b = 1 + r * n_lon + c, 1 + r * n_lon + (c + 1) % n_lon
    quads = np.stack([np.stack([a, b, b + n_lon], -1), np.stack([a, b + n_lon, a + n_lon], -1)], 2).reshape(-1, 3)
    ring = 1 + np.arange(n_lon)
    fan = np.stack([np.zeros(n_lon, np.int64), 1 + (ring % n_lon), ring], -1)
    faces = np.concatenate([fan, quads])
    faces = faces[(faces < FLAME_VERTICES).all(1)][:FLAME_TRIANGLES]
    assert len(faces) == FLAME_TRIANGLES and len(np.unique(faces)) == FLAME_VERTICES
    colors = np.tile(np.array([0.86, 0.66, 0.55], np.float32), (len(v), 1))
    return v, faces.astype(np.int32), colors


def flame_size_face(vertices: np.ndarray, faces: np.ndarray) -> FlameFace:
    """A FLAME-layout model on that mesh with random blendshapes; the lower third skinned to the jaw."""
    rng = np.random.default_rng(0)
    n = len(vertices)
    weights = np.zeros((n, 5))
    lower = vertices[:, 1] < -0.03
    weights[lower, 2], weights[~lower, 0] = 1.0, 1.0
    model = {
        "v_template": vertices.astype(np.float64), "shapedirs": rng.normal(0, 1e-3, (n, 3, 400)),
        "posedirs": rng.normal(0, 1e-4, (n, 3, 36)), "J_regressor": np.full((5, n), 1.0 / n), "weights": weights,
        "kintree_table": np.array([[-1, 0, 1, 1, 1], [0, 1, 2, 3, 4]]), "f": faces,
    }
    return FlameFace(model, Path("synthetic-flame-size"))


def painter_cv2(renderer: Renderer, vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """Flat-shaded painter's algorithm with OpenCV polygons (the comparison baseline)."""
    screen = renderer.project(vertices)
    tri = screen[faces]
    e1, e2 = tri[:, 1, :2] - tri[:, 0, :2], tri[:, 2, :2] - tri[:, 0, :2]
    front = (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]) < 0
    order = np.argsort(-tri[front, :, 2].mean(1))
    pts = np.round(tri[front][order, :, :2] * 16).astype(np.int32)
    rgb = (colors[faces[front][order]].mean(1) * 255).astype(int)
    image = np.zeros((renderer.height, renderer.width, 3), np.uint8)
    for p, c in zip(pts, rgb):
        cv2.fillConvexPoly(image, p, (int(c[0]), int(c[1]), int(c[2])), cv2.LINE_8, 4)
    return image


def main() -> None:
    load_before = os.getloadavg()[0]
    human = load_face("human")
    face = load_face("builtin")
    rng = np.random.default_rng(0)
    expressions = rng.uniform(0, 1, (FRAMES, facs.EXPRESSION_DIM)).astype(np.float32)
    jaws = np.zeros((FRAMES, 3), np.float32)
    jaws[:, 0] = np.linspace(0, 0.25, FRAMES)
    flame_v, flame_f, flame_c = flame_size_mesh()
    flame_face = flame_size_face(flame_v, flame_f)
    camera = RenderConfig(distance=0.75, fov_deg=20.0)
    results: dict[str, dict[str, float]] = {}
    stages: dict[str, dict[str, float]] = {}
    for size in SIZES:
        human_renderer = FaceRenderer(human, size)
        builtin = FaceRenderer(face, size)
        flame = Renderer(size, camera)
        flame_renderer = FaceRenderer(flame_face, size)
        human_wall, human_cpu = both_fps(lambda i: human_renderer.render(expressions[i], jaws[i]))
        builtin_wall, builtin_cpu = both_fps(lambda i: builtin.render(expressions[i], jaws[i]))
        clock = StageClock()
        for i in range(FRAMES):
            human_renderer.render(expressions[i], jaws[i], clock)
        stages[str(size)] = {stage: float(np.median(ms)) for stage, ms in clock.times.items()}
        results[str(size)] = {
            "human_fps": human_wall, "human_cpu_fps": human_cpu,
            "builtin_fps": builtin_wall, "builtin_cpu_fps": builtin_cpu,
            "flame_size_fps": median_fps(lambda i: flame_renderer.render(expressions[i], jaws[i])),
            "flame_size_cv2_painter_fps": median_fps(lambda i: painter_cv2(flame, flame_v, flame_f, flame_c), 10),
        }
    human_eval = median_fps(lambda i: human.vertices(expressions[i], jaws[i]))
    mesh_eval = median_fps(lambda i: face.vertices(expressions[i], jaws[i]))
    flame_eval = median_fps(lambda i: flame_face.vertices(expressions[i], jaws[i]))
    meta = {"human_vertices": len(human.rest), "human_triangles": len(human.faces),
            "builtin_vertices": len(face.mesh.vertices), "builtin_triangles": len(face.faces),
            "flame_size_vertices": FLAME_VERTICES, "flame_size_triangles": len(flame_f),
            "human_mesh_eval_ms": 1000.0 / human_eval,
            "builtin_mesh_eval_ms": 1000.0 / mesh_eval, "flame_size_mesh_eval_ms": 1000.0 / flame_eval,
            "frames": FRAMES, "threads": 1,
            "load_average_1min": [load_before, os.getloadavg()[0]], "cpus": os.cpu_count()}
    print(f"face renderer, one core, median of {FRAMES} frames (fps; wall clock / thread CPU time); "
          f"load average {load_before:.1f} → {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'size':>6} {'human':>15} {'procedural':>15} {'FLAME-size':>11} {'cv2 painter':>12}")
    for size, r in results.items():
        print(f"{size:>6} {r['human_fps']:7.1f} /{r['human_cpu_fps']:6.1f} {r['builtin_fps']:7.1f} /{r['builtin_cpu_fps']:6.1f}"
              f" {r['flame_size_fps']:11.1f} {r['flame_size_cv2_painter_fps']:12.1f}")
    print(f"human: {meta['human_vertices']} vertices, {meta['human_triangles']} triangles, "
          f"blendshapes + jaw {meta['human_mesh_eval_ms']:.2f} ms/frame; procedural: {meta['builtin_vertices']} "
          f"vertices, {meta['builtin_triangles']} triangles; FLAME-size LBS {meta['flame_size_mesh_eval_ms']:.2f} ms/frame")
    names = list(stages[str(SIZES[0])])
    print("human face by stage (median thread CPU ms): " + "; ".join(
        f"{size}: " + ", ".join(f"{name} {ms[name]:.2f}" for name in names) for size, ms in stages.items()))
    out = os.environ.get("PAINDIFFUSION_BENCH_JSON")
    if out:
        with open(out, "w") as handle:
            json.dump({"name": "render", "fps": results, "human_stage_cpu_ms": stages, **meta}, handle, indent=2)


if __name__ == "__main__":
    main()
