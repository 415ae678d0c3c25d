"""The causal 3D video autoencoder: config, model, streaming encode/decode, training, weights."""

from minisora.autoencoder.checkpoint import DEFAULT_WEIGHTS, load_vae, save_weights
from minisora.autoencoder.config import VAE_PRESETS, VAEConfig
from minisora.autoencoder.model import VideoVAE
from minisora.autoencoder.streaming import (
    decode_chunked,
    decode_stream,
    encode_chunked,
    encode_stream,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "VAE_PRESETS",
    "VAEConfig",
    "VideoVAE",
    "decode_chunked",
    "decode_stream",
    "encode_chunked",
    "encode_stream",
    "load_vae",
    "save_weights",
]
