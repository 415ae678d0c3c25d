"""How well the world analyzer recovers ground truth from MP4 round trips of held-out renders.

    .venv/bin/python bench/analyzer_accuracy.py --n 500

Each clip is rendered, written as MP4 (H.264 yuv444p CRF 18 + AAC, the default), read back and
analyzed; detections are matched to ground truth per frame by centroid (Hungarian, gate = the
object's half-extent). Scoring of partly visible objects (visible = share of the object's box
inside the frame and not behind an occluder):
  - an object with visible >= 0.5 must be detected (a miss otherwise); one with 0 < visible < 0.5
    may be detected or not (a detection matched to it is neither right nor wrong);
  - colour is scored on every matched object with visible >= 0.5; shape and size on those too
    if the object is whole in some frame of the clip (they are the track's, so a half-hidden
    object keeps what it showed when whole; one never seen whole has no shape to recover);
  - centroids are scored on whole objects only (visible = 1): the centre of a cut object is an
    extrapolation from its size, reported separately;
  - contacts with a normal speed >= 0.5 units/s (a velocity jump of >= 0.8 units/s) must be found
    within one frame if the object is whole in view (visible = 1) in the two frames on each side
    (a velocity is measured from whole views: a jump of a half-hidden object, or one after the
    last frame, cannot be); weaker or hidden ones may be found or not;
  - onsets: a contact within 20 ms of the previous one is part of its event (the ear and the
    detector hear one onset); every event must be found within 10 ms.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from minisora.eval.analyzer import analyze
from minisora.media import read_video, write_mp4
from minisora.world import render_clip
from minisora.world.spec import SIZES

MUST_SEE = 0.5
CONTACT_SPEED = 0.5
ONSET_TOL = 0.010
ONSET_MERGE = 0.020


def heldout_scenes(n: int, seed: int):
    """Held-out scenes from the world's sampler (its held-out split), or random scenes without it."""
    try:
        from minisora.world.sampler import sample_scene
    except ImportError:
        print("(world.sampler not available: using this bench's own random scenes)")
        rng = np.random.default_rng(seed)
        for _ in range(n):
            yield random_scene(rng)
        return
    for k in range(n):
        yield sample_scene(seed + k, split="heldout")


def random_scene(rng: np.random.Generator):
    """1-6 random objects thrown in a 64x64 view; sometimes an occluder, a pan, a colour rule."""
    from minisora.world.spec import (
        BACKGROUNDS,
        MATERIALS,
        PALETTE,
        SHAPES,
        ObjectSpec,
        Occluder,
        Rule,
        SceneSpec,
        SpecError,
    )

    while True:
        objects = []
        for _ in range(int(rng.integers(1, 7))):
            objects.append(
                ObjectSpec(
                    shape=str(rng.choice(SHAPES)),
                    color=str(rng.choice(list(PALETTE))),
                    size=str(rng.choice(list(SIZES))),
                    material=str(rng.choice(list(MATERIALS))),
                    x=float(rng.uniform(0.15, 0.85)),
                    y=float(rng.uniform(0.3, 0.85)),
                    vx=float(rng.uniform(-0.6, 0.6)),
                    vy=float(rng.uniform(-0.3, 0.6)),
                )
            )
        spec = SceneSpec(
            background=str(rng.choice(list(BACKGROUNDS))),
            objects=objects,
            camera_pan=float(rng.choice([0.0, 0.0, 0.12, -0.12])),
            occluders=[Occluder(x=float(rng.uniform(0.2, 0.6)), y=0.0, width=0.14, height=0.6)]
            if rng.random() < 0.3
            else [],
            rules=[Rule(target=0, color=str(rng.choice(list(PALETTE))))]
            if rng.random() < 0.3
            else [],
        )
        try:
            return spec.validate()
        except SpecError:
            continue


def score_clip(clip, analysis, stats: dict) -> None:
    ann = clip.annotations()
    fps = clip.fps
    scale = clip.spec.scale
    track_of: dict[int, list[int]] = {}
    seen_whole = {o["id"] for f in ann["frames"] for o in f["objects"] if o["visible"] >= 0.999}
    for t, frame in enumerate(ann["frames"]):
        gts = frame["objects"]
        dets = analysis.frames[t]
        cost = np.full((len(gts), len(dets)), 1e6)
        for i, g in enumerate(gts):
            gate = SIZES[g["size"]] * scale
            for j, d in enumerate(dets):
                dist = np.hypot(d.centroid[0] - g["centroid"][0], d.centroid[1] - g["centroid"][1])
                if dist < gate and g["visible"] > 0:
                    cost[i, j] = dist
        rows, cols = linear_sum_assignment(cost) if len(gts) and len(dets) else ([], [])
        matched = {r: c for r, c in zip(rows, cols) if cost[r, c] < 1e6}
        misses = sum(1 for i, g in enumerate(gts) if g["visible"] >= MUST_SEE and i not in matched)
        false = len(dets) - len(matched)
        stats["count"].append(misses == 0 and false == 0)
        for i, j in matched.items():
            g, d = gts[i], dets[j]
            if g["visible"] < MUST_SEE:
                continue
            stats["color"].append(d.color == g["color"])
            if g["id"] in seen_whole:
                stats["shape"].append(d.shape == g["shape"])
                stats["size"].append(d.size == g["size"])
            err = float(
                np.hypot(d.centroid[0] - g["centroid"][0], d.centroid[1] - g["centroid"][1])
            )
            (stats["centroid"] if g["visible"] >= 0.999 else stats["centroid_partial"]).append(err)
            track_of.setdefault(g["id"], []).append(d.track)
    for ids in track_of.values():
        stats["identity"].append(len(set(ids)) == 1)
    score_contacts(clip, ann, analysis, stats, fps)
    score_onsets(clip, analysis, stats)


