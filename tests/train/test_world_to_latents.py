"""The whole data path: a `world make` folder -> VAE encode + text cache -> latent shards -> training."""

from __future__ import annotations

import torch

from minisora.autoencoder.checkpoint import save_weights
from minisora.autoencoder.config import VAE_PRESETS
from minisora.autoencoder.model import VideoVAE
from minisora.train.config import TrainConfig
from minisora.train.loop import Trainer
from minisora.train.shards import ensure_latents, load_latents


def test_world_clips_encode_once_and_train(tmp_path):
    from minisora.world.dataset import make_dataset

    world = make_dataset(tmp_path / "world", n=3, seed=0, workers=1, size=(32, 32), seconds=0.5,
                         shard_size=2, progress=False)
    torch.manual_seed(0)
    vae = save_weights(VideoVAE(VAE_PRESETS["tiny"]), tmp_path / "vae")
    latents = ensure_latents(tmp_path / "latents", world, vae, progress=False)

    clips, text, manifest = load_latents(latents)
    assert manifest["latent_channels"] == 4 and manifest["text_dim"] == 384
    assert [tuple(c.latent.shape) for c in clips] == [(4, 3, 8, 8)] * 3  # 9 frames -> 3, 32 px / 4
    assert all(c in text for clip in clips for c in clip.captions) and "" in text
    assert len(clips[0].captions) > 1  # the detailed caption and the short prompts
    # a second call finds the finished folder and encodes nothing
    assert ensure_latents(tmp_path / "latents", world, vae, progress=False) == latents

    cfg = TrainConfig(latents=str(latents), out=str(tmp_path / "run"), preset="tiny", steps=2,
                      video_frames=(3,), tokens_per_batch=64, checkpoint_every=2, progress=False)
    records = Trainer(cfg).run()
    assert len(records) == 2 and all(torch.isfinite(torch.tensor(r["loss"])) for r in records)
