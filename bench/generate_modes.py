"""Scores of each prompting mode, on world clips, for a world model.

    .venv/bin/python bench/generate_modes.py --model runs/world-s [--seeds 5]
    .venv/bin/python bench/generate_modes.py --random --steps 5   # the plumbing, random weights

Inputs are ground-truth world renders (64x64, 16 fps); outputs are read back from the MP4s
that generate() wrote (watermarked, H.264), and the world analyzer finds the objects in them.

    image-to-video   PSNR of the output's first frame against the image (goal >= 30 dB), and
                     the share of frames whose object colours are the image's (kept, moving)
    extend           share of new frames whose object colours are those of the clip's last frame
    loop             seam / motion: the last->first frame change over the median frame change
                     (goal <= 1.5: the seam is as smooth as any other frame pair)
    connect          arrival / motion: the change from the last generated frame into the second
                     clip's first, over the median change inside the transition (goal <= 1.5).
                     Two scenes: three red balls into a blue square, which no world clip does
                     (a cut, whatever the model makes). One scene: a 4 s render with its middle
                     second cut out and made again, scored also against the cut-out frames
                     (PSNR) and by the frames that keep the scene's objects.
    edit             share of frames whose object colours follow the new prompt's
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from minisora.cli import parse_interval
from minisora.eval.analyzer import analyze_file
from minisora.media import read_video, write_mp4
from minisora.pipeline import generate, load_world_model
from minisora.world import parse_prompt, render_clip

SCENE = "three red balls bounce to the right"
SECOND = "a blue square slides to the left"


def render(prompt: str, folder: Path, name: str, seconds: float = 2.0) -> tuple[Path, np.ndarray]:
    clip = render_clip(parse_prompt(prompt, width=64, height=64, fps=16, duration=seconds, seed=1))
    return write_mp4(folder / name, clip.frames, clip.fps), clip.frames


def colours(path: Path) -> list[Counter]:
    """Per frame, the multiset of object colours the analyzer sees."""
    return [Counter(o.color for o in frame) for frame in analyze_file(path).frames]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def change(frames: np.ndarray) -> np.ndarray:
    """(T-1,) mean absolute change between consecutive frames."""
    return np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))


def arrival(bridge: np.ndarray) -> float:
    """The change into the bridge's last frame over the median frame change inside it."""
    last = np.abs(bridge[-1].astype(np.float32) - bridge[-2].astype(np.float32)).mean()
    return float(last / max(np.median(change(bridge)), 1e-6))


def share_like(per_frame: list[Counter], reference: Counter) -> float:
    return float(np.mean([c == reference for c in per_frame])) if per_frame else 0.0


def run_modes(model, folder: Path, steps: int, interval: tuple[float, float] = (0.0, 1.0), seed: int = 0,
              context_guidance: bool = True) -> list[tuple[str, str, float, str]]:
    options = {"steps": steps, "cfg": 5.0, "seed": seed, "size": (64, 64), "guidance_interval": interval,
               "context_guidance": context_guidance}
    clip_path, clip = render(SCENE, folder, "scene.mp4")
    image_path = folder / "first.png"
    from minisora.media import write_png_frames

    (written,) = write_png_frames(folder / "image", clip[:1])
    written.rename(image_path)
    second_path, _ = render(SECOND, folder, "second.mp4")
    rows = []

    out = generate(model, SCENE, folder / "i2v.mp4", image=image_path, seconds=2, **options).path
    frames = read_video(out, with_audio=False).frames
    rows.append(("image-to-video", "first frame PSNR dB", psnr(frames[0], clip[0]), ">= 30"))
    per = colours(out)
    rows.append(("image-to-video", "frames with the image's objects", share_like(per[1:], per[0]), "high"))

    out = generate(model, SCENE, folder / "ext.mp4", extend=clip_path, seconds=2, **options).path
    per = colours(out)
    given = len(clip)
    rows.append(("extend", "new frames keeping the clip's objects", share_like(per[given:], per[given - 1]), "high"))

    out = generate(model, SCENE, folder / "loop.mp4", loop=True, seconds=2, **options).path
    frames = read_video(out, with_audio=False).frames
    seam = np.abs(frames[0].astype(np.float32) - frames[-1].astype(np.float32)).mean()
    rows.append(("loop", "seam change / median change", seam / max(np.median(change(frames)), 1e-6), "<= 1.5"))

    result = generate(model, SCENE, folder / "connect.mp4", connect=(clip_path, second_path), seconds=1, **options)
    frames = read_video(result.path, with_audio=False).frames
    bridge = frames[given - 1:given + 16]  # A's last frame, the transition, B's first frame
    rows.append(("connect", "two scenes: arrival / median change", arrival(bridge), "<= 1.5"))
    rows += connect_one_scene(model, folder, options)

    edited = "three green balls bounce to the right"
    out = generate(model, edited, folder / "edit.mp4", edit=clip_path, strength=0.6, **options).path
    rows.append(("edit", "frames with three green balls", share_like(colours(out), Counter({"green": 3})), "high"))
    return rows


