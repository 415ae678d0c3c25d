"""The diffusion transformer's configuration: one typed dataclass, presets in a plain dict.

One dial, `depth`, derives the rest (as in nanochat): the width is `head_dim` times
round(2/3 of the depth), the heads follow from the width, the MLP is 4x wide, and the rotary
frequencies are split over (time, height, width) by `rope_split`. `width` can still be set by
hand for an experiment; presets leave it derived.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any


@dataclass
class DiTConfig:
    depth: int = 6
    width: int = 0  # 0: derived from depth
    head_dim: int = 64
    mlp_ratio: float = 4.0
    latent_channels: int = 16  # C of the autoencoder's latents (B, C, T', H', W')
    patch: tuple[int, int, int] = (1, 2, 2)  # (t, h, w) spacetime patch over the latent
    text_dim: int = 384  # width of the text encoder's token embeddings (MiniLM: 384)
    rope_theta: float = 10000.0
    rope_split: tuple[int, int, int] = (0, 0, 0)  # head-dim channels for (t, h, w); 0s: derived
    rope_scale: tuple[float, float, float] = (1.0, 1.0, 1.0)  # rotary positions a token advances along
    # (t, h, w); a model re-patched finer (dit/grow.py: patch 2 -> 1) keeps its spacing with 0.5
    freq_dim: int = 256  # sinusoidal timestep features before the MLP
    count_classes: int = 0  # >0: an object-count embedding in the modulation (0 = unknown, 1.. = n objects,
    # the last class = that many or more); 0: none

    def __post_init__(self) -> None:
        self.patch = tuple(self.patch)
        self.rope_split = tuple(self.rope_split)
        self.rope_scale = tuple(float(v) for v in self.rope_scale)
        if self.width == 0:
            self.width = self.head_dim * max(2, round(self.depth * 2 / 3))
        if self.rope_split == (0, 0, 0):
            # time gets a quarter of the channels, height and width share the rest; all even
            t = 2 * (self.head_dim // 8)
            h = 2 * ((self.head_dim - t) // 4)
            self.rope_split = (t, h, self.head_dim - t - h)
        self.validate()

    @property
    def heads(self) -> int:
        return self.width // self.head_dim

    @property
    def patch_dim(self) -> int:
        pt, ph, pw = self.patch
        return self.latent_channels * pt * ph * pw

    def validate(self) -> DiTConfig:
        if self.depth < 1:
            raise ValueError(f"depth {self.depth}: need at least 1 block")
        if self.width % self.head_dim:
            raise ValueError(f"width {self.width} is not a multiple of head_dim {self.head_dim}")
        if len(self.patch) != 3 or min(self.patch) < 1:
            raise ValueError(f"patch {self.patch}: need three positive sizes (t, h, w), e.g. (1, 2, 2)")
        if sum(self.rope_split) != self.head_dim or any(s % 2 for s in self.rope_split):
            raise ValueError(f"rope_split {self.rope_split} must be three even numbers summing to "
                             f"head_dim {self.head_dim}")
        if len(self.rope_scale) != 3 or not all(v > 0 for v in self.rope_scale):
            raise ValueError(f"rope_scale {self.rope_scale}: need three positive numbers (t, h, w)")
        if self.count_classes < 0 or self.count_classes == 1:
            raise ValueError(f"count_classes {self.count_classes}: 0 for no count embedding, or at least 2 "
                             "(class 0 is 'unknown', class n is n objects)")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiTConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown DiT config keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> DiTConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))


DIT_PRESETS: dict[str, DiTConfig] = {
    "tiny": DiTConfig(depth=2, head_dim=16, latent_channels=4, text_dim=32, freq_dim=32),  # tests
    "world-s": DiTConfig(depth=6),  # ~10 M parameters, the CPU default (width 256)
    "world-m": DiTConfig(depth=14),  # ~100 M, one GPU (width 576)
    "base-l": DiTConfig(depth=24, text_dim=768),  # ~0.55 B, GPU clusters (width 1024)
    "base-xl": DiTConfig(depth=32, text_dim=1024),  # ~1.3 B (width 1344), FSDP
}


def dit_config(preset: str, **overrides: Any) -> DiTConfig:
    """A copy of a preset with some fields replaced, e.g. dit_config("world-s", latent_channels=8)."""
    if preset not in DIT_PRESETS:
        raise ValueError(f"DiT preset {preset!r} is unknown; choose from {', '.join(DIT_PRESETS)}")
    base = DIT_PRESETS[preset].to_dict()
    if ("depth" in overrides or "head_dim" in overrides) and "width" not in overrides:
        base["width"] = 0  # re-derive from the new depth
    if "head_dim" in overrides and "rope_split" not in overrides:
        base["rope_split"] = (0, 0, 0)
    return DiTConfig.from_dict({**base, **overrides})
