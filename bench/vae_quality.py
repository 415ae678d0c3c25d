"""Autoencoder reconstruction quality on held-out world clips, per aspect ratio.

PSNR (peak = full range) and SSIM (11x11 Gaussian, per frame) of encode -> decode with the
posterior mean, on held-out 4 s clips at 16 fps. When the world analyzer (minisora.eval) is
installed, it also reports how often it reads the same thing from the reconstruction as from
the original: object count per frame; each whole object's shape and colour; and the clip's
objects as (shape, colour) tracks. Where the error is: the share of the squared error on pixels
that move (they change from the frame before or after, within 1 px) and on the edges of what
stands still; the rest is flat background.
Usage:

    .venv/bin/python bench/vae_quality.py [--weights DIR] [--clips 200] [--other-clips 25]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np
import torch
from scipy import ndimage

from minisora.autoencoder import load_vae
from minisora.autoencoder.clips import ASPECT_SIZES, clip_spec, render_pixels
from minisora.autoencoder.losses import psnr_per_clip, ssim_per_frame


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """(1, 3, T, H, W) in [-1, 1] -> (T, H, W, 3) uint8."""
    return ((video[0].permute(1, 2, 3, 0) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()


def error_regions(original: torch.Tensor, recon: torch.Tensor) -> dict[str, float]:
    """Squared error (sum) and pixel counts on moving pixels, on still edges and on the flat rest,
    for (1, 3, T, H, W) videos in [-1, 1]. Moving: the original changes from the frame before or
    after (summed over channels > 0.05), dilated by 1 px; edges: a spatial step > 0.1, dilated."""
    x = original[0].float().numpy()
    error = ((recon[0].float() - original[0].float()) ** 2).mean(0).numpy()  # (T, H, W)
    change = np.abs(np.diff(x, axis=1)).sum(0) > 0.05  # (T - 1, H, W)
    moving = np.zeros(error.shape, dtype=bool)
    moving[1:] |= change
    moving[:-1] |= change
    step = (np.abs(np.diff(x, axis=2, prepend=x[:, :, :1])).sum(0)
            + np.abs(np.diff(x, axis=3, prepend=x[:, :, :, :1])).sum(0)) > 0.1
    near = np.ones((1, 3, 3), dtype=bool)
    moving = ndimage.binary_dilation(moving, structure=near)
    edges = ndimage.binary_dilation(step, structure=near) & ~moving
    return {"moving_error": float(error[moving].sum()), "edge_error": float(error[edges].sum()),
            "total_error": float(error.sum()), "moving_pixels": float(moving.sum()), "pixels": float(error.size)}


def analyzer_agreement(original: np.ndarray, recon: np.ndarray, fps: int) -> dict[str, float] | None:
    """What the analyzer reads alike in both, or None without it: `count` (share of frames with
    the same object count), `clip_objects` (the clip's (shape, colour) tracks all the same: one
    track broken for 3 frames fails a clip), and per whole object of each original frame, the
    share found in the reconstruction within 2 px (`found`) and, of those, with the same shape
    (`shape`) and colour (`colour`)."""
    try:
        from minisora.eval.analyzer import analyze
    except ImportError:
        return None
    a, b = analyze(original, fps), analyze(recon, fps)
    counts = float(np.mean([x == y for x, y in zip(a.counts(), b.counts())]))

    def objects(analysis) -> Counter:
        return Counter((t.shape, Counter(t.colors.values()).most_common(1)[0][0]) for t in analysis.tracks
                       if t.frames_seen >= 3)

    found = shape = colour = total = 0
    for seen, read in zip(a.frames, b.frames):
        for obj in (o for o in seen if o.whole):
            total += 1
            distance, match = min(((np.hypot(r.centroid[0] - obj.centroid[0], r.centroid[1] - obj.centroid[1]), r)
                                   for r in read), key=lambda pair: pair[0], default=(np.inf, None))
            if distance <= 2.0:
                found += 1
                shape += match.shape == obj.shape
                colour += match.color == obj.color
    return {"count": counts, "clip_objects": float(objects(a) == objects(b)), "objects": total,
            "found": found, "shape": shape, "colour": colour}


def score_aspect(model, aspect: str, clips: int, analyzer_clips: int) -> dict[str, float]:
    size = ASPECT_SIZES[aspect]
    psnr, ssim, readings, regions = [], [], [], []
    for index in range(clips):
        spec = clip_spec(index, "heldout", size)
        video = render_pixels(spec).unsqueeze(0)
        recon = model.decode(model.encode(video))
        psnr.append(psnr_per_clip(recon, video).item())
        ssim.append(ssim_per_frame(recon, video).mean().item())
        regions.append(error_regions(video, recon.clamp(-1, 1)))
        agreement = analyzer_agreement(to_uint8(video), to_uint8(recon), spec.fps) if index < analyzer_clips else None
        if agreement is not None:
            readings.append(agreement)
    p = np.array(psnr)
    row = {"size": f"{size[0]}x{size[1]}", "clips": clips, "psnr": p.mean(), "psnr_p5": np.percentile(p, 5),
           "ssim": float(np.mean(ssim)), "ssim_min": float(np.min(ssim))}
    where = {k: sum(r[k] for r in regions) for k in regions[0]}
    row |= {"moving_pixels": where["moving_pixels"] / where["pixels"],
            "moving_error": where["moving_error"] / where["total_error"],
            "edge_error": where["edge_error"] / where["total_error"]}
    if readings:
        total = {k: sum(r[k] for r in readings) for k in ("objects", "found", "shape", "colour")}
        row |= {"count": float(np.mean([r["count"] for r in readings])),
                "clip_objects": float(np.mean([r["clip_objects"] for r in readings])),
                "found": total["found"] / max(total["objects"], 1),
                "shape": total["shape"] / max(total["found"], 1), "colour": total["colour"] / max(total["found"], 1)}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="default: the shipped weights")
    parser.add_argument("--clips", type=int, default=200, help="held-out 64x64 clips")
    parser.add_argument("--other-clips", type=int, default=25, help="held-out clips per other aspect")
    parser.add_argument("--analyzer-clips", type=int, default=40,
                        help="the analyzer reads the first N clips of each aspect (it takes ~1 s a clip)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_vae(args.weights)
    cfg = model.config
    print(f"VAE f{cfg.spatial_factor} c{cfg.latent_channels} width {cfg.width}: held-out 4 s clips, 16 fps, fp32 decode")
    print(f"analyzer columns (original vs reconstruction, first {args.analyzer_clips} clips): frames with the "
          "same object count; whole objects found within 2 px, and of those the same shape and colour; clips "
          "whose (shape, colour) tracks are all the same; share of the squared error on moving pixels (their "
          "share of all pixels) and on still edges")
    print("| aspect | size | clips | PSNR (dB) | PSNR p5 | SSIM | SSIM min | count | found | shape | colour "
          "| clip objects | error on moving (pixels) | on still edges |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    started = time.time()
    for aspect in ASPECT_SIZES:
        clips = args.clips if aspect == "1:1" else args.other_clips
        if clips <= 0:
            continue
        r = score_aspect(model, aspect, clips, args.analyzer_clips)
        extra = (" | ".join(f"{r[k] * 100:.1f}%" for k in ("count", "found", "shape", "colour", "clip_objects"))
                 if "count" in r else " | ".join(["n/a"] * 5))
        print(f"| {aspect} | {r['size']} | {r['clips']} | {r['psnr']:.2f} | {r['psnr_p5']:.2f} | "
              f"{r['ssim']:.4f} | {r['ssim_min']:.4f} | {extra} | {r['moving_error'] * 100:.0f}% "
              f"({r['moving_pixels'] * 100:.1f}%) | {r['edge_error'] * 100:.0f}% |", flush=True)
    print(f"goals: PSNR >= 38 dB, SSIM >= 0.97, analyzer >= 99%  ({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
