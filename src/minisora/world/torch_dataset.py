"""A torch Dataset over a folder written by `minisora world make`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from minisora.world.dataset import read_manifest


class WorldClipDataset(Dataset):
    """Items: video (3, T, H, W) float in [-1, 1], audio (N,) float, caption, prompts, spec, annotations."""

    def __init__(self, root: str | Path, with_audio: bool = True) -> None:
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        self.with_audio = with_audio
        self.items = sorted(
            p.with_suffix("") for shard in self.manifest["shards"] for p in (self.root / shard).glob("*.mp4")
        )
        if not self.items:
            raise ValueError(f"{self.root}: the data set has no finished shards yet; rerun `minisora world make`")

    def __len__(self) -> int:
        return len(self.items)

    def record(self, index: int) -> dict[str, Any]:
        """The item's JSON record (caption, prompts, spec, annotations), its video left unread."""
        return json.loads(self.items[index].with_suffix(".json").read_text())

    def __getitem__(self, index: int) -> dict[str, Any]:
        from minisora.media import read_video

        stem = self.items[index]
        video = read_video(stem.with_suffix(".mp4"), with_audio=self.with_audio)
        record = self.record(index)
        pixels = torch.from_numpy(video.frames).permute(3, 0, 1, 2).float() / 127.5 - 1.0  # (3, T, H, W)
        audio = video.audio if video.audio is not None else np.zeros(0, np.float32)
        return {
            "video": pixels,
            "audio": torch.from_numpy(np.ascontiguousarray(audio)),
            "fps": video.fps,
            "caption": record["caption"],
            "prompts": record["prompts"],
            "spec": record["spec"],
            "annotations": record["annotations"],
        }
