"""How well a frame path finds the world's contacts from the video alone, printed as a Markdown table.

    .venv/bin/python bench/sound_contacts.py --detector                 # the shipped frame path's design
    .venv/bin/python bench/sound_contacts.py --detector --colors 3 --channels 32
    .venv/bin/python bench/sound_contacts.py --model runs/sound-aux-8k   # a sound model's contact head

The sound model places a hit where its frame path says something landed; a hit it misses is
also a material it cannot be scored on. This measures that path on its own, in minutes rather
than the hour a sound model takes to train:

    --detector   train only a contact detector with the sound model's frame path (FrameEncoder's
                 convolutions over every frame's grid, then an MLP over frames f-1 .. f+2 and the
                 place between them, per 40 ms audio token) on training-split clips and their
                 contacts (binary cross-entropy, sound/train.contact_targets), then score it
    --model      score the contact head of a sound model trained with --contact-loss

Scored on held-out clips against the simulation's contacts no quieter than a tenth of the
loudest hit (hidden and off-screen ones included: the analyzer's visual contacts find 0.63 of
them): a token whose probability is over one half and a local maximum is a found contact,
matched within +-40 ms.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

WINDOW_S = 0.040
QUIET = 0.1  # contacts below this share of the loudest hit are not asked for


def render_set(split: str | None, seed: int, n: int, grid: int, colors: int) -> list[tuple]:
    """[(frame grids (T, ...) fp16, contacts (K, 2 + M), fps)] of n rendered clips."""
    from minisora.sound.cache import clip_contacts, video_tensor
    from minisora.sound.model import frame_grid
    from minisora.world.clip import render_clip
    from minisora.world.dataset import DatasetConfig, sample_clip_spec

    dataset = DatasetConfig(n=n, seed=seed, split=split) if split else DatasetConfig(n=n, seed=seed)
    out = []
    for i in range(n):
        clip = render_clip(sample_clip_spec(dataset, i), with_audio=False)
        grids = frame_grid(video_tensor(clip.frames), grid, colors)[0].half()
        out.append((grids, clip_contacts(clip.spec, clip.trajectory), float(clip.fps)))
    return out


def tokens(frames: int, fps: float, cfg) -> int:
    return math.floor(frames / fps / cfg.mel.seconds_per_frame() / cfg.mel_patch)


def mapped_encoder(channels: int, width: int, colors: int, cells: int) -> nn.Module:
    """FrameEncoder that keeps where things happen: its last features averaged over cells x cells
    places and read whole, instead of their mean and max over the frame."""
    from minisora.sound.model import FrameEncoder

    class Mapped(FrameEncoder):
        def __init__(self) -> None:
            super().__init__(channels, width, colors)
            self.out = nn.Linear(2 * channels * cells * cells, width)

        def forward(self, grids: torch.Tensor) -> torch.Tensor:
            x = self.feature_map(grids)  # (B, 2c, T, g, g)
            b, c, t = x.shape[:3]
            x = F.adaptive_avg_pool2d(x.transpose(1, 2).reshape(b * t, c, *x.shape[-2:]), cells)
            return self.out(x.reshape(b, t, -1))

    return Mapped()


class Detector(nn.Module):
    """The sound model's frame path (model.FrameEncoder + the MLP over frames f-1 .. f+2) with a logit."""

    def __init__(self, channels: int, width: int, colors: int, cells: int = 0) -> None:
        from minisora.sound.model import FrameEncoder

        super().__init__()
        self.encoder = mapped_encoder(channels, width, colors, cells) if cells else FrameEncoder(channels, width, colors)
        self.mlp = nn.Sequential(nn.Linear(4 * width + 8, 2 * width), nn.GELU(), nn.Linear(2 * width, width),
                                 nn.GELU(), nn.Linear(width, 1))

    def forward(self, grids: torch.Tensor, fps: float, n: int, cfg) -> torch.Tensor:
        from minisora.sound.model import audio_token_times, frames_around, place_code

        seen = self.encoder(grids.float())  # (B, T, D)
        index, where = frames_around(audio_token_times(n, cfg) * fps, seen.shape[1])
        phase = place_code(where).expand(seen.shape[0], -1, -1)
        x = torch.cat([seen[:, i] for i in index] + [phase], dim=-1)
        return self.mlp(x)[..., 0]


def train_detector(train: list[tuple], args, cfg) -> Detector:
    from minisora.sound.train import CONTACT_POS_WEIGHT, contact_targets

    groups: dict[tuple, list[int]] = {}
    for i, (grids, _, fps) in enumerate(train):
        groups.setdefault((tuple(grids.shape), fps), []).append(i)
    keys = list(groups)
    sizes = torch.tensor([len(groups[k]) for k in keys], dtype=torch.float64)
    model = Detector(args.channels, args.width, args.colors, args.cells)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    generator = torch.Generator().manual_seed(args.seed)
    for step in range(args.steps):
        for group in optimizer.param_groups:
            group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        key = keys[int(torch.multinomial(sizes, 1, generator=generator))]
        picks = [groups[key][int(j)] for j in torch.randint(len(groups[key]), (args.batch,), generator=generator)]
        n = tokens(key[0][0], key[1], cfg)
        target = torch.stack([contact_targets(train[j][1], 0, n * cfg.mel_patch, cfg)[0] for j in picks])
        logits = model(torch.stack([train[j][0] for j in picks]), key[1], n, cfg)
        loss = F.binary_cross_entropy_with_logits(logits, target, pos_weight=torch.tensor(CONTACT_POS_WEIGHT))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 250 == 0:
            print(f"step {step}: loss {loss.item():.4f}", file=sys.stderr)
    return model.eval()


