"""A small video encoder trained on world clips, whose pooled features feed the Fréchet distance.

FVD uses I3D trained on Kinetics; nothing like it is downloadable here, and it would not know
this world anyway. Like Inception for FID, this encoder is trained to predict what a clip shows,
and the objective is chosen so that the features must carry what a video generator gets wrong:

- world factors of clean renders, per quarter of the clip where they change with time (how
  many objects are in view, how fast they move and which way, how high they are, how many
  contacts, their mean colour as RGB), plus counts per colour, shape and size, camera pan,
  occluders and background: a frozen, reversed, shuffled or slowed clip, a wrong or drifting
  colour or a missing object reads as a different world;
- render fidelity: a clean render against the same render blurred or with pixel noise (random
  strength). No world factor changes under blur or noise, so without this the features would
  not notice them. Blur and noise are the only degradations seen in training; the others in
  bench/frechet_sensitivity.py are held out.

Four strided 3D convolutions (group norms between) over 16 frames at 48x48, fed the frames, the
rectified finest level of their Laplacian pyramid and their rectified frame-to-frame change;
~0.25 M parameters, shipped as bf16
safetensors (~0.5 MB) with its config in minisora/eval/weights/.

Train (~15 min of one CPU core; the shipped weights):
    python -m minisora.eval.encoder --clips 1200 --epochs 8 --lr 3e-3
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from minisora.world.spec import BACKGROUNDS, PALETTE, SHAPES, SIZES

WEIGHTS = Path(__file__).parent / "weights"
QUARTERS = 4
PER_QUARTER = ("in view", "speed", "vx", "vy", "height", "contacts", "red", "green", "blue")


@dataclass
class EncoderConfig:
    frames: int = 16  # clips are resampled to this many frames ...
    stride: int = 4  # ... taken every `stride` frames of a 16 fps clip (4 s at 4 fps)
    size: int = 48  # ... and resized to size x size (a sigma-1 blur at 64 px still shows)
    width: int = 16  # channels of the first convolution; doubled twice
    features: int = 64
    # world factors, then one render-fidelity logit
    targets: int = (
        len(PALETTE) + len(SHAPES) + len(SIZES) + len(BACKGROUNDS) + 2 + QUARTERS * len(PER_QUARTER)
    )


def build_encoder(config: EncoderConfig):
    import torch
    from torch import nn

    class VideoEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            w = config.width
            # group norms keep the stages trainable at a high learning rate; none before the
            # pooling, which would make every clip's mean activation the same
            self.body = nn.Sequential(
                nn.Conv3d(9, w, (3, 4, 4), (1, 2, 2), 1),
                nn.GroupNorm(4, w),
                nn.GELU(),  # (B, w, T, S/2, S/2) for input (B, 3, T, S, S)
                nn.Conv3d(w, 2 * w, (3, 4, 4), 2, 1),
                nn.GroupNorm(4, 2 * w),
                nn.GELU(),  # (B, 2w, T/2, S/4, S/4)
                nn.Conv3d(2 * w, 4 * w, (3, 4, 4), 2, 1),
                nn.GroupNorm(4, 4 * w),
                nn.GELU(),  # (B, 4w, T/4, S/8, S/8)
                nn.Conv3d(4 * w, 4 * w, 3, 2, 1),
                nn.GELU(),  # (B, 4w, T/8, S/16, S/16)
            )
            self.project = nn.Linear(4 * w, config.features)
            self.head = nn.Linear(config.features, config.targets + 1)

        def features(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 3, T, H, W) in [-1, 1]
            # the finest level of a Laplacian pyramid and the change from the frame before, both
            # rectified, as six more channels: how sharp the edges are, how grainy the flat parts
            # are and how much moves are then local averages rather than products the first
            # layers would have to learn to form
            local = nn.functional.avg_pool3d(x, (1, 3, 3), 1, (0, 1, 1), count_include_pad=False)
            change = torch.cat([torch.zeros_like(x[:, :, :1]), x[:, :, 1:] - x[:, :, :-1]], 2)
            x = torch.cat([x, 4 * (x - local).abs(), change.abs()], 1)  # (B, 9, T, H, W)
            return self.project(self.body(x).mean(dim=(2, 3, 4)))  # (B, features)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, targets + 1)
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
    """The world factors the encoder learns to predict about a clip (see the module docstring)."""
    spec, traj = clip.spec, clip.trajectory
    out = [sum(o.color == c for o in spec.objects) for c in PALETTE]
    out += [sum(o.shape == s for o in spec.objects) for s in SHAPES]
    out += [sum(o.size == s for o in spec.objects) for s in SIZES]
    out += [float(spec.background == b) for b in BACKGROUNDS]
    out += [spec.camera_pan * 4, float(bool(spec.occluders))]
    frames = clip.annotations()["frames"]
    visible = np.array([[o["visible"] >= 0.5 for o in f["objects"]] for f in frames]).reshape(
        len(traj.times), -1
    )  # (T, N)
    # the objects' colours as RGB, frame by frame (a rule repaints one): colour is continuous
    # here, so features that only tell palette classes apart would miss a drifting hue
    rgb = np.array(
        [[PALETTE[o["color"]] for o in f["objects"]] for f in frames], np.float32
    ).reshape(len(traj.times), -1, 3) / 255  # (T, N, 3)
    speed = np.hypot(traj.velocities[..., 0], traj.velocities[..., 1])  # (T, N)
    contact_times = np.array([c.time for c in traj.contacts])
    edges = np.linspace(0, len(traj.times), QUARTERS + 1).astype(int)
    for q in range(QUARTERS):
        part = slice(edges[q], edges[q + 1])
        seen = visible[part]
        start, end = traj.times[edges[q]], traj.times[edges[q + 1] - 1]
        out += [
            float(seen.sum(1).mean()),
            _mean_in_view(speed[part], seen),
            _mean_in_view(traj.velocities[part, :, 0], seen),
            _mean_in_view(traj.velocities[part, :, 1], seen),
            _mean_in_view(traj.positions[part, :, 1], seen),
            float(np.log1p(((contact_times >= start) & (contact_times < end)).sum())),
            *(_mean_in_view(rgb[part, :, c], seen) for c in range(3)),
        ]
    return np.array(out, np.float32)


def _mean_in_view(values: np.ndarray, seen: np.ndarray) -> float:
    """Mean of (T, N) values over the objects in view (0 when none is)."""
    return float((values * seen).sum() / seen.sum()) if seen.any() else 0.0


def spoil(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A render made worse the way a decoder does: blurred or grainy, at a random strength."""
    from minisora.eval.degrade import blur, noise

    if rng.random() < 0.5:
        return blur(frames, sigma=float(rng.uniform(0.4, 2.0)))
    return noise(frames, std=float(rng.uniform(3.0, 14.0)), seed=int(rng.integers(2**31)))


