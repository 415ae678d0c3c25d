"""The world analyzer: what happens in a video, recovered from its frames and sound alone.

Frames -> palette blobs per frame (segment.py) -> identities over time (track.py) -> per-frame
objects with colour, shape, size, centroid and box; counts; camera pan; contacts as velocity jumps
(motion.py); audio onsets (onsets.py). It reads any MP4 of the world's look, whatever made it,
and knows only the world's rules that hold for every clip: the palette, the three shapes and
sizes, one world unit = the frame's short side, the ground's height and gravity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from minisora.eval.motion import (
    VisualContact,
    approach_speed,
    camera_shift,
    closing_speed,
    detect_contacts,
)
from minisora.eval.onsets import Onset, detect_onsets
from minisora.eval.segment import (
    AREA_PER_R2,
    find_blobs,
    row_background,
    size_class,
    unmix_frames,
)
from minisora.eval.track import Tracker, TrackerConfig
from minisora.world.spec import GRAVITY, SIZES

UNMIX_FRAMES = 32  # frames unmixed together (memory: ~50 bytes a pixel while at it)
FAINT_DV = 0.12  # units/s: the weakest velocity jump worth pairing with a sound


@dataclass
class ObjectView:
    """One object in one frame, in pixels (y down)."""

    track: int
    color: str
    shape: str | None
    size: str | None
    centroid: tuple[float, float]  # centre of the object's square box
    box: tuple[float, float, float, float]  # (x0, y0, x1, y1)
    whole: bool  # seen whole (not cut by the border, an occluder or a touching twin)
    rgb: tuple[float, float, float]  # mean colour of its fully covered pixels (for colour drift)


@dataclass
class TrackSummary:
    id: int
    shape: str | None
    size: str | None
    colors: dict[int, str]  # frame -> colour where seen
    first_frame: int
    last_frame: int
    frames_seen: int


@dataclass
class Analysis:
    width: int
    height: int
    fps: float
    frames: list[list[ObjectView]]  # per frame, the objects seen
    tracks: list[TrackSummary]
    camera_px: np.ndarray  # (T,) camera x (px) relative to frame 0; > 0 after panning right
    contacts: list[VisualContact]
    onsets: list[Onset]
    # track -> frame -> box centre (px)
    centers: dict[int, dict[int, tuple[float, float]]] = field(default_factory=dict)
    occluders: list[tuple[float, float]] = field(default_factory=list)  # (x0, x1) px in frame 0
    faint_contacts: list[VisualContact] = field(default_factory=list)  # any jump >= FAINT_DV

    @property
    def scale(self) -> float:
        return float(min(self.width, self.height))

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def counts(self) -> list[int]:
        return [len(objects) for objects in self.frames]

    def pan_speed(self) -> float:
        """Camera speed, world units per second (> 0: the camera pans right)."""
        if self.num_frames < 2:
            return 0.0
        t = np.arange(self.num_frames) / self.fps
        return float(np.polyfit(t, self.camera_px, 1)[0] / self.scale)

    def color_changes(self) -> list[tuple[float, int, str, str]]:
        """(time, track, old, new) where a track's colour changes and stays changed for 2 frames."""
        out = []
        for track in self.tracks:
            frames = sorted(track.colors)
            for a, b, c in zip(frames, frames[1:], frames[2:]):
                old, new = track.colors[a], track.colors[b]
                if old != new and track.colors[c] == new:
                    out.append(((a + b) / 2 / self.fps, track.id, old, new))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (per-frame objects included)."""
        return {
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "counts": self.counts(),
            "pan_speed": self.pan_speed(),
            "tracks": [
                vars(t) | {"colors": {str(k): v for k, v in t.colors.items()}} for t in self.tracks
            ],
            "frames": [[vars(o) for o in objects] for objects in self.frames],
            "contacts": [vars(c) for c in self.contacts],
            "onsets": [vars(o) for o in self.onsets],
            "color_changes": self.color_changes(),
        }


def analyze(
    frames: np.ndarray, fps: float, audio: np.ndarray | None = None, sample_rate: int | None = None
) -> Analysis:
    """Analyze uint8 frames (T, H, W, 3) and optional mono audio."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    n, height, width = frames.shape[:3]
    scale = float(min(width, height))
    smallest = min(SIZES.values()) * scale
    tracker = Tracker(
        TrackerConfig(
            gravity_px=GRAVITY * scale / fps**2,
            min_area=0.15 * 2 * smallest**2,  # 15% of the smallest triangle
            half_sizes=tuple(h * scale for h in SIZES.values()),
        )
    )
    for start in range(0, n, UNMIX_FRAMES):  # palette unmixing a batch of frames at a time
        best_k, best_alpha, background = unmix_frames(frames[start : start + UNMIX_FRAMES])
        for i in range(best_k.shape[0]):
            unmixed = (best_k[i], best_alpha[i], background[i])
            tracker.update(start + i, find_blobs(frames[start + i], unmixed))
    tracks = tracker.finished_tracks()
    per_frame: list[list[ObjectView]] = [[] for _ in range(n)]
    summaries, centers, boxes, complete = [], {}, {}, {}
    for track in tracks:
        shape, half = track.shape(), track.half()
        size = size_class(half, scale) if half is not None else None
        centers[track.id], boxes[track.id], complete[track.id] = {}, {}, {}
        for frame, blob in track.blobs.items():
            cx, cy = track.centers[frame]
            r = half if half is not None else max(blob.width, blob.height) / 2
            box = (cx - r, cy - r, cx + r, cy + r)
            whole = blob.shape is not None and not any(blob.clipped)
            solid = blob.alpha >= 0.9
            rows, cols = (
                (blob.rows[solid], blob.cols[solid]) if solid.any() else (blob.rows, blob.cols)
            )
            rgb = tuple(float(v) for v in frames[frame, rows, cols].mean(0))
            per_frame[frame].append(
                ObjectView(track.id, blob.color, shape, size, (cx, cy), box, whole, rgb)
            )
            centers[track.id][frame], boxes[track.id][frame] = (cx, cy), box
            if (
                shape is not None
                and half is not None
                and blob.area >= 0.9 * AREA_PER_R2[shape] * half**2
            ):
                complete[track.id][frame] = (cx, cy)  # all of it in view: its centre is measured
        summaries.append(
            TrackSummary(
                track.id,
                shape,
                size,
                {f: b.color for f, b in sorted(track.blobs.items())},
                track.first_frame,
                track.last_frame,
                len(track.blobs),
            )
        )
    camera = camera_shift(frames, scale)
    # weak jumps are too close to centroid noise to report on their own, but they explain quiet
    # sounds; and one with independent evidence of an impact is a contact: beside another object
    # that was closing in on it (a heavy target barely moves, the hitter is slowed by less than
    # a bounce would), or at the floor or a wall that the object was moving toward (a low hop's
    # jump is shared with gravity and the next landing, so it measures small)
    # only the frames where an object is all in view place its centre well enough for velocities
    faint = detect_contacts(complete, boxes, camera, fps, scale, (width, height), min_dv=FAINT_DV)
    contacts = detect_contacts(complete, boxes, camera, fps, scale, (width, height))
    # any jump at all, even of a half-hidden object, may explain a quiet sound
    audible = detect_contacts(centers, boxes, camera, fps, scale, (width, height), min_dv=FAINT_DV)
    seen = {(c.track, c.frame) for c in contacts}
    contacts += [
        c
        for c in faint
        if (c.track, c.frame) not in seen and _impact(c, centers, camera, fps, scale)
    ]
    contacts.sort(key=lambda c: c.time)
    onsets = detect_onsets(audio, sample_rate)
    occluders = find_occluders(frames[0])
    return Analysis(
        width,
        height,
        fps,
        per_frame,
        summaries,
        camera,
        contacts,
        onsets,
        centers,
        occluders,
        audible,
    )


