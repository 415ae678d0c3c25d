"""Checkpoint folders and shipped weights.

A training checkpoint is a folder `step_XXXXXXX/` holding config.json (the VAE config),
model.safetensors, ema.safetensors, optimizer.pt and state.json (step, train config, log), and
with an adversarial term discriminator.safetensors and disc_optimizer.pt.
It is written under a temporary name and renamed into place, so a folder with the final name
is always complete. Shipped weights are config.json + model.safetensors (bf16), loaded strictly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from minisora.autoencoder.config import VAEConfig
from minisora.autoencoder.model import VideoVAE
from minisora.media.atomic import atomic_folder

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "default"
CHECKPOINT_PREFIX = "step_"


def _tensors(module_or_state: torch.nn.Module | dict[str, torch.Tensor], dtype: torch.dtype | None
             ) -> dict[str, torch.Tensor]:
    state = module_or_state.state_dict() if isinstance(module_or_state, torch.nn.Module) else module_or_state
    return {k: (v.to(dtype) if dtype is not None else v).contiguous() for k, v in state.items()}


def save_checkpoint(run_dir: str | Path, step: int, model: VideoVAE, ema: dict[str, torch.Tensor],
                    optimizer: torch.optim.Optimizer, state: dict[str, Any], keep: int = 2,
                    discriminator: torch.nn.Module | None = None,
                    disc_optimizer: torch.optim.Optimizer | None = None) -> Path:
    """Write run_dir/step_XXXXXXX atomically (with the discriminator and its optimizer when the
    run has an adversarial term); keep the newest `keep` checkpoints."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    final = run_dir / f"{CHECKPOINT_PREFIX}{step:07d}"
    with atomic_folder(final) as tmp:
        model.config.save(tmp / "config.json")
        save_file(_tensors(model, None), str(tmp / "model.safetensors"))
        save_file(_tensors(ema, None), str(tmp / "ema.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        if discriminator is not None and disc_optimizer is not None:
            save_file(_tensors(discriminator, None), str(tmp / "discriminator.safetensors"))
            torch.save(disc_optimizer.state_dict(), tmp / "disc_optimizer.pt")
        (tmp / "state.json").write_text(json.dumps({**state, "step": step}, indent=1) + "\n")
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old)
    return final


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoint folders of a run, oldest first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    return sorted(p for p in run_dir.iterdir() if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX))


def load_checkpoint(folder: str | Path) -> tuple[VideoVAE, dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """(model, ema weights, optimizer state dict, state.json) of a training checkpoint."""
    folder = Path(folder)
    model = VideoVAE(VAEConfig.load(folder / "config.json"))
    model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=True)
    ema = load_file(str(folder / "ema.safetensors"))
    optimizer_state = torch.load(folder / "optimizer.pt", weights_only=True)
    state = json.loads((folder / "state.json").read_text())
    return model, ema, optimizer_state, state


def load_discriminator(folder: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """(weights, optimizer state) of a checkpoint's discriminator, or None if it has none."""
    folder = Path(folder)
    if not (folder / "discriminator.safetensors").is_file():
        return None
    return load_file(str(folder / "discriminator.safetensors")), torch.load(folder / "disc_optimizer.pt",
                                                                            weights_only=True)


def save_weights(model: VideoVAE, folder: str | Path, dtype: torch.dtype = torch.bfloat16) -> Path:
    """Shippable weights: config.json + model.safetensors in `dtype`, written atomically."""
    folder = Path(folder)
    with atomic_folder(folder) as tmp:
        model.config.save(tmp / "config.json")
        save_file(_tensors(model, dtype), str(tmp / "model.safetensors"))
    return folder


def load_vae(folder: str | Path | None = None, dtype: torch.dtype = torch.float32) -> VideoVAE:
    """Load shipped weights (default: the trained default in the package), strictly, in eval mode."""
    folder = Path(folder) if folder is not None else DEFAULT_WEIGHTS
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"{folder}: no VAE weights here (need config.json + model.safetensors)")
    model = VideoVAE(VAEConfig.load(folder / "config.json"))
    weights = {k: v.float() for k, v in load_file(str(folder / "model.safetensors")).items()}
    model.load_state_dict(weights, strict=True)
    return model.to(dtype).eval()


def latent_fingerprint(folder: str | Path | None = None) -> str:
    """sha256 of what fixes a weights folder's latent space: its encoder's tensors and the latent
    normalisation. A decoder fine-tuned with --freeze-encoder keeps it, so models trained on
    the latents (the sound model) stay valid."""
    import hashlib

    from safetensors import safe_open

    folder = Path(folder) if folder is not None else DEFAULT_WEIGHTS
    config = VAEConfig.load(folder / "config.json")
    digest = hashlib.sha256(json.dumps([config.latent_shift, config.latent_scale]).encode())
    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        for name in sorted(k for k in f.keys() if k.startswith("encoder.")):  # noqa: SIM118
            tensor = f.get_tensor(name)
            digest.update(f"{name}{tensor.dtype}{tuple(tensor.shape)}".encode())
            digest.update(tensor.contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
