"""Streaming encode and decode: any length in chunks, constant memory, same result as whole clips.

Every causal convolution keeps its last input frames (Wan's feature cache), so a chunk sees
exactly the past it would have seen inside the whole clip. Video chunks: the first has 4k+1
frames, every later one a multiple of 4; each gives one latent frame per 4 frames (plus one
for the first frame). Latent chunks decode to 4m - 3 frames first, then 4m frames each; a
look-ahead decoder's output runs one latent frame (4 video frames) behind its input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from minisora.autoencoder.layers import State
from minisora.autoencoder.model import VideoVAE


@torch.no_grad()
def encode_stream(model: VideoVAE, chunks: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
    """Video chunks (B, 3, t, H, W) -> normalised latent chunks (B, C, t', H/f, W/f)."""
    states: list[State] | None = None
    dtype = next(model.parameters()).dtype
    for chunk in chunks:
        mean, _, states = model.encode_moments(chunk.to(dtype), states)
        yield model.normalize(mean)


@torch.no_grad()
def decode_stream(model: VideoVAE, chunks: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
    """Normalised latent chunks (B, C, m, H', W') -> float32 pixel chunks in [-1, 1].

    A look-ahead decoder needs each latent frame's successor, so the stream holds back the
    last latent frame of every chunk until the next chunk (or the end) arrives and yields its
    pixels then; a chunk of one latent frame may yield nothing of its own.
    """
    states: list[State] | None = None
    dtype = next(model.parameters()).dtype
    held: torch.Tensor | None = None  # look-ahead: the latent frame still waiting for its successor
    for chunk in chunks:
        model.check_latent_shape(tuple(chunk.shape))
        z = model.denormalize(chunk.float()).to(dtype)
        if model.config.lookahead:
            z = z if held is None else torch.cat([held, z], dim=2)
            held = z[:, :, -1:]
            if z.shape[2] == 1:
                continue
            video, states = model.decode_raw(z[:, :, :-1], states, following=held)
        else:
            video, states = model.decode_raw(z, states)
        yield video.float().clamp(-1.0, 1.0)
    if held is not None:
        video, states = model.decode_raw(held, states)
        yield video.float().clamp(-1.0, 1.0)


def split_video(video: torch.Tensor, chunk_frames: int = 16) -> Iterator[torch.Tensor]:
    """(B, 3, 4k+1, H, W) -> the first frame, then chunks of `chunk_frames` (a multiple of 4)."""
    if chunk_frames % 4 or chunk_frames <= 0:
        raise ValueError(f"chunk_frames {chunk_frames}: use a positive multiple of 4 (4, 8, 16, ...)")
    yield video[:, :, :1]
    for start in range(1, video.shape[2], chunk_frames):
        yield video[:, :, start:start + chunk_frames]


def split_latents(latents: torch.Tensor, chunk_latents: int = 4) -> Iterator[torch.Tensor]:
    """(B, C, T', H', W') -> chunks of `chunk_latents` latent frames (the last may be shorter)."""
    if chunk_latents <= 0:
        raise ValueError(f"chunk_latents {chunk_latents}: use a positive number of latent frames")
    for start in range(0, latents.shape[2], chunk_latents):
        yield latents[:, :, start:start + chunk_latents]


def encode_chunked(model: VideoVAE, video: torch.Tensor, chunk_frames: int = 16) -> torch.Tensor:
    """encode() of a long video in chunks: (B, 3, 4k+1, H, W) -> (B, C, k+1, H', W')."""
    model.check_video_shape(tuple(video.shape))
    return torch.cat(list(encode_stream(model, split_video(video, chunk_frames))), dim=2)


def decode_chunked(model: VideoVAE, latents: torch.Tensor, chunk_latents: int = 4) -> torch.Tensor:
    """decode() of long latents in chunks: (B, C, k+1, H', W') -> (B, 3, 4k+1, H, W)."""
    model.check_latent_shape(tuple(latents.shape))
    return torch.cat(list(decode_stream(model, split_latents(latents, chunk_latents))), dim=2)