def connect_one_scene(model, folder: Path, options: dict) -> list[tuple[str, str, float, str]]:
    """Frames 0-24 and 40-63 of one 4 s render given; the 15 frames between them made again."""
    whole = render_clip(parse_prompt(SCENE, width=64, height=64, fps=16, duration=4.0, seed=2)).frames
    first = write_mp4(folder / "one-a.mp4", whole[:25], 16)
    second = write_mp4(folder / "one-b.mp4", whole[40:], 16)
    result = generate(model, SCENE, folder / "one.mp4", connect=(first, second), seconds=1, **options)
    frames = read_video(result.path, with_audio=False).frames
    per = colours(result.path)
    return [("connect", "one scene: arrival / median change", arrival(frames[24:41]), "<= 1.5"),  # A's last .. B's first
            ("connect", "one scene: made frames PSNR dB vs cut", psnr(frames[25:40], whole[25:40]), ""),
            ("connect", "one scene: made frames with its objects", share_like(per[25:40], per[24]), "high")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="a world model folder")
    parser.add_argument("--random", action="store_true", help="world-s with random weights (plumbing only)")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--guidance-interval", default="0,1", help="LO,HI: guide only at t in [LO, HI]")
    parser.add_argument("--seeds", type=int, default=1, help="generation seeds 0..N-1; the table gives their mean")
    parser.add_argument("--no-context-guidance", action="store_true", help="guide on the caption alone")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    model = random_world_s() if args.random else load_world_model(args.model)
    started = time.perf_counter()
    runs = []
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory() as folder:
            runs.append(run_modes(model, Path(folder), args.steps, parse_interval(args.guidance_interval), seed,
                                  not args.no_context_guidance))
    weights = "RANDOM weights: the scores say nothing about quality" if args.random else str(model.folder)
    against = "the caption alone" if args.no_context_guidance else "the caption and the given frames"
    print(f"prompting modes, 64x64 16 fps world clips, {args.steps} steps, guidance 5 at t in "
          f"[{args.guidance_interval}] on {against} ({weights}); {args.seeds} seed(s); "
          f"{time.perf_counter() - started:.0f} s in all")
    print(f"{'mode':<16} {'measure':<40} {'mean':>8} {'min':>8} {'max':>8}  goal")
    for i, (mode, measure, _, goal) in enumerate(runs[0]):
        values = [run[i][2] for run in runs]
        print(f"{mode:<16} {measure:<40} {np.mean(values):>8.2f} {min(values):>8.2f} {max(values):>8.2f}  {goal}")


def random_world_s():
    import torch

    from minisora.autoencoder import DEFAULT_WEIGHTS, VAE_PRESETS, VideoVAE, load_vae
    from minisora.dit.config import dit_config
    from minisora.dit.model import DiT
    from minisora.pipeline import WorldModel
    from minisora.text.encoder import TextEncoder

    torch.manual_seed(0)
    vae = load_vae() if (DEFAULT_WEIGHTS / "config.json").is_file() else VideoVAE(VAE_PRESETS["f8c16"]).eval()
    dit = DiT(dit_config("world-s", latent_channels=vae.config.latent_channels)).eval()
    return WorldModel(dit, vae, TextEncoder(), "minisora-world-s-random", Path("random"))


if __name__ == "__main__":
    main()
