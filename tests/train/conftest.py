"""A tiny latent folder (random latents, random caption embeddings) for trainer tests."""

from __future__ import annotations

import pytest
import torch

from minisora.text.cache import EmbeddingCache
from minisora.train.shards import LatentClip, write_latents

TEXT_DIM = 32  # the "tiny" DiT preset's text width


def make_latents(folder, n=6, channels=4, frames=5, sizes=((4, 4), (4, 6)), seed=0, flat=False, captions=None):
    """Random latents; with flat=True each clip is one colour per channel (easy to learn)."""
    g = torch.Generator().manual_seed(seed)
    captions = captions or [f"caption {i}" for i in range(n)]
    cache = EmbeddingCache()
    for i, caption in enumerate(["", *captions, *(f"prompt {i}" for i in range(n))]):
        cache.entries[caption] = torch.randn(2 + i % 4, TEXT_DIM, generator=g).half()
    clips = []
    for i in range(n):
        shape = (channels, frames, *sizes[i % len(sizes)])
        latent = torch.randn(channels, 1, 1, 1, generator=g).expand(shape) if flat else torch.randn(shape, generator=g)
        clips.append(LatentClip(latent.contiguous(), [captions[i], f"prompt {i}"]))
    return write_latents(folder, clips, cache, {"latent_channels": channels, "text_dim": TEXT_DIM},
                         shard_size=4)


@pytest.fixture
def latents_factory():
    return make_latents


@pytest.fixture
def tiny_latents(tmp_path):
    return make_latents(tmp_path / "latents")
