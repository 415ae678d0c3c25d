"""The checks behind each claim: find the prompt's objects among the tracks, then test one
promise. Each check returns (passed, detail, frame, track, value); `claims.Claim` wraps it.

Thresholds are stated in world units so that they hold at every resolution and frame rate.
"""

from __future__ import annotations

import numpy as np

from minisora.eval.analyzer import Analysis, TrackSummary
from minisora.world.spec import GRAVITY, MATERIALS

MIN_TRACK_FRAMES = 3  # shorter tracks are flicker, not objects
GRAVITY_TOLERANCE = 0.15  # fitted acceleration within 15% of the world's g
RESTITUTION_TOLERANCE = 0.15
MOVE_UNITS = 0.03  # world units: less than this over the window is "not moving"
PAN_MIN = 0.04  # units / s
AV_WINDOW_S = 0.040
AV_MIN_F1 = 0.8
LONG_COUNT_SHARE = 0.95
DRIFT_RGB = 30.0


# -- finding the prompt's objects ----------------------------------------------------------------
def tracks_like(analysis: Analysis, look: dict) -> list[TrackSummary]:
    out = []
    for track in analysis.tracks:
        if track.frames_seen < MIN_TRACK_FRAMES:
            continue
        first_color = track.colors[min(track.colors)]
        if look.get("color") and first_color != look["color"]:
            continue
        if look.get("shape") and track.shape != look["shape"]:
            continue
        if look.get("size") and track.size != look["size"]:
            continue
        out.append(track)
    return out


def _world_path(analysis: Analysis, track: int) -> dict[int, np.ndarray]:
    """Box centre per frame in world units, y up, the camera's motion removed."""
    s = analysis.scale
    return {
        f: np.array([(x + analysis.camera_px[f]) / s, (analysis.height - y) / s])
        for f, (x, y) in analysis.centers[track].items()
    }


def _missing(look: dict) -> tuple:
    what = (
        " ".join(v for v in (look.get("size"), look.get("color"), look.get("shape")) if v)
        or "object"
    )
    return False, f"no {what} found", None, None, None


# -- checks: each returns (passed, detail, frame, track, value) ------------------------------------
def _count(analysis: Analysis, look: dict, n: int):
    tracks = tracks_like(analysis, look)
    if len(tracks) == n:
        return True, f"{n} found", None, None, float(n)
    ids = {t.id for t in tracks}
    frame = next(
        (f for f, objs in enumerate(analysis.frames) if sum(o.track in ids for o in objs) != n), 0
    )
    extra = tracks[n].id if len(tracks) > n else None
    return False, f"found {len(tracks)}, expected {n}", frame, extra, float(len(tracks))


def _total(analysis: Analysis, n: int):
    tracks = tracks_like(analysis, {})
    frame = next((f for f, objs in enumerate(analysis.frames) if len(objs) != n), None)
    extra = tracks[n].id if len(tracks) > n else None
    return (
        len(tracks) == n,
        f"found {len(tracks)} objects, expected {n}",
        frame,
        extra,
        float(len(tracks)),
    )


def _binding(analysis: Analysis, color: str, shapes: list[str]):
    tracks = tracks_like(analysis, {"color": color})
    if not tracks:
        return _missing({"color": color})
    wrong = [t for t in tracks if t.shape not in shapes]
    if wrong:
        t = wrong[0]
        return False, f"a {color} {t.shape} (object {t.id})", t.first_frame, t.id, None
    return True, f"{len(tracks)} {color} object(s), all {'/'.join(shapes)}", None, None, None


