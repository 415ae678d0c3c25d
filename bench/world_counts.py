"""Does a world model draw the prompt's number of objects? First frame and over time, per count.

The benchmark's count claims fail when the first frame already holds the wrong number of objects
or when objects fade and come back as new tracks (popping, which also costs the permanence
claims); this measures both directly, cheaply enough to compare checkpoints (a run is chosen by
it and the claims, not by its loss). Prompts "N COLOUR SHAPES bounce" for N = 1..5 and three
colour/shape pairs, each sampled with the same seeds by every model (4 s, 64x64, the default
sampling, no sound); the benchmark's analyzer counts the objects in every frame. `--wide` adds
N = 5, 6 at 112x64, the size at which the benchmark asks for five and six. `--image` samples the
first frame alone (one latent frame instead of 17: text-to-image), the layout every
video starts from, to compare models on it cheaply.

    python bench/world_counts.py --model src/minisora/pipeline/weights/default runs/world-g9 \
        --seeds 4 --threads 2
    python bench/world_counts.py --model src/minisora/pipeline/weights/default --image --seeds 16
    python bench/world_counts.py --candidates 1 4 --seeds 4 --threads 2     # the layout search

Prints, per model: the share of videos whose first frame has the prompt's count, the share of
all frames that do (and per second), the mean first-frame count for each N, and the first-frame
counts for each N (a confusion table); and popping: how often a second the count changes between
frames, and how often a tracked object appears after the first frame or vanishes before the last
(`--model render` measures the world's own clips of the same prompts: the floor); and the
benchmark's own claims on these videos, per kind (a count claim asks for exactly N tracks of
3 frames or more over the whole video, so an object that pops fails it however right the frames).
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from minisora.eval.analyzer import analyze
from minisora.eval.claims import compile_claims
from minisora.pipeline import generate, load_world_model
from minisora.pipeline.chunks import ChunkInputs, ChunkPlan, run_chunk
from minisora.pipeline.config import GenerateConfig
from minisora.pipeline.generation import encode_prompt
from minisora.text.refine import refine_prompt
from minisora.world.clip import render_clip
from minisora.world.prompt import PromptError, parse_prompt

WORDS = {1: "a", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
SQUARE, WIDE = (1, 2, 3, 4, 5), (5, 6)  # N at 64x64, and at 112x64 (the benchmark's wide counting size)
STILL_FRAMES = 4  # an --image sample is analyzed as this many identical frames
KINDS = (("red", "ball", "balls"), ("blue", "square", "squares"), ("green", "triangle", "triangles"))


def prompt(n: int, colour: str, single: str, plural: str) -> str:
    return f"{WORDS[n]} {colour} {single if n == 1 else plural} bounce"


def first_frame(world, text: str, seed: int, size: tuple[int, int]) -> np.ndarray:
    """(1, H, W, 3): a one-latent-frame sample of the refined prompt, with generate()'s defaults."""
    config = GenerateConfig(prompt=text, seed=seed)
    caption = refine_prompt(text, seed=seed, width=size[0], height=size[1], fps=config.model_fps).caption
    result = run_chunk(world, ChunkPlan(0, 1, 0), ChunkInputs(), encode_prompt(world, caption, config.negative),
                       size, steps=config.steps, cfg=config.cfg, sampler=config.sampler,
                       generator=torch.Generator().manual_seed(seed), bf16=config.bf16,
                       guidance_interval=config.guidance_interval, shift=config.shift)
    return result.frames


