"""CPU renderer: a perspective camera on the head frame, z-buffer rasterisation, Phong shading.

The kernels live in ``raster.py`` (numba, one core). Alternatives measured on one core
(median fps at 256/512/1024, built-in face): this renderer 144/82/31; moderngl on Mesa
llvmpipe through EGL, single-threaded, wrap-Lambert shader, 126/91/57 (similar at 512;
it needs the system's Mesa EGL libraries, which pip cannot install); OpenCV's painter's
algorithm (flat shading, no z-buffer; timed in ``benchmarks/bench_render.py``) 60/64/77
on a FLAME-size mesh. PyTorch3D has no wheel for this platform. The numba kernels need
nothing outside PyPI; the textured human face renders 512×512 at ~115 fps of one core's
CPU time (``shade.py``), 4.5x the 25 fps the node needs.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Optional

import cv2
import numpy as np

from . import raster, shade
from .skin import wrinkle_weights

if TYPE_CHECKING:
    from .models import FaceModel
    from .skin import Surface

REGIONS = ("full", "eyes", "mouth")
OCCLUSION_SCALE = 1.0 / 0.005
"""Concavity (m below the neighbours' mean) at which a vertex reaches full occlusion."""
HEAD_HALF_HEIGHT = 0.13
"""Half the height (m) that a bare ``Renderer`` frames around its centre when distance is 0."""


@dataclass(frozen=True)
class RenderConfig:
    """Camera framing and shading of the face renderer (head frame, metres)."""

    fov_deg: float = field(default=20.0, metadata={"help": "vertical field of view (degrees)", "range": (5.0, 90.0)})
    distance: float = field(default=0.0, metadata={
        "help": "camera distance from the framing centre (m); 0 frames the face automatically", "range": (0.0, 5.0)})
    center_x: float = field(default=0.0, metadata={"help": "framing centre x (m)", "range": (-1.0, 1.0)})
    center_y: float = field(default=0.0, metadata={"help": "framing centre y (m)", "range": (-1.0, 1.0)})
    center_z: float = field(default=0.0, metadata={"help": "framing centre z (m)", "range": (-1.0, 1.0)})
    margin: float = field(default=1.08, metadata={
        "help": "automatic framing: view height over the framed height", "range": (1.0, 3.0)})
    ambient: float = field(default=0.25, metadata={"help": "ambient light fraction", "range": (0.0, 1.0)})
    wrap: float = field(default=0.4, metadata={
        "help": "wrap lighting: how far light reaches past the terminator", "range": (0.0, 1.0)})
    specular: float = field(default=0.06, metadata={"help": "specular highlight strength", "range": (0.0, 1.0)})
    shininess: float = field(default=24.0, metadata={"help": "specular exponent", "range": (1.0, 256.0)})
    background: int = field(default=0x202428, metadata={
        "help": "background colour as 0xRRGGBB", "range": (0, 0xFFFFFF)})
    cull_back_faces: bool = field(default=True, metadata={"help": "skip triangles facing away from the camera"})
    supersample: int = field(default=1, metadata={
        "help": "anti-aliasing: render at this many times the size and average down (cost grows with its square)",
        "range": (1, 4)})


LIGHT = np.array([0.35, 0.45, 1.0], np.float32) / np.linalg.norm([0.35, 0.45, 1.0])
VIEW = np.array([0.0, 0.0, 1.0], np.float32)


class StageClock:
    """Thread CPU time of each stage of a frame (``FaceRenderer.render(..., clock=)``), for
    ``benchmarks/bench_render.py``: ``times[stage]`` lists milliseconds, one per frame."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self._last = time.thread_time()

    def start(self) -> None:
        self._last = time.thread_time()

    def lap(self, stage: str) -> None:
        """Close ``stage``: the time since the last lap (or ``start``)."""
        now = time.thread_time()
        self.times[stage].append(1000.0 * (now - self._last))
        self._last = now


class _NoClock(StageClock):
    def start(self) -> None:
        pass

    def lap(self, stage: str) -> None:
        pass


NO_CLOCK = _NoClock()


class Renderer:
    """Rasterise triangle meshes seen from +z (looking down -z) into ``(H,W,3) uint8`` RGB.

    ``size`` is the image width; ``aspect`` (width/height) sets the height. The camera
    looks at ``(center_x, center_y, center_z)`` from ``distance`` along +z (distance 0:
    far enough to show a head-sized box around the centre).
    """

    def __init__(self, size: int = 512, config: Optional[RenderConfig] = None, aspect: float = 1.0) -> None:
        if not 16 <= int(size) <= 8192:
            raise ValueError(f"render size must be 16..8192 pixels, got {size}")
        c = config or RenderConfig()
        if c.distance <= 0.0:
            c = replace(c, distance=c.margin * HEAD_HALF_HEIGHT / np.tan(np.radians(c.fov_deg) / 2.0))
        self.config = c
        if not 1 <= c.supersample <= 4:
            raise ValueError(f"supersample must be 1..4, got {c.supersample}")
        self.width = int(size)
        self.height = max(1, int(round(size / aspect)))
        self._scale = c.supersample
        width, height = self.width * self._scale, self.height * self._scale
        self._eye = np.array([c.center_x, c.center_y, c.center_z + c.distance], np.float32)
        self._focal = 0.5 * height / np.tan(np.radians(c.fov_deg) / 2.0)
        bg = c.background
        self._background = np.array([(bg >> 16) & 255, (bg >> 8) & 255, bg & 255], np.uint8)
        self._depth = np.empty((height, width), np.float32)
        self._face_id = np.empty((height, width), np.int32)
        self._bary = np.empty((height, width, 2), np.float32)
        self._spec_table = shade.specular_table(c.shininess)
        self._edges = shade.edge_buffers(width)
        self._groove: Optional[np.ndarray] = None
        self._groove_surface: Optional["Surface"] = None

    def project(self, vertices: np.ndarray) -> np.ndarray:
        """Pixel x, pixel y (down) and camera depth of each vertex, (V,3) float32 (in
        supersampled pixels when ``supersample`` > 1)."""
        rel = np.asarray(vertices, np.float32) - self._eye
        depth = np.maximum(-rel[:, 2], 1e-6)
        screen = np.empty_like(rel)
        screen[:, 0] = 0.5 * self._depth.shape[1] + self._focal * rel[:, 0] / depth
        screen[:, 1] = 0.5 * self._depth.shape[0] - self._focal * rel[:, 1] / depth
        screen[:, 2] = depth
        return screen

    def rasterize(self, vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Visible triangle per pixel: ``(depth, face_id (-1 = background), barycentrics)``."""
        faces = _check_faces(faces, len(vertices))
        self._depth.fill(raster.FAR)
        self._face_id.fill(-1)
        raster.rasterize(self.project(vertices), faces, self._depth, self._face_id, self._bary,
                         self.config.cull_back_faces)
        return self._depth, self._face_id, self._bary

    def render(self, vertices: np.ndarray, faces: np.ndarray, vertex_colors: np.ndarray) -> np.ndarray:
        """Shaded RGB image of the mesh (colours 0–1 per vertex)."""
        vertices = np.ascontiguousarray(vertices, np.float32)
        colors = np.ascontiguousarray(vertex_colors, np.float32)
        if vertices.ndim != 2 or vertices.shape[1] != 3 or colors.shape != vertices.shape:
            raise ValueError(f"expected vertices and vertex_colors of shape (V,3), got {vertices.shape} and {colors.shape}")
        faces = _check_faces(faces, len(vertices))
        _, face_id, bary = self.rasterize(vertices, faces)
        normals = raster.vertex_normals(vertices, faces)
        image = np.empty(face_id.shape + (3,), np.uint8)
        c = self.config
        raster.shade(face_id, bary, faces, normals, colors, LIGHT, VIEW, c.ambient, c.wrap, c.specular, c.shininess,
                     self._background, image)
        if self._scale > 1:
            return cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return image


    def render_surface(self, vertices: np.ndarray, faces: np.ndarray, surface: "Surface",
                       wrinkle_weights: np.ndarray, clock: StageClock = NO_CLOCK) -> np.ndarray:
        """Textured, material-shaded RGB image of the human face (``shade.py``), edges anti-aliased."""
        vertices = np.ascontiguousarray(vertices, np.float32)
        _, face_id, bary = self.rasterize(vertices, faces)
        clock.lap("rasterise")
        normals = raster.vertex_normals(vertices, faces)
        clock.lap("normals")
        occlusion = np.empty(len(vertices), np.float32)
        shade.occlusion(vertices, normals, surface.neighbour_start, surface.neighbours, OCCLUSION_SCALE, occlusion)
        clock.lap("occlusion")
        groove = self._groove_map(surface, wrinkle_weights)
        clock.lap("wrinkle map")
        image = np.empty(face_id.shape + (3,), np.uint8)
        c = self.config
        light = np.array([c.ambient, c.wrap, c.specular, c.shininess], np.float32)
        shade.shade_human(face_id, bary, faces, surface.material, surface.neck, surface.corner_tex, normals, surface.anatomy,
                          occlusion, surface.albedo, groove, surface.colours, surface.eye_centres, surface.mouth_front_z,
                          light, self._spec_table, self._background, self._depth, image, self._edges)
        clock.lap("shade + edge filter")
        if self._scale > 1:
            image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
            clock.lap("downsample")
        return image


    def _groove_map(self, surface: "Surface", wrinkle_weights: np.ndarray) -> np.ndarray:
        """This frame's wrinkle depth per texel (``shade.groove_map``), kept between frames:
        only the texels under some wrinkle map are rewritten."""
        if self._groove_surface is not surface:
            self._groove = np.zeros(surface.albedo.shape[:2], np.uint8)
            self._groove_surface = surface
        weights = np.ascontiguousarray(wrinkle_weights, np.float32)
        if weights.shape != (surface.wrinkle_depths.shape[1],):
            raise ValueError(f"expected {surface.wrinkle_depths.shape[1]} wrinkle weights, got shape {weights.shape}")
        shade.groove_map(surface.wrinkle_texels, surface.wrinkle_depths, weights, self._groove)
        return self._groove


def _check_faces(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    faces = np.ascontiguousarray(faces, np.int32)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"expected faces of shape (F,3), got {faces.shape}")
    if faces.size and (faces.min() < 0 or faces.max() >= n_vertices):
        raise ValueError(f"face indices must lie in 0..{n_vertices - 1}, got {faces.min()}..{faces.max()}")
    return faces


def framed(face: "FaceModel", config: RenderConfig, region: str = "full") -> tuple[RenderConfig, float]:
    """Camera config looking at a face region, and the image aspect (width/height) it needs."""
    if region not in REGIONS:
        raise ValueError(f"unknown crop region {region!r}; choose one of {', '.join(REGIONS)}")
    if config.distance > 0.0 and region == "full":
        return config, 1.0
    cx, cy, z_front, half_w, half_h = face.regions[region]
    if region == "full":
        half_w = half_h = max(half_w, half_h)
    distance = config.margin * half_h / np.tan(np.radians(config.fov_deg) / 2.0) + z_front
    return replace(config, center_x=cx, center_y=cy, center_z=0.0, distance=float(distance)), half_w / half_h


class FaceRenderer:
    """Render a face model from its 50+3 parameters (framing the face, or a crop region)."""

    def __init__(self, face: "FaceModel", size: int = 512, config: Optional[RenderConfig] = None,
                 region: str = "full") -> None:
        self.face = face
        camera, aspect = framed(face, config or RenderConfig(), region)
        self.renderer = Renderer(size, camera, aspect)

    def render(self, expression: np.ndarray, jaw_pose: np.ndarray, clock: StageClock = NO_CLOCK) -> np.ndarray:
        """RGB frame of the face with these expression coefficients and jaw pose (``clock``
        times the human face's stages)."""
        clock.start()
        vertices = self.face.vertices(expression, jaw_pose)
        surface = getattr(self.face, "surface", None)
        if surface is not None:
            weights = wrinkle_weights(expression)
            clock.lap("blendshapes + jaw")
            return self.renderer.render_surface(vertices, self.face.faces, surface, weights, clock)
        return self.renderer.render(vertices, self.face.faces, self.face.vertex_colors)
