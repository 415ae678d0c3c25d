"""Helpers for the pipeline tests: a tiny world model folder, synthetic clips and images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from minisora.autoencoder import VAE_PRESETS, VAEConfig, VideoVAE, save_weights
from minisora.dit.config import dit_config
from minisora.dit.model import DiT
from minisora.train.checkpoint import save_checkpoint

# small settings every test shares: 2 steps with guidance, 5-latent chunks with 1 of context
FAST = {"steps": 2, "cfg": 2.0, "chunk_latents": 5, "context_latents": 1, "size": (32, 32),
        "keep_latents": True}


def make_model_folder(run: Path, count_classes: int = 0) -> Path:
    """runs/tiny/step_0000001/ (config.json, model/ema.safetensors, optimizer.pt, state.json) + runs/tiny/vae/."""
    torch.manual_seed(0)
    config = dit_config("tiny", text_dim=384, count_classes=count_classes)
    dit = DiT(config)
    with torch.no_grad():  # adaLN-Zero starts as the identity (v = 0): randomise every weight instead
        for p in dit.parameters():
            p.normal_(0.0, 0.2)
    vae_config = VAEConfig.from_dict({**VAE_PRESETS["tiny"].to_dict(), "latent_shift": [0.1, -0.2, 0.0, 0.3],
                                      "latent_scale": [0.5, 1.5, 1.0, 2.0]})
    vae = VideoVAE(vae_config)
    save_weights(vae, run / "vae", dtype=torch.float32)
    state = {"train": {"preset": "tiny", "n_ref_tokens": 256}, "vae_config": vae_config.to_dict(),
             "text_encoder": {"path": "", "max_tokens": 128}}
    weights = dit.state_dict()
    save_checkpoint(run, 1, weights, config, weights, {}, state)
    return run


def moving_square(frames: int, height: int, width: int, colour=(220, 60, 40)) -> np.ndarray:
    video = np.full((frames, height, width, 3), 40, np.uint8)
    for t in range(frames):
        x = t % (width - 8)
        video[t, 10:18, x:x + 8] = colour
    return video


def write_image(path: Path, frame: np.ndarray, codec: str = "png") -> Path:
    """One (H, W, 3) uint8 frame as a PNG ("png"), JPEG ("mjpeg") or GIF ("gif") file."""
    import av

    fmt = {"png": "rgb24", "mjpeg": "yuvj444p", "gif": "rgb8"}[codec]
    with av.open(str(path), mode="w", format="gif" if codec == "gif" else "image2") as container:
        stream = container.add_stream(codec, rate=1)
        stream.width, stream.height, stream.pix_fmt = frame.shape[1], frame.shape[0], fmt
        container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def audio_only_file(path: Path) -> Path:
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
