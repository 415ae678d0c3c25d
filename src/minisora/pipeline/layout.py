"""Layout search: draw several starts, finish the one whose early estimate holds the prompt's count.

The shipped model draws the prompt's number of objects in the first frame of 38% of its videos
(N = 1-5 at 64x64), yet it settles the layout early: what its clean estimate x0_hat = x_t - t v
holds after 6 of 25 steps (t = 0.77) is what the finished video's first frame holds in 68% of
videos (stop 40). So a text-to-video chunk can start from K noises, run each to that step, read
how many objects each estimate holds in every latent frame, and finish only the start whose
estimate is closest to the count the caption names: best-of-K by a verifier at inference time
(as in Ma et al. 2025, "Inference-time scaling for diffusion models beyond scaling denoising
steps"). The verifier is `CountReader`, a small convolutional counter over latent cells fitted on
the world's encoded clips and their ground-truth object counts (`minisora train-counter`); it
reads latents, not pixels, and shares nothing with the benchmark's analyzer.

Candidate 0 is the noise a plain generation draws, so one candidate is the plain sampler. Cost
in transformer evaluations (each of a batch of K counted K times): K x (check + 1) for the search
(the estimate is one more evaluation at the check step) + (steps - check) for the finish; with
K = 4 and 25 Euler steps 47 against 25.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from minisora.flow.loss import Denoiser, clean_estimate
from minisora.flow.samplers import sample

COUNT_READER = "count_reader.safetensors"  # in a world model's folder, beside its weights
CHECK_AT = 0.24  # the share of the steps run before the estimates are read (6 of 25)


def standing_out(z: torch.Tensor) -> torch.Tensor:
    """Latents (B, C, ...rows, W') -> (B, 2C, ...): each cell's channels, then the same less the
    median of its row (over the width), which is mostly the floor or the sky there: an object is
    what stands out."""
    z = z.float()
    return torch.cat([z, z - z.median(dim=-1, keepdim=True).values], dim=1)


class CountReader(nn.Module):
    """Latent frames (N, C, H', W') -> (N,) estimated objects in each.

    A density per latent cell (three 3x3 convolutions over each cell's channels and their
    difference from its row's median, which is mostly the floor or the sky there), summed over
    the frame: it reads any size, and a frame twice as wide may hold twice as many objects."""

    def __init__(self, channels: int, width: int = 64) -> None:
        super().__init__()
        self.channels, self.width = channels, width
        self.net = nn.Sequential(
            nn.Conv2d(2 * channels, width, 3, padding=1), nn.GELU(),
            nn.Conv2d(width, width, 3, padding=1), nn.GELU(),
            nn.Conv2d(width, width, 3, padding=1), nn.GELU(),
            nn.Conv2d(width, 1, 1))
        nn.init.constant_(self.net[-1].bias, -4.0)  # ~0.02 objects a cell to start: a sum near 0

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        density = nn.functional.softplus(self.net(standing_out(z)))
        return density.sum(dim=(1, 2, 3))

    def frames(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, C, T', H', W') -> (B, T') estimated objects in each latent frame."""
        b, c, t, h, w = latents.shape
        return self(latents.transpose(1, 2).reshape(b * t, c, h, w)).reshape(b, t)


def save_count_reader(reader: CountReader, folder: str | Path, latent_space: dict[str, Any],
                      fit: dict[str, float] | None = None) -> Path:
    """Write `folder/count_reader.safetensors` atomically (bf16), with the latent space it reads."""
    from safetensors.torch import save_file

    from minisora.media.atomic import atomic_path

    path = Path(folder) / COUNT_READER
    meta = {"channels": str(reader.channels), "width": str(reader.width),
            "latent_space": json.dumps(latent_space, sort_keys=True), "fit": json.dumps(fit or {})}
    with atomic_path(path) as tmp:
        save_file({k: v.to(torch.bfloat16).contiguous() for k, v in reader.state_dict().items()}, str(tmp),
                  metadata=meta)
    return path


def load_count_reader(folder: str | Path, latent_space: dict[str, Any]) -> CountReader | None:
    """The count reader in a model folder, or None when there is none. ValueError when it was
    fitted on another autoencoder's latents (it would read noise)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(folder) / COUNT_READER
    if not path.is_file():
        return None
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    if json.loads(meta.get("latent_space", "{}")) != json.loads(json.dumps(latent_space, sort_keys=True)):
        raise ValueError(f"{path} was fitted on another autoencoder's latents than the model's; fit it "
                         "again with `minisora train-counter` or delete it (generation then draws one start)")
    reader = CountReader(int(meta["channels"]), int(meta["width"]))
    reader.load_state_dict(state, strict=True)
    return reader.eval().requires_grad_(False)


def layout_score(counts: torch.Tensor, wanted: int) -> torch.Tensor:
    """(K, T') estimated objects per latent frame -> (K,) how far each start is from `wanted`:
    the first frame's miss (the layout) plus the mean miss over all frames (objects that pop)."""
    miss = (counts - wanted).abs()
    return miss[:, 0] + miss.mean(dim=1)


def check_step(steps: int) -> int:
    """How many of `steps` run for every candidate before the estimates are read (1..steps - 1)."""
    return min(steps - 1, max(1, round(CHECK_AT * steps)))


def search_evaluations(plain: int, times: torch.Tensor, sampler: str, candidates: int) -> int:
    """Transformer evaluations (batch items) of a searched chunk; `plain` counts one run over
    `times` (for `sampler`: chunks.evaluations)."""
    from minisora.pipeline.chunks import evaluations

    if candidates <= 1:
        return plain
    check = check_step(len(times) - 1)
    return candidates * (evaluations(times[:check + 1], sampler) + 1) + evaluations(times[check:], sampler)


def search_start(denoiser: Denoiser, starts: torch.Tensor, times: torch.Tensor, reader: CountReader,
                 wanted: int, method: str = "euler") -> tuple[int, torch.Tensor, torch.Tensor]:
    """Run K starts (K, C, T', H', W') over the first `check_step` steps of `times` with a
    denoiser that takes a batch of K (no given frames), read their clean estimates at that step
    and keep the one `layout_score` puts nearest to `wanted` objects (the first on a tie).

    Returns (its index, its latents at times[check] (1, C, T', H', W'), the K scores); the caller
    finishes it over times[check:]."""
    k, frames = starts.shape[0], starts.shape[2]
    check = check_step(len(times) - 1)
    x = sample(denoiser, starts, times[:check + 1], method=method)
    t = times[check].expand(k, frames).to(x)
    estimate = clean_estimate(x, t, denoiser(x, t))
    scores = layout_score(reader.frames(estimate), wanted)
    pick = int(torch.argmin(scores))  # argmin returns the first of equal minima
    return pick, x[pick:pick + 1], scores
