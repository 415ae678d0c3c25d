"""Latent shards: world clips encoded once by the autoencoder, with their captions' embeddings.

Layout of a latent folder:

    manifest.json           latent channels, text width, the VAE it came from, shards done
    text.safetensors        the embedding cache: every caption and short prompt, encoded once
    shard_00000.safetensors latents "0", "1", ... (C, T', H', W') float16; metadata: captions;
    ...                     object maps "objects.0", ... (T', H', W') uint8 (folders encoded since stop 38)

Training then never touches pixels or the text encoder. Shards are written under a temporary
name and renamed, so an interrupted encode resumes by writing only the missing shards.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from minisora.text.cache import EmbeddingCache
from minisora.text.encoder import NULL_CAPTION

MANIFEST = "manifest.json"
TEXT_CACHE = "text.safetensors"
TEXT_SAVE_EVERY = 16  # shards between saves of the text cache while encoding


@dataclass
class LatentClip:
    latent: torch.Tensor  # (C, T', H', W') normalised latents (float16 once read from a shard)
    captions: list[str]  # the detailed caption first, then short prompts
    objects: torch.Tensor | None = None  # (T', H', W') uint8: share of each latent cell an object covers, x255


def object_map(annotations: dict[str, Any], latent_shape: tuple[int, int, int], spatial: int,
               temporal: int) -> torch.Tensor:
    """(T', H', W') uint8: how much of each latent cell the world's objects cover (255 = all of it).

    From the clip's ground truth (`world make`'s annotations: every object's box in every frame),
    at the autoencoder's grid: latent frame 0 is video frame 0 and latent frame j >= 1 the frames
    4j-3 .. 4j (a causal autoencoder's groups), and a cell takes the most any of its frames covers.
    The box of a round object covers its corners too, which is the point: a weight on the cells
    where an object is, not a drawing of it."""
    frames_t, cells_h, cells_w = latent_shape
    height, width = cells_h * spatial, cells_w * spatial
    if (annotations.get("height"), annotations.get("width")) != (height, width):
        raise ValueError(f"annotations are for {annotations.get('width')}x{annotations.get('height')}, "
                         f"the latent grid {cells_w}x{cells_h} for {width}x{height}")
    out = torch.zeros(latent_shape)
    ys, xs = torch.arange(height) + 0.5, torch.arange(width) + 0.5
    for index, frame in enumerate(annotations["frames"]):
        j = 0 if index == 0 else (index - 1) // temporal + 1
        if j >= frames_t:
            break
        covered = torch.zeros(height, width, dtype=torch.bool)
        for obj in frame["objects"]:
            if obj.get("visible", 1.0) <= 0:
                continue
            x0, y0, x1, y1 = obj["box"]
            covered |= ((ys >= y0) & (ys < y1))[:, None] & ((xs >= x0) & (xs < x1))[None, :]
        share = covered.float().reshape(cells_h, spatial, cells_w, spatial).mean(dim=(1, 3))
        out[j] = torch.maximum(out[j], share)
    return (out * 255).round().to(torch.uint8)


def write_shard(folder: Path, index: int, clips: list[LatentClip]) -> Path:
    """Write one shard atomically; returns its path."""
    final = folder / f"shard_{index:05d}.safetensors"
    tmp = folder / f".tmp_{final.name}"
    tensors = {str(i): clip.latent.to(torch.float16).contiguous() for i, clip in enumerate(clips)}
    tensors.update({f"objects.{i}": clip.objects.to(torch.uint8).contiguous()
                    for i, clip in enumerate(clips) if clip.objects is not None})
    save_file(tensors, str(tmp), metadata={"captions": json.dumps([c.captions for c in clips])})
    os.replace(tmp, final)
    return final


def _shard_captions(path: Path) -> list[str]:
    """Every caption of a shard, from its metadata (no tensors read)."""
    with safe_open(str(path), framework="pt") as f:
        return [c for caps in json.loads(f.metadata()["captions"]) for c in caps]


def read_shard(path: Path) -> list[LatentClip]:
    with safe_open(str(path), framework="pt") as f:
        captions = json.loads(f.metadata()["captions"])
        keys = set(f.keys())
        return [LatentClip(f.get_tensor(str(i)), caps,  # float16
                           f.get_tensor(f"objects.{i}") if f"objects.{i}" in keys else None)
                for i, caps in enumerate(captions)]


def write_latents(folder: str | Path, clips: Iterable[LatentClip], text: EmbeddingCache,
                  info: dict[str, Any], shard_size: int = 64) -> Path:
    """Write already-encoded clips as shards plus their text cache (tests, synthetic data)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shards, chunk, captions = [], [], []
    for clip in clips:
        chunk.append(clip)
        captions += clip.captions
        if len(chunk) == shard_size:
            shards.append(write_shard(folder, len(shards), chunk).name)
            chunk = []
    if chunk:
        shards.append(write_shard(folder, len(shards), chunk).name)
    text.add([*captions, NULL_CAPTION])
    text.save(folder / TEXT_CACHE)
    _write_manifest(folder, {**info, "shards": shards, "complete": True})
    return folder


def encode_world(world_dir: str | Path, out: str | Path, vae: torch.nn.Module, text: EmbeddingCache,
                 shard_size: int = 64, batch_size: int = 4, progress: bool = True) -> Path:
    """Encode a `minisora world make` folder into latent shards (resumable)."""
    from tqdm import tqdm

    from minisora.world.torch_dataset import WorldClipDataset

    data = WorldClipDataset(world_dir, with_audio=False)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    num_shards = (len(data) + shard_size - 1) // shard_size
    info = {"latent_channels": vae.config.latent_channels, "text_dim": text.encoder.dim,
            "text_encoder": asdict(text.encoder.config), "world": str(world_dir),
            "vae_config": vae.config.to_dict(), "clips": len(data)}
    _write_manifest(out, {**info, "shards": [], "complete": False})
    for shard in tqdm(range(num_shards), desc="encode latents", disable=not progress):
        if (out / f"shard_{shard:05d}.safetensors").exists():
            continue
        items = range(shard * shard_size, min(len(data), (shard + 1) * shard_size))
        clips = list(_encode_items(vae, (data[i] for i in items), batch_size))
        text.add([c for clip in clips for c in clip.captions])
        write_shard(out, shard, clips)
        if shard % TEXT_SAVE_EVERY == TEXT_SAVE_EVERY - 1:  # the cache grows to GBs: not every shard
            text.save(out / TEXT_CACHE)
    shards = sorted(p.name for p in out.glob("shard_*.safetensors"))
    # a run resumed after a kill may lack the text of shards finished after the last save
    text.add([c for name in shards for c in _shard_captions(out / name)] + [NULL_CAPTION])
    text.save(out / TEXT_CACHE)
    _write_manifest(out, {**info, "shards": shards, "complete": len(shards) == num_shards})
    return out


def _encode_items(vae: torch.nn.Module, items: Iterator[dict[str, Any]], batch_size: int
                  ) -> Iterator[LatentClip]:
    """Encode clips of equal size together, in order; yields one LatentClip per item."""
    pending: list[dict[str, Any]] = []

    def flush() -> Iterator[LatentClip]:
        latents = vae.encode(torch.stack([p["video"] for p in pending]))  # (B, C, T', H', W')
        spatial, temporal = vae.config.spatial_factor, vae.config.temporal_factor
        for item, latent in zip(pending, latents):
            objects = (object_map(item["annotations"], tuple(latent.shape[1:]), spatial, temporal)
                       if "annotations" in item else None)
            yield LatentClip(latent.float(), [item["caption"], *item.get("prompts", [])], objects)
        pending.clear()

    for item in items:
        if pending and (len(pending) == batch_size or item["video"].shape != pending[0]["video"].shape):
            yield from flush()
        pending.append(item)
    if pending:
        yield from flush()


def ensure_latents(latents: str | Path, world: str | Path | None = None, vae: str | Path | None = None,
                   text_encoder: str = "", progress: bool = True) -> Path:
    """The latent folder, encoding the world folder into it first if it is missing or unfinished.
    Several folders ("a,b") must all be complete already."""
    folders = latent_folders(latents)
    if len(folders) > 1:
        if world is not None:
            raise ValueError("--world encodes into one latent folder: give a single --latents with it")
        for folder in folders:
            read_manifest(folder)  # raises with what to do
        return Path(latents)
    latents = Path(latents)
    manifest = latents / MANIFEST
    if manifest.is_file() and json.loads(manifest.read_text()).get("complete"):
        return latents
    if world is None:
        read_manifest(latents)  # raises with what to do
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise RuntimeError("encode the latents once before a distributed run: run `minisora train "
                           "--world ... --vae ... --latents ... --steps 0` without torchrun, then torchrun")
    from minisora.autoencoder.checkpoint import load_vae
    from minisora.text.encoder import TextEncoder, TextEncoderConfig

    model = load_vae(vae)  # None: the packaged default weights
    encoder = TextEncoder(TextEncoderConfig(path=text_encoder))
    cache_path = latents / TEXT_CACHE
    cache = EmbeddingCache.load(cache_path, encoder) if cache_path.exists() else EmbeddingCache(encoder)
    return encode_world(world, latents, model, cache, progress=progress)


def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no latent shards here (no {MANIFEST}); make them with "
                                "`minisora train --world WORLD_DIR --vae VAE_DIR --latents "
                                f"{folder} ...`")
    manifest = json.loads(path.read_text())
    if not manifest.get("complete"):
        raise ValueError(f"{folder}: the latent shards are incomplete; rerun the encode to finish them")
    return manifest


# what latent folders trained on together must agree on (and the autoencoder's latent space)
SAME_LATENT_SPACE = ("latent_channels", "text_dim", "text_encoder")


def _latent_space(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The autoencoder settings that fix what the latents mean (a decoder fine-tune keeps them)."""
    from minisora.autoencoder.config import VAEConfig

    recorded = manifest.get("vae_config")
    return VAEConfig.from_dict(recorded).latent_space() if recorded else None


def latent_folders(latents: str | Path) -> list[Path]:
    """The folders named by `latents`: one folder, or several separated by commas ("a,b")."""
    return [Path(part) for part in str(latents).split(",") if part]


def load_latents(latents: str | Path) -> tuple[list[LatentClip], EmbeddingCache, dict[str, Any]]:
    """All clips of one latent folder, or of several ("a,b") made with the same autoencoder and
    text encoder (in memory, in the order given), the text cache and the (first) manifest."""
    folders = latent_folders(latents)
    if not folders:
        raise ValueError("no latent folder given: pass --latents DIR (or DIR1,DIR2)")
    clips, cache, first = [], None, None
    for folder in folders:
        manifest = read_manifest(folder)
        if first is None:
            first = manifest
        else:
            differ = [k for k in SAME_LATENT_SPACE if manifest.get(k) != first.get(k)]
            differ += ["the autoencoder's latent space"] if _latent_space(manifest) != _latent_space(first) else []
            if differ:
                raise ValueError(f"{folder} was made differently from {folders[0]} ({', '.join(differ)}): "
                                 "latent folders trained together need the same autoencoder and text encoder")
        clips += [clip for shard in manifest["shards"] for clip in read_shard(folder / shard)]
        text = EmbeddingCache.load(folder / TEXT_CACHE)
        if cache is None:
            cache = text
        else:
            cache.entries.update(text.entries)
    merged = dict(first)
    if len(folders) > 1:
        merged["clips"], merged["folders"] = len(clips), [str(f) for f in folders]
    return clips, cache, merged


def _write_manifest(folder: Path, data: dict[str, Any]) -> None:
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, folder / MANIFEST)

