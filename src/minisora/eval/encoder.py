"""A small video encoder trained on world clips, whose pooled features feed the Fréchet distance.

FVD uses I3D trained on Kinetics; nothing like it is downloadable here, and it would not know
this world anyway. Like Inception for FID, this encoder is trained to predict what a clip shows
(how many objects of each colour, shape and size; how they move; camera pan; contacts;
occluders; background), so its 64-d penultimate features are sensitive to exactly what a world
video can get wrong. Four strided 3D convolutions over 16 frames at 32x32, ~0.24 M parameters,
shipped as bf16 safetensors (~0.5 MB) with its config in minisora/eval/weights/.

Train (~30 min on 2 shared CPU cores): python -m minisora.eval.encoder --clips 1500 --epochs 12
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from minisora.world.spec import BACKGROUNDS, PALETTE, SHAPES, SIZES

WEIGHTS = Path(__file__).parent / "weights"


@dataclass
class EncoderConfig:
    frames: int = 16  # clips are resampled to this many frames ...
    stride: int = 4  # ... taken every `stride` frames of a 16 fps clip (4 s at 4 fps)
    size: int = 32  # ... and resized to size x size (objects stay >= 4 px across)
    width: int = 16  # channels of the first convolution; doubled twice
    features: int = 64
    targets: int = len(PALETTE) + len(SHAPES) + len(SIZES) + 5 + len(BACKGROUNDS)


def build_encoder(config: EncoderConfig):
    import torch
    from torch import nn

    class VideoEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            w = config.width
            self.body = nn.Sequential(
                nn.Conv3d(3, w, (3, 4, 4), (1, 2, 2), 1),
                nn.GELU(),  # (B, w, T, S/2, S/2) for input (B, 3, T, S, S)
                nn.Conv3d(w, 2 * w, (3, 4, 4), 2, 1),
                nn.GELU(),  # (B, 2w, T/2, S/4, S/4)
                nn.Conv3d(2 * w, 4 * w, (3, 4, 4), 2, 1),
                nn.GELU(),  # (B, 4w, T/4, S/8, S/8)
                nn.Conv3d(4 * w, 4 * w, 3, 2, 1),
                nn.GELU(),  # (B, 4w, T/8, S/16, S/16)
            )
            self.project = nn.Linear(4 * w, config.features)
            self.head = nn.Linear(config.features, config.targets)

        def features(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 3, T, H, W) in [-1, 1]
            return self.project(self.body(x).mean(dim=(2, 3, 4)))  # (B, features)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(torch.nn.functional.gelu(self.features(x)))

    return VideoEncoder()


def prepare(frames: np.ndarray, config: EncoderConfig):
    """uint8 (T, H, W, 3) -> float tensor (1, 3, frames, size, size) in [-1, 1]."""
    import torch

    index = np.minimum(np.arange(config.frames) * config.stride, len(frames) - 1)
    x = (
        torch.from_numpy(frames[index]).permute(3, 0, 1, 2).float()[None] / 127.5 - 1
    )  # (1, 3, T, H, W)
    return torch.nn.functional.interpolate(
        x, size=(config.frames, config.size, config.size), mode="trilinear"
    )


def load_encoder(folder: Path = WEIGHTS):
    """The shipped encoder (eval mode); a clear error if its weights are missing."""
    import torch
    from safetensors.torch import load_file

    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"no encoder weights in {folder}; train them: python -m minisora.eval.encoder"
        )
    config = EncoderConfig(**json.loads((folder / "config.json").read_text()))
    model = build_encoder(config)
    state = {k: v.float() for k, v in load_file(folder / "model.safetensors").items()}
    model.load_state_dict(state, strict=True)
    model.config = config
    return model.eval().to(torch.float32)


def video_features(model, frames: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model.features(prepare(frames, model.config))[0].numpy()


def render_features(model, cases: list, seed_offset: int) -> np.ndarray:
    """Features of fresh ground-truth renders of the given cases (one per entry), sent through
    the same MP4 round trip as the videos they are compared with."""
    import tempfile

    from minisora.eval.benchmark import make_video
    from minisora.media import read_video

    feats = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, case in enumerate(cases):
            path = make_video("render", case, seed_offset + k, Path(tmp) / "reference.mp4")
            feats.append(video_features(model, read_video(path, with_audio=False).frames))
    return np.stack(feats)


def clip_targets(clip) -> np.ndarray:
    """What the encoder learns to predict about a clip: counts per colour/shape/size, mean world
    velocity, camera pan, contacts, occluders, background (one-hot)."""
    spec, traj = clip.spec, clip.trajectory
    out = [sum(o.color == c for o in spec.objects) for c in PALETTE]
    out += [sum(o.shape == s for o in spec.objects) for s in SHAPES]
    out += [sum(o.size == s for o in spec.objects) for s in SIZES]
    velocity = traj.velocities.mean(axis=(0, 1)) if len(spec.objects) else np.zeros(2)
    out += [
        float(velocity[0]),
        float(velocity[1]),
        spec.camera_pan * 4,
        np.log1p(len(traj.contacts)),
        float(bool(spec.occluders)),
    ]
    out += [float(spec.background == b) for b in BACKGROUNDS]
    return np.array(out, np.float32)


def train_encoder(clips: int, epochs: int, seed: int = 0, out: Path = WEIGHTS) -> Path:
    """Render `clips` training-split scenes, fit the encoder to their targets, save bf16 weights."""
    import torch
    from safetensors.torch import save_file

    from minisora.world import render_clip
    from minisora.world.sampler import sample_scene

    torch.manual_seed(seed)
    config = EncoderConfig()
    xs, ys = [], []
    for k in range(clips):
        clip = render_clip(sample_scene(seed + k, split="train"), with_audio=False)
        xs.append(prepare(clip.frames, config)[0].to(torch.bfloat16))
        ys.append(clip_targets(clip))
    x, y = torch.stack(xs), torch.from_numpy(np.stack(ys))
    mean, std = y.mean(0), y.std(0) + 1e-3
    y = (y - mean) / std
    model = build_encoder(config)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    steps = epochs * (clips // 32)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    for epoch in range(epochs):
        order = torch.randperm(clips)
        losses = []
        for start in range(0, clips - 31, 32):
            batch = order[start : start + 32]
            loss = torch.nn.functional.mse_loss(model(x[batch].float()), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        print(f"epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.3f} (1.0 = predicting the mean)")
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, out / "model.safetensors")
    (out / "config.json").write_text(json.dumps(asdict(config), indent=1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description="train the world video encoder for the Fréchet distance"
    )
    parser.add_argument("--clips", type=int, default=1500)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    args = parser.parse_args()
    print(f"wrote {train_encoder(args.clips, args.epochs, out=args.out)}")


if __name__ == "__main__":
    main()
