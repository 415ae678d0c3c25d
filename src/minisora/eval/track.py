"""Tracking blobs into object identities across frames, through occlusion and re-entry.

Each frame: predict every track (constant velocity, gravity while airborne), fix up the blobs
with those predictions (merge the pieces of one object cut by an occluder, split same-coloured
objects that touch), then assign blobs to tracks by predicted distance (Hungarian). A track that
finds no blob is kept as hidden and predicted on; a blob that fits no live track is first offered
to the hidden ones of the same look (colour, shape, size) before it starts a new identity.
Shape and size are properties of a track (majority and median over its whole views), so a
half-hidden object keeps the shape it showed when whole.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from minisora.eval.segment import AREA_PER_R2, Blob, describe

_NO_MATCH = 1e6


@dataclass
class Track:
    id: int
    blobs: dict[int, Blob] = field(default_factory=dict)  # frame -> blob
    centers: dict[int, tuple[float, float]] = field(default_factory=dict)  # frame -> box centre
    last_color: str = ""

    @property
    def last_frame(self) -> int:
        return max(self.blobs)

    @property
    def first_frame(self) -> int:
        return min(self.blobs)

    # (shape, half) of the blobs so far; None when a blob was added since (Tracker._attach)
    looks: tuple[str | None, float | None] | None = field(default=None, repr=False)

    def shape(self) -> str | None:
        return self._looks()[0]

    def half(self) -> float | None:
        return self._looks()[1]

    def _looks(self) -> tuple[str | None, float | None]:
        """The shape most of its blobs have and the median of their half-extents, made once
        per added blob (the tracker asks for them for every candidate blob of every frame)."""
        if self.looks is None:
            votes = Counter(b.shape for b in self.blobs.values() if b.shape is not None)
            halves = [b.half for b in self.blobs.values() if b.half is not None]
            self.looks = (
                votes.most_common(1)[0][0] if votes else None,
                float(np.median(halves)) if halves else None,
            )
        return self.looks

    def velocity(self) -> np.ndarray:
        """Pixels per frame from the last two sightings (zero with only one)."""
        frames = sorted(self.centers)[-2:]
        if len(frames) < 2:
            return np.zeros(2)
        (f0, f1), (p0, p1) = frames, (np.array(self.centers[f]) for f in frames)
        return (p1 - p0) / (f1 - f0)

    def predict(self, frame: int, gravity_px: float) -> np.ndarray:
        last = self.last_frame
        gap = frame - last
        v = self.velocity()
        p = np.array(self.centers[last]) + v * gap
        airborne = abs(v[1]) > 0.2 * gravity_px + 1e-9
        if airborne:
            p[1] += 0.5 * gravity_px * gap * gap
        return p


@dataclass
class TrackerConfig:
    gravity_px: float  # pixels per frame^2, downward
    min_area: float  # px: blobs smaller than this are dropped (codec noise, slivers)
    half_sizes: tuple[float, ...]  # px: the half-extent of each object size


class Tracker:
    def __init__(self, config: TrackerConfig) -> None:
        self.config = config
        self.tracks: list[Track] = []

    # -- one frame ------------------------------------------------------------------------------
    def update(self, frame: int, blobs: list[Blob]) -> None:
        predictions = {t.id: t.predict(frame, self.config.gravity_px) for t in self.tracks}
        blobs = [b for b in blobs if b.area >= self.config.min_area]
        blobs = self._split_touching(blobs, predictions, frame)
        blobs = self._merge_pieces(blobs, predictions)
        live = [t for t in self.tracks if t.last_frame == frame - 1]
        left = self._assign(frame, live, blobs, predictions, strict=True)
        # what no live track took goes to the rest: hidden tracks, and live ones that jumped
        waiting = [t for t in self.tracks if t.last_frame < frame]
        left = self._assign(frame, waiting, left, predictions, strict=False)
        for blob in left:
            track = Track(len(self.tracks))
            self._attach(track, frame, blob)
            self.tracks.append(track)

    def _attach(self, track: Track, frame: int, blob: Blob) -> None:
        track.blobs[frame] = blob
        track.looks = None
        track.last_color = blob.color
        track.centers[frame] = blob.center(track.half() or blob.half, track.shape() or blob.shape)

    def _assign(self, frame, tracks, blobs, predictions, strict: bool) -> list[Blob]:
        if not tracks or not blobs:
            return blobs
        cost = np.array(
            [[self._cost(t, b, predictions[t.id], frame, strict) for b in blobs] for t in tracks]
        )
        rows, cols = linear_sum_assignment(cost)
        used = set()
        for r, c in zip(rows, cols):
            if cost[r, c] < _NO_MATCH:
                self._attach(tracks[r], frame, blobs[c])
                used.add(c)
        return [b for i, b in enumerate(blobs) if i not in used]

    def _cost(
        self, track: Track, blob: Blob, predicted: np.ndarray, frame: int, strict: bool
    ) -> float:
        shape, half = track.shape(), track.half()
        # one frame's shape can be misread (a small square's corners blur): a penalty, not a veto
        reshape = (
            0.5 if shape is not None and blob.shape is not None and blob.shape != shape else 0.0
        )
        if half is not None and blob.half is not None and abs(np.log(blob.half / half)) > 0.25:
            return _NO_MATCH
        distance = float(np.hypot(*(np.array(blob.center(half, shape)) - predicted)))
        # a colour may change (a rule on contact) but only where nothing of the old colour fits
        recolor = 0.0 if blob.color == track.last_color else 0.5
        if strict:
            speed = float(np.hypot(*track.velocity()))
            gate = (half or 4.0) + 2.0 + 1.5 * speed  # a bounce reverses up to a frame's travel
            return distance / gate + recolor + reshape if distance < gate else _NO_MATCH
        if blob.color != track.last_color or reshape:
            return _NO_MATCH  # a hidden object comes back looking as it did
        return 1.0 + distance / 1000.0

    # -- fixing blobs with the predictions --------------------------------------------------------
    def _split_touching(self, blobs: list[Blob], predictions, frame: int) -> list[Blob]:
        """A shapeless blob that holds several same-coloured objects (touching, or a row of them
        entering together) is split into as many as its area and the predictions say. Only
        tracks seen in the last two frames count: a long-hidden one's prediction has drifted.
        A cluster of three can look like one big shape (a triangle, say): a shaped blob is split
        too when several tracks are predicted in it and it is far larger than any of them."""
        out = []
        for blob in blobs:
            inside = [
                t
                for t in self.tracks
                if t.last_color == blob.color
                and t.last_frame >= frame - 2
                and _contains(blob, predictions[t.id], 1.0)
            ]
            if blob.shape is not None and not _too_big_for_each(blob, inside):
                out.append(blob)
                continue
            single = self._single_object(blob, frame)
            k = len(inside)
            if single is not None:
                half, shape = single
                k = max(k, math.ceil(blob.area / (AREA_PER_R2[shape] * half**2) - 0.2))
            if k < 2:
                out.append(blob)
                continue
            half = single[0] if single else 4.0
            if len(inside) == k:  # each piece goes to the track predicted there, at its size
                seeds = np.array([predictions[t.id] for t in inside])
                radii = np.array([t.half() or half for t in inside])
            else:
                seeds, radii = _slice_seeds(blob, k), np.full(k, half)
            out += _lloyd_split(blob, seeds, radii)
        return out

    def _single_object(self, blob: Blob, frame: int) -> tuple[float, str] | None:
        """Half-extent and shape of one object of this blob's colour, if it can be told: the
        largest such track seen whole (the cautious choice: fewer splits), among those seen in the
        last two frames if any (an old misread, say a square taken for a larger circle, would cut
        two touching squares in three), else, for a row of
        objects (wide, one real object size tall, not cut at the top or bottom), its height."""
        known = [t for t in self.tracks if t.last_color == blob.color and t.half() is not None]
        known = [t for t in known if t.last_frame >= frame - 2] or known
        if known:
            track = max(known, key=lambda t: t.half())
            return track.half(), track.shape() or "circle"
        half = blob.height / 2
        sizes = self.config.half_sizes
        one_size = any(abs(half / h - 1) < 0.15 for h in sizes)
        if blob.clipped[1] or blob.clipped[3] or blob.width < 1.3 * blob.height or not one_size:
            return None
        fill = blob.area / max(blob.width * blob.height, 1e-6)
        return half, "square" if fill > 0.9 else "triangle" if fill < 0.62 else "circle"

    def _merge_pieces(self, blobs: list[Blob], predictions) -> list[Blob]:
        """Same-coloured pieces that together fit one track's box (cut by an occluder) are merged."""
        merged = True
        while merged:
            merged = False
            for i in range(len(blobs)):
                for j in range(i + 1, len(blobs)):
                    joined = self._join(blobs[i], blobs[j], predictions)
                    if joined is not None:
                        blobs = [b for k, b in enumerate(blobs) if k not in (i, j)] + [joined]
                        merged = True
                        break
                if merged:
                    break
        return blobs

    def _join(self, a: Blob, b: Blob, predictions) -> Blob | None:
        if a.color != b.color or (a.shape is not None and b.shape is not None):
            return None
        x0, y0 = min(a.extent[0], b.extent[0]), min(a.extent[1], b.extent[1])
        x1, y1 = max(a.extent[2], b.extent[2]), max(a.extent[3], b.extent[3])
        for track in self.tracks:
            half = track.half()
            if track.last_color != a.color or half is None:
                continue
            px, py = predictions[track.id]
            fits = x1 - x0 <= 2 * half + 2 and y1 - y0 <= 2 * half + 2
            if fits and x0 - 2 <= px <= x1 + 2 and y0 - 2 <= py <= y1 + 2:
                clipped = tuple(p or q for p, q in zip(a.clipped, b.clipped))
                joined = describe(
                    a.color,
                    np.concatenate([a.rows, b.rows]),
                    np.concatenate([a.cols, b.cols]),
                    np.concatenate([a.alpha, b.alpha]),
                    clipped,
                )
                joined.shape = None  # the gap between the pieces hides part of it
                return joined
        return None

    # -- results --------------------------------------------------------------------------------
    def finished_tracks(self, min_frames: int = 2) -> list[Track]:
        """Tracks seen in at least `min_frames` frames (one-frame flickers are noise), renumbered."""
        kept = [t for t in self.tracks if len(t.blobs) >= min_frames]
        kept.sort(key=lambda t: (t.first_frame, t.centers[t.first_frame][0]))
        for index, track in enumerate(kept):
            track.id = index
            for frame, blob in track.blobs.items():  # final centres with the track's shape and size
                track.centers[frame] = blob.center(track.half(), track.shape())
        return kept


