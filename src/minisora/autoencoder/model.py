"""The causal 3D convolutional VAE: (B, 3, 4k+1, H, W) pixels <-> (B, C, k+1, H/f, W/f) latents.

Follows the video autoencoders of CogVideoX, Open-Sora 1.2 and Wan: causal 3D convolutions
with the first frame kept alone (an image is a one-frame video), two time halvings (4x), and
a diagonal-Gaussian latent with a small KL term. Time halvings sit at the two highest spatial
resolutions, where they save the most compute. `encode`/`decode` take and return the
normalised latents the DiT sees; `encode_moments` and `decode_raw` work in raw latent units.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from minisora.autoencoder.config import VAEConfig
from minisora.autoencoder.layers import (
    CausalConv3d,
    ChannelNorm,
    Downsample,
    ResBlock,
    State,
    Upsample,
)
from minisora.autoencoder.patch import patch_decoder_layers, patch_encoder_layers


class Head(nn.Module):
    """norm -> SiLU -> causal conv: the last layer of the encoder and of the decoder."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.norm = ChannelNorm(c_in)
        self.conv = CausalConv3d(c_in, c_out)

    def forward(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        return self.conv(F.silu(self.norm(x)), state)


class CausalStack(nn.Module):
    """Layers that each map (x, state) -> (x, state); the stack's state is a list of theirs."""

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor, states: list[State] | None = None) -> tuple[torch.Tensor, list[State]]:
        states = states or [{} for _ in self.layers]
        new_states = []
        for layer, state in zip(self.layers, states, strict=True):
            x, state = layer(x, state)
            new_states.append(state)
        return x, new_states


def _time_kernel(cfg: VAEConfig, level: int) -> int:
    """Full-resolution blocks may work per frame: half the compute sits there, and the
    strided and upsampling convolutions next to them still mix time."""
    return cfg.full_res_time_kernel if level == 0 else 3


def build_encoder(cfg: VAEConfig) -> CausalStack:
    widths = cfg.level_widths()
    layers: list[nn.Module] = [CausalConv3d(3, widths[0])]
    for level in range(cfg.levels):
        layers += [ResBlock(widths[level], widths[level], _time_kernel(cfg, level)) for _ in range(cfg.blocks)]
        layers.append(Downsample(widths[level], widths[level + 1], time=level < 2))
    layers += [ResBlock(widths[-1], widths[-1]) for _ in range(cfg.blocks)]
    layers.append(Head(widths[-1], 2 * cfg.latent_channels))
    return CausalStack(layers)


def build_decoder(cfg: VAEConfig) -> CausalStack:
    widths = cfg.level_widths()
    layers: list[nn.Module] = [CausalConv3d(cfg.latent_channels, widths[-1])]
    layers += [ResBlock(widths[-1], widths[-1]) for _ in range(cfg.decoder_blocks)]
    for level in reversed(range(cfg.levels)):
        layers.append(Upsample(widths[level + 1], widths[level], time=level < 2))
        layers += [ResBlock(widths[level], widths[level], _time_kernel(cfg, level))
                   for _ in range(cfg.decoder_blocks)]
    layers.append(Head(widths[0], 3))
    return CausalStack(layers)


