"""The world model's flow loss on latent folders, every folder with the same noise and timesteps.

Tells whether a model has learned its training clips or the world: run it on a folder of clips
it trained on and on one of new clips of the same world, and on two checkpoints to see which
fits new clips better. Batches are drawn as the trainer draws them (buckets, per-frame noise,
conditioning masks, captions and short prompts), from a fixed seed, so the figures compare with
the training log's loss.

    python bench/world_loss.py --model src/minisora/pipeline/weights/default \
        --latents data/latents64-s2 data/latents64-s4 --batches 200
"""

from __future__ import annotations

import argparse
import time

import torch

from minisora.flow.loss import flow_loss
from minisora.pipeline.model import load_world_model
from minisora.train.buckets import BucketSampler
from minisora.train.config import TrainConfig
from minisora.train.shards import load_latents

MODES = "none=0.55,first=0.15,first_k=0.1,last=0.05,first_last=0.1,random=0.05"


def parse_modes(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in (item.split("=") for item in text.split(","))}


@torch.no_grad()
def folder_loss(dit: torch.nn.Module, latents: str, batches: int, config: TrainConfig) -> tuple[float, float, int]:
    """Mean loss over `batches` training-style batches, its standard error, and the clips."""
    clips, text, _ = load_latents(latents)
    sampler = BucketSampler(clips, text, config, dit.config.patch)
    losses = []
    for step in range(batches):
        b = sampler.batch(step)
        losses.append(float(flow_loss(lambda x, t, b=b: dit(x, t, b.text, b.text_mask), b.latents, b.noise, b.t,
                                      b.cond_mask)))
    values = torch.tensor(losses)
    return float(values.mean()), float(values.std() / len(losses) ** 0.5), len(clips)


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
    print("| model | latents | clips | batches | loss | ± s.e. | seconds |")
    print("|---|---|---|---|---|---|---|")
    for model in args.model:
        dit = load_world_model(model).dit
        for latents in args.latents:
            start = time.perf_counter()
            mean, err, count = folder_loss(dit, latents, args.batches, config)
            print(f"| {model} | {latents} | {count} | {args.batches} | {mean:.4f} | {err:.4f} | "
                  f"{time.perf_counter() - start:.0f} |", flush=True)


if __name__ == "__main__":
    main()