def _slice_seeds(blob: Blob, k: int) -> np.ndarray:
    """k starting centres: the mass centres of k equal-mass slices along the blob's long axis."""
    points = np.stack([blob.cols + 0.5, blob.rows + 0.5], 1)  # (n, 2)
    axis = 0 if blob.width >= blob.height else 1
    order = np.argsort(points[:, axis])
    mass = np.cumsum(blob.alpha[order]) / blob.alpha.sum()
    slices = np.minimum((mass * k).astype(int), k - 1)
    return np.array(
        [
            np.average(points[order][slices == i], 0, blob.alpha[order][slices == i])
            if (slices == i).any()
            else points[order][0]
            for i in range(k)
        ]
    )


def _lloyd_split(
    blob: Blob, seeds: np.ndarray, radii: np.ndarray, iterations: int = 6
) -> list[Blob]:
    """Split a blob among seeds: each pixel to the nearest centre, centres to their pixels'
    mass centre, repeated; for equal touching objects the cut settles on the contact line. The
    distance is the power distance d^2 - r^2 (r: each object's half-extent), so a cut between a
    large and a small object falls where their rims meet rather than halfway between centres."""
    points = np.stack([blob.cols + 0.5, blob.rows + 0.5], 1)  # (n, 2)
    centers = np.array(seeds, np.float64)
    for _ in range(iterations):
        power = ((points[:, None, :] - centers[None]) ** 2).sum(-1) - radii[None] ** 2  # (n, k)
        nearest = np.argmin(power, 1)
        for i in range(len(centers)):
            mine = nearest == i
            if mine.any():
                centers[i] = np.average(points[mine], 0, blob.alpha[mine])
    pieces = []
    for i in range(len(centers)):
        keep = nearest == i
        if blob.alpha[keep].sum() >= 0.25 * radii[i] ** 2:
            pieces.append(
                describe(
                    blob.color, blob.rows[keep], blob.cols[keep], blob.alpha[keep], blob.clipped
                )
            )
    return pieces


def _too_big_for_each(blob: Blob, tracks: list[Track]) -> bool:
    """Whether a shaped blob is too large to be any one of two or more tracks (the same size
    tolerance as matching a blob to a track)."""
    halves = [t.half() for t in tracks if t.half() is not None]
    return (
        len(halves) >= 2
        and blob.half is not None
        and all(np.log(blob.half / h) > 0.25 for h in halves)
    )


def _contains(blob: Blob, point: np.ndarray, margin: float) -> bool:
    x0, y0, x1, y1 = blob.extent
    return x0 - margin <= point[0] <= x1 + margin and y0 - margin <= point[1] <= y1 + margin