def make_training_set(clips: int, config: EncoderConfig, seed: int):
    """(clean, spoiled, targets): uint8 (N, 3, T, S, S) twice and float (N, targets)."""
    import torch

    from minisora.world import render_clip
    from minisora.world.sampler import sample_scene

    rng = np.random.default_rng(seed)
    clean, spoiled, targets = [], [], []
    for k in range(clips):
        clip = render_clip(sample_scene(seed + k, split="train"), with_audio=False)
        index = np.minimum(np.arange(config.frames) * config.stride, len(clip.frames) - 1)
        frames = clip.frames[index]  # only the frames the encoder sees are spoiled
        for store, pixels in ((clean, frames), (spoiled, spoil(frames, rng))):
            x = prepare(pixels, EncoderConfig(**{**asdict(config), "stride": 1}))[0]
            store.append(((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8))
        targets.append(clip_targets(clip))
    return torch.stack(clean), torch.stack(spoiled), torch.from_numpy(np.stack(targets))


def train_encoder(
    clips: int, epochs: int, seed: int = 0, out: Path = WEIGHTS, lr: float = 3e-3
) -> Path:
    """Render `clips` training-split scenes, fit the encoder, save bf16 weights."""
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    config = EncoderConfig()
    model = fit(build_encoder(config), *make_training_set(clips, config, seed), epochs, lr)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, out / "model.safetensors")
    (out / "config.json").write_text(json.dumps(asdict(config), indent=1))
    return out


def fit(model, clean, spoiled, y, epochs: int, lr: float, batch: int = 32):
    """AdamW with a one-cycle schedule; the last tenth of the clips is held out to show the fit."""
    import torch

    clips = len(y)
    y = (y - y.mean(0)) / (y.std(0) + 1e-3)
    held = max(batch, clips // 10)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    per_epoch = (clips - held) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * per_epoch)
    for epoch in range(epochs):
        order = torch.randperm(clips - held)
        losses = []
        for step in range(per_epoch):
            loss = _losses(model, clean, spoiled, y, order[step * batch : (step + 1) * batch])
            opt.zero_grad()
            sum(loss).backward()
            opt.step()
            sched.step()
            losses.append([v.item() for v in loss])
        with torch.no_grad():
            check = _losses(model.eval(), clean, spoiled, y, torch.arange(clips - held, clips))
        model.train()
        factors, fidelity = np.mean(losses, 0)
        print(
            f"epoch {epoch + 1}/{epochs}: factors {factors:.3f} (1.0 = the mean), fidelity "
            f"{fidelity:.3f} (0.693 = a coin); held out: {check[0].item():.3f}, "
            f"{check[1].item():.3f}",
            flush=True,
        )
    return model.eval()


def _losses(model, clean, spoiled, y, index):
    """(factor MSE on the clean clips, fidelity BCE over clean and spoiled ones)."""
    import torch
    from torch.nn.functional import binary_cross_entropy_with_logits, mse_loss

    x = torch.cat([clean[index], spoiled[index]]).float() / 127.5 - 1  # (2B, 3, T, S, S)
    out = model(x)
    n = len(index)
    label = torch.cat([torch.zeros(n), torch.ones(n)])
    return mse_loss(out[:n, :-1], y[index]), binary_cross_entropy_with_logits(out[:, -1], label)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="train the world video encoder for the Fréchet distance"
    )
    parser.add_argument("--clips", type=int, default=1200)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(f"wrote {train_encoder(args.clips, args.epochs, out=args.out, lr=args.lr)}")


if __name__ == "__main__":
    main()
