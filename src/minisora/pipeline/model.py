"""Loading a world model for generation: the DiT, its autoencoder and its text encoder.

A model folder is what `minisora train` writes, in any of three forms:

    runs/world-s/                 a run folder: its newest step_XXXXXXX/ checkpoint is used
    runs/world-s/step_0001000/    a checkpoint: config.json + ema.safetensors (the EMA ships)
                                  + state.json (text encoder, the latents' VAE config, ...)
    weights/                      exported weights: config.json + model.safetensors
                                  (+ text_encoder.json)

The autoencoder comes from a `vae/` folder inside the model folder (or beside its checkpoints),
else from the packaged default VAE weights. The VAE config recorded when the latents were made
(normalisation included) must match the autoencoder loaded: a model decoded by another
autoencoder would give noise, so a mismatch is an error, not a warning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from minisora.autoencoder.checkpoint import DEFAULT_WEIGHTS as DEFAULT_VAE
from minisora.autoencoder.checkpoint import load_vae
from minisora.autoencoder.config import VAEConfig
from minisora.autoencoder.model import VideoVAE
from minisora.dit.config import DiTConfig
from minisora.dit.model import DiT
from minisora.pipeline.config import GenerationError
from minisora.pipeline.layout import CountReader, load_count_reader
from minisora.text.encoder import TextEncoder, TextEncoderConfig

# where the shipped default world model goes (config.json + model.safetensors + text_encoder.json,
# and its autoencoder in vae/ unless it is the packaged default one)
DEFAULT_MODEL = Path(__file__).parent / "weights" / "default"
TRAIN_HINT = (
    "train one: `minisora world make --n 2000 --out data/world`, then `minisora train --world "
    "data/world --latents data/latents --out runs/world-s` (hours on 2 cores; checkpoints appear "
    "as it goes), then pass `--model runs/world-s`"
)


@dataclass
class WorldModel:
    dit: DiT
    vae: VideoVAE
    text: TextEncoder
    name: str  # what the provenance manifest calls the model
    folder: Path  # the weights actually loaded
    n_ref_tokens: int = 256  # the token count at which the trainer's timestep shift was 1
    counter: CountReader | None = None  # reads how many objects a latent holds (layout search)

    @property
    def size_multiple(self) -> int:
        """Output width and height must be multiples of this (VAE downsampling x DiT patch)."""
        patch = max(self.dit.config.patch[1], self.dit.config.patch[2])
        return max(16, self.vae.config.spatial_factor * patch)


def find_weights(folder: Path) -> tuple[Path, str, dict[str, Any]]:
    """(folder holding config.json, weights file name, training state or {}) for a model folder."""
    if not folder.exists():
        raise GenerationError(f"no world model at {folder} (no such folder); {TRAIN_HINT}")
    steps = sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("step_"))
    if steps and not (folder / "config.json").is_file():
        folder = steps[-1]
    if not (folder / "config.json").is_file():
        raise GenerationError(f"{folder} holds no world model (no config.json, no step_* checkpoints); "
                              f"{TRAIN_HINT}")
    state_path = folder / "state.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    for name in ("ema.safetensors", "model.safetensors"):
        if (folder / name).is_file():
            return folder, name, state
    raise GenerationError(f"{folder} has a config.json but no weights (ema.safetensors or "
                          "model.safetensors); the checkpoint is incomplete")


def load_world_model(folder: str | Path | None = None, vae: str | Path | None = None,
                     device: str | torch.device = "cpu") -> WorldModel:
    """Load a model folder (default: the shipped one), strictly, in eval mode."""
    if folder is None:
        if not (DEFAULT_MODEL / "config.json").is_file():
            raise GenerationError(
                f"no default world model is shipped with this install yet ({DEFAULT_MODEL} is empty): "
                f"it takes hours of training. Pass --model DIR with a model you trained, or {TRAIN_HINT}")
        folder = DEFAULT_MODEL
    weights_dir, weights_name, state = find_weights(Path(folder))
    dit = DiT(DiTConfig.load(weights_dir / "config.json"))
    tensors = {k: v.float() for k, v in load_file(str(weights_dir / weights_name)).items()}
    try:
        dit.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise GenerationError(f"{weights_dir / weights_name} does not fit its config.json: {exc}") from None
    autoencoder = _load_autoencoder(weights_dir, vae, state)
    text = _load_text_encoder(weights_dir, state, dit.config)
    if autoencoder.config.latent_channels != dit.config.latent_channels:
        raise GenerationError(
            f"the autoencoder makes {autoencoder.config.latent_channels}-channel latents but the model "
            f"at {weights_dir} expects {dit.config.latent_channels}; pass --vae with the autoencoder "
            "the model was trained with")
    preset = state.get("train", {}).get("preset", weights_dir.name)
    counter = _load_count_reader(weights_dir, autoencoder)
    return WorldModel(dit=dit.to(device).eval(), vae=autoencoder.to(device).eval(), text=text,
                      name=f"minisora-{preset}", folder=weights_dir,
                      n_ref_tokens=int(state.get("train", {}).get("n_ref_tokens", 256)),
                      counter=None if counter is None else counter.to(device))


def _load_count_reader(weights_dir: Path, autoencoder: VideoVAE) -> CountReader | None:
    """The count reader beside the weights (or in the run folder above a checkpoint), if any."""
    for folder in (weights_dir, weights_dir.parent):
        try:
            reader = load_count_reader(folder, autoencoder.config.latent_space())
        except ValueError as exc:
            raise GenerationError(str(exc)) from None
        if reader is not None:
            return reader
    return None


def _load_autoencoder(weights_dir: Path, vae: str | Path | None, state: dict[str, Any]) -> VideoVAE:
    candidates = [Path(vae)] if vae is not None else [
        weights_dir / "vae", weights_dir.parent / "vae", DEFAULT_VAE]
    folder = next((c for c in candidates if (c / "config.json").is_file()), None)
    if folder is None:
        raise GenerationError(
            f"no autoencoder weights found (looked in {', '.join(str(c) for c in candidates)}); "
            "pass --vae DIR (train one with `minisora train-vae`)")
    model = load_vae(folder)
    recorded = state.get("vae_config")
    if recorded and VAEConfig.from_dict(recorded).latent_space() != model.config.latent_space():
        raise GenerationError(
            f"the model was trained on latents of another autoencoder than {folder} (their configs or "
            "latent normalisation differ); pass --vae with the autoencoder its latents came from")
    return model


def _load_text_encoder(weights_dir: Path, state: dict[str, Any], config: DiTConfig) -> TextEncoder:
    settings = state.get("text_encoder")
    path = weights_dir / "text_encoder.json"
    if settings is None and path.is_file():
        settings = json.loads(path.read_text())
    encoder = TextEncoder(TextEncoderConfig(**(settings or {})))
    if encoder.dim != config.text_dim:
        raise GenerationError(
            f"the text encoder gives {encoder.dim}-wide tokens but the model at {weights_dir} takes "
            f"{config.text_dim}; its text_encoder settings ({settings or 'default'}) do not match it")
    return encoder
