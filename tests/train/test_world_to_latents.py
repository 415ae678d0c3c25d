"""The whole data path: a `world make` folder -> VAE encode + text cache -> latent shards -> training."""

from __future__ import annotations

import shutil

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
    # each clip's object map: where the annotations put an object, and nowhere else
    from minisora.world.torch_dataset import WorldClipDataset

    data = WorldClipDataset(world, with_audio=False)
    for clip, index in zip(clips, range(len(data))):
        assert clip.objects is not None and clip.objects.shape == (3, 8, 8) and clip.objects.dtype == torch.uint8
        first = data[index]["annotations"]["frames"][0]["objects"]
        inside = torch.zeros(8, 8, dtype=torch.bool)
        for obj in first:
            x0, y0, x1, y1 = obj["box"]
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            if obj["visible"] > 0 and 0 <= cx < 32 and 0 <= cy < 32:
                assert clip.objects[0, int(cy // 4), int(cx // 4)] > 0  # the cell of its centre is covered
            inside[max(0, int(y0 // 4)):max(0, int(-(-y1 // 4))), max(0, int(x0 // 4)):max(0, int(-(-x1 // 4)))] = True
        assert not clip.objects[0][~inside].any()  # no cover outside every box
    # a second call finds the finished folder and encodes nothing
    assert ensure_latents(tmp_path / "latents", world, vae, progress=False) == latents
    # killed after its last shards but before the text cache was saved: the resume fills it in
    import json

    from minisora.train.shards import MANIFEST, TEXT_CACHE, EmbeddingCache, read_shard

    shutil.copytree(latents, tmp_path / "killed")
    manifest_path = tmp_path / "killed" / MANIFEST
    manifest_path.write_text(json.dumps({**json.loads(manifest_path.read_text()), "complete": False}))
    (tmp_path / "killed" / TEXT_CACHE).unlink()
    (tmp_path / "killed" / "shard_00000.safetensors").unlink()
    ensure_latents(tmp_path / "killed", world, vae, progress=False)
    cache = EmbeddingCache.load(tmp_path / "killed" / TEXT_CACHE)
    shards = sorted((tmp_path / "killed").glob("shard_*"))
    assert len(shards) == 1 and all(c in cache for s in shards for clip in read_shard(s) for c in clip.captions)

    cfg = TrainConfig(latents=str(latents), out=str(tmp_path / "run"), preset="tiny", steps=2,
                      video_frames=(3,), tokens_per_batch=64, checkpoint_every=2, progress=False)
    records = Trainer(cfg).run()
    assert len(records) == 2 and all(torch.isfinite(torch.tensor(r["loss"])) for r in records)
    # weighted by the object maps: the batch carries 1 + W x cover, and it trains
    from minisora.train.buckets import BucketSampler
    from minisora.train.loop import model_config

    weighted = TrainConfig(**{**cfg.__dict__, "out": str(tmp_path / "run-w"), "object_weight": 4.0})
    batch = BucketSampler(clips, text, weighted, model_config(weighted, manifest).patch).batch(0)
    assert batch.weight is not None and batch.weight.shape == (batch.latents.shape[0], *batch.latents.shape[2:])
    assert batch.weight.min() == 1.0 and 1.0 < batch.weight.max() <= 5.0
    # only below a noise level: frames at t >= 0.5 weigh 1 everywhere, the others as before
    gated = TrainConfig(**{**weighted.__dict__, "object_weight_below": 0.5})
    samplers = [BucketSampler(clips, text, c, model_config(c, manifest).patch) for c in (weighted, gated)]
    step = next(s for s in range(100) if 0 < int((samplers[0].batch(s).t >= 0.5).sum()) < samplers[0].batch(s).t.numel())
    full, half = (sampler.batch(step) for sampler in samplers)  # a batch with frames on both sides of 0.5
    high = half.t >= 0.5
    assert torch.equal(half.t, full.t) and (half.weight[high] == 1).all() and (full.weight[high] > 1).any()
    assert torch.equal(half.weight[~high], full.weight[~high])
    records = Trainer(weighted).run()
    assert len(records) == 2 and all(torch.isfinite(torch.tensor(r["loss"])) for r in records)
    # weighted by the model's own prediction: no weight in the batch; the run fits the cover
    # probe once, keeps it in its folder, and reads it back when it resumes
    predicted = TrainConfig(**{**weighted.__dict__, "out": str(tmp_path / "run-p"), "object_weight_from": "prediction"})
    assert BucketSampler(clips, text, predicted, model_config(predicted, manifest).patch).batch(0).weight is None
    trainer = Trainer(predicted)
    assert trainer.weight_fn is not None and (tmp_path / "run-p" / "cover_probe.safetensors").is_file()
    records = trainer.run()
    assert len(records) == 2 and all(torch.isfinite(torch.tensor(r["loss"])) for r in records)
    again = Trainer(TrainConfig(**{**predicted.__dict__, "steps": 3}))
    x = torch.randn(2, 4, 3, 8, 8)
    t, v = torch.full((2, 3), 0.3), torch.randn(2, 4, 3, 8, 8)
    assert torch.equal(again.weight_fn(x, t, v), trainer.weight_fn(x, t, v))
