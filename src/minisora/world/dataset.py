"""The dataset writer and reader: world clips in shards, resumable, with a manifest.

Layout of a data set folder:

    manifest.json            what was asked (n, seed, split, sampler settings) and the shards done
    shard_00000/             one folder per shard, renamed into place only when complete
      000000.mp4             H.264 video + AAC audio
      000000.json            scene spec, caption, short prompts, per-frame annotations
      ...

Clip i always comes from seed (base_seed, i), so shards are independent: workers write them in
parallel, and a run that is interrupted resumes by writing only the shards that are missing —
no duplicates, no holes. Temporary shard folders left by a killed run are removed on resume.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minisora.world.vocabulary import MAX_OBJECTS

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class DatasetConfig:
    n: int
    seed: int = 0
    split: str = "train"
    size: tuple[int, int] | None = None  # None: the sampler's mix of aspect ratios
    fps: int = 16
    seconds: float = 4.0
    shard_size: int = 64
    max_objects: int = 4  # the most objects in one scene (the sampler's default; the world allows 8)

    @property
    def num_shards(self) -> int:
        return (self.n + self.shard_size - 1) // self.shard_size


def clip_seed(base_seed: int, index: int) -> int:
    """A per-clip seed that does not collide across base seeds or indices."""
    return int(np.random.SeedSequence([base_seed, index]).generate_state(1)[0])


def sample_clip_spec(config: DatasetConfig, index: int):
    from minisora.world.sampler import SamplerConfig, sample_scene

    sampler = SamplerConfig.for_clip(size=config.size, fps=config.fps, duration=config.seconds)
    sampler.max_objects = config.max_objects
    return sample_scene(clip_seed(config.seed, index), sampler, split=config.split)


def write_shard(root: Path, config: DatasetConfig, shard: int) -> int:
    """Render and write one shard into a temporary folder, then rename it into place."""
    from minisora.media import write_mp4
    from minisora.world.captions import caption_clip, short_prompts
    from minisora.world.clip import render_clip

    final = root / f"shard_{shard:05d}"
    if final.exists():
        return 0
    tmp = root / f".tmp_shard_{shard:05d}_{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    first, last = shard * config.shard_size, min(config.n, (shard + 1) * config.shard_size)
    for index in range(first, last):
        spec = sample_clip_spec(config, index)
        clip = render_clip(spec)
        write_mp4(tmp / f"{index:06d}.mp4", clip.frames, clip.fps, clip.audio)
        record = {
            "index": index,
            "spec": spec.to_dict(),
            "caption": caption_clip(spec, clip.trajectory),
            "prompts": short_prompts(spec, clip.trajectory, n=3, seed=index),
            "annotations": clip.annotations(),
        }
        (tmp / f"{index:06d}.json").write_text(json.dumps(record))
    os.replace(tmp, final)
    return last - first


def make_dataset(
    out: str | Path,
    n: int,
    seed: int = 0,
    workers: int | None = None,
    size: tuple[int, int] | None = None,
    fps: int = 16,
    seconds: float = 4.0,
    shard_size: int = 64,
    split: str = "train",
    progress: bool = True,
    max_objects: int = DatasetConfig.max_objects,
) -> Path:
    """Write (or finish writing) a data set of n clips; safe to rerun after an interruption."""
    if n <= 0 or shard_size <= 0:
        raise ValueError(f"--n ({n}) and --shard-size ({shard_size}) must be positive")
    if not 1 <= max_objects <= MAX_OBJECTS:
        raise ValueError(f"--max-objects {max_objects}: a scene holds 1 to {MAX_OBJECTS} objects")
    config = DatasetConfig(n, seed, split, tuple(size) if size else None, fps, seconds, shard_size, max_objects)
    root = _prepare_root(Path(out), config)
    todo = [s for s in range(config.num_shards) if not (root / f"shard_{s:05d}").exists()]
    workers = workers or os.cpu_count() or 1
    done = config.num_shards - len(todo)
    bar = _progress(config.num_shards, done, progress)
    if workers == 1 or len(todo) <= 1:
        for shard in todo:
            write_shard(root, config, shard)
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(write_shard, [root] * len(todo), [config] * len(todo), todo):
                bar.update(1)
    bar.close()
    _write_manifest(root, config, complete=True)
    return root


def _prepare_root(root: Path, config: DatasetConfig) -> Path:
    """Create the folder or check that it holds the same request; drop stale temp shards."""
    root.mkdir(parents=True, exist_ok=True)
    manifest = root / MANIFEST
    if manifest.exists():
        old = json.loads(manifest.read_text())["config"]
        old["size"] = tuple(old["size"]) if old["size"] else None
        old.setdefault("max_objects", 4)  # data sets made before the option held at most 4, whatever the default
        if old != asdict(config) | {"size": config.size}:
            raise ValueError(
                f"{root} already holds a different data set ({old}); choose another --out or the same options"
            )
    elif any(root.iterdir()):
        raise ValueError(f"{root} is not empty and has no {MANIFEST}; choose an empty or new folder")
    for stale in root.glob(".tmp_shard_*"):
        shutil.rmtree(stale, ignore_errors=True)
    _write_manifest(root, config, complete=False)
    return root


def _write_manifest(root: Path, config: DatasetConfig, complete: bool) -> None:
    shards = sorted(p.name for p in root.glob("shard_*") if p.is_dir())
    data = {"config": asdict(config), "shards": shards, "complete": complete and len(shards) == config.num_shards}
    tmp = root / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, root / MANIFEST)


def _progress(total: int, done: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="shard", disable=not enabled, desc="world make")


def read_manifest(root: str | Path) -> dict[str, Any]:
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise ValueError(f"{root}: no {MANIFEST}; make one with `minisora world make --n N --out {root}`")
    return json.loads(path.read_text())