def score_contacts(clip, ann, analysis, stats, fps) -> None:
    found = [c.time for c in analysis.contacts]
    every = [c["time"] for c in ann["contacts"]]
    n = len(ann["frames"])
    for c in ann["contacts"]:
        k = int(c["time"] * fps)  # the contact falls between frames k and k + 1
        around = range(k - 1, k + 3)
        whole = all(
            0 <= f < n and ann["frames"][f]["objects"][c["a"]]["visible"] >= 0.999 for f in around
        )
        if c["speed"] >= CONTACT_SPEED and whole:
            stats["contact_recall"].append(any(abs(t - c["time"]) <= 1 / fps for t in found))
    for t in found:
        stats["contact_precision"].append(any(abs(t - g) <= 1 / fps for g in every))


def score_onsets(clip, analysis, stats) -> None:
    times = sorted(c.time for c in clip.trajectory.contacts)
    # a contact within 20 ms of the one before is heard as part of the same event
    merged = [t for i, t in enumerate(times) if i == 0 or t - times[i - 1] > ONSET_MERGE]
    found = [o.time for o in analysis.onsets]
    for t in merged:
        near = [abs(o - t) for o in found]
        ok = bool(near) and min(near) <= ONSET_TOL
        stats["onset_recall"].append(ok)
        if ok:
            stats["onset_error_ms"].append(1000 * min(near))
    every = sorted(c.time for c in clip.trajectory.contacts)
    for o in found:
        stats["onset_precision"].append(any(abs(o - t) <= ONSET_TOL for t in every))


def print_table(stats: dict, n_clips: int, seconds: float) -> None:
    def pct(key):
        v = stats[key]
        return f"{100 * np.mean(v):6.2f}%" if v else "   n/a"

    cent = np.array(stats["centroid"] or [np.nan])
    part = np.array(stats["centroid_partial"] or [np.nan])
    onset_err = np.array(stats["onset_error_ms"] or [np.nan])
    rows = [
        ("frames: count right", pct("count"), len(stats["count"]), ">= 99%"),
        ("objects: colour right", pct("color"), len(stats["color"]), ">= 99%"),
        ("objects: shape right", pct("shape"), len(stats["shape"]), ">= 99%"),
        ("objects: size right", pct("size"), len(stats["size"]), ""),
        (
            "whole objects: centroid <= 1 px",
            f"{100 * np.mean(cent <= 1):6.2f}%",
            cent.size,
            ">= 99%",
        ),
        (
            "  centroid error mean / p99 (px)",
            f"{np.nanmean(cent):.3f} / {np.nanpercentile(cent, 99):.3f}",
            "",
            "",
        ),
        ("cut objects: centroid <= 1 px", f"{100 * np.mean(part <= 1):6.2f}%", part.size, ""),
        ("identities kept (no switch)", pct("identity"), len(stats["identity"]), ""),
        (
            "contacts found within 1 frame",
            pct("contact_recall"),
            len(stats["contact_recall"]),
            ">= 99%",
        ),
        (
            "found contacts that are real",
            pct("contact_precision"),
            len(stats["contact_precision"]),
            "",
        ),
        ("onsets found within 10 ms", pct("onset_recall"), len(stats["onset_recall"]), ">= 99%"),
        (
            "  onset error mean / max (ms)",
            f"{np.nanmean(onset_err):.2f} / {np.nanmax(onset_err):.2f}",
            "",
            "",
        ),
        ("found onsets that are real", pct("onset_precision"), len(stats["onset_precision"]), ""),
        (
            "analyze() per clip, mean / max (s)",
            f"{np.mean(stats['analyze_s']):.3f} / {np.max(stats['analyze_s']):.3f}",
            len(stats["analyze_s"]),
            "",
        ),
    ]
    print(
        f"analyzer accuracy on {n_clips} held-out clips after an MP4 round trip ({seconds:.0f} s)"
    )
    print(f"| {'measure':34s} | {'value':>15s} | {'n':>7s} | goal   |")
    print(f"|{'-' * 36}|{'-' * 17}|{'-' * 9}|--------|")
    for name, value, count, goal in rows:
        print(f"| {name:34s} | {value:>15s} | {count!s:>7s} | {goal:6s} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    keys = (
        "count",
        "color",
        "shape",
        "size",
        "centroid",
        "centroid_partial",
        "identity",
        "contact_recall",
        "contact_precision",
        "onset_recall",
        "onset_error_ms",
        "onset_precision",
        "analyze_s",
    )
    stats: dict[str, list] = {k: [] for k in keys}
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        for spec in heldout_scenes(args.n, args.seed):
            clip = render_clip(spec)
            write_mp4(path, clip.frames, clip.fps, clip.audio)
            video = read_video(path)
            started = time.time()
            analysis = analyze(video.frames, video.fps, video.audio, video.sample_rate)
            stats["analyze_s"].append(time.time() - started)
            score_clip(clip, analysis, stats)
    print_table(stats, args.n, time.time() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
