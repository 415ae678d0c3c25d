"""Checkpoint folders of a world model run, written atomically.

    out/step_0001000/  config.json (DiT config), model.safetensors, ema.safetensors,
                       optimizer.pt, state.json (step, train config, text encoder, latents info)

A folder is written under a temporary name and renamed into place, so a folder with a final
name is always complete: kill -9 at any moment loses at most the steps since the last one.
Shipped weights are config.json + model.safetensors (the EMA, bf16), loaded strictly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from minisora.dit.config import DiTConfig
from minisora.dit.model import DiT
from minisora.media.atomic import atomic_folder

PREFIX = "step_"


def _contiguous(state: dict[str, torch.Tensor], dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    return {k: (v if dtype is None else v.to(dtype)).detach().cpu().contiguous() for k, v in state.items()}


def save_checkpoint(out: str | Path, step: int, model_state: dict[str, torch.Tensor], config: DiTConfig,
                    ema_state: dict[str, torch.Tensor], optimizer_state: dict[str, Any],
                    state: dict[str, Any], keep: int = 2) -> Path:
    """Write out/step_XXXXXXX atomically and keep the newest `keep` checkpoints."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final = out / f"{PREFIX}{step:07d}"
    with atomic_folder(final) as tmp:
        config.save(tmp / "config.json")
        save_file(_contiguous(model_state), str(tmp / "model.safetensors"))
        save_file(_contiguous(ema_state), str(tmp / "ema.safetensors"))
        torch.save(optimizer_state, tmp / "optimizer.pt")
        (tmp / "state.json").write_text(json.dumps({**state, "step": step}, indent=1) + "\n")
    for old in list_checkpoints(out)[:-keep]:
        shutil.rmtree(old)
    return final


def list_checkpoints(out: str | Path) -> list[Path]:
    """Complete checkpoint folders, oldest first (temporary folders are ignored)."""
    out = Path(out)
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir() if p.is_dir() and p.name.startswith(PREFIX))


def load_checkpoint(folder: str | Path) -> dict[str, Any]:
    """{config, model, ema, optimizer, state} of a training checkpoint folder."""
    folder = Path(folder)
    return {
        "config": DiTConfig.load(folder / "config.json"),
        "model": load_file(str(folder / "model.safetensors")),
        "ema": load_file(str(folder / "ema.safetensors")),
        "optimizer": torch.load(folder / "optimizer.pt", weights_only=True),
        "state": json.loads((folder / "state.json").read_text()),
    }


def export_weights(checkpoint: str | Path, folder: str | Path, dtype: torch.dtype = torch.bfloat16) -> Path:
    """Shippable weights from a checkpoint's EMA: config.json + model.safetensors in `dtype`."""
    checkpoint, folder = Path(checkpoint), Path(folder)
    with atomic_folder(folder) as tmp:
        shutil.copy(checkpoint / "config.json", tmp / "config.json")
        save_file(_contiguous(load_file(str(checkpoint / "ema.safetensors")), dtype), str(tmp / "model.safetensors"))
        state = json.loads((checkpoint / "state.json").read_text())
        (tmp / "text_encoder.json").write_text(json.dumps(state.get("text_encoder", {}), indent=1) + "\n")
        # what loading needs besides the weights: the preset (the model's name), the timestep
        # shift's reference, and the autoencoder whose latents it learned (checked on load)
        train = state.get("train", {})
        kept = {"step": state.get("step"), "vae_config": state.get("vae_config"),
                "text_encoder": state.get("text_encoder", {}),
                "train": {k: train[k] for k in ("preset", "n_ref_tokens", "steps", "lr") if k in train}}
        (tmp / "state.json").write_text(json.dumps(kept, indent=1) + "\n")
    return folder


def load_dit(folder: str | Path, dtype: torch.dtype = torch.float32) -> DiT:
    """Load config.json + model.safetensors strictly, in eval mode."""
    folder = Path(folder)
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"{folder}: no DiT weights here (need config.json + model.safetensors)")
    model = DiT(DiTConfig.load(folder / "config.json"))
    weights = {k: v.float() for k, v in load_file(str(folder / "model.safetensors")).items()}
    model.load_state_dict(weights, strict=True)
    return model.to(dtype).eval()
