"""The world model's own videos as sound training clips (`train-sound --generated INDEX`).

    index.jsonl: {"video": MP4, "caption": the refined prompt} per line
      --read, world tracker (eval.analyzer)--> the contacts seen in the frames
      --world.sound.impact_sound at each: material from the caption (else drawn per object),
        size from the track, speed from the velocity jump--> a soundtrack
      --> shards in the training cache's layout (cache.py), beside the renders' cache

Renders teach the sound model what the world sounds like, and their tracked contacts nearly all
come with a partner and a clean look. The world model's videos are another domain: objects
jitter and pop, and a third of the contacts the tracker sees in them have no partner (1% on
renders). A model trained on renders alone leaves many of those silent where a viewer (and the
benchmark's av_sync claim) expects a sound at every visible hit. These clips show it that
domain, voiced by the world's own synthesis at the contacts seen: a pseudo-label, since a
generated video has no true soundtrack. Hits the video does not show get no sound here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from minisora.sound.cache import SHARD, video_tensor
from minisora.sound.mel import MelConfig, log_mel

SAME_HIT_S = 0.02  # one collision reported by both of its tracks counts once


def read_index(index: str | Path) -> list[dict[str, Any]]:
    """The index's entries ({"video", "caption", ...}); video paths relative to the index's folder
    are resolved against it."""
    index = Path(index)
    if not index.exists():
        raise FileNotFoundError(f"no index of generated videos at {index}: write one JSON object per line "
                                "with 'video' (an MP4) and 'caption' (the prompt it was generated from)")
    entries = []
    for number, line in enumerate(index.read_text().splitlines(), 1):
        if not line.strip():
            continue
        entry = json.loads(line)
        if "video" not in entry or "caption" not in entry:
            raise ValueError(f"{index}:{number}: each line needs 'video' and 'caption'")
        video = Path(entry["video"])
        entry["video"] = str(video if video.is_absolute() or video.exists() else index.parent / video)
        entries.append(entry)
    return entries


def voice_contacts(analysis, caption: str, seed: int) -> tuple[np.ndarray, torch.Tensor]:
    """The world's sound of the contacts the tracker saw: (samples,) float32 at the world's rate,
    as long as the video, and the cache's contact rows (K, 2 + materials): time, loudness, which
    materials ring. An object's material is the caption's for its look, else one drawn for it."""
    from minisora.sound.tracked import _look, caption_materials, material_of
    from minisora.world.sound import SAMPLE_RATE, loudness, mix_hits, struck
    from minisora.world.spec import MATERIALS, SIZES

    names, looks = list(MATERIALS), caption_materials(caption)
    tracks = {t.id: t for t in analysis.tracks}
    rng = np.random.default_rng(seed)
    drawn: dict[int, str] = {}

    def body(track: int, frame: int) -> tuple[str, float]:
        color, shape, size = _look(tracks.get(track), frame)
        index = material_of(looks, color, shape, size)
        if index < 0:
            index = names.index(drawn.setdefault(track, names[int(rng.integers(len(names)))]))
        return names[index], list(SIZES.values())[size] if size >= 0 else SIZES["medium"]

    total = round(analysis.num_frames / analysis.fps * SAMPLE_RATE)
    hits, rows, voiced = [], [], []
    for c in sorted(analysis.contacts, key=lambda c: c.time):
        pair = {c.track} | ({c.partner} if isinstance(c.partner, int) else set())
        start = round(c.time * SAMPLE_RATE)
        if not 0 <= start < total or any(abs(c.time - t) <= SAME_HIT_S and pair == p for t, p in voiced):
            continue
        voiced.append((c.time, pair))
        bodies = [body(k, c.frame) for k in sorted(pair)]
        # the jump is (1 + e) times the impact speed for a hit on something that does not move
        speed = float(np.hypot(*c.dv)) / (1.0 + MATERIALS[bodies[0][0]].restitution)
        hits.append((start, struck(bodies, speed)))
        ring = [1.0 if any(m == name for m, _ in bodies) else 0.0 for name in names]
        rows.append([c.time, loudness(speed) / loudness(float("inf")), *ring])
    return mix_hits(total, hits), torch.tensor(rows, dtype=torch.float64).reshape(len(rows), 2 + len(names))


def build_generated_cache(index: str | Path, root: str | Path, vae_folder: str | Path | None = None,
                          mel: MelConfig | None = None, grid: int = 16, colors: int = 1,
                          log: Callable[[str], None] = print) -> tuple[Path, Path, int]:
    """Make (or complete) the cache of the index's videos in `root`, in cache.py's layout (with
    the tracker's contacts); returns its latents folder, its frames folder and its clip count."""
    from minisora.autoencoder.checkpoint import load_vae
    from minisora.eval.analyzer import analyze
    from minisora.media.atomic import atomic_path
    from minisora.media.read import read_video
    from minisora.pipeline.timeline import context_head
    from minisora.sound.cache import cache_folders
    from minisora.sound.model import frame_grid
    from minisora.sound.tracked import analysis_contacts
    from minisora.text.encoder import TextEncoder

    entries, root, mel = read_index(index), Path(root), mel or MelConfig()
    root.mkdir(parents=True, exist_ok=True)
    recorded = {"mel": mel.to_dict(), "generated": str(index), "clips": len(entries)}
    if (root / "cache.json").exists() and json.loads((root / "cache.json").read_text()) != recorded:
        raise ValueError(f"{root} holds another index's clips or mel config; name another cache folder")
    with atomic_path(root / "cache.json") as tmp:
        tmp.write_text(json.dumps(recorded, indent=1) + "\n")
    latents_dir, frames_dir = cache_folders(root, vae_folder, grid, colors)
    (root / "tracked").mkdir(exist_ok=True)
    text, vae = None, None
    for shard, start in enumerate(range(0, len(entries), SHARD)):
        paths = [root / f"clips_{shard:04d}.pt", root / f"contacts_{shard:04d}.pt",
                 latents_dir / f"latents_{shard:04d}.pt", frames_dir / f"frames_{shard:04d}.pt",
                 root / "tracked" / f"tracked_{shard:04d}.pt"]
        if all(p.exists() for p in paths):
            continue
        text, vae = text or TextEncoder(), vae or load_vae(vae_folder)
        clips = {"index": [], "mel": [], "caption": [], "fps": [], "frames": []}
        contacts, latents, grids, seen = [], [], [], []
        for number, entry in enumerate(entries[start: start + SHARD], start):
            video = read_video(entry["video"], with_audio=False)
            frames = context_head(video.frames, len(video.frames) + (1 - len(video.frames)) % 4)  # 4k + 1
            analysis = analyze(frames, video.fps)
            audio, rows = voice_contacts(analysis, entry["caption"], seed=number)
            pixels = video_tensor(frames)
            with torch.inference_mode():
                latents.append(vae.encode(pixels)[0].half())
                grids.append(frame_grid(pixels, grid, colors)[0].half())
            seen.append(analysis_contacts(analysis))
            contacts.append(rows)
            for key, value in (("index", number), ("mel", log_mel(audio, mel)[0].half()),
                               ("caption", entry["caption"]), ("fps", video.fps), ("frames", len(frames))):
                clips[key].append(value)
        tokens, mask = text.encode(clips["caption"])
        clips["text"] = [tokens[i, mask[i]].half() for i in range(len(clips["caption"]))]
        for path, data in zip(paths, (clips, contacts, latents, grids, seen)):
            with atomic_path(path) as tmp:
                torch.save(data, tmp)
        log(f"generated cache: {start + len(contacts)}/{len(entries)} clips")
    return latents_dir, frames_dir, len(entries)