class VideoVAE(nn.Module):
    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = VAEConfig.from_dict(config.to_dict())  # a copy: presets stay untouched
        if config.arch == "patch":
            self.encoder = CausalStack(patch_encoder_layers(config))
            self.decoder = CausalStack(patch_decoder_layers(config))
        else:
            self.encoder = build_encoder(config)
            self.decoder = build_decoder(config)
        c = config.latent_channels
        shift = torch.tensor(config.latent_shift or [0.0] * c).view(1, c, 1, 1, 1)
        scale = torch.tensor(config.latent_scale or [1.0] * c).view(1, c, 1, 1, 1)
        self.register_buffer("latent_shift", shift, persistent=False)
        self.register_buffer("latent_scale", scale, persistent=False)

    def set_latent_stats(self, shift: list[float], scale: list[float]) -> None:
        """Store the per-channel normalisation in the config and in the buffers."""
        self.config.latent_shift, self.config.latent_scale = list(shift), list(scale)
        self.config.validate()
        c = self.config.latent_channels
        self.latent_shift.copy_(torch.tensor(shift).view(1, c, 1, 1, 1))
        self.latent_scale.copy_(torch.tensor(scale).view(1, c, 1, 1, 1))

    # -- shapes -------------------------------------------------------------------------------
    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        """(C, T', H', W') of the latent of a (3, frames, height, width) video."""
        self.check_video_shape((1, 3, frames, height, width))
        f = self.config.spatial_factor
        return (self.config.latent_channels, (frames - 1) // 4 + 1, height // f, width // f)

    def check_video_shape(self, shape: tuple[int, ...], first_chunk: bool = True) -> None:
        f = self.config.spatial_factor
        accepted = (f"accepted: (B, 3, T, H, W) floats in [-1, 1] with T = 4k+1 (1, 5, ..., 65) "
                    f"and H, W multiples of {f}, for example (1, 3, 65, 64, 64)")
        if len(shape) != 5 or shape[1] != 3:
            raise ValueError(f"video of shape {tuple(shape)}: {accepted}")
        frames, height, width = shape[2:]
        if first_chunk and frames % 4 != 1:
            raise ValueError(f"video of {frames} frames: {accepted}")
        if not first_chunk and (frames % 4 or frames == 0):
            raise ValueError(f"a later stream chunk has {frames} frames: after the first chunk of "
                             "4k+1 frames, each chunk needs a positive multiple of 4 frames")
        if height % f or width % f or height == 0 or width == 0:
            raise ValueError(f"video of size {width}x{height} (WxH): {accepted}")

    def check_latent_shape(self, shape: tuple[int, ...]) -> None:
        c = self.config.latent_channels
        if len(shape) != 5 or shape[1] != c or 0 in shape:
            raise ValueError(f"latent of shape {tuple(shape)}: accepted (B, {c}, T', H', W') with "
                             f"T' = k+1 latent frames for 4k+1 video frames")

    # -- raw latents ----------------------------------------------------------------------------
    def encode_moments(self, video: torch.Tensor, states: list[State] | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor, list[State]]:
        """Raw posterior (mean, logvar), each (B, C, T', H', W'), and the encoder's cache."""
        self.check_video_shape(tuple(video.shape), first_chunk=states is None)
        h, states = self.encoder(video, states)
        mean, logvar = h.float().chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0), states

    def decode_raw(self, z: torch.Tensor, states: list[State] | None = None,
                   following: torch.Tensor | None = None) -> tuple[torch.Tensor, list[State]]:
        """(B, C, T', H', W') raw latents -> (B, 3, 4T'-3 or 4T', H, W) unclamped pixels.

        A look-ahead decoder (config.lookahead) draws each latent frame's 4 frames seeing the
        next latent frame too: `following` is the one after z's last (B, C, 1, H', W'), which a
        stream knows from its next chunk; None means z ends the video and its last frame is
        its own successor. A causal decoder ignores it.
        """
        self.check_latent_shape(tuple(z.shape))
        if self.config.lookahead:
            if following is None:
                following = z[:, :, -1:]
            z = torch.cat([z, torch.cat([z[:, :, 1:], following.to(z.dtype)], dim=2)], dim=1)
        return self.decoder(z, states)

    def forward(self, video: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass: (reconstruction, mean, logvar) with a sampled latent."""
        mean, logvar, _ = self.encode_moments(video)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        z = mean + (0.5 * logvar).exp() * noise
        recon, _ = self.decode_raw(z.to(video.dtype))
        return recon, mean, logvar

    # -- the DiT's view: normalised latents ---------------------------------------------------
    def normalize(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.latent_shift) / self.latent_scale

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.latent_scale + self.latent_shift

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """(B, 3, 4k+1, H, W) in [-1, 1] -> normalised posterior mean (B, C, k+1, H/f, W/f)."""
        mean, _, _ = self.encode_moments(video.to(self._dtype()))
        return self.normalize(mean)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised (B, C, k+1, H', W') -> (B, 3, 4k+1, H'f, W'f) float32 pixels in [-1, 1]."""
        self.check_latent_shape(tuple(latents.shape))
        z = self.denormalize(latents.float()).to(self._dtype())
        video, _ = self.decode_raw(z)
        return video.float().clamp(-1.0, 1.0)

    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype
