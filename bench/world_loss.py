"""The world model's flow loss on latent folders, every folder with the same noise and timesteps.

Tells whether a model has learned its training clips or the world: run it on a folder of clips
it trained on and on one of new clips of the same world, and on two checkpoints to see which
fits new clips better. Batches are drawn as the trainer draws them (buckets, per-frame noise,
conditioning masks, captions and short prompts), from a fixed seed, so the figures compare with
the training log's loss.

    python bench/world_loss.py --model src/minisora/pipeline/weights/default \
        --latents data/latents64-s2 data/latents64-s4 --batches 200

Folders encoded with object maps (since stop 38) also get the loss split by where it falls: over
the latent cells the world's objects cover (weighed by how much of the cell they cover) and over
the cells no object touches, the background.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from minisora.flow.loss import frame_view, velocity_errors
from minisora.pipeline.model import load_world_model
from minisora.train.buckets import BucketSampler
from minisora.train.config import TrainConfig
from minisora.train.shards import load_latents

MODES = "none=0.55,first=0.15,first_k=0.1,last=0.05,first_last=0.1,random=0.05"


def parse_modes(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in (item.split("=") for item in text.split(","))}


def _weighted(err: torch.Tensor, weight: torch.Tensor) -> tuple[float, float]:
    """(sum of err x weight, sum of weight) with weight (B, T', H', W') over err (B, C, T', H', W')."""
    w = weight[:, None].expand_as(err)
    return float((err * w).sum()), float(w.sum())


@torch.no_grad()
def folder_loss(dit: torch.nn.Module, latents: str, batches: int, config: TrainConfig) -> dict[str, float]:
    """Mean loss over `batches` training-style batches and its standard error, the clips, and,
    where the shards have object maps, the mean over object cells and over background cells."""
    clips, text, _ = load_latents(latents)
    maps = all(c.objects is not None for c in clips)
    sampler = BucketSampler(clips, text, replace(config, object_weight=1.0 if maps else 0.0), dit.config.patch)
    losses, parts = [], {"objects": [0.0, 0.0], "background": [0.0, 0.0]}
    for step in range(batches):
        b = sampler.batch(step)
        err = velocity_errors(lambda x, t, b=b: dit(x, t, b.text, b.text_mask), b.latents, b.noise, b.t, b.cond_mask)
        keep = frame_view((~b.cond_mask).float())[:, 0]  # (B, T', 1, 1): frames to generate
        total, norm = _weighted(err, keep.expand(err.shape[0], *err.shape[2:]))
        losses.append(total / max(norm, 1.0))  # the trainer's loss, unweighted
        if maps:
            cover = (b.weight - 1) * keep  # the share of each cell objects cover
            for name, weight in (("objects", cover), ("background", (cover == 0).float() * keep)):
                num, den = _weighted(err, weight)
                parts[name][0] += num
                parts[name][1] += den
    values = torch.tensor(losses)
    out = {"loss": float(values.mean()), "se": float(values.std() / len(losses) ** 0.5), "clips": len(clips)}
    out.update({name: num / den for name, (num, den) in parts.items() if den > 0})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=["src/minisora/pipeline/weights/default"])
    parser.add_argument("--latents", nargs="+", required=True)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--per-frame-noise", type=float, default=0.3)
    parser.add_argument("--condition-modes", default=MODES)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig(latents="-", per_frame_noise=args.per_frame_noise,
                         condition_modes=parse_modes(args.condition_modes), seed=args.seed).validate()
    print("| model | latents | clips | batches | loss | ± s.e. | object cells | background cells | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model in args.model:
        dit = load_world_model(model).dit
        for latents in args.latents:
            start = time.perf_counter()
            r = folder_loss(dit, latents, args.batches, config)
            split = " | ".join(f"{r[k]:.4f}" if k in r else "-" for k in ("objects", "background"))
            print(f"| {model} | {latents} | {r['clips']} | {args.batches} | {r['loss']:.4f} | {r['se']:.4f} | "
                  f"{split} | {time.perf_counter() - start:.0f} |", flush=True)


if __name__ == "__main__":
    main()
