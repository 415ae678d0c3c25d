"""Loading the trainer's folders: run folder, checkpoint (EMA weights), exported weights."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from minisora.pipeline import GenerationError, load_world_model
from minisora.train.checkpoint import export_weights, load_checkpoint


def test_run_folder_checkpoint_and_export_load_the_same_weights(model_folder, tmp_path):
    from_run = load_world_model(model_folder)
    checkpoint = model_folder / "step_0000001"
    from_checkpoint = load_world_model(checkpoint)
    exported = export_weights(checkpoint, tmp_path / "weights", dtype=torch.float32)
    shutil.copytree(model_folder / "vae", exported / "vae")
    from_export = load_world_model(exported)
    assert from_run.folder == checkpoint and from_run.name == "minisora-tiny"
    ema = load_checkpoint(checkpoint)["ema"]
    for model in (from_run, from_checkpoint, from_export):
        state = model.dit.state_dict()
        assert all(torch.equal(state[k], ema[k]) for k in ema)
        assert model.vae.config.latent_scale == [0.5, 1.5, 1.0, 2.0]
        assert not model.dit.training and model.text.dim == 384


def test_a_model_with_another_autoencoder_is_refused(model_folder, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(model_folder, run)
    config_path = run / "vae" / "config.json"
    config = json.loads(config_path.read_text())
    config["latent_scale"] = [1.0, 1.0, 1.0, 1.0]
    config_path.write_text(json.dumps(config))
    with pytest.raises(GenerationError, match="another autoencoder"):
        load_world_model(run)


def test_a_fine_tuned_decoder_keeps_the_model_valid(model_folder, tmp_path):
    """A model records its autoencoder's config; one trained before the decoder gained settings
    (or with another decoder) still loads: only the settings that fix the latents must match."""
    run = tmp_path / "run"
    shutil.copytree(model_folder, run)
    state_path = run / "step_0000001" / "state.json"
    state = json.loads(state_path.read_text())
    recorded = state["vae_config"]
    for key in ("detail_width", "detail_blocks"):  # as recorded by a model trained before they existed
        recorded.pop(key)
    recorded["decoder_blocks"] += 1
    state_path.write_text(json.dumps(state))
    assert load_world_model(run).vae.config.decoder_blocks == recorded["decoder_blocks"] - 1
    recorded["latent_channels"] = 8
    recorded["latent_shift"], recorded["latent_scale"] = [], []
    state_path.write_text(json.dumps(state))
    with pytest.raises(GenerationError, match="another autoencoder"):
        load_world_model(run)


def test_incomplete_checkpoint(model_folder, tmp_path):
    folder = tmp_path / "step_0000002"
    folder.mkdir()
    shutil.copy(model_folder / "step_0000001" / "config.json", folder)
    with pytest.raises(GenerationError, match="no weights"):
        load_world_model(folder)
