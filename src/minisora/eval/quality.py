"""Distribution and image-quality metrics: Fréchet video distance on the world encoder's
features (FVD-style, Unterthiner et al. 2019, with an encoder trained on world clips instead of
I3D on Kinetics), temporal flicker and edge sharpness.

The Fréchet distance between two sets is only meaningful next to its floor: the distance
between two independent sets of ground-truth renders of the same prompts. Both are reported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from minisora.eval.segment import unmix
from minisora.media import read_video
from minisora.world.spec import GROUND_HEIGHT

REFERENCE_SEED_OFFSET = 10_000  # reference renders use seeds the run itself never uses


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets a (N, D) and b (M, D)."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Fréchet distance needs at least 2 videos on each side")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr sqrt(A B) = tr sqrt(A^1/2 B A^1/2), a symmetric PSD matrix: stable even when singular
    values, vectors = np.linalg.eigh(cov_a)
    half = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(half @ cov_b @ half), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def flicker(frames: np.ndarray) -> float:
    """Mean absolute change (RGB levels) between consecutive frames over the sky where no object
    is in either frame: a steady world has ~0 there (codec noise only), so anything more is
    flicker."""
    if len(frames) < 2:
        return 0.0
    height = frames.shape[1]
    sky = slice(
        0, height - int(GROUND_HEIGHT * min(frames.shape[1:3])) - 1
    )  # the ground scrolls in pans
    empty = np.stack([unmix(f)[1] < 0.05 for f in frames])[:, sky]  # (T, H', W)
    still = empty[1:] & empty[:-1]
    change = np.abs(frames[1:, sky].astype(np.float32) - frames[:-1, sky].astype(np.float32)).mean(
        -1
    )
    return float(change[still].mean()) if still.any() else 0.0


def sharpness(frames: np.ndarray, every: int = 4) -> float:
    """Inverse edge width (1/px): object area over the partly covered pixels at its rim, scaled
    by the rim length a disc of that area would have. An anti-aliased edge is ~1 px wide (~1.0);
    blur widens it and lowers the score."""
    partial, perimeter = 0.0, 0.0
    for frame in frames[::every]:
        _, alpha = unmix(frame)
        solid = float((alpha >= 0.9).sum())
        if solid < 4:
            continue
        partial += float(((alpha > 0.1) & (alpha < 0.9)).sum())
        perimeter += 2 * np.sqrt(np.pi * float(alpha.sum()))
    return float(perimeter / partial) if partial else 0.0


def video_quality(path: Path) -> dict[str, float]:
    frames = read_video(path, with_audio=False).frames
    return {"flicker": flicker(frames), "sharpness": sharpness(frames)}


def distribution_metrics(videos: list[Path], cases: list) -> dict[str, float]:
    """Flicker and sharpness averaged over the videos; the Fréchet distance to as many fresh
    renders of the same prompts (`cases`, one per video), and its floor: a second such set of
    renders against the first. Both sides always go through the same MP4 round trip."""
    from minisora.eval.encoder import load_encoder, render_features, video_features

    quality = [video_quality(v) for v in videos]
    out = {
        "flicker": float(np.mean([q["flicker"] for q in quality])),
        "sharpness": float(np.mean([q["sharpness"] for q in quality])),
    }
    if len(videos) < 2:
        return out  # a covariance needs two videos
    encoder = load_encoder()
    generated = np.stack(
        [video_features(encoder, read_video(v, with_audio=False).frames) for v in videos]
    )
    reference = render_features(encoder, cases, REFERENCE_SEED_OFFSET)
    floor = render_features(encoder, cases, 2 * REFERENCE_SEED_OFFSET)
    out["frechet_distance"] = frechet_distance(generated, reference)
    out["frechet_floor_render_vs_render"] = frechet_distance(floor, reference)
    return out
