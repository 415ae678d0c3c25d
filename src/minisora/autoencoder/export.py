"""Turn a training checkpoint into shipped weights: EMA weights, measured latent statistics, bf16.

The per-channel shift and scale are the mean and standard deviation of the posterior means
over training clips of every aspect ratio, so the DiT sees unit-variance latents. Usage:

    .venv/bin/python -m minisora.autoencoder.export runs/vae/step_0001234 src/minisora/autoencoder/weights/default
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from minisora.autoencoder.checkpoint import load_checkpoint, save_weights
from minisora.autoencoder.clips import ASPECT_SIZES, clip_spec, render_pixels
from minisora.autoencoder.config import VAEConfig
from minisora.autoencoder.model import VideoVAE


@torch.no_grad()
def latent_statistics(model: VideoVAE, clips: int = 40) -> tuple[list[float], list[float]]:
    """Per-channel (mean, std) of raw posterior means over `clips` training clips."""
    sizes = list(ASPECT_SIZES.values())
    total = torch.zeros(model.config.latent_channels, dtype=torch.float64)
    squares, count = torch.zeros_like(total), 0
    for index in range(clips):
        video = render_pixels(clip_spec(10_000_000 + index, "train", sizes[index % len(sizes)])).unsqueeze(0)
        mean, _, _ = model.encode_moments(video)
        flat = mean.double().transpose(0, 1).reshape(mean.shape[1], -1)  # (C, N)
        total += flat.sum(dim=1)
        squares += flat.square().sum(dim=1)
        count += flat.shape[1]
    mu = total / count
    std = (squares / count - mu.square()).clamp_min(1e-8).sqrt()
    return [round(v, 6) for v in mu.tolist()], [round(v, 6) for v in std.tolist()]


def export_weights(checkpoint: str | Path, out: str | Path, clips: int = 40, use_ema: bool = True) -> Path:
    """Shipped weights from a checkpoint. A run that trained the decoder only keeps the latent
    statistics of the weights it started from: its encoder is theirs, and so are the latents a
    world model was trained on, which must keep their exact normalisation. So does a run whose
    encoder trained anchored to theirs (anchor_weight): its latents are meant to stay in the same
    normalised space."""
    model, ema, _, state = load_checkpoint(checkpoint)
    if use_ema:
        model = VideoVAE(VAEConfig.from_dict(model.config.to_dict()))
        model.load_state_dict(ema, strict=True)
    model.eval()
    train_config = state.get("train_config", {})
    kept = train_config.get("freeze_encoder") or train_config.get("anchor_weight", 0) > 0
    if kept and train_config.get("init_from"):
        start = VAEConfig.load(Path(train_config["init_from"]) / "config.json")
        shift, scale = start.latent_shift, start.latent_scale
    else:
        model.set_latent_stats([0.0] * model.config.latent_channels, [1.0] * model.config.latent_channels)
        shift, scale = latent_statistics(model, clips)
    model.set_latent_stats(shift, scale)
    return save_weights(model, out, dtype=torch.bfloat16)


def main() -> None:
    parser = argparse.ArgumentParser(description="export a VAE training checkpoint as shipped weights")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--clips", type=int, default=40, help="clips for the latent statistics")
    parser.add_argument("--no-ema", action="store_true", help="ship the raw weights, not the EMA")
    args = parser.parse_args()
    print(f"wrote {export_weights(args.checkpoint, args.out, args.clips, not args.no_ema)}")


if __name__ == "__main__":
    main()
