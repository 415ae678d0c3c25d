"""Where the objects are, read off a latent: a small probe for a loss weight that does not tilt.

`--object-weight W --object-weight-from clip` weighs each latent cell's loss by 1 + W x the share
of it the clip's objects cover (the shards' object maps). That weight depends on the clean clip,
so the velocity that minimises the weighted loss is E[w v | x_t] / E[w | x_t]: the posterior
tilted toward clips with an object in the cell, and the model draws too many (stop 38).

`--object-weight-from prediction` reads the cover off the model's own clean estimate instead,
x0_hat = x_t - t v (detached), through `CoverProbe`, a per-cell MLP fitted once on the shards'
latents and object maps. A weight that depends on x_t (and the model) only leaves the minimiser
at E[v | x_t] for every x_t: it changes where the model spends its capacity, not what it aims at.

Features of a cell: its C channels and their difference from the median of its row (over the
width), which is mostly the background (floor or sky) there; an object is what stands out.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from minisora.flow.loss import WeightFn, clean_estimate
from minisora.pipeline.layout import standing_out


class CoverProbe(nn.Module):
    """(B, C, T', H', W') latents -> (B, T', H', W') estimated object cover in [0, 1]."""

    def __init__(self, channels: int, hidden: int = 64) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(2 * channels))
        self.register_buffer("std", torch.ones(2 * channels))
        self.net = nn.Sequential(nn.Linear(2 * channels, hidden), nn.GELU(), nn.Linear(hidden, 1))

    @staticmethod
    def features(z: torch.Tensor) -> torch.Tensor:
        """(B, C, T', H', W') -> (B, T', H', W', 2C): each cell, and it less its row's median."""
        return standing_out(z).permute(0, 2, 3, 4, 1)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.net((features - self.mean) / self.std)[..., 0]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(self.features(z)))


def _cells(clips: list, limit: int) -> tuple[torch.Tensor, torch.Tensor]:
    feats, covers = [], []
    for clip in clips[:limit]:
        feats.append(CoverProbe.features(clip.latent[None]).reshape(-1, 2 * clip.latent.shape[0]))
        covers.append(clip.objects.float().reshape(-1) / 255)
    return torch.cat(feats), torch.cat(covers)


def fit_cover_probe(clips: list, clips_used: int = 600, steps: int = 400, batch: int = 4096,
                    seed: int = 0) -> tuple[CoverProbe, dict[str, float]]:
    """Fit the probe on clips with object maps (LatentClip: latent (C, T', H', W'), objects
    (T', H', W') uint8); a quarter of the cells held out. Returns it (eval mode) and its held-out
    fit: the correlation of estimated and true cover, and the mean estimate on cells an object
    covers by more than a quarter and on cells none touches."""
    usable = [c for c in clips if c.objects is not None]
    if not usable:
        raise ValueError("the cover probe needs the shards' object maps (latent folders encoded since "
                         "stop 38 from a world folder): encode the world folder again into a new --latents folder")
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(usable), generator=gen)
    x, y = _cells([usable[int(i)] for i in order], clips_used)
    cells = torch.randperm(len(x), generator=gen)
    train, test = cells[len(x) // 4:], cells[: len(x) // 4]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        probe = CoverProbe(x.shape[1] // 2)
    probe.mean.copy_(x[train].mean(0))
    probe.std.copy_(x[train].std(0).clamp_min(1e-6))
    optimizer = torch.optim.Adam(probe.net.parameters(), lr=1e-2)
    for _ in range(steps):
        pick = train[torch.randint(len(train), (batch,), generator=gen)]
        loss = nn.functional.binary_cross_entropy_with_logits(probe.logits(x[pick]), y[pick])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    probe.eval().requires_grad_(False)
    with torch.no_grad():
        estimate, truth = torch.sigmoid(probe.logits(x[test])), y[test]
    fit = {"correlation": torch.corrcoef(torch.stack([estimate, truth]))[0, 1].item(),
           "on_objects": estimate[truth > 0.25].mean().item(), "elsewhere": estimate[truth == 0].mean().item()}
    return probe, fit


def load_or_fit_probe(path: Path, clips: list, seed: int, write: bool = True
                      ) -> tuple[CoverProbe, dict[str, float] | None]:
    """The run's probe: read from `path` when a run resumes (so it never changes mid-run), else
    fitted (the same on every rank) and written there when `write`. Returns the probe and its fit
    (None when read)."""
    from safetensors.torch import load_file, save_file

    if path.is_file():
        state = load_file(str(path))
        probe = CoverProbe(state["mean"].shape[0] // 2, state["net.0.weight"].shape[0])
        probe.load_state_dict(state, strict=True)
        return probe.eval().requires_grad_(False), None
    probe, fit = fit_cover_probe(clips, seed=seed)
    if not write:
        return probe, fit
    from minisora.media.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in probe.state_dict().items()}, str(tmp))
    return probe, fit


def prediction_weight(probe: CoverProbe, object_weight: float, below: float = 1.0) -> WeightFn:
    """The flow loss's weight from the model's own prediction: 1 + W x the probe's cover of
    x0_hat = x_t - t v, on frames whose noise level is under `below`. The probe must be on the
    device the training tensors are on."""

    def weight(x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x_t.device.type, enabled=False):
            cover = probe(clean_estimate(x_t.float(), t.float(), v.float()))
        gate = (t < below).float()[:, :, None, None]
        return 1 + object_weight * cover * gate

    return weight