def model_probabilities(folder: str, heldout: list[tuple], seed: int) -> list[np.ndarray]:
    """A sound model's contact head on each held-out clip (the video alone, no caption)."""
    from minisora.autoencoder.checkpoint import load_vae
    from minisora.sound.cache import video_tensor
    from minisora.sound.model import frame_grid
    from minisora.sound.synthesis import pad_to_window
    from minisora.sound.weights import load_sound_model
    from minisora.world.clip import render_clip
    from minisora.world.dataset import DatasetConfig, sample_clip_spec

    model, vae = load_sound_model(folder).eval(), load_vae().eval()
    cfg = model.config
    if not cfg.aux_heads:
        raise SystemExit(f"{folder}: no contact head (train it with minisora train-sound --contact-loss W)")
    dataset = DatasetConfig(n=len(heldout), seed=seed, split="heldout")
    none = torch.zeros(1, 1, cfg.text_dim), torch.zeros(1, 1, dtype=torch.bool)
    out = []
    with torch.inference_mode():
        for i, (grids, _, fps) in enumerate(heldout):
            pixels = video_tensor(pad_to_window(render_clip(sample_clip_spec(dataset, i), with_audio=False).frames))
            video = model.encode_video(vae.encode(pixels), fps,
                                       frames=frame_grid(pixels, cfg.input_grid, cfg.frame_colors))
            n = tokens(grids.shape[0], fps, cfg)
            conditioning = model.condition(n * cfg.mel_patch, video, torch.ones(1, dtype=torch.bool), *none)
            out.append(torch.sigmoid(model.contact_head(conditioning.aligned)[0, :, 0]).numpy())
    return out


def score(probabilities: list[np.ndarray], heldout: list[tuple], cfg) -> dict[str, float]:
    from minisora.sound.model import audio_token_times

    found = missed = stray = 0
    for p, (grids, contacts, fps) in zip(probabilities, heldout):
        n = len(p)
        times = audio_token_times(n, cfg).numpy()
        peaks = [times[k] for k in range(n) if p[k] > 0.5 and p[k] >= p[max(k - 1, 0)] and p[k] >= p[min(k + 1, n - 1)]]
        true = sorted({round(float(r[0]), 3) for r in contacts if r[0] < grids.shape[0] / fps and r[1] >= QUIET})
        used: set[int] = set()
        for t in true:
            match = [j for j, q in enumerate(peaks) if abs(q - t) <= WINDOW_S and j not in used]
            if match:
                used.add(match[0])
                found += 1
            else:
                missed += 1
        stray += len(peaks) - len(used)
    recall, precision = found / max(found + missed, 1), found / max(found + stray, 1)
    return {"recall": recall, "precision": precision, "f1": 2 * found / max(2 * found + stray + missed, 1),
            "contacts": found + missed}


def main() -> None:
    from minisora.sound.config import SoundConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--detector", action="store_true", help="train and score a detector with the frame path")
    what.add_argument("--model", default=None, help="a sound model folder with a contact head")
    parser.add_argument("--clips", type=int, default=1500, help="training-split clips for the detector")
    parser.add_argument("--heldout", type=int, default=100)
    parser.add_argument("--heldout-seed", type=int, default=5)
    parser.add_argument("--grid", type=int, default=32, help="cells a side of each frame's grid (sound-s: 32)")
    parser.add_argument("--colors", type=int, default=1, choices=(1, 3), help="1 luma (sound-s), 3 colour")
    parser.add_argument("--channels", type=int, default=16, help="FrameEncoder channels (sound-s: 16)")
    parser.add_argument("--width", type=int, default=96)
    parser.add_argument("--cells", type=int, default=0,
                        help="keep the convolutions' map on cells x cells places instead of its mean and max (0)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = SoundConfig()
    started = time.time()
    if args.model:
        model_cfg = SoundConfig.load(f"{args.model}/config.json")
        heldout = render_set("heldout", args.heldout_seed, args.heldout, model_cfg.input_grid, model_cfg.frame_colors)
        probabilities = model_probabilities(args.model, heldout, args.heldout_seed)
        name = f"contact head of {args.model}"
    else:
        train = render_set(None, 0, args.clips, args.grid, args.colors)
        heldout = render_set("heldout", args.heldout_seed, args.heldout, args.grid, args.colors)
        detector = train_detector(train, args, cfg)
        with torch.no_grad():
            probabilities = [torch.sigmoid(detector(g[None], fps, tokens(g.shape[0], fps, cfg), cfg))[0].numpy()
                             for g, _, fps in heldout]
        name = (f"detector: grid {args.grid}, {'colour' if args.colors == 3 else 'luma'}, {args.channels} channels, "
                f"{args.steps} steps on {args.clips} clips" + (f", map of {args.cells} x {args.cells}" if args.cells else ""))
    s = score(probabilities, heldout, cfg)
    print("| contacts found by | F1 | recall | precision | s |\n|---|---|---|---|---|")
    print(f"| {name} | {s['f1']:.3f} | {s['recall']:.3f} | {s['precision']:.3f} | {time.time() - started:.0f} |")
    print(f"\n{args.heldout} held-out clips, {s['contacts']} contacts at least {QUIET:.0%} of the loudest hit.")


if __name__ == "__main__":
    main()
