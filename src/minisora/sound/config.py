"""The sound model's configuration: one typed dataclass, presets in a plain dict.

Everything that fixes the meaning of the weights lives here and is saved in config.json: the
mel representation, the token layout (mel frames per token, latent patch), the video timeline
(frame rate and the autoencoder's time compression) and the fingerprint of the autoencoder
whose latents the model was trained on.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from minisora.sound.mel import MelConfig


@dataclass
class SoundConfig:
    depth: int = 4
    width: int = 96
    heads: int = 4
    mlp_ratio: float = 3.0
    mel_patch: int = 4  # mel frames per audio token (40 ms at a 10 ms hop)
    latent_channels: int = 16  # the video autoencoder's C
    latent_patch: int = 2  # spatial patch over the video latent (H', W')
    frame_grid: int = 16  # the frame-rate path: each video frame's luma averaged over G x G cells
    # the frame-rate path's convolutions (model.FrameEncoder): channels of its first layer (0: none);
    # they read every frame's luma on a finer conv_grid x conv_grid grid (frame_grid is pooled from it)
    frame_conv: int = 0
    conv_grid: int = 32
    # what the convolutions read of each frame: 1 its luma, 3 its colour (red, green, blue); colour
    # tells which of two objects of one brightness moved, and a caption names objects by colour
    frame_colors: int = 1
    # training-only heads (model.SoundDiT.contact_head, material_head): the world knows when
    # things touch and what they are made of, and the sound model is asked to say so too: which
    # audio tokens begin a contact, from the video-aligned features alone, and the materials that
    # ring there, from the last block's tokens (train.SoundTrainConfig.contact_loss, material_loss)
    aux_heads: bool = False
    # the contact path (model.SoundDiT.contact_mlp): the contacts the world tracker sees in the
    # frames (sound.tracked: when, how hard, against what, which object), binned by their offset
    # from each audio token and added to it; zero at the start, so weights without it load unchanged
    tracked_contacts: bool = False
    time_factor: int = 4  # video frames per latent frame after the first (the causal VAE)
    text_dim: int = 384
    rope_theta: float = 10000.0
    rope_unit_s: float = 0.01  # rotary positions count this many seconds as 1 (audio and video alike)
    freq_dim: int = 256
    # SD3's timestep shift, in training and sampling: t' = s t / (1 + (s - 1) t). When a hit
    # sounds is decided at high noise (lower, the noisy mel already shows it); s = 3 trains there
    # more often: 39% of the logit-normal draws land above t = 0.8, against 8% with s = 1
    time_shift: float = 3.0
    mel: MelConfig = field(default_factory=MelConfig)
    vae_fingerprint: str = ""  # the latent space it was trained on (autoencoder.checkpoint.latent_fingerprint)

    def __post_init__(self) -> None:
        if isinstance(self.mel, dict):
            self.mel = MelConfig(**self.mel)
        self.validate()

    def validate(self) -> SoundConfig:
        if self.width % self.heads or (self.width // self.heads) % 2:
            raise ValueError(f"width {self.width} must split into {self.heads} heads of even size")
        if self.time_shift <= 0:
            raise ValueError(f"time_shift {self.time_shift} must be positive")
        if self.depth < 1 or self.mel_patch < 1 or self.latent_patch < 1 or self.frame_grid < 1:
            raise ValueError("depth, mel_patch, latent_patch and frame_grid must be at least 1")
        if self.frame_conv < 0 or (self.frame_conv and (self.conv_grid % self.frame_grid or self.conv_grid % 8)):
            raise ValueError(f"conv_grid {self.conv_grid} must be a multiple of 8 and of frame_grid "
                             f"{self.frame_grid} (frame_conv {self.frame_conv} >= 0)")
        if self.frame_colors not in (1, 3) or (self.frame_colors == 3 and not self.frame_conv):
            raise ValueError(f"frame_colors {self.frame_colors}: 1 (luma) or 3 (colour, with frame_conv)")
        return self

    @property
    def input_grid(self) -> int:
        """The grid the model reads (model.frame_grid's `grid`): conv_grid with the conv path."""
        return self.conv_grid if self.frame_conv else self.frame_grid

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One frame's grid as the model reads it: (G, G) of luma or (3, G, G) of colour."""
        g = self.input_grid
        return (g, g) if self.frame_colors == 1 else (3, g, g)

    @property
    def token_dim(self) -> int:
        return self.mel.n_mels * self.mel_patch

    @property
    def video_token_dim(self) -> int:
        return self.latent_channels * self.latent_patch**2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> SoundConfig:
        data = json.loads(Path(path).read_text())
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{path}: unknown sound config keys {sorted(unknown)}")
        return cls(**data)


SOUND_PRESETS: dict[str, SoundConfig] = {
    "sound-s": SoundConfig(frame_conv=16),  # the shipped model: 1.52 M parameters
    "tiny": SoundConfig(depth=1, width=32, heads=2, mlp_ratio=2.0, freq_dim=32, frame_grid=4,
                        mel=MelConfig(n_mels=16)),
}
