"""Sound quality against the issue's audio-visual goals, printed as a Markdown table.

    nice -n 10 .venv/bin/python bench/sound_quality.py --clips 40 --silent 15
    .venv/bin/python bench/sound_quality.py --model runs/sound-s --clips 10 --no-overhead

Held-out world renders (the benchmark's split, the sampler's mix of aspect ratios) have their
sound removed and made again from their frames (and caption). Each row is a soundtrack source:

    true sound              the renderer's own mix (the ceiling of the measures)
    true mel + Griffin-Lim  the renderer's sound through the mel and the vocoder (the
                            representation's ceiling)
    sound model             generated from the frames and the clip's caption
    sound model, no text    generated from the frames alone (what `add-sound` does without --prompt)

Measures (the analyzer's rules for audio-visual sync, src/minisora/eval/checks.py):

    onset F1        contacts seen in the video (the analyzer's visual contacts) against the
                    onsets heard (eval/onsets.py), within +-40 ms, micro-averaged over clips;
                    sounds under half the clip's typical matched loudness are exempt from
                    precision, any velocity jump (even faint) explains a sound
    F1 vs sim.      the same against the simulation's contacts no quieter than a tenth of the
                    loudest hit (hidden and off-screen ones too), any contact explaining a sound:
                    a measure that does not go through the analyzer (which the sound model's
                    contact path reads too, sound/tracked.py)
    median err      |onset - visual contact| over the matched contacts, ms
    false/min       onsets per minute in clips where nothing touches (silence-worthy videos)
    material        a logistic-regression classifier trained on the true contact sounds of
                    600 training-split clips, asked the material of every clean hit (one body
                    on the floor or a wall, alone for 0.3 s before and 0.15 s after); "seen
                    hits" only those the video shows (a visual contact, even faint, within
                    +-40 ms; not those behind a screen or lost by the tracker)
    sound s/clip    the time the sound model takes for a 4 s clip (windows, VAE encode,
                    sampling, Griffin-Lim)

The time overhead compares generate() of 4 s 64x64 videos (four prompts; the shipped world
model, or with --world random a world-s with random weights: the same compute, but frames of
noise, which the tracker takes longer over) with and without sound, in one process.
Audio is analysed in memory (no AAC round trip).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

WINDOW_S = 0.040


def av_counts(analysis, onsets) -> dict[str, list]:
    """Matched / missed visual contacts, explained / stray loud onsets, errors (one clip)."""
    visual = sorted({round(c.time, 3) for c in analysis.contacts})
    visual = [t for i, t in enumerate(visual) if i == 0 or t - visual[i - 1] > 0.02]
    errors = [min((abs(o.time - v) for o in onsets), default=np.inf) for v in visual]
    matched = [o.strength for o in onsets if any(abs(o.time - v) <= WINDOW_S for v in visual)]
    loud = 0.5 * float(np.median(matched)) if matched else 0.0
    explained = [c.time for c in analysis.faint_contacts] + visual
    sounds = [o.time for o in onsets if o.strength >= loud]
    return {"hit": [e <= WINDOW_S for e in errors], "err": [e for e in errors if e <= WINDOW_S],
            "explained": [any(abs(s - v) <= WINDOW_S for v in explained) for s in sounds]}


QUIET = 0.1  # simulated contacts below this share of the loudest hit are not asked for


def sim_counts(spec, trajectory, onsets) -> dict[str, list]:
    """Matched simulated contacts and explained loud onsets (one clip), the rules of av_counts
    against the simulation's contacts instead of the analyzer's."""
    from minisora.world.sound import loudness

    every = [c.time for c in trajectory.contacts]
    asked = [c.time for c in trajectory.contacts if loudness(c.speed) >= QUIET * loudness(float("inf"))]
    matched = [o.strength for o in onsets if any(abs(o.time - v) <= WINDOW_S for v in asked)]
    loud = 0.5 * float(np.median(matched)) if matched else 0.0
    return {"sim_hit": [any(abs(o.time - v) <= WINDOW_S for o in onsets) for v in asked],
            "sim_explained": [any(abs(o.time - v) <= WINDOW_S for v in every) for o in onsets
                              if o.strength >= loud]}


def silent_specs(count: int, start: int = 10_000):
    """Held-out scenes in which nothing touches anything (a silence-worthy video)."""
    from minisora.world.dataset import DatasetConfig, sample_clip_spec
    from minisora.world.physics import simulate

    dataset, found, i = DatasetConfig(n=start + 100 * count, seed=11, split="heldout"), [], start
    while len(found) < count:
        spec = sample_clip_spec(dataset, i)
        if not simulate(spec).contacts:
            found.append(spec)
        i += 1
    return found


def settings_of(args):
    from minisora.sound.synthesis import SoundSettings, parse_gate

    return SoundSettings(steps=args.steps, cfg=args.cfg, vocoder_iters=args.vocoder_iters,
                         gate=parse_gate(args.gate), contact_cfg=args.contact_cfg,
                         contact_from=args.contact_from)


def measure(args) -> tuple[list[tuple[str, dict]], dict]:
    from minisora.eval.analyzer import analyze
    from minisora.eval.onsets import detect_onsets
    from minisora.pipeline.sound import VideoForSound
    from minisora.sound.griffinlim import griffin_lim
    from minisora.sound.mel import log_mel
    from minisora.sound.synthesis import load_world_sound
    from minisora.sound.timbre import clean_hits, hit_features, train_material_classifier
    from minisora.world.captions import caption_clip
    from minisora.world.clip import render_clip
    from minisora.world.dataset import DatasetConfig, sample_clip_spec

    sound = load_world_sound(args.model, settings=settings_of(args))
    t0 = time.time()
    classifier = train_material_classifier(args.classifier_clips)
    print(f"material classifier fitted in {time.time() - t0:.0f} s", file=sys.stderr)
    dataset = DatasetConfig(n=args.clips, seed=args.seed, split="heldout")
    specs = [("av", sample_clip_spec(dataset, i)) for i in range(args.clips)]
    specs += [("silent", s) for s in silent_specs(args.silent)]
    rows = {name: {"hit": [], "err": [], "explained": [], "silent_onsets": 0, "silent_s": 0.0,
                   "material": [], "material_seen": [], "time": [], "sim_hit": [], "sim_explained": []}
            for name in ("true sound", "true mel + Griffin-Lim", "sound model", "sound model, no text")}
    for index, (kind, spec) in enumerate(specs):
        clip = render_clip(spec)
        caption = caption_clip(clip.spec, clip.trajectory)
        vision = analyze(clip.frames, clip.fps)
        hits = clean_hits(clip.spec, clip.trajectory)
        seen = [c.time for c in vision.contacts + vision.faint_contacts]  # what the video shows
        seen_hits = {h.time for h in hits if any(abs(h.time - t) <= WINDOW_S for t in seen)}
        tracks = {"true sound": (clip.audio, 0.0)}
        started = time.time()
        generator = torch.Generator().manual_seed(index)
        tracks["true mel + Griffin-Lim"] = (griffin_lim(log_mel(clip.audio), clip.audio.size,
                                                        generator=generator)[0].numpy(), time.time() - started)
        for name, text in (("sound model", caption), ("sound model, no text", "")):
            started = time.time()
            made = sound(VideoForSound(clip.frames, clip.fps, text, seed=index)).samples
            tracks[name] = (made, time.time() - started)
        for name, (audio, seconds) in tracks.items():
            row, onsets = rows[name], detect_onsets(audio, 16_000)
            row["time"].append(seconds)
            if kind == "silent":
                row["silent_onsets"] += len(onsets)
                row["silent_s"] += clip.frames.shape[0] / clip.fps
                continue
            for key, values in (av_counts(vision, onsets) | sim_counts(clip.spec, clip.trajectory, onsets)).items():
                row[key] += values
            if hits:
                predicted = classifier.predict(hit_features(audio, hits))
                right = [p == h.material for p, h in zip(predicted, hits)]
                row["material"] += right
                row["material_seen"] += [r for r, h in zip(right, hits) if h.time in seen_hits]
        print(f"clip {index + 1}/{len(specs)}", file=sys.stderr)
    return list(rows.items()), {"clips": args.clips, "silent": args.silent}


OVERHEAD_PROMPTS = ("a red ball bounces", "three blue squares slide to the left", "a green metal triangle falls",
                    "two balls collide")


def overhead(args) -> dict[str, float]:
    """generate() of 4 s 64x64 videos with and without sound, each prompt of OVERHEAD_PROMPTS
    `repeats` times (silent and with sound in turn): the mean time of each."""
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    from generate_speed import build_model

    from minisora.pipeline import generate
    from minisora.pipeline.model import DEFAULT_MODEL, load_world_model
    from minisora.sound.synthesis import load_world_sound

    shipped = args.world == "shipped" and (DEFAULT_MODEL / "config.json").is_file()
    model = load_world_model() if shipped else build_model()[0]
    sound = load_world_sound(args.model, text=model.text, settings=settings_of(args))
    times: dict[str, list[float]] = {"silent": [], "sound": []}
    with tempfile.TemporaryDirectory() as tmp:
        generate(model, OVERHEAD_PROMPTS[0], Path(tmp) / "warm.mp4", seconds=4, size=(64, 64), sound=sound)
        for repeat in range(args.repeats):
            for prompt in OVERHEAD_PROMPTS:
                for name, track in (("silent", None), ("sound", sound)):
                    started = time.time()
                    generate(model, prompt, Path(tmp) / f"{name}.mp4", seconds=4, size=(64, 64), sound=track,
                             seed=repeat)
                    times[name].append(time.time() - started)
    silent, with_sound = float(np.mean(times["silent"])), float(np.mean(times["sound"]))
    return {"silent_s": silent, "sound_s": with_sound, "overhead": (with_sound - silent) / silent,
            "world": "the shipped world model" if shipped else "a random-weight world-s"}


def table(rows, info, cost) -> str:
    lines = ["| soundtrack | onset F1 | recall | precision | median err (ms) | false onsets / min | "
             "material acc. | material, seen hits | sound s / clip | F1 vs sim. (recall, precision) |", "|---|---|---|---|---|---|---|---|---|---|"]

    def f1_of(hit: list, explained: list) -> tuple[float, float, float]:
        recall = float(np.mean(hit)) if hit else 0.0
        precision = float(np.mean(explained)) if explained else 0.0
        return 2 * recall * precision / max(recall + precision, 1e-9), recall, precision

    for name, row in rows:
        f1, recall, precision = f1_of(row["hit"], row["explained"])
        sim = f1_of(row["sim_hit"], row["sim_explained"])
        err = 1000 * float(np.median(row["err"])) if row["err"] else float("nan")
        per_min = row["silent_onsets"] / max(row["silent_s"], 1e-9) * 60
        material = float(np.mean(row["material"])) if row["material"] else float("nan")
        seen = float(np.mean(row["material_seen"])) if row["material_seen"] else float("nan")
        lines.append(f"| {name} | {f1:.3f} | {recall:.3f} | {precision:.3f} | {err:.1f} | {per_min:.2f} | "
                     f"{material:.3f} ({len(row['material'])} hits) | {seen:.3f} ({len(row['material_seen'])}) | {np.mean(row['time']):.2f} | "
                     f"{sim[0]:.3f} ({sim[1]:.3f}, {sim[2]:.3f}) |")
    lines.append("")
    lines.append(f"{info['clips']} held-out clips ({len(rows[0][1]['hit'])} visual contacts), "
                 f"{info['silent']} silence-worthy clips ({rows[0][1]['silent_s'] / 60:.2f} min).")
    if cost:
        lines.append(f"Time overhead ({cost['world']}, {len(OVERHEAD_PROMPTS)} prompts): generate() of a 4 s "
                     f"64x64 video {cost['silent_s']:.2f} s silent, {cost['sound_s']:.2f} s with sound: "
                     f"**+{100 * cost['overhead']:.1f}%**.")
    return "\n".join(lines)


def main() -> None:
    from minisora.sound.synthesis import SoundSettings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="sound model folder (default: the shipped one)")
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--silent", type=int, default=15, help="extra clips where nothing touches")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--steps", type=int, default=SoundSettings.steps)
    parser.add_argument("--cfg", type=float, default=SoundSettings.cfg)
    parser.add_argument("--vocoder-iters", type=int, default=SoundSettings.vocoder_iters,
                        help="Griffin-Lim iterations of the sound model's rows (the true-mel row keeps 8)")
    parser.add_argument("--gate", default="default", metavar="BEFORE,AFTER",
                        help="onset gate in ms around each tracked contact, e.g. 20,40; 'none' for no gate "
                             "(default: SoundSettings.gate)")
    parser.add_argument("--contact-cfg", type=float, default=SoundSettings.contact_cfg,
                        help="guidance toward the tracked contacts (SoundSettings.contact_cfg)")
    parser.add_argument("--contact-from", type=float, default=SoundSettings.contact_from,
                        help="contact guidance at noise levels t >= this only")
    parser.add_argument("--classifier-clips", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=2, help="overhead: runs of each prompt")
    parser.add_argument("--world", choices=("shipped", "random"), default="shipped",
                        help="overhead: the shipped world model (if installed) or a random-weight world-s")
    parser.add_argument("--no-overhead", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows, info = measure(args)
    cost = None if args.no_overhead else overhead(args)
    print(table(rows, info, cost))


if __name__ == "__main__":
    main()
