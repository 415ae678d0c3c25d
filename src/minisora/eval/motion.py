"""Motion from tracks: camera pan from the ground's stripes, contacts from velocity jumps, and the
fits the claims need (acceleration, restitution).

A free-flying object's second difference of position is gravity; one resting on the floor has
none vertically and at most friction horizontally. A contact inside the frame interval (k, k+1)
adds a velocity jump dv split between the second differences at k and k+1 in the proportion
(1 - f, f), f being where in the interval it fell: that recovers the contact's time to a
fraction of a frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minisora.world.spec import GRAVITY, GROUND_HEIGHT

MAX_FRICTION = 0.8  # the largest Coulomb coefficient of any material (rubber)
CONTACT_DV = 0.35  # units/s: smaller velocity jumps are within the noise of centroids after H.264
TOUCH_PX = 2.0  # an edge this close to the floor, a wall or another object touches it


@dataclass(frozen=True)
class VisualContact:
    time: float  # seconds
    frame: int  # the frame just before the contact
    track: int
    partner: int | str  # another track, "floor", "wall_left", "wall_right" or "unknown"
    dv: tuple[float, float]  # velocity jump, units/s, y up


def camera_shift(frames: np.ndarray, scale: float) -> np.ndarray:
    """Camera x position per frame (px, relative to frame 0) from the ground band's stripes.

    Each frame's ground band is averaged into a 1-D profile; consecutive profiles are aligned by
    cross-correlation with a parabolic sub-pixel peak. Zeros when there is no textured ground.
    """
    n, height, width = frames.shape[:3]
    band = max(1, int(GROUND_HEIGHT * scale) - 2)
    profiles = frames[:, height - band :, :, :].astype(np.float32).mean(axis=(1, 3))  # (T, W)
    profiles -= profiles.mean(1, keepdims=True)
    if profiles.std() < 0.5:
        return np.zeros(n)
    max_shift = max(1, int(0.1 * scale))  # 0.1 units per frame: faster than any pan we render
    shifts = np.zeros(n)
    for t in range(1, n):
        shifts[t] = shifts[t - 1] + _align(profiles[t - 1], profiles[t], max_shift)
    return shifts


def _align(a: np.ndarray, b: np.ndarray, max_shift: int) -> float:
    """How far (px) the camera moved right between profiles a and b (b(x) = a(x + s))."""
    width = a.size
    scores = []
    for s in range(-max_shift, max_shift + 1):
        lo, hi = max(0, -s), min(width, width - s)
        scores.append(float((a[lo + s : hi + s] * b[lo:hi]).mean()))
    scores = np.array(scores)
    k = int(np.argmax(scores))
    offset = 0.0
    if 0 < k < scores.size - 1:
        denom = scores[k - 1] - 2 * scores[k] + scores[k + 1]
        offset = 0.5 * (scores[k - 1] - scores[k + 1]) / denom if denom < 0 else 0.0
    return k - max_shift + offset


def detect_contacts(
    centers: dict[int, dict[int, tuple[float, float]]],
    boxes: dict[int, dict[int, tuple[float, float, float, float]]],
    camera_px: np.ndarray,
    fps: float,
    scale: float,
    size: tuple[int, int],
) -> list[VisualContact]:
    """Contacts of every track from jumps in its velocity, with the partner each touched."""
    found: list[VisualContact] = []
    for track, path in centers.items():
        for frame, time, dv in _jumps(path, camera_px, fps, scale):
            found.append(VisualContact(time, frame, track, "unknown", dv))
    return [_with_partner(c, found, boxes, fps, scale, size) for c in found]


def _jumps(path, camera_px, fps, scale):
    """(frame, time, dv) for each velocity jump along one track (world frame, y up, units/s)."""
    g = GRAVITY * scale / fps**2  # px per frame^2
    frames = sorted(path)
    out = []
    dev = {}
    for k in frames:
        if k - 1 in path and k + 1 in path:
            p = [np.array(path[f]) + np.array([camera_px[f], 0.0]) for f in (k - 1, k, k + 1)]
            a = p[2] - 2 * p[1] + p[0]  # px per frame^2, y down
            flight = a - np.array([0.0, g])
            friction = np.clip(a[0], -MAX_FRICTION * g, MAX_FRICTION * g)
            rest = np.array([a[0] - friction, a[1]])  # on the floor: no gravity, some friction
            dev[k] = flight if np.hypot(*flight) <= np.hypot(*rest) else rest
    threshold = CONTACT_DV * scale / fps
    strength = {k: np.hypot(*d) for k, d in dev.items()}
    for k in frames:
        pair = strength.get(k, 0.0) + strength.get(k + 1, 0.0)
        if pair < threshold:
            continue
        before = strength.get(k - 1, 0.0) + strength.get(k, 0.0)
        after = strength.get(k + 1, 0.0) + strength.get(k + 2, 0.0)
        if before > pair or after >= pair:
            continue  # not the interval where the jump is centred
        d0, d1 = dev.get(k, np.zeros(2)), dev.get(k + 1, np.zeros(2))
        jump = d0 + d1
        f = float(np.clip(np.dot(d1, jump) / max(np.dot(jump, jump), 1e-9), 0.0, 1.0))
        dv = (float(jump[0] * fps / scale), float(-jump[1] * fps / scale))
        out.append((k, (k + f) / fps, dv))
    return out


def _with_partner(contact, found, boxes, fps, scale, size) -> VisualContact:
    """Name what was hit: a track with a jump at the same time beside it, else floor or a wall."""
    width, height = size
    x0, y0, x1, y1 = boxes[contact.track][contact.frame]
    dvx, dvy = contact.dv
    reach = TOUCH_PX + np.hypot(dvx, dvy) * scale / fps  # it moved up to this far in the frame
    floor_px = height - GROUND_HEIGHT * scale
    partner: int | str = "unknown"
    others = [
        c
        for c in found
        if c.track != contact.track
        and abs(c.time - contact.time) * fps <= 1.5
        and _touch(boxes, c, contact)
    ]
    if others:
        partner = min(others, key=lambda c: abs(c.time - contact.time)).track
    elif dvy > 0 and abs(y1 - floor_px) <= reach:
        partner = "floor"
    elif dvx > 0 and x0 <= reach:
        partner = "wall_left"
    elif dvx < 0 and x1 >= width - reach:
        partner = "wall_right"
    return VisualContact(contact.time, contact.frame, contact.track, partner, contact.dv)


def _touch(boxes, a: VisualContact, b: VisualContact) -> bool:
    for frame in (b.frame, b.frame + 1):
        if frame in boxes[a.track] and frame in boxes[b.track]:
            ax0, ay0, ax1, ay1 = boxes[a.track][frame]
            bx0, by0, bx1, by1 = boxes[b.track][frame]
            gap = max(ax0 - bx1, bx0 - ax1, ay0 - by1, by0 - ay1)
            if gap <= 3 * TOUCH_PX:
                return True
    return False


def fit_vertical_acceleration(
    path: dict[int, tuple[float, float]], frames: list[int], fps: float, scale: float
) -> float | None:
    """Least-squares parabola through y over consecutive frames: the acceleration, units/s^2, down > 0."""
    if len(frames) < 4:
        return None
    t = np.array(frames, np.float64) / fps
    y = np.array([path[f][1] for f in frames]) / scale  # down, units
    coeffs = np.polyfit(t - t[0], y, 2)
    return float(2 * coeffs[0])
