"""A per-caption cache of text embeddings: each caption is encoded once, stored unpadded.

Training sees the same captions again and again; the cache keeps each one's (n_tokens, D)
embedding (float16 on disk, one safetensors file with the captions in its metadata) and pads
batches on the way out.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from minisora.text.encoder import TextEncoder


def pad_tokens(items: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """[(n_i, D)] -> (B, L, D) zero-padded and (B, L) bool mask, L = max n_i."""
    if not items:
        raise ValueError("pad_tokens needs at least one caption embedding")
    length, dim = max(x.shape[0] for x in items), items[0].shape[1]
    tokens = torch.zeros(len(items), length, dim)
    mask = torch.zeros(len(items), length, dtype=torch.bool)
    for i, x in enumerate(items):
        tokens[i, : x.shape[0]] = x.float()
        mask[i, : x.shape[0]] = True
    return tokens, mask


class EmbeddingCache:
    def __init__(self, encoder: TextEncoder | None = None) -> None:
        self.encoder = encoder
        self.entries: dict[str, torch.Tensor] = {}  # caption -> (n_tokens, D) float16

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, caption: str) -> bool:
        return caption in self.entries

    def add(self, captions: list[str], batch_size: int = 64) -> None:
        """Encode the captions not cached yet."""
        missing = sorted({c for c in captions if c not in self.entries})
        if missing and self.encoder is None:
            raise KeyError(f"{len(missing)} captions are not cached and no encoder was given, "
                           f"e.g. {missing[0]!r}; pass a TextEncoder to the cache")
        for start in range(0, len(missing), batch_size):
            chunk = missing[start:start + batch_size]
            tokens, mask = self.encoder.encode(chunk)
            for caption, x, m in zip(chunk, tokens, mask):
                self.entries[caption] = x[m].to(torch.float16).cpu()

    def get(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L, D) float32 tokens and (B, L) bool mask for the captions (encoding any missing)."""
        self.add(captions)
        return pad_tokens([self.entries[c] for c in captions])

    def save(self, path: str | Path) -> None:
        captions = list(self.entries)
        tensors = {str(i): self.entries[c].contiguous() for i, c in enumerate(captions)}
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        save_file(tensors, str(tmp), metadata={"captions": json.dumps(captions)})
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path, encoder: TextEncoder | None = None) -> EmbeddingCache:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            captions = json.loads(f.metadata()["captions"])
        tensors = load_file(str(path))
        cache = cls(encoder)
        cache.entries = {c: tensors[str(i)] for i, c in enumerate(captions)}
        return cache
