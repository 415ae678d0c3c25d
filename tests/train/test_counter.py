"""`minisora train-counter`: a count reader fitted on a real encoded world folder, and bad pairings."""

from __future__ import annotations

import json

import pytest
import torch

from minisora.autoencoder.checkpoint import save_weights
from minisora.autoencoder.config import VAE_PRESETS
from minisora.autoencoder.model import VideoVAE
from minisora.pipeline.layout import COUNT_READER, load_count_reader
from minisora.train.counter import count_examples, world_counts
from minisora.train.shards import ensure_latents


def test_train_counter_fits_on_encoded_world_clips_and_refuses_bad_pairs(tmp_path, capsys):
    from minisora.cli import main
    from minisora.world.dataset import make_dataset

    world = make_dataset(tmp_path / "world", n=3, seed=0, workers=1, size=(32, 32), seconds=0.5,
                         shard_size=2, progress=False)
    torch.manual_seed(0)
    vae = save_weights(VideoVAE(VAE_PRESETS["tiny"]), tmp_path / "vae")
    latents = ensure_latents(tmp_path / "latents", world, vae, progress=False)

    # every latent frame is an example, labelled with the objects in sight in the frame it ends on
    (x, y), = count_examples(str(latents), str(world))[0]  # one frame size: one group
    assert x.shape == (3 * 3, 4, 8, 8) and y.shape == (9,)  # 9 frames -> 3 latent frames, 32 px / 4
    items = world_counts(world)
    assert y.tolist() == [float(counts[f]) for _, counts in items for f in (0, 4, 8)]
    first = json.loads(sorted(world.glob("shard_*/*.json"))[0].read_text())["annotations"]["frames"][0]
    assert y[0] == sum(o["visible"] >= 0.5 for o in first["objects"])

    model = tmp_path / "model"
    model.mkdir()
    assert main(["train-counter", "--latents", str(latents), "--world", str(world), "--model", str(model),
                 "--steps", "20", "--threads", "1"]) == 0
    space = VideoVAE(VAE_PRESETS["tiny"]).config.latent_space()
    reader = load_count_reader(model, space)
    assert reader is not None and (model / COUNT_READER).is_file()
    assert reader.frames(x.reshape(3, 3, 4, 8, 8).transpose(1, 2)).shape == (3, 3)

    other = make_dataset(tmp_path / "other", n=2, seed=1, workers=1, size=(32, 32), seconds=0.5,
                         shard_size=2, progress=False)
    with pytest.raises(ValueError, match="holds 3 clips but .* 2: was it encoded from that world folder"):
        count_examples(str(latents), str(other))
    with pytest.raises(ValueError, match="1 latent folders but 2 world folders"):
        count_examples(str(latents), f"{world},{other}")
    assert main(["train-counter", "--latents", str(latents), "--world", str(tmp_path / "vae"), "--model",
                 str(model), "--steps", "1"]) == 2
    assert "no manifest.json; make one with `minisora world make" in capsys.readouterr().err
