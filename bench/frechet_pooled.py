"""The Fréchet distance over several seeds' benchmark videos at once, with its floor.

One `minisora eval --suite all` run holds 43 videos, fewer than the world encoder's 64 features:
the covariance fitted to them is singular, so its Fréchet distance swings between seeds (the
shipped model: 27.9 and 28.9; a continued run: 32.2 and 42.7). This pools finished runs of one
model (their videos, read back from `runs/.../videos`) and compares them with as many fresh renders of the same cases (one render seed per video, seeds the
runs never use), and a second such set against the first (the floor). Every model is compared
with the same renders. The renders are watermarked as a model's videos are, with an id from
their seed (eval/benchmark.py make_video; until stop 34 a random one). The figures still move a
little between invocations (the shipped model 20.0 and 19.6; before, 19.5 and 18.9), not in
order: the threaded H.264 encoder does not always write the same frames for the same input
(one render in six, checked).

    python bench/frechet_pooled.py runs/eval-g9-s0,runs/eval-g9-s1 runs/eval-g9s-3000-s0,runs/eval-g9s-3000-s1
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
import torch

from minisora.eval.encoder import load_encoder, render_features, video_features
from minisora.eval.quality import REFERENCE_SEED_OFFSET, frechet_distance
from minisora.eval.suites import cases
from minisora.media import read_video

POOLED_OFFSET = 3 * REFERENCE_SEED_OFFSET  # render seeds apart from the single runs' references


def run_videos(folder: Path) -> list[tuple[tuple[str, str], Path]]:
    """((suite, prompt), video) for every case of a finished eval run, in the run's order."""
    result = json.loads((folder / "result.json").read_text())
    return [((c["suite"], c["prompt"]), Path(c["video"])) for c in result["cases"]]


def pooled_runs(description: str) -> tuple[list[list[Path]], list[list], list]:
    """Parse the command line (models' eval runs, comma-separated per model; --threads); return
    each model's runs, each model's pooled ((suite, prompt), video) list, and the benchmark's
    cases in that order (the same for every model, or a clear exit)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("runs", nargs="+", help="one model's finished eval runs, comma-separated; several models")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = [[Path(p) for p in group.split(",")] for group in args.runs]
    pooled = [[v for run in runs for v in run_videos(run)] for runs in models]
    prompts = [p for p, _ in pooled[0]]
    if any([p for p, _ in videos] != prompts for videos in pooled):
        raise SystemExit("the models' runs hold different cases: pool the same suites and seed counts")
    by_prompt = {(c.suite, c.prompt): c for c in cases("all")}
    unknown = sorted({p for p in prompts if p not in by_prompt})
    if unknown:
        raise SystemExit(f"cases not in the 'all' suite: {unknown[:3]}")
    return models, pooled, [by_prompt[p] for p in prompts]


def main() -> None:
    models, pooled, chosen = pooled_runs(__doc__.splitlines()[0])
    encoder = load_encoder()
    start = time.perf_counter()
    reference = render_features(encoder, chosen, POOLED_OFFSET)
    floor = frechet_distance(render_features(encoder, chosen, POOLED_OFFSET + REFERENCE_SEED_OFFSET), reference)
    print(f"{len(chosen)} videos a model; renders against renders (floor): {floor:.1f} "
          f"({time.perf_counter() - start:.0f} s)\n")
    print("| model | runs | Fréchet distance, pooled | per run (as `minisora eval` reports it) |")
    print("|---|---|---|---|")
    for runs, videos in zip(models, pooled):
        feats = np.stack([video_features(encoder, read_video(v, with_audio=False).frames) for _, v in videos])
        singles = [json.loads((r / "result.json").read_text())["distribution"]["frechet_distance"] for r in runs]
        name = re.sub(r"-s\d+$", "", runs[0].name)
        print(f"| {name} | {len(runs)} | {frechet_distance(feats, reference):.1f} | "
              f"{' / '.join(f'{s:.1f}' for s in singles)} |")


if __name__ == "__main__":
    main()
