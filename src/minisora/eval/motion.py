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
    min_dv: float = CONTACT_DV,
) -> list[VisualContact]:
    """Contacts of every track from jumps in its velocity (>= min_dv units/s), each with what it
    touched."""
    found: list[VisualContact] = []
    for track, path in centers.items():
        for frame, time, dv in _jumps(path, camera_px, fps, scale, min_dv):
            found.append(VisualContact(time, frame, track, "unknown", dv))
    return [_with_partner(c, boxes, fps, scale, size) for c in found]


def _jumps(path, camera_px, fps, scale, min_dv):
    """(frame, time, dv) for each velocity jump along one track (world frame, y up, units/s).

    Friction decelerates a sliding object by up to MAX_FRICTION * g, as much per frame as a slow
    collision changes it, so an interval counts as a jump only if its deviation is more than
    friction could explain, while the jump's size is measured without that allowance.
    """
    g = GRAVITY * scale / fps**2  # px per frame^2
    frames = sorted(path)
    raw, beyond = {}, {}
    sliding: dict[int, float] = {}  # frame -> horizontal deceleration while on the floor
    for k in frames:
        if k - 1 in path and k + 1 in path:
            p = [np.array(path[f]) + np.array([camera_px[f], 0.0]) for f in (k - 1, k, k + 1)]
            a = p[2] - 2 * p[1] + p[0]  # px per frame^2, y down
            flight = a - np.array([0.0, g])
            friction = np.clip(a[0], -MAX_FRICTION * g, MAX_FRICTION * g)
            rest = np.array([a[0] - friction, a[1]])  # on the floor: no gravity, some friction
            if np.hypot(*flight) <= np.hypot(*rest):
                raw[k], beyond[k] = flight, float(np.hypot(*flight))
                continue
            # the object's own friction, as it slowed over the frames before, is no contact
            history = [sliding[j] for j in range(k - 5, k - 1) if j in sliding]
            own = float(np.median(history)) if len(history) >= 2 else float(friction)
            raw[k], beyond[k] = np.array([a[0] - own, a[1]]), float(np.hypot(*rest))
            sliding[k] = float(friction)
    return _peel_jumps(raw, beyond, min_dv * scale / fps, fps, scale)


def _peel_jumps(raw: dict, beyond: dict, threshold: float, fps: float, scale: float):
    """Velocity jumps from per-frame deviations, largest first: a jump in the interval (k, k+1)
    shows in the deviations at k and k+1, so the strongest pair is taken and removed, and the
    rest searched again. Two contacts in consecutive intervals (a landing, then a wall or another
    object a frame later) are two jumps this way; comparing each pair with its neighbours
    instead would let the larger one hide the smaller."""
    zero = np.zeros(2)
    raw, beyond = dict(raw), dict(beyond)

    def pair(k: int) -> float:
        # a jump's two halves point the same way; one jittery centroid gives +x, -2x, +x instead
        return float(np.hypot(*(raw.get(k, zero) + raw.get(k + 1, zero))))

    out = []
    while True:
        candidates = [
            k
            for k in set(raw) | {j - 1 for j in raw}
            if pair(k) >= threshold
            and beyond.get(k, 0.0) + beyond.get(k + 1, 0.0) >= 0.3 * threshold
        ]
        if not candidates:
            break
        k = max(candidates, key=pair)
        d0, d1 = raw.get(k, zero), raw.get(k + 1, zero)
        jump = d0 + d1
        f = float(np.clip(np.dot(d1, jump) / max(np.dot(jump, jump), 1e-9), 0.0, 1.0))
        out.append(
            (k, (k + f) / fps, (float(jump[0] * fps / scale), float(-jump[1] * fps / scale)))
        )
        for j in (k, k + 1):
            raw[j], beyond[j] = zero, 0.0
    return sorted(out)


def _with_partner(contact, boxes, fps, scale, size) -> VisualContact:
    """Name what was hit: an object touching it that it was pushed away from (a heavy one may
    barely move, so no jump of its own is needed), else the floor or a wall."""
    width, height = size
    x0, y0, x1, y1 = boxes[contact.track][contact.frame]
    dvx, dvy = contact.dv
    reach = TOUCH_PX + np.hypot(dvx, dvy) * scale / fps  # it moved up to this far in the frame
    best, best_gap = None, np.inf
    for other, other_boxes in boxes.items():
        if other == contact.track:
            continue
        for frame in (contact.frame, contact.frame + 1):
            if frame not in other_boxes or frame not in boxes[contact.track]:
                continue
            gap = _gap(boxes[contact.track][frame], other_boxes[frame])
            away = _middle(boxes[contact.track][frame]) - _middle(other_boxes[frame])  # px, y down
            pushed_away = dvx * away[0] - dvy * away[1] > 0
            if gap <= reach and pushed_away and gap < best_gap:
                best, best_gap = other, gap
    partner: int | str = "unknown"
    if best is not None:
        partner = best
    elif dvy > 0 and abs(y1 - (height - GROUND_HEIGHT * scale)) <= reach:
        partner = "floor"
    elif dvx > 0 and x0 <= reach:
        partner = "wall_left"
    elif dvx < 0 and x1 >= width - reach:
        partner = "wall_right"
    return VisualContact(contact.time, contact.frame, contact.track, partner, contact.dv)


def closing_speed(contact: VisualContact, centers, fps: float, scale: float) -> float:
    """How fast (units/s) the contact's track and its object partner approached each other over
    the two frames before: a real collision has one; objects sliding side by side have none."""
    a, b = (
        centers[contact.track],
        centers.get(contact.partner, {}) if isinstance(contact.partner, int) else {},
    )
    k = contact.frame
    if not all(f in a and f in b for f in (k - 1, k)):
        return 0.0
    gap = [np.hypot(*(np.array(a[f]) - np.array(b[f]))) for f in (k - 1, k)]
    return float((gap[0] - gap[1]) * fps / scale)


def approach_speed(
    contact: VisualContact, centers, camera_px: np.ndarray, fps: float, scale: float
) -> float:
    """How fast (units/s) the contact's track moved toward the floor or wall it is said to have
    hit, over the two frames before: a bounce has one; an object resting or rolling on the floor,
    whose centroid only jitters, has none."""
    path, k = centers[contact.track], contact.frame
    if not isinstance(contact.partner, str) or not all(f in path for f in (k - 1, k)):
        return 0.0
    dx = path[k][0] - path[k - 1][0] + camera_px[k] - camera_px[k - 1]  # px, world frame
    dy = path[k][1] - path[k - 1][1]  # px, y down
    toward = {"floor": dy, "wall_left": -dx, "wall_right": dx}.get(contact.partner, 0.0)
    return float(toward * fps / scale)


def _middle(box) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def _gap(a, b) -> float:
    """Gap (px) between two boxes; negative when they overlap."""
    return max(a[0] - b[2], b[0] - a[2], a[1] - b[3], b[1] - a[3])
