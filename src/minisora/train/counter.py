"""Fit a world model's count reader (pipeline/layout.py) on encoded world clips.

Every latent frame of every clip is an example: its latents and how many objects the world's
ground truth shows in the video frame it ends on (latent frame 0 is frame 0, latent frame j the
frames 4j - 3 .. 4j: frame 4j), counting an object whose visible share is at least a half (one
behind a screen is not in the picture). The clips come from latent folders made by `minisora
train --world W --latents L --steps 0` and the world folders they were encoded from.

    minisora train-counter --latents data/latents64-s6,data/latents64-s7 \
        --world data/world64-s6,data/world64-s7 --model src/minisora/pipeline/weights/default
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from minisora.pipeline.layout import CountReader, save_count_reader

VISIBLE = 0.5  # an object counts in a frame when at least this share of it is in sight


def frame_counts(annotations: dict[str, Any]) -> list[int]:
    """Objects in sight in each video frame of a clip's ground truth."""
    return [sum(o["visible"] >= VISIBLE for o in frame["objects"]) for frame in annotations["frames"]]


def world_counts(world: str | Path) -> list[tuple[str, list[int]]]:
    """(caption, objects per frame) for every clip of a `world make` folder, in the order its
    reader (and so the latent encoder) lists them."""
    from minisora.world.torch_dataset import WorldClipDataset

    data = WorldClipDataset(world, with_audio=False)
    items = []
    for index in range(len(data)):
        record = data.record(index)
        if "annotations" not in record:
            raise ValueError(f"{data.items[index]}.json has no ground-truth annotations: make the world folder again")
        items.append((record["caption"], frame_counts(record["annotations"])))
    return items


def count_examples(latents: str, world: str) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], dict[str, Any]]:
    """[(x (N, C, H', W') latent frames, y (N,) their object counts) for each latent frame size]
    and the first latent folder's manifest, from comma-separated latent folders and the world
    folders they were encoded from, paired in order (each clip's caption must be its world clip's)."""
    from minisora.train.shards import latent_folders, load_latents

    folders, worlds = latent_folders(latents), [w for w in world.split(",") if w]
    if len(folders) != len(worlds):
        raise ValueError(f"{len(folders)} latent folders but {len(worlds)} world folders: give the world "
                         "folder each latent folder was encoded from, in the same order")
    by_size: dict[tuple[int, ...], tuple[list[torch.Tensor], list[int]]] = {}
    manifest = None
    for folder, source in zip(folders, worlds):
        clips, _, info = load_latents(folder)
        manifest = manifest or info
        items = world_counts(source)
        if len(items) != len(clips):
            raise ValueError(f"{folder} holds {len(clips)} clips but {source} {len(items)}: was it encoded "
                             "from that world folder?")
        for clip, (caption, counts) in zip(clips, items):
            if clip.captions[0] != caption:
                raise ValueError(f"{folder} and {source} list different clips (captions differ): was it "
                                 "encoded from that world folder?")
            xs, ys = by_size.setdefault(tuple(clip.latent.shape[2:]), ([], []))
            for j in range(clip.latent.shape[1]):
                frame = 0 if j == 0 else 4 * j
                if frame < len(counts):
                    xs.append(clip.latent[:, j].float())
                    ys.append(counts[frame])
    groups = [(torch.stack(xs), torch.tensor(ys, dtype=torch.float32)) for xs, ys in by_size.values()]
    return groups, manifest


def fit_count_reader(groups: list[tuple[torch.Tensor, torch.Tensor]], steps: int = 6000, batch: int = 256,
                     lr: float = 2e-3, width: int = 64, seed: int = 0, held_out: float = 0.1
                     ) -> tuple[CountReader, dict[str, float]]:
    """Fit on latent frames and their counts, one (x (N, C, H', W'), y (N,)) group per frame size,
    a share of each held out. Each step's batch comes from one size, chosen in proportion to its
    frames, mirrored left to right half the time (the world is the same mirrored). Returns the
    reader (eval mode) and its held-out fit: the share of frames it counts right when rounded,
    and its mean miss."""
    gen = torch.Generator().manual_seed(seed)
    splits = []
    for x, _ in groups:
        if len(x) < 2:
            raise ValueError(f"{len(x)} latent frame(s) of one size to fit a count reader on: give more clips")
        order = torch.randperm(len(x), generator=gen)
        tested = max(1, int(held_out * len(x)))
        splits.append((order[tested:], order[:tested]))
    share = torch.tensor([len(train) for train, _ in splits], dtype=torch.float)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        reader = CountReader(groups[0][0].shape[1], width)
    optimizer = torch.optim.AdamW(reader.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps)
    for _ in range(steps):
        g = int(torch.multinomial(share, 1, generator=gen))
        (x, y), (train, _) = groups[g], splits[g]
        pick = train[torch.randint(len(train), (batch,), generator=gen)]
        z = x[pick]
        if torch.rand((), generator=gen) < 0.5:
            z = z.flip(-1)
        loss = nn.functional.mse_loss(reader(z), y[pick])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    reader.eval().requires_grad_(False)
    estimates, truths = [], []
    with torch.no_grad():
        for (x, y), (_, test) in zip(groups, splits):
            estimates += [reader(x[test[i:i + 4096]]) for i in range(0, len(test), 4096)]
            truths.append(y[test])
    estimate, truth = torch.cat(estimates), torch.cat(truths)
    fit = {"frames": float(sum(len(x) for x, _ in groups)), "held_out": float(len(truth)),
           "right": (estimate.round() == truth).float().mean().item(), "miss": (estimate - truth).abs().mean().item()}
    return reader, fit


def train_counter(latents: str, world: str, model: str | Path, steps: int = 6000, seed: int = 0) -> dict[str, float]:
    """Fit a count reader on the clips and write it into the model folder (count_reader.safetensors)."""
    from minisora.autoencoder.config import VAEConfig

    folder = Path(model)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder: give the world model folder the reader goes with")
    groups, manifest = count_examples(latents, world)
    reader, fit = fit_count_reader(groups, steps=steps, seed=seed)
    space = VAEConfig.from_dict(manifest["vae_config"]).latent_space()
    save_count_reader(reader, folder, space, fit)
    return fit
