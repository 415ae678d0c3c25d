"""The sound model's training cache: world clips rendered once, as log-mels, caption tokens and
video latents.

    cache/clips_0000.pt ...            mel (n_mels, F) fp16, caption tokens (L, 384) fp16, caption
    cache/contacts_0000.pt ...         each clip's contacts (K, 2 + materials): time (s), loudness
                                       (0..1), which materials ring (the aux heads' targets)
    cache/latents-<vae sha[:12]>/      latents (C, T', H', W') fp16 of the same clips, per autoencoder
    cache/frames-g<G>/                 each frame's luma grid (T, G, G) fp16 (model.frame_grid)
    cache/frames-g<G>-rgb/             or its colour grid (T, 3, G, G)
    cache/tracked/tracked_0000.pt ...  the contacts the world tracker sees in each clip's frames
                                       (K, tracked.RAW), for models with the contact path

Rendering and text encoding do not depend on the autoencoder; latents do, so they live in a
folder named by the autoencoder's fingerprint: when the VAE is retrained only the latents are
made again. The frame grids depend on the grid size alone. Each shard is written atomically, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from minisora.sound.mel import MelConfig, log_mel

SHARD = 100  # clips per shard


def vae_fingerprint(folder: str | Path | None = None) -> str:
    """The autoencoder's latent space (its encoder and normalisation), not the whole file: a
    decoder fine-tuned alone leaves the sound model valid."""
    from minisora.autoencoder.checkpoint import latent_fingerprint

    return latent_fingerprint(folder)


def video_tensor(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (1, 3, T, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2)[None].float() / 127.5 - 1.0


def build_clip_shard(seed: int, start: int, count: int, mel: MelConfig, encode_text: Callable) -> dict[str, Any]:
    """Render clips start .. start + count of the training split: mels and caption tokens."""
    from minisora.world.captions import caption_clip
    from minisora.world.clip import render_clip
    from minisora.world.dataset import DatasetConfig, sample_clip_spec

    dataset = DatasetConfig(n=start + count, seed=seed)
    clips = [render_clip(sample_clip_spec(dataset, i)) for i in range(start, start + count)]
    captions = [caption_clip(c.spec, c.trajectory) for c in clips]
    tokens, mask = encode_text(captions)  # (B, L, D), (B, L)
    return {
        "index": list(range(start, start + count)),
        "mel": [log_mel(c.audio, mel)[0].half() for c in clips],
        "text": [tokens[i, mask[i]].half() for i in range(count)],
        "caption": captions,
        "fps": [c.fps for c in clips],
        "frames": [c.frames.shape[0] for c in clips],
    }


def clip_contacts(spec, trajectory) -> torch.Tensor:
    """(K, 2 + len(MATERIALS)) float64: per contact its time (s), its loudness relative to the
    loudest hit (0..1, the world's rule) and a 1 for each material that rings (both bodies when
    two objects meet)."""
    from minisora.world.sound import loudness
    from minisora.world.spec import MATERIALS

    names = list(MATERIALS)
    rows = []
    for c in trajectory.contacts:
        ring = [0.0] * len(names)
        for k in [c.a] + ([c.b] if isinstance(c.b, int) else []):
            ring[names.index(spec.objects[k].material)] = 1.0
        rows.append([c.time, loudness(c.speed) / loudness(float("inf")), *ring])
    return torch.tensor(rows, dtype=torch.float64).reshape(len(rows), 2 + len(names))


def build_contact_shard(seed: int, start: int, count: int) -> list[torch.Tensor]:
    """The contacts of clips start .. start + count (simulated again: no rendering needed)."""
    from minisora.world.dataset import DatasetConfig, sample_clip_spec
    from minisora.world.physics import simulate

    dataset = DatasetConfig(n=start + count, seed=seed)
    specs = [sample_clip_spec(dataset, i) for i in range(start, start + count)]
    return [clip_contacts(spec, simulate(spec)) for spec in specs]


def build_video_shards(seed: int, start: int, count: int, vae=None, grid: int | None = None, colors: int = 1,
                       tracked: bool = False) -> tuple[list[torch.Tensor] | None, ...]:
    """The same clips, re-rendered without sound (rendering is cheap) once for all three: their
    normalised video latents (C, T', H', W') if a `vae` is given, their frame grids (T, G, G)
    of luma, or (T, 3, G, G) of colour with colors=3, if a `grid` is, and the contacts the world
    tracker sees in them (sound.tracked's raw rows) with `tracked`."""
    from minisora.sound.model import frame_grid
    from minisora.sound.tracked import track_contacts
    from minisora.world.clip import render_clip
    from minisora.world.dataset import DatasetConfig, sample_clip_spec

    dataset = DatasetConfig(n=start + count, seed=seed)
    latents = [] if vae is not None else None
    grids = [] if grid is not None else None
    seen = [] if tracked else None
    with torch.inference_mode():
        for i in range(start, start + count):
            clip = render_clip(sample_clip_spec(dataset, i), with_audio=False)
            pixels = video_tensor(clip.frames)
            if latents is not None:
                latents.append(vae.encode(pixels)[0].half())
            if grids is not None:
                grids.append(frame_grid(pixels, grid, colors)[0].half())
            if seen is not None:
                seen.append(track_contacts(clip.frames, clip.fps))
    return latents, grids, seen


def cache_folders(root: Path, vae_folder: str | Path | None, grid: int, colors: int) -> tuple[Path, Path]:
    """A cache's latents folder (per autoencoder fingerprint) and frame-grid folder, made if missing."""
    latents_dir = root / f"latents-{vae_fingerprint(vae_folder)[:12]}"
    frames_dir = root / (f"frames-g{grid}" if colors == 1 else f"frames-g{grid}-rgb")
    for folder in (latents_dir, frames_dir):
        folder.mkdir(exist_ok=True)
    return latents_dir, frames_dir


def build_cache(root: str | Path, n: int, seed: int = 0, vae_folder: str | Path | None = None,
                mel: MelConfig | None = None, log: Callable[[str], None] = print,
                grid: int = 16, colors: int = 1, tracked: bool = False) -> tuple[Path, Path]:
    """Make (or complete) the cache of n clips for the autoencoder in vae_folder and frame grids
    of `grid` cells a side (luma, or colour with colors=3), and with `tracked` the contacts the
    world tracker sees; returns its latents folder and its frames folder."""
    import json

    from minisora.autoencoder.checkpoint import load_vae
    from minisora.media.atomic import atomic_path
    from minisora.text.encoder import TextEncoder

    root, mel = Path(root), mel or MelConfig()
    root.mkdir(parents=True, exist_ok=True)
    recorded = {"mel": mel.to_dict(), "seed": seed}
    if (root / "cache.json").exists():
        if json.loads((root / "cache.json").read_text()) != recorded:
            raise ValueError(f"{root} holds clips of another mel config or world seed; name another cache folder")
    else:  # atomically: two runs may share a cache, and one reads it as the other starts
        with atomic_path(root / "cache.json") as tmp:
            tmp.write_text(json.dumps(recorded, indent=1) + "\n")
    latents_dir, frames_dir = cache_folders(root, vae_folder, grid, colors)
    text, vae = None, None
    for shard, start in enumerate(range(0, n, SHARD)):
        count = min(SHARD, n - start)
        clip_path, latent_path = root / f"clips_{shard:04d}.pt", latents_dir / f"latents_{shard:04d}.pt"
        if not clip_path.exists():
            text = text or TextEncoder()
            with atomic_path(clip_path) as tmp:
                torch.save(build_clip_shard(seed, start, count, mel, text.encode), tmp)
        contacts_path = root / f"contacts_{shard:04d}.pt"
        if not contacts_path.exists():
            with atomic_path(contacts_path) as tmp:
                torch.save(build_contact_shard(seed, start, count), tmp)
        frames_path = frames_dir / f"frames_{shard:04d}.pt"
        tracked_path = root / "tracked" / f"tracked_{shard:04d}.pt"
        need_latents, need_grids = not latent_path.exists(), not frames_path.exists()
        need_tracked = tracked and not tracked_path.exists()
        if need_latents or need_grids or need_tracked:
            vae = (vae or load_vae(vae_folder)) if need_latents else vae
            made = build_video_shards(seed, start, count, vae if need_latents else None,
                                      grid if need_grids else None, colors, need_tracked)
            if need_tracked:
                tracked_path.parent.mkdir(exist_ok=True)
            for path, shard_data in zip((latent_path, frames_path, tracked_path), made):
                if shard_data is not None:
                    with atomic_path(path) as tmp:
                        torch.save(shard_data, tmp)
        log(f"cache: {start + count}/{n} clips")
    return latents_dir, frames_dir


def load_cache(root: str | Path, latents_dir: str | Path, frames_dir: str | Path, n: int,
               tracked: bool = False) -> list[dict[str, Any]]:
    """Clips as dicts {mel, text, latents, frames, fps, contacts} (and with `tracked` the
    tracker's contacts as the model reads them, tracked.contact_features with the clip's
    caption: `tracked`), the first n of the cache."""
    from minisora.sound.tracked import contact_features

    root, latents_dir, frames_dir = Path(root), Path(latents_dir), Path(frames_dir)
    items: list[dict[str, Any]] = []
    for shard in range((n + SHARD - 1) // SHARD):
        clips = torch.load(root / f"clips_{shard:04d}.pt")
        latents = torch.load(latents_dir / f"latents_{shard:04d}.pt")
        frames = torch.load(frames_dir / f"frames_{shard:04d}.pt")
        contacts = torch.load(root / f"contacts_{shard:04d}.pt")
        seen = torch.load(root / "tracked" / f"tracked_{shard:04d}.pt") if tracked else None
        for k in range(len(latents)):
            items.append({"mel": clips["mel"][k], "text": clips["text"][k], "latents": latents[k],
                          "frames": frames[k], "fps": clips["fps"][k], "contacts": contacts[k]}
                         | ({"tracked": contact_features(seen[k], clips["caption"][k])} if tracked else {}))
    return items[:n]