def sample(model_dir: str, seeds: int, counts: tuple[int, ...], size: tuple[int, int], image: bool = False,
           candidates: int = 1):
    """(N, prompt, frames, fps) for every prompt and seed: the world model's, or the world's renders
    (with `image`, the first frame alone)."""
    world = None if model_dir == "render" else load_world_model(model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        for n, kind, seed in itertools.product(counts, KINDS, range(seeds)):
            try:
                spec = parse_prompt(prompt(n, *kind), width=size[0], height=size[1], fps=16, duration=4.0,
                                    seed=seed)
            except PromptError:  # this seed's sizes do not fit the view (the same for every model): skipped
                continue
            if world is None:
                clip = render_clip(spec, with_audio=False)
                yield n, prompt(n, *kind), clip.frames[:1] if image else clip.frames, clip.fps
            elif image:
                yield n, prompt(n, *kind), first_frame(world, prompt(n, *kind), seed, size), 16
            else:
                made = generate(world, prompt(n, *kind), Path(tmp) / "clip.mp4", sound=None, seed=seed,
                                size=size, candidates=candidates)
                yield n, prompt(n, *kind), made.frames, made.fps


def measure(model_dir: str, seeds: int, counts: tuple[int, ...], size: tuple[int, int],
            image: bool = False, candidates: int = 1) -> list[dict]:
    rows = []
    for n, text, frames, fps in sample(model_dir, seeds, counts, size, image, candidates):
        if image:  # a still: the analyzer keeps tracks seen in two frames or more
            frames = np.repeat(frames, STILL_FRAMES, axis=0)
        analysis = analyze(frames, fps)
        found = np.array(analysis.counts())
        last = analysis.num_frames - 1
        pops = sum((t.first_frame > 0) + (t.last_frame < last) for t in analysis.tracks)
        verdicts = [] if image else [c.check(analysis) for c in compile_claims(text, analysis.num_frames / fps)]
        rows.append({"n": n, "first": int(found[0]), "right": found == n, "fps": int(fps),
                     "verdicts": [(v.kind, v.passed) for v in verdicts],
                     "changes": int(np.count_nonzero(np.diff(found))), "pops": int(pops),
                     "seconds": analysis.num_frames / fps})
    return rows


def report(name: str, rows: list[dict], seconds: float, image: bool = False) -> None:
    first = np.mean([r["first"] == r["n"] for r in rows])
    if image:
        print(f"\n{name} ({len(rows)} images, {seconds:.0f} s)")
        print(f"image with the prompt's count: {first:.3f} (s.e. {np.sqrt(first * (1 - first) / len(rows)):.3f})")
    else:
        frames = np.concatenate([r["right"] for r in rows])
        fps = rows[0]["fps"]
        per_second = [np.mean(np.concatenate([r["right"][1 + s * fps: 1 + (s + 1) * fps] for r in rows]))
                      for s in range(len(rows[0]["right"]) // fps)]
        print(f"\n{name} ({len(rows)} videos, {seconds:.0f} s)")
        print(f"first frame with the prompt's count: {first:.3f}; frames with it: {frames.mean():.3f} "
              f"(seconds 1-{len(per_second)}: {', '.join(f'{v:.2f}' for v in per_second)})")
        seconds = sum(r["seconds"] for r in rows)
        print(f"popping: the count changes {sum(r['changes'] for r in rows) / seconds:.2f} times a second; "
              f"objects appear or vanish mid-video {sum(r['pops'] for r in rows) / seconds:.2f} times a second")
        kinds = sorted({k for r in rows for k, _ in r["verdicts"]} - {"av_sync"})  # sampled silent
        passed = {k: [ok for r in rows for kind, ok in r["verdicts"] if kind == k] for k in kinds}
        print("the benchmark's claims on these videos (av_sync left out: silent): " + ", ".join(
            f"{k} {sum(v)}/{len(v)}" for k, v in passed.items()))
    top = max(8, max(r["first"] for r in rows))
    print("| N | mean first count | " + " | ".join(str(c) for c in range(top + 1)) + " |")
    print("|---|---|" + "---|" * (top + 1))
    for n in sorted({r["n"] for r in rows}):
        firsts = [r["first"] for r in rows if r["n"] == n]
        table = np.bincount(firsts, minlength=top + 1)
        print(f"| {n} | {np.mean(firsts):.2f} | " + " | ".join(str(v) for v in table) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=["src/minisora/pipeline/weights/default"],
                        help="model folders (exported weights, or a run folder: its last checkpoint's EMA), "
                             "or 'render' for the world's own clips of the same prompts")
    parser.add_argument("--seeds", type=int, default=4, help="generation seeds per prompt")
    parser.add_argument("--wide", action="store_true", help="also N = 5, 6 at 112x64")
    parser.add_argument("--image", action="store_true", help="the first frame alone (text-to-image)")
    parser.add_argument("--candidates", type=int, nargs="+", default=[1],
                        help="layout search: starts per video, one measure for each (1 = off)")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for model_dir, k in itertools.product(args.model, args.candidates):
        name = model_dir if k == 1 else f"{model_dir}, {k} candidates"
        start = time.perf_counter()
        rows = measure(model_dir, args.seeds, SQUARE, (64, 64), args.image, k)
        report(name, rows, time.perf_counter() - start, args.image)
        if args.wide:
            start = time.perf_counter()
            rows = measure(model_dir, args.seeds, WIDE, (112, 64), args.image, k)
            report(f"{name}, 112x64", rows, time.perf_counter() - start, args.image)


if __name__ == "__main__":
    main()