def _relation(analysis: Analysis, a: dict, relation: str, b: dict):
    ta, tb = tracks_like(analysis, a), tracks_like(analysis, b)
    if not ta or not tb:
        return _missing(a if not ta else b)
    ca, cb = analysis.centers[ta[0].id], analysis.centers[tb[0].id]
    frames = [f for f in sorted(ca) if f in cb and f < max(analysis.num_frames // 2, 1)]
    if not frames:
        return False, "the two objects are never seen together", None, ta[0].id, None
    axis, sign = {"left_of": (0, -1), "right_of": (0, 1), "above": (1, -1), "below": (1, 1)}[
        relation
    ]
    holds = [sign * (ca[f][axis] - cb[f][axis]) > 0 for f in frames]
    share = float(np.mean(holds))
    first_bad = next((f for f, ok in zip(frames, holds) if not ok), None)
    return (
        share >= 0.8,
        f"holds in {100 * share:.0f}% of the first half",
        first_bad,
        ta[0].id,
        share,
    )


def _direction(analysis: Analysis, look: dict, direction: str):
    tracks = tracks_like(analysis, look)
    if not tracks:
        return _missing(look)
    axis, sign = {"left": (0, -1), "right": (0, 1), "up": (1, 1), "down": (1, -1)}[direction]
    for track in tracks:
        path = _world_path(analysis, track.id)
        frames = sorted(path)
        window = [f for f in frames if f <= frames[0] + max(2, round(0.5 * analysis.fps))]
        moved = sign * (path[window[-1]][axis] - path[window[0]][axis])
        if moved < MOVE_UNITS:
            return (
                False,
                f"moved {moved:+.3f} units {direction} in its first half second",
                window[-1],
                track.id,
                moved,
            )
    return True, f"all {len(tracks)} move {direction}", None, None, None


def _free_flight(analysis: Analysis, track: int) -> list[list[int]]:
    """Runs of consecutive frames of one track with no contact inside and real vertical motion."""
    path = analysis.centers[track]
    hits = sorted(c.frame for c in analysis.contacts if c.track == track or c.partner == track)
    runs, run = [], []
    for f in sorted(path):
        broken = run and (f != run[-1] + 1 or any(run[-1] <= h <= f for h in hits))
        if broken:
            runs.append(run)
            run = []
        run.append(f)
    runs.append(run)
    # on the floor nothing falls: keep runs where the object rises or drops by a few pixels
    return [
        r for r in runs if len(r) >= 5 and np.ptp([path[f][1] for f in r]) > 0.02 * analysis.scale
    ]


def _gravity(analysis: Analysis, look: dict):
    tracks = tracks_like(analysis, look)
    if not tracks:
        return _missing(look)
    for track in tracks:
        runs = _free_flight(analysis, track.id)
        if not runs:
            return False, "no free flight seen", None, track.id, None
        run = max(runs, key=lambda r: np.ptp([analysis.centers[track.id][f][1] for f in r]))
        t = np.array(run) / analysis.fps
        y = np.array([analysis.centers[track.id][f][1] for f in run]) / analysis.scale  # down
        g = float(2 * np.polyfit(t - t[0], y, 2)[0])
        if abs(g - GRAVITY) > GRAVITY_TOLERANCE * GRAVITY:
            return (
                False,
                f"fitted g = {g:.2f} units/s^2, the world's is {GRAVITY}",
                run[0],
                track.id,
                g,
            )
    return True, f"fitted g = {g:.2f} units/s^2 (world {GRAVITY})", None, None, g


def _bounce(analysis: Analysis, look: dict, material: str | None):
    tracks = tracks_like(analysis, look)
    if not tracks:
        return _missing(look)
    lo, hi = (
        (0.2, 0.98)
        if material is None
        else (
            MATERIALS[material].restitution - RESTITUTION_TOLERANCE,
            MATERIALS[material].restitution + RESTITUTION_TOLERANCE,
        )
    )
    for track in tracks:
        floor = [c for c in analysis.contacts if c.track == track.id and c.partner == "floor"]
        e = next(
            (r for r in (_restitution(analysis, track.id, c) for c in floor) if r is not None), None
        )
        if e is None:
            return False, "never bounces off the floor", None, track.id, None
        if not lo <= e <= hi:
            return (
                False,
                f"restitution {e:.2f}, expected {lo:.2f}..{hi:.2f}",
                floor[0].frame,
                track.id,
                e,
            )
    return True, f"restitution {e:.2f} (expected {lo:.2f}..{hi:.2f})", None, None, e


def _restitution(analysis: Analysis, track: int, contact) -> float | None:
    """Rebound over impact speed from parabolas (the world's g) fitted on each side of a bounce."""
    path, fps, s = analysis.centers[track], analysis.fps, analysis.scale
    k, tc = contact.frame, contact.time
    before = [f for f in (k - 2, k - 1, k) if f in path]
    after = [f for f in (k + 1, k + 2, k + 3) if f in path]
    if len(before) < 2 or len(after) < 2:
        return None

    def velocity(frames):  # y(t) = y0 + v (t - tc) + g/2 (t - tc)^2, y down, units
        t = np.array(frames) / fps - tc
        y = np.array([path[f][1] for f in frames]) / s - 0.5 * GRAVITY * t**2
        return float(np.polyfit(t, y, 1)[0])

    v_in, v_out = velocity(before), velocity(after)
    if v_in < 0.5:  # not falling fast enough to measure (units/s, down)
        return None
    return -v_out / v_in


def _contacts_between(analysis: Analysis, a: dict, b: dict):
    ta, tb = {t.id for t in tracks_like(analysis, a)}, {t.id for t in tracks_like(analysis, b)}
    return [
        c
        for c in analysis.contacts
        if (c.track in ta and c.partner in tb) or (c.track in tb and c.partner in ta)
    ]


def _hit(analysis: Analysis, a: dict, b: dict):
    if not tracks_like(analysis, a) or not tracks_like(analysis, b):
        return _missing(a if not tracks_like(analysis, a) else b)
    hits = _contacts_between(analysis, a, b)
    if not hits:
        return False, "no contact between them", None, None, None
    return True, f"contact at {hits[0].time:.2f} s", hits[0].frame, hits[0].track, hits[0].time


def _still_until_hit(analysis: Analysis, a: dict, b: dict):
    targets = tracks_like(analysis, b)
    hits = _contacts_between(analysis, a, b)
    if not targets or not hits:
        return False, "no hit to compare with", None, None, None
    path = _world_path(analysis, targets[0].id)
    when = hits[0].frame
    start = min(path)
    before = [f for f in sorted(path) if f <= when]
    drift = max((abs(path[f][0] - path[start][0]) for f in before), default=0.0)
    if drift > MOVE_UNITS:
        first = next(f for f in before if abs(path[f][0] - path[start][0]) > MOVE_UNITS)
        return (
            False,
            f"moved {drift:.3f} units before the hit at frame {when}",
            first,
            targets[0].id,
            drift,
        )
    return True, f"still until the hit at frame {when}", None, None, drift


def _turns_after_hit(analysis: Analysis, a: dict, b: dict, color: str):
    targets = {t.id for t in tracks_like(analysis, b)}
    changes = [c for c in analysis.color_changes() if c[1] in targets and c[3] == color]
    if not changes:
        return False, f"never turns {color}", None, next(iter(targets), None), None
    time, track = changes[0][0], changes[0][1]
    hits = _contacts_between(analysis, a, b)
    frame = round(time * analysis.fps)
    if not hits:
        return False, f"turns {color} at {time:.2f} s with no hit", frame, track, time
    lead = hits[0].time - time  # > 0: the effect came first
    if lead > 1.0 / analysis.fps:
        return False, f"turns {color} {lead:.2f} s before the hit", frame, track, lead
    return True, f"turns {color} {-lead:.2f} s after the hit", None, None, lead


def _passes_behind(analysis: Analysis, look: dict):
    tracks = tracks_like(analysis, look)
    if not tracks:
        return _missing(look)
    if len(tracks) > 1:
        return (
            False,
            f"{len(tracks)} identities: it came out as a new object",
            tracks[1].first_frame,
            tracks[1].id,
            None,
        )
    if not analysis.occluders:
        return False, "no occluder seen", None, None, None
    x0, x1 = analysis.occluders[0]
    xs = [x for x, _ in analysis.centers[tracks[0].id].values()]
    if min(xs) < x0 and max(xs) > x1:
        return True, "seen on both sides with one identity", None, None, None
    return False, "not seen on both sides of the occluder", tracks[0].last_frame, tracks[0].id, None


def _near_edge_or_occluder(analysis: Analysis, box, margin: float = 3.0) -> bool:
    x0, y0, x1, y1 = box
    if (
        x0 <= margin
        or y0 <= margin
        or x1 >= analysis.width - margin
        or y1 >= analysis.height - margin
    ):
        return True
    return any(x1 >= ox0 - margin and x0 <= ox1 + margin for ox0, ox1 in analysis.occluders)


def _permanence(analysis: Analysis):
    boxes = {o.track: {} for objs in analysis.frames for o in objs}
    for f, objs in enumerate(analysis.frames):
        for o in objs:
            boxes[o.track][f] = o.box
    last = analysis.num_frames - 1
    for track in tracks_like(analysis, {}):
        first, end = track.first_frame, track.last_frame
        if first > 0 and not _near_edge_or_occluder(analysis, boxes[track.id][first]):
            return False, "appears out of nowhere", first, track.id, None
        if end < last and not _near_edge_or_occluder(analysis, boxes[track.id][end]):
            return False, "vanishes in the open", end, track.id, None
    return True, "every object enters or leaves at an edge or an occluder", None, None, None


def _pan(analysis: Analysis, direction: str):
    speed = analysis.pan_speed()
    sign = 1 if direction == "right" else -1
    if sign * speed < PAN_MIN:
        return False, f"camera speed {speed:+.3f} units/s", None, None, speed
    return True, f"camera speed {speed:+.3f} units/s", None, None, speed


def _count_stable(analysis: Analysis, n: int):
    counts = np.array(analysis.counts())
    share = float(np.mean(counts == n))
    bad = np.nonzero(counts != n)[0]
    frame = int(bad[0]) if bad.size else None
    return (
        share >= LONG_COUNT_SHARE,
        f"{n} visible in {100 * share:.1f}% of frames",
        frame,
        None,
        share,
    )


def _color_drift(analysis: Analysis):
    worst = (0.0, None, None)
    for track in tracks_like(analysis, {}):
        views = [
            (f, o)
            for f, objs in enumerate(analysis.frames)
            for o in objs
            if o.track == track.id and o.whole
        ]
        if len(views) < 10:
            continue
        tenth = max(1, len(views) // 10)
        start = np.mean([o.rgb for _, o in views[:tenth]], 0)
        end = np.mean([o.rgb for _, o in views[-tenth:]], 0)
        drift = float(np.linalg.norm(end - start))
        if drift > worst[0]:
            worst = (drift, views[-1][0], track.id)
    drift, frame, track = worst
    return drift <= DRIFT_RGB, f"largest colour drift {drift:.1f} RGB levels", frame, track, drift


def av_matches(analysis: Analysis) -> tuple[list[float], list[bool], list[float], list[bool]]:
    """The av_sync claim's matching: the visual contacts (one per 20 ms) and whether each has an
    onset within AV_WINDOW_S; the loud onsets' times and whether each has a velocity jump (even a
    faint one) there. Onsets under half the median loudness of the matched ones are not counted
    (with no contact matched, every onset counts)."""
    visual = sorted({round(c.time, 3) for c in analysis.contacts})
    visual = [t for i, t in enumerate(visual) if i == 0 or t - visual[i - 1] > 0.02]
    hit_v = [any(abs(o.time - v) <= AV_WINDOW_S for o in analysis.onsets) for v in visual]
    matched = [
        o.strength for o in analysis.onsets if any(abs(o.time - v) <= AV_WINDOW_S for v in visual)
    ]
    loud = 0.5 * float(np.median(matched)) if matched else 0.0
    sounds = [o.time for o in analysis.onsets if o.strength >= loud]
    explained = [c.time for c in analysis.faint_contacts] + visual
    hit_s = [any(abs(s - v) <= AV_WINDOW_S for v in explained) for s in sounds]
    return visual, hit_v, sounds, hit_s


def _av_sync(analysis: Analysis):
    """Onset F1 against visual contacts within AV_WINDOW_S. Recall: every contact seen has a sound.
    Precision: every loud sound has a velocity jump (even a faint one) at that moment; sounds
    under half the typical loudness of the matched ones are exempt, since a bounce too small or
    too quick to resolve at the video's frame rate still rings."""
    if not analysis.onsets and not analysis.contacts:
        return False, "no contacts and no sounds", None, None, 0.0
    visual, hit_v, sounds, hit_s = av_matches(analysis)
    recall = float(np.mean(hit_v)) if visual else 0.0
    precision = float(np.mean(hit_s)) if sounds else 0.0
    f1 = 2 * recall * precision / max(recall + precision, 1e-9)
    silent = next((v for v, ok in zip(visual, hit_v) if not ok), None)
    stray = next((s for s, ok in zip(sounds, hit_s) if not ok), None)
    where = silent if silent is not None else stray
    frame = round(where * analysis.fps) if where is not None else None
    return (
        f1 >= AV_MIN_F1,
        f"onset F1 {f1:.2f} (recall {recall:.2f}, precision {precision:.2f})",
        frame,
        None,
        f1,
    )


CHECKS = {
    "count": _count,
    "total": _total,
    "binding": _binding,
    "relation": _relation,
    "direction": _direction,
    "gravity": _gravity,
    "bounce": _bounce,
    "hit": _hit,
    "still_until_hit": _still_until_hit,
    "turns_after_hit": _turns_after_hit,
    "passes_behind": _passes_behind,
    "permanence": _permanence,
    "pan": _pan,
    "count_stable": _count_stable,
    "color_drift": _color_drift,
    "av_sync": _av_sync,
}
