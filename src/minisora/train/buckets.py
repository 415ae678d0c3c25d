"""Buckets of (frames, height, width) and the batch of every training step.

Clips of one spatial size go together; each bucket crops them to a prefix of T' latent frames.
A prefix of a causal autoencoder's latent is exactly the latent of the shorter clip, so one
4 s clip serves every duration, and its first latent frame is its first frame as an image
(joint image-video training). A bucket's batch size is the token budget divided by its tokens
per clip, so every step costs about the same.

Every random choice of step s on rank r comes from a generator seeded with (seed, s, r): the
batch, the noise and the timesteps are pure functions of the step, which is what makes a
resumed run reproduce the same loss trajectory without saving any RNG state.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from minisora.flow.timesteps import sample_timesteps, shift_for_tokens
from minisora.text.cache import EmbeddingCache
from minisora.text.encoder import NULL_CAPTION
from minisora.text.refine import caption_count
from minisora.train.config import TrainConfig
from minisora.train.masks import sample_condition_masks
from minisora.train.shards import LatentClip


@dataclass(frozen=True)
class Bucket:
    frames: int  # latent frames T'
    height: int  # latent H'
    width: int  # latent W'
    batch: int

    def tokens(self, patch: tuple[int, int, int]) -> int:
        return (self.frames // patch[0]) * (self.height // patch[1]) * (self.width // patch[2])


@dataclass
class Batch:
    latents: torch.Tensor  # (B, C, T', H', W') clean x0
    noise: torch.Tensor  # (B, C, T', H', W')
    t: torch.Tensor  # (B, T') per-frame times
    cond_mask: torch.Tensor  # (B, T') bool, True = clean conditioning frame
    text: torch.Tensor  # (B, L, D)
    text_mask: torch.Tensor  # (B, L) bool
    bucket: Bucket
    count: torch.Tensor  # (B,) long: objects the caption names, 0 = unknown (short prompts, no caption)
    weight: torch.Tensor | None = None  # (B, T', H', W') the loss weight of each latent cell, or None


def step_generator(seed: int, step: int, rank: int) -> torch.Generator:
    value = int(np.random.SeedSequence([seed, step, rank]).generate_state(1, dtype=np.uint64)[0])
    return torch.Generator().manual_seed(value % 2**63)


class BucketSampler:
    def __init__(self, clips: list[LatentClip], text: EmbeddingCache, config: TrainConfig,
                 patch: tuple[int, int, int]) -> None:
        if not clips:
            raise ValueError("no latent clips to train on")
        if config.object_weight > 0 and any(c.objects is None for c in clips):
            missing = sum(c.objects is None for c in clips)
            raise ValueError(f"--object-weight needs the shards' object maps, and {missing} of {len(clips)} "
                             "clips have none (latent folders encoded before stop 38): encode the world "
                             "folder again into a new --latents folder, or leave --object-weight out")
        self.clips, self.text, self.config, self.patch = clips, text, config, patch
        self.by_size: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, clip in enumerate(clips):
            self.by_size[tuple(clip.latent.shape[2:])].append(i)
        self.video_buckets, self.image_buckets = self._make_buckets()
        self._counts: dict[int, int] = {}  # clip -> objects its detailed caption names, read when first drawn

    def _make_buckets(self) -> tuple[list[Bucket], list[Bucket]]:
        cfg, videos, images = self.config, [], []
        for (h, w), members in sorted(self.by_size.items()):
            longest = min(self.clips[i].latent.shape[1] for i in members)
            for frames in sorted({f for f in cfg.video_frames if 1 < f <= longest}):
                videos.append(self._bucket(frames, h, w))
            images.append(self._bucket(1, h, w))
        if not videos and cfg.image_share < 1:
            raise ValueError(f"no clip is long enough for the video buckets {cfg.video_frames} (latent "
                             "frames); lower --video-frames or set --image-share 1")
        return videos, images

    def _bucket(self, frames: int, h: int, w: int) -> Bucket:
        for size, p in zip((frames, h, w), self.patch):
            if size % p:
                raise ValueError(f"latent grid {(frames, h, w)} is not divisible by the patch {self.patch}")
        tokens = Bucket(frames, h, w, 1).tokens(self.patch)
        batch = max(1, min(self.config.max_batch, self.config.tokens_per_batch // tokens))
        return Bucket(frames, h, w, batch)

    def pick_bucket(self, g: torch.Generator) -> Bucket:
        images = not self.video_buckets or float(torch.rand(1, generator=g)) < self.config.image_share
        pool = self.image_buckets if images else self.video_buckets
        # buckets of a size are drawn in proportion to how many clips have that size
        weights = torch.tensor([len(self.by_size[(b.height, b.width)]) for b in pool], dtype=torch.float64)
        return pool[int(torch.multinomial(weights, 1, generator=g))]

    def batch(self, step: int, rank: int = 0) -> Batch:
        cfg = self.config
        g = step_generator(cfg.seed, step, rank)
        bucket = self.pick_bucket(g)
        members = self.by_size[(bucket.height, bucket.width)]
        picks = torch.randint(0, len(members), (bucket.batch,), generator=g)
        indices = [members[int(i)] for i in picks]
        clips = [self.clips[i] for i in indices]
        latents = torch.stack([c.latent[:, : bucket.frames] for c in clips]).float()  # (B, C, T', H', W')
        captions = [self._caption(c, g) for c in clips]
        text, text_mask = self.text.get(captions)
        count = torch.tensor([self._count(i) if caption == self.clips[i].captions[0] else 0
                              for i, caption in zip(indices, captions)], dtype=torch.long)
        shift = shift_for_tokens(bucket.tokens(self.patch), cfg.n_ref_tokens)
        t = sample_timesteps(bucket.batch, bucket.frames, shift, cfg.per_frame_noise, generator=g)
        cond = sample_condition_masks(bucket.batch, bucket.frames, cfg.condition_modes, g)
        noise = torch.randn(latents.shape, generator=g)
        weight = None
        if cfg.object_weight > 0 and cfg.object_weight_from == "clip":
            cover = torch.stack([c.objects[: bucket.frames] for c in clips]).float() / 255  # (B, T', H', W')
            below = (t < cfg.object_weight_below).float()[:, :, None, None]  # (B, T', 1, 1)
            weight = 1 + cfg.object_weight * cover * below
        return Batch(latents, noise, t, cond, text, text_mask, bucket, count, weight)

    def _count(self, index: int) -> int:
        """Objects the clip's detailed caption names. Short prompts may leave objects out ("a ball
        bounces" over a ball and a square), so only the detailed caption is counted."""
        if index not in self._counts:
            self._counts[index] = caption_count(self.clips[index].captions[0]) if self.config.count_classes else 0
        return self._counts[index]

    def _caption(self, clip: LatentClip, g: torch.Generator) -> str:
        u = float(torch.rand(1, generator=g))
        if u < self.config.caption_dropout:
            return NULL_CAPTION
        if len(clip.captions) > 1 and u < self.config.caption_dropout + self.config.short_prompt_share:
            return clip.captions[1 + int(torch.randint(0, len(clip.captions) - 1, (1,), generator=g))]
        return clip.captions[0]
