"""Loading the sound model's weights: the shipped default or any exported / checkpoint folder.

The model hears the video through the autoencoder's latents, so it only makes sense with the
autoencoder it was trained on. Its config records the fingerprint of that autoencoder's latent
space (its encoder and normalisation); loading warns when the installed autoencoder's differs.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from safetensors.torch import load_file

from minisora.sound.config import SoundConfig
from minisora.sound.model import SoundDiT

DEFAULT_SOUND = Path(__file__).parent / "weights" / "default"


class VAEMismatchWarning(UserWarning):
    """The sound model was trained on another autoencoder's latents."""


def find_sound_weights(folder: Path) -> tuple[Path, str]:
    """(folder with config.json, weights file): exported weights, a checkpoint, or a run folder."""
    if (folder / "config.json").is_file():
        for name in ("ema.safetensors", "model.safetensors"):  # a checkpoint's EMA is what ships
            if (folder / name).is_file():
                return folder, name
    steps = sorted(p for p in folder.glob("step_*") if (p / "ema.safetensors").is_file())
    if steps:
        return steps[-1], "ema.safetensors"
    raise FileNotFoundError(f"{folder}: no sound model here (config.json + model.safetensors, a "
                            f"checkpoint, or a run folder of `minisora train-sound`)")


def load_sound_model(folder: str | Path | None = None, vae_folder: str | Path | None = None) -> SoundDiT:
    """The sound model in eval mode (float32), loaded strictly; warns on an autoencoder mismatch."""
    from minisora.sound.cache import vae_fingerprint

    weights_dir, name = find_sound_weights(Path(folder) if folder is not None else DEFAULT_SOUND)
    model = SoundDiT(SoundConfig.load(weights_dir / "config.json"))
    tensors = {k: v.float() for k, v in load_file(str(weights_dir / name)).items()}
    model.load_state_dict(tensors, strict=True)
    trained_on, installed = model.config.vae_fingerprint, vae_fingerprint(vae_folder)
    if trained_on and trained_on != installed:
        warnings.warn(f"the sound model in {weights_dir} was trained on the latents of autoencoder "
                      f"{trained_on[:12]}, but the autoencoder installed is {installed[:12]}: its sound "
                      f"will not follow the video; retrain it with `minisora train-sound`",
                      VAEMismatchWarning, stacklevel=2)
    return model.eval()


def has_default_sound() -> bool:
    return (DEFAULT_SOUND / "config.json").is_file() and (DEFAULT_SOUND / "model.safetensors").is_file()


