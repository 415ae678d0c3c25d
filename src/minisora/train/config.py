"""The world model trainer's configuration: one typed dataclass, saved in every checkpoint."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Open-Sora 1.1's mix of conditioning masks, rounded: most clips are plain text-to-video
CONDITION_MODES: dict[str, float] = {
    "none": 0.6, "first": 0.15, "first_k": 0.1, "last": 0.05, "first_last": 0.05, "random": 0.05,
}


@dataclass
class TrainConfig:
    latents: str = ""  # folder of latent shards (see train/shards.py)
    out: str = "runs/world-s"  # run folder: checkpoints, log.jsonl, loss.svg
    preset: str = "world-s"  # a key of dit.config.DIT_PRESETS
    depth: int = 0  # blocks; 0: the preset's. The preset's width is kept, so with --init-from a
    #                 shallower model grows (dit.grow: its blocks spread out, new ones the identity)
    patch: tuple[int, int, int] = (0, 0, 0)  # the DiT's spacetime patch; 0s: the preset's, or --init-from's.
    #                                         Finer than --init-from's: dit.grow re-cuts it (1x1x1: 4x the tokens)
    count_classes: int = 0  # >0: the DiT gets an object-count embedding of this many classes (dit/config.py);
    #                         a run from --init-from without one gains it zero-initialised
    count_lr_scale: float = 10.0  # the count embedding learns at this multiple of the rate (it starts at
    #                               zero beside trained weights; Adam moves a weight ~lr a step)
    steps: int = 20000
    lr: float = 3e-4
    warmup: int = 500
    cooldown: int = 0  # the last `cooldown` steps before `steps` take the rate linearly to zero
    #                    (warm-up, stable, decay: a run can be continued at the stable rate, then cooled)
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    tokens_per_batch: int = 2048  # each bucket's batch size = this // the bucket's tokens per clip
    max_batch: int = 64
    video_frames: tuple[int, ...] = (5, 9, 17)  # latent frames T' of the video buckets (4 s = 17)
    image_share: float = 0.15  # share of batches of one-frame images
    caption_dropout: float = 0.1  # replaced by the empty caption, for classifier-free guidance
    short_prompt_share: float = 0.2  # use one of the clip's short prompts instead of its caption
    per_frame_noise: float = 0.5  # share of clips whose frames draw independent t (diffusion forcing)
    object_weight: float = 0.0  # >0: a latent cell's loss weighs 1 + this x the share of it objects
    #                             cover (the shards' object maps). An experiment, off by default: a
    #                             weight read off the clean clip reweights the data (its optimum
    #                             velocity leans toward clips with an object in the cell), so the
    #                             model draws too many objects (stop 38: W = 8 drew 0.3-0.8 more
    #                             in the first frame)
    object_weight_from: str = "clip"  # "clip": the cover is the clip's object map; "prediction": the
    #                                   cover a probe reads off the model's own detached clean
    #                                   estimate x_t - t v (train/cover.py), a weight that does not tilt
    object_weight_below: float = 1.0  # the object weight only on frames whose noise level t is below this:
    #                                   where the clip's layout is already decided, so that the tilt
    #                                   toward objects has little left to move (1: at every t)
    condition_modes: dict[str, float] = field(default_factory=lambda: dict(CONDITION_MODES))
    n_ref_tokens: int = 256  # tokens at which the timestep shift is 1
    bf16: bool = False  # bf16 autocast for the forward pass
    fsdp: bool = False  # FSDP2 instead of DDP when distributed (large presets)
    threads: int = 0  # torch CPU threads; 0 = torch's default (all cores)
    seed: int = 0
    init_from: str = ""  # exported weights (config.json + model.safetensors) a new run starts from:
    #                      the shipped model is continued this way, its EMA as model and EMA
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    log_every: int = 10
    progress: bool = True

    def __post_init__(self) -> None:
        self.video_frames = tuple(self.video_frames)
        self.patch = tuple(self.patch)

    def validate(self) -> TrainConfig:
        if not self.latents:
            raise ValueError("no latent folder given: pass --latents DIR (made with --world and --vae)")
        if self.cooldown < 0 or self.cooldown > self.steps:
            raise ValueError(f"cooldown {self.cooldown}: give 0 (none) up to steps ({self.steps})")
        if self.depth < 0:
            raise ValueError(f"depth {self.depth} (--depth): give the number of blocks, or 0 for the preset's")
        if len(self.patch) != 3 or (self.patch != (0, 0, 0) and min(self.patch) < 1):
            raise ValueError(f"patch {self.patch} (--patch): give three sizes TxHxW >= 1, e.g. 1x1x1")
        if self.count_classes < 0 or self.count_classes == 1:
            raise ValueError(f"count_classes {self.count_classes} (--count-classes): 0 for none, or at least 2 "
                             "(class 0 is 'unknown', class n is n objects; e.g. 9)")
        if not (math.isfinite(self.count_lr_scale) and self.count_lr_scale > 0):
            raise ValueError(f"count_lr_scale {self.count_lr_scale} (--count-lr-scale): give a number > 0")
        if self.steps < 1 or self.warmup < 0 or self.lr <= 0:
            raise ValueError(f"need steps >= 1, warmup >= 0, lr > 0 (got {self.steps}, {self.warmup}, {self.lr})")
        if not 0 <= self.image_share <= 1 or not 0 <= self.caption_dropout < 1:
            raise ValueError("image_share must be in [0, 1] and caption_dropout in [0, 1)")
        unknown = set(self.condition_modes) - set(CONDITION_MODES)
        if unknown:
            raise ValueError(f"condition modes {sorted(unknown)} unknown (--condition-modes); known: "
                             f"{', '.join(CONDITION_MODES)}")
        shares = list(self.condition_modes.values())
        if not all(math.isfinite(v) and v >= 0 for v in shares) or sum(shares) <= 0:
            raise ValueError(f"condition mode shares {self.condition_modes} (--condition-modes): each must be "
                             "a finite number >= 0, and at least one above 0")
        if not (math.isfinite(self.object_weight) and self.object_weight >= 0):
            raise ValueError(f"object_weight {self.object_weight} (--object-weight): give 0 (off) or more")
        if self.object_weight_from not in ("clip", "prediction"):
            raise ValueError(f"object_weight_from {self.object_weight_from!r} (--object-weight-from): "
                             "'clip' (the shards' object maps) or 'prediction' (the model's own estimate)")
        if not 0 < self.object_weight_below <= 1:
            raise ValueError(f"object_weight_below {self.object_weight_below} (--object-weight-below): a noise "
                             "level t, give more than 0 up to 1 (1: every t)")
        if not 0 <= self.per_frame_noise <= 1:
            raise ValueError(f"per_frame_noise {self.per_frame_noise} (--per-frame-noise): a share, give 0 to 1")
        if any(f < 1 for f in self.video_frames):
            raise ValueError(f"video_frames {self.video_frames}: latent frame counts must be >= 1")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown train config keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)


def train_config_from_args(args: dict[str, Any]) -> TrainConfig:
    """A TrainConfig from the CLI's arguments: options left unset keep the dataclass defaults."""
    names = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in args.items() if k in names and v is not None}
    values = {k: (str(v) if k in ("latents", "out", "init_from") else v) for k, v in values.items()}
    values["bf16"], values["fsdp"] = bool(args.get("bf16")), bool(args.get("fsdp"))
    values["progress"] = not args.get("no_progress", False)
    return TrainConfig(**values)
