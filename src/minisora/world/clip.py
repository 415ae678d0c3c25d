"""A rendered world clip: frames, sound and exact per-frame ground truth, from one scene spec."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from minisora.world.physics import Trajectory, simulate
from minisora.world.render import render_frames
from minisora.world.sound import SAMPLE_RATE, render_audio
from minisora.world.spec import SceneSpec


@dataclass
class Clip:
    spec: SceneSpec
    frames: np.ndarray  # (T, H, W, 3) uint8
    audio: np.ndarray  # (N,) float32 mono, SAMPLE_RATE, N = T / fps * SAMPLE_RATE
    trajectory: Trajectory
    sample_rate: int = SAMPLE_RATE

    @property
    def fps(self) -> int:
        return self.spec.fps

    def annotations(self) -> dict[str, Any]:
        return annotate(self.spec, self.trajectory)


def render_clip(spec: SceneSpec, with_audio: bool = True) -> Clip:
    """Simulate the scene, draw every frame and mix its sound."""
    traj = simulate(spec)
    frames = render_frames(spec, traj)
    if with_audio:
        audio = render_audio(spec, traj)
    else:
        audio = np.zeros(round(spec.num_frames / spec.fps * SAMPLE_RATE), np.float32)
    return Clip(spec, frames, audio, traj)


def object_box_px(spec: SceneSpec, x: float, y: float, half: float, cam: float) -> tuple[float, float, float, float]:
    """Pixel box (x0, y0, x1, y1) of an object centred at world (x, y), unclipped, y down."""
    s = spec.scale
    cx, cy = (x - cam) * s, spec.height - y * s
    return (cx - half * s, cy - half * s, cx + half * s, cy + half * s)


def visible_fraction(spec: SceneSpec, box: tuple[float, float, float, float], cam: float) -> float:
    """Share of an object's box inside the frame and not behind an occluder (box approximation)."""
    x0, y0, x1, y1 = box
    area = max((x1 - x0) * (y1 - y0), 1e-9)
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, spec.width), min(y1, spec.height)
    inside = max(cx1 - cx0, 0) * max(cy1 - cy0, 0)
    hidden = 0.0
    for occ in spec.occluders:
        ox0, oy1 = (occ.x - cam) * spec.scale, spec.height - occ.y * spec.scale
        ox1, oy0 = ox0 + occ.width * spec.scale, oy1 - occ.height * spec.scale
        ix = max(min(cx1, ox1) - max(cx0, ox0), 0)
        iy = max(min(cy1, oy1) - max(cy0, oy0), 0)
        hidden += ix * iy  # occluders are assumed not to overlap each other
    return max(inside - hidden, 0.0) / area


def annotate(spec: SceneSpec, traj: Trajectory) -> dict[str, Any]:
    """Per-frame ground truth in pixels: what the analyzer must recover from the video."""
    frames = []
    for index, t in enumerate(traj.times):
        cam = float(traj.camera_x[index])
        objects = []
        for k, obj in enumerate(spec.objects):
            x, y = traj.positions[index, k]
            box = object_box_px(spec, x, y, obj.half, cam)
            objects.append({
                "id": k,
                "shape": obj.shape,
                "color": traj.colors[index][k],
                "size": obj.size,
                "centroid": [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2],
                "box": list(box),
                "visible": round(visible_fraction(spec, box, cam), 4),
            })
        frames.append({"time": float(t), "camera_x": cam, "objects": objects})
    return {
        "fps": spec.fps,
        "width": spec.width,
        "height": spec.height,
        "frames": frames,
        "contacts": [
            {"time": c.time, "a": c.a, "b": c.b, "speed": c.speed, "x": c.x, "y": c.y}
            for c in traj.contacts
        ],
        "color_changes": [{"time": t, "object": k, "color": c} for t, k, c in traj.color_changes],
    }
