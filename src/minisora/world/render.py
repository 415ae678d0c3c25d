"""The renderer: anti-aliased shapes from signed distances, at any resolution, in NumPy.

Coverage of a pixel is clip(0.5 - d, 0, 1) for the signed distance d (in pixels) from the
pixel centre to the shape: exact for straight edges, within a few percent on curves. Depth
order: background, ground, objects in spec order, then foreground occluders. The camera pans
horizontally; the ground's stripes move with the world so that a pan is visible.
"""

from __future__ import annotations

import numpy as np

from minisora.world.physics import Trajectory
from minisora.world.spec import BACKGROUNDS, GROUND_COLOR, PALETTE, SceneSpec

STRIPE_PERIOD = 0.25  # world units between ground stripes


def render_frames(spec: SceneSpec, traj: Trajectory) -> np.ndarray:
    """All frames of the clip as uint8 (T, H, W, 3)."""
    frames = np.empty((len(traj.times), spec.height, spec.width, 3), dtype=np.uint8)
    sky = _sky(spec)
    for index in range(len(traj.times)):
        frames[index] = render_frame(spec, traj, index, sky)
    return frames


def render_frame(spec: SceneSpec, traj: Trajectory, index: int, sky: np.ndarray | None = None) -> np.ndarray:
    image = (_sky(spec) if sky is None else sky).copy()
    cam = float(traj.camera_x[index])
    if spec.ground:
        _draw_ground(image, spec, cam)
    for obj_index, obj in enumerate(spec.objects):
        x, y = traj.positions[index, obj_index]
        color = PALETTE[traj.colors[index][obj_index]]
        draw_shape(image, spec, obj.shape, x - cam, y, obj.half, color)
    for occ in spec.occluders:
        cx, cy = occ.x + occ.width / 2 - cam, occ.y + occ.height / 2
        _draw_box(image, spec, cx, cy, occ.width / 2, occ.height / 2, occ.color)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def _sky(spec: SceneSpec) -> np.ndarray:
    top, bottom = (np.array(c, dtype=np.float32) for c in BACKGROUNDS[spec.background])
    w = ((np.arange(spec.height, dtype=np.float32) + 0.5) / spec.height)[:, None]
    column = top[None, :] * (1 - w) + bottom[None, :] * w  # (H, 3)
    return np.repeat(column[:, None, :], spec.width, axis=1)


def _draw_ground(image: np.ndarray, spec: SceneSpec, cam: float) -> None:
    s, height = spec.scale, spec.height
    floor_px = height - spec.floor * s  # rows below this line are ground
    rows = np.arange(height, dtype=np.float32) + 0.5
    cover = np.clip(rows - floor_px + 0.5, 0, 1)[:, None, None]  # (H, 1, 1)
    xs = (np.arange(spec.width, dtype=np.float32) + 0.5) / s + cam
    phase = np.mod(xs / STRIPE_PERIOD, 1.0)
    stripe = np.clip(0.5 - (np.abs(phase - 0.5) - 0.25) * STRIPE_PERIOD * s, 0, 1)
    ground = np.array(GROUND_COLOR, np.float32)[None, :] * (1 - 0.12 * stripe[:, None])  # (W, 3)
    image[:] = image * (1 - cover) + ground[None, :, :] * cover


def draw_shape(image, spec: SceneSpec, shape: str, x: float, y: float, half: float, color) -> None:
    """Blend one shape centred at world (x, y) relative to the camera, half-extent `half`."""
    if shape == "circle":
        _draw_sdf(image, spec, x, y, half, color, lambda px, py, r: np.hypot(px, py) - r)
    elif shape == "square":
        _draw_box(image, spec, x, y, half, half, color)
    else:
        _draw_sdf(image, spec, x, y, half, color, _triangle_sdf)


def _draw_box(image, spec, cx, cy, hw, hh, color) -> None:
    def box(px, py, _):
        qx, qy = np.abs(px) - hw * spec.scale, np.abs(py) - hh * spec.scale
        outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
        return outside + np.minimum(np.maximum(qx, qy), 0)

    _draw_sdf(image, spec, cx, cy, max(hw, hh), color, box, extent=(hw, hh))


def _triangle_sdf(px, py, r):
    """Upright isosceles triangle in its square box (base 2r, height 2r); py points down."""
    # edges: base (py = r), and two sides through the apex (0, -r) and the base corners
    nx, ny = 2.0 / np.sqrt(5.0), 1.0 / np.sqrt(5.0)
    side = (np.abs(px) * nx - py * ny) - r * ny  # distance to each slanted edge
    base = py - r
    return np.maximum(side, base)


def _draw_sdf(image, spec, cx, cy, half, color, sdf, extent=None) -> None:
    s, height, width = spec.scale, spec.height, spec.width
    hw, hh = extent if extent is not None else (half, half)
    px_c, py_c = cx * s, height - cy * s  # centre in pixels, y down
    x0, x1 = int(np.floor(px_c - hw * s - 1)), int(np.ceil(px_c + hw * s + 1))
    y0, y1 = int(np.floor(py_c - hh * s - 1)), int(np.ceil(py_c + hh * s + 1))
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x0 >= x1 or y0 >= y1:
        return
    px = np.arange(x0, x1, dtype=np.float32) + 0.5 - px_c
    py = (np.arange(y0, y1, dtype=np.float32) + 0.5 - py_c)[:, None]
    cover = np.clip(0.5 - sdf(px[None, :], py, half * s), 0, 1)[..., None]
    patch = image[y0:y1, x0:x1]
    patch[:] = patch * (1 - cover) + np.asarray(color, np.float32) * cover
