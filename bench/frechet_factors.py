"""Which part of the look moves the Fréchet distance: the world encoder's heads read on a model's videos.

The Fréchet distance says how far a model's videos are from the renders, not in what. The world
encoder (minisora/eval/encoder.py) is trained to predict named world factors from its features,
so its heads, read on a model's pooled eval videos and on fresh renders of the same cases (those
of bench/frechet_pooled.py), say which factor the model gets wrong and by how much: the mean of
each head's prediction, model minus renders, in units of that factor's spread over the encoder's
training clips (what the heads are trained to predict). Per-quarter factors are averaged over the
four quarters; the render-fidelity head is reported as the share of videos it calls spoiled
(blurred or grainy). The distance is also split into its two parts: the means (|mu_a - mu_b|^2)
and the spreads (the trace term).

    python bench/frechet_factors.py runs/eval-g9-s0,runs/eval-g9-s1 runs/eval-g9s-3000-s0,runs/eval-g9s-3000-s1
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from frechet_pooled import POOLED_OFFSET, pooled_runs  # noqa: E402

from minisora.eval.encoder import PER_QUARTER, QUARTERS, load_encoder, prepare  # noqa: E402
from minisora.eval.quality import frechet_distance  # noqa: E402
from minisora.media import read_video  # noqa: E402
from minisora.world.spec import BACKGROUNDS, PALETTE, SHAPES, SIZES  # noqa: E402


def factor_groups() -> dict[str, list[int]]:
    """Head indices of each named factor (clip_targets' order)."""
    groups: dict[str, list[int]] = {}
    k = 0
    for name, n in (("colour counts", len(PALETTE)), ("shape counts", len(SHAPES)),
                    ("size counts", len(SIZES)), ("background", len(BACKGROUNDS)),
                    ("camera pan", 1), ("occluders", 1)):
        groups[name] = list(range(k, k + n))
        k += n
    for j, name in enumerate(PER_QUARTER):
        groups[name] = [k + q * len(PER_QUARTER) + j for q in range(QUARTERS)]
    return groups


def read_heads(encoder, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(features, head outputs) of one video."""
    with torch.no_grad():
        f = encoder.features(prepare(frames, encoder.config))
        return f[0].numpy(), encoder.head(torch.nn.functional.gelu(f))[0].numpy()


def split_distance(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(means part, spreads part) of the Fréchet distance between feature sets a and b."""
    means = float(((a.mean(0) - b.mean(0)) ** 2).sum())
    return means, frechet_distance(a, b) - means


def main() -> None:
    models, pooled, chosen = pooled_runs(__doc__.splitlines()[0])
    encoder = load_encoder()
    start = time.perf_counter()

    import tempfile

    from minisora.eval.benchmark import make_video

    sets = {}
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for k, case in enumerate(chosen):
            path = make_video("render", case, POOLED_OFFSET + k, Path(tmp) / "reference.mp4")
            rows.append(read_heads(encoder, read_video(path, with_audio=False).frames))
        sets["renders"] = rows
    for runs, videos in zip(models, pooled):
        name = re.sub(r"-s\d+$", "", runs[0].name)
        sets[name] = [read_heads(encoder, read_video(v, with_audio=False).frames) for _, v in videos]
    print(f"{len(chosen)} videos a set ({time.perf_counter() - start:.0f} s)\n")

    feats = {name: np.stack([f for f, _ in rows]) for name, rows in sets.items()}
    heads = {name: np.stack([h for _, h in rows]) for name, rows in sets.items()}
    groups = factor_groups()
    names = list(sets)
    print("| factor (model mean - renders mean, in target s.d.) | " + " | ".join(names[1:]) + " |")
    print("|---|" + "---|" * (len(names) - 1))
    ref = heads["renders"]
    for factor, index in groups.items():
        cells = []
        for name in names[1:]:
            diff = heads[name][:, index].mean(0) - ref[:, index].mean(0)
            cells.append(f"{np.abs(diff).mean():.2f} ({diff.mean():+.2f})")
        print(f"| {factor} | " + " | ".join(cells) + " |")
    print("\n(cells: the mean absolute difference over the factor's heads, and their signed mean)\n")
    print("| per quarter of the clip: model mean - renders mean | " + " | ".join(names[1:]) + " |")
    print("|---|" + "---|" * (len(names) - 1))
    for factor in PER_QUARTER:
        cells = [" ".join(f"{heads[n][:, i].mean() - ref[:, i].mean():+.2f}" for i in groups[factor])
                 for n in names[1:]]
        print(f"| {factor} | " + " | ".join(cells) + " |")
    spoiled = {name: float((h[:, -1] > 0).mean()) for name, h in heads.items()}
    print("\nthe fidelity head calls spoiled (blurred or grainy): renders " + f"{spoiled['renders']:.2f}, "
          + ", ".join(f"{n} {spoiled[n]:.2f}" for n in names[1:]) + "\n")
    print("| set | Fréchet distance | means part | spreads part |")
    print("|---|---|---|---|")
    for name in names[1:]:
        means, spreads = split_distance(feats[name], feats["renders"])
        print(f"| {name} | {means + spreads:.1f} | {means:.1f} | {spreads:.1f} |")


if __name__ == "__main__":
    main()
