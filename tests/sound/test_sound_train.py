"""train-sound: the cache, checkpoints, exact resume, export and the autoencoder fingerprint."""

from __future__ import annotations

import json
import shutil
import warnings

import pytest
import torch
from safetensors.torch import load_file

from minisora.sound.config import SoundConfig
from minisora.sound.train import SoundTrainConfig, crop_window, export_weights, train_sound
from minisora.sound.weights import VAEMismatchWarning, load_sound_model


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    from minisora.sound.cache import build_cache
    from minisora.sound.config import SOUND_PRESETS

    root = tmp_path_factory.mktemp("cache")
    tiny = SOUND_PRESETS["tiny"]
    build_cache(root, 3, seed=0, mel=tiny.mel, log=lambda m: None, grid=tiny.frame_grid)
    return root


def config(run, cache, steps):
    return SoundTrainConfig(run_dir=str(run), cache=str(cache), clips=3, preset="tiny", steps=steps, batch=2,
                            checkpoint_every=2, log_every=1, warmup=2)


def test_a_resumed_run_equals_an_uninterrupted_one(cache, tmp_path):
    whole = train_sound(config(tmp_path / "run", cache, 4), log=lambda m: None)
    kept = {name: load_file(str(whole / name)) for name in ("model.safetensors", "ema.safetensors")}
    shutil.rmtree(whole)  # as if killed after the step-2 checkpoint
    resumed = train_sound(config(tmp_path / "run", cache, 4), log=lambda m: None)
    assert resumed.name == whole.name == "step_0000004"
    for name, a in kept.items():
        b = load_file(str(resumed / name))
        assert all(torch.equal(a[k], b[k]) for k in a)
    log = json.loads((resumed / "state.json").read_text())["log"]
    assert [e["step"] for e in log] == [1, 2, 3, 4] and all(e["loss"] > 0 for e in log)


def test_export_ships_bf16_ema_that_loads_and_knows_its_autoencoder(cache, tmp_path):
    from minisora.sound.cache import vae_fingerprint

    last = train_sound(config(tmp_path / "run", cache, 2), log=lambda m: None)
    out = export_weights(last, tmp_path / "weights")
    assert {p.name for p in out.iterdir()} == {"config.json", "model.safetensors"}
    assert all(v.dtype == torch.bfloat16 for v in load_file(str(out / "model.safetensors")).values())
    assert SoundConfig.load(out / "config.json").vae_fingerprint == vae_fingerprint()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_sound_model(out)  # the installed autoencoder: no warning
    cfg = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**cfg, "vae_fingerprint": "0" * 64}))
    with pytest.warns(VAEMismatchWarning, match="retrain"):
        load_sound_model(out)


def test_a_crop_hears_exactly_its_latent_frames():
    cfg = SoundConfig()
    assert crop_window(17, 0, 9, 16.0, cfg) == (0, 204)  # frames 0-32: 0 .. 2.06 s
    start, frames = crop_window(17, 8, 9, 16.0, cfg)  # frames 29-64: 1.8125 .. 4.0625 s
    assert start == 182 and frames == 224 and frames % cfg.mel_patch == 0


def test_another_mel_in_the_same_cache_is_refused(cache):
    from minisora.sound.cache import build_cache

    with pytest.raises(ValueError, match="another mel"):
        build_cache(cache, 3, mel=SoundConfig().mel)


def test_frame_convolutions_are_added_to_weights_without_them(cache, tmp_path):
    """--frame-conv with --init-from weights that lack them: the run starts from those weights
    (every shared tensor equal at step 0) with the convolutions added; weights of another
    architecture are refused with what differs."""
    from dataclasses import replace

    from minisora.sound.train import start_or_resume

    last = train_sound(config(tmp_path / "run", cache, 2), log=lambda m: None)
    out = export_weights(last, tmp_path / "weights")
    shipped = load_file(str(out / "model.safetensors"))
    added = replace(config(tmp_path / "conv", cache, 2), init_from=str(out), model={"frame_conv": 4, "conv_grid": 8})
    model, _, _, step, _ = start_or_resume(added, SoundConfig.load(out / "config.json").vae_fingerprint)
    state = model.state_dict()
    assert step == 0 and model.config.frame_conv == 4
    assert all(torch.equal(state[k], v.float()) for k, v in shipped.items())
    assert any(k.startswith("frame_encoder.") for k in state)
    trained = train_sound(added, log=lambda m: None)  # builds the 8 x 8 grids it reads
    assert "seen_mlp.2.weight" in load_file(str(trained / "model.safetensors"))
    other = replace(config(tmp_path / "wide", cache, 2), init_from=str(out), model={"width": 64, "heads": 4})
    with pytest.raises(ValueError, match="another architecture"):
        train_sound(other, log=lambda m: None)


def test_a_colour_model_trains_on_colour_grids_from_the_cache(cache, tmp_path):
    """--frame-colors 3: the cache adds the clips' colour grids beside the luma ones, and a run
    trains, checkpoints and exports a model that reads them."""
    from dataclasses import replace

    run = replace(config(tmp_path / "rgb", cache, 2), model={"frame_conv": 4, "conv_grid": 8, "frame_colors": 3})
    last = train_sound(run, log=lambda m: None)
    frames = torch.load(cache / "frames-g8-rgb" / "frames_0000.pt")
    assert frames[0].shape[1:] == (3, 8, 8) and (cache / "frames-g4").is_dir()
    model = load_sound_model(export_weights(last, tmp_path / "rgb-weights"))
    assert model.config.frame_colors == 3 and model.frame_encoder.convs[0].in_channels == 6