def _impact(contact: VisualContact, centers, camera: np.ndarray, fps: float, scale: float) -> bool:
    """Whether a faint jump has independent evidence of an impact: its partner (an object, seen
    whole or not: a hidden light one is the one that takes the kick) or the floor or wall it
    touched was being approached fast enough for the jump to be a collision."""
    needed = max(0.1, 0.3 * float(np.hypot(*contact.dv)))
    if isinstance(contact.partner, int):
        return closing_speed(contact, centers, fps, scale) > needed
    return approach_speed(contact, centers, camera, fps, scale) > needed


def find_occluders(frame: np.ndarray) -> list[tuple[float, float]]:
    """Column spans (x0, x1) of foreground screens: neutral pixels far from the row background.

    Occluders are unsaturated rectangles standing on the canvas bottom, so they show as runs of
    columns whose lowest rows (above the ground band's stripes too) differ from the sky.
    """
    img = frame.astype(np.float32)
    background = row_background(img)[:, None, :]
    chroma = img.max(-1) - img.min(-1)
    neutral = (np.abs(img - background).max(-1) > 25) & (chroma < 60)  # (H, W)
    height = frame.shape[0]
    columns = neutral[height // 2 :].mean(0) > 0.5  # (W,)
    spans, start = [], None
    for x, on in enumerate(list(columns) + [False]):
        if on and start is None:
            start = x
        elif not on and start is not None:
            if x - start >= 2:
                spans.append((float(start), float(x)))
            start = None
    return spans


def analyze_file(path: str | Path) -> Analysis:
    """Read a video file (MP4, GIF) and analyze it."""
    from minisora.media import read_video

    video = read_video(path)
    return analyze(video.frames, video.fps, video.audio, video.sample_rate)
