"""Does the Fréchet distance see what a video generator gets wrong? Its value against fresh world
renders, for renders (the floor) and for renders spoiled in one way each.

    OMP_NUM_THREADS=1 .venv/bin/python bench/frechet_sensitivity.py --n 128 --quality-videos 12

Two independent sets of `n` scenes are drawn from the world's sampler (seeds no encoder trained
on). Every video goes through the default MP4 round trip, as in `minisora eval`. The distance
between the two clean sets is the floor: a degradation the metric sees scores well above it.
Flicker and sharpness (the two per-video metrics beside the distance; slow to compute) are
averaged over the first `--quality-videos` videos of each set.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from minisora.eval.degrade import PIXEL_DEGRADATIONS, SCENE_DEGRADATIONS
from minisora.eval.encoder import WEIGHTS, load_encoder, video_features
from minisora.eval.quality import flicker, frechet_distance, sharpness
from minisora.media import read_video, write_mp4
from minisora.world import render_clip
from minisora.world.sampler import sample_scene

# the encoder's training saw blur and pixel noise of random strength (its fidelity objective);
# every other row is a degradation it never saw
SEEN_IN_TRAINING = ("blurred (sigma 1 px)", "noise (std 8 levels per frame)")
REFERENCE_SEED = 7_000_000  # far from the encoder's training seeds (0 ..)
OTHER_SEED = 8_000_000


def round_trip(frames: np.ndarray, fps: float, folder: Path) -> np.ndarray:
    path = write_mp4(folder / "clip.mp4", frames, fps)
    return read_video(path, with_audio=False).frames


def measure(encoder, specs, spoil, folder: Path, quality_videos: int) -> dict:
    """Features, flicker and sharpness of the set `spoil(spec) -> frames` after an MP4 round trip."""
    feats, flick, sharp = [], [], []
    for k, spec in enumerate(specs):
        frames = round_trip(spoil(spec), spec.fps, folder)
        feats.append(video_features(encoder, frames))
        if k < quality_videos:
            flick.append(flicker(frames))
            sharp.append(sharpness(frames))
    return {"features": np.stack(feats), "flicker": np.mean(flick), "sharpness": np.mean(sharp)}


def frames_of(spec) -> np.ndarray:
    return render_clip(spec, with_audio=False).frames


def sensitivity(encoder, n: int, quality_videos: int) -> list[tuple[str, float, float, float]]:
    """(set, Fréchet distance to the reference renders, flicker, sharpness) per set."""
    reference = [sample_scene(REFERENCE_SEED + k) for k in range(n)]
    other = [sample_scene(OTHER_SEED + k) for k in range(n)]
    sets = {"renders (the floor)": lambda spec: frames_of(spec)}
    for name, pixels in PIXEL_DEGRADATIONS.items():
        sets[name] = lambda spec, pixels=pixels: pixels(frames_of(spec))
    for name, scene in SCENE_DEGRADATIONS.items():
        sets[name] = lambda spec, scene=scene: frames_of(scene(spec))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ref = measure(encoder, reference, frames_of, Path(tmp), quality_videos)
        rows.append(("reference renders (itself)", 0.0, ref["flicker"], ref["sharpness"]))
        for name, spoil in sets.items():
            got = measure(encoder, other, spoil, Path(tmp), quality_videos)
            distance = frechet_distance(ref["features"], got["features"])
            rows.append((name, distance, got["flicker"], got["sharpness"]))
    return rows


def print_table(rows, n: int, weights: Path, seconds: float) -> None:
    floor = rows[1][1]
    print(
        f"Fréchet distance to {n} reference renders, {n} videos per set, encoder {weights} "
        f"({seconds:.0f} s)"
    )
    print("| videos | seen in training | Fréchet distance | × floor | flicker | sharpness |")
    print("|---|---|---:|---:|---:|---:|")
    for name, distance, flick, sharp in rows:
        ratio = f"{distance / floor:.1f}" if floor > 0 else "n/a"
        seen = "yes" if name in SEEN_IN_TRAINING else "no"
        print(f"| {name} | {seen} | {distance:.2f} | {ratio} | {flick:.2f} | {sharp:.3f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=128, help="videos per set")
    parser.add_argument("--quality-videos", type=int, default=12, help="per set, for flicker")
    parser.add_argument("--weights", type=Path, default=WEIGHTS, help="encoder folder")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    start = time.time()
    rows = sensitivity(load_encoder(args.weights), args.n, args.quality_videos)
    print_table(rows, args.n, args.weights, time.time() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
