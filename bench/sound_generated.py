"""The sound model on the world model's own videos: the benchmark's av_sync claims, voiced again.

`minisora eval` scores sound on generated videos through its av_sync claims ("each visible
contact makes a sound at that moment": onset F1 >= 0.8 against the contacts the analyzer sees).
This takes the av_sync cases of finished eval runs, gives their MP4 frames a soundtrack again
with the sound model under each setting asked for (the refined caption, as generate() gives it),
and scores each with the benchmark's rule (eval/checks.py), audio analysed in memory. The same
videos for every setting, so a difference is the sound's alone.

With --regenerate the path is generate()'s own, as the benchmark scores it: each case is generated
again with the run's model and seed (silent) and saved through save_video (watermark, H.264, AAC)
with one watermark id for every setting, the sound made from the frames as the file shows them
(watermarked, encoded and decoded again), and the file is analysed as `minisora eval` does.
--before-encoder voices the frames before the watermark and H.264 instead (generate() until stop
35; the threaded H.264 encoder may write a few of them a little differently run to run).

    python bench/sound_generated.py runs/eval-g9-s0 runs/eval-g9-s1 --gate none default
    python bench/sound_generated.py runs/eval-g9-s0 runs/eval-g9-s1 --regenerate [--before-encoder]

Columns: the av_sync claims and their mean onset F1 as the benchmark counts them (a video in
which the tracker sees no contact fails its claim with F1 0 whatever its sound: the world model
showed no bounce); the mean F1 over the videos with a contact seen; F1 pooled over every video's
contacts and onsets (micro-averaged, as bench/sound_quality.py scores the renders); and, in the
videos with no contact seen, onsets a minute at no velocity jump, even a faint one. --material N
adds the timbre: the benchmark's material classifier (fitted on N renders' true sounds) asked the
material of each clean hit the tracker sees (sound/timbre.tracked_clean_hits), the caption's
material of the struck object taken as the truth.

--generate MODEL --seeds A:B needs no eval run: every benchmark case with an av_sync claim (all
suites), seed indices A..B-1 (the benchmark's own seeds: `minisora eval --first-seed A`), generated
silent once into --cache (frames and caption, so settings can be compared again without the world
model) and scored as --regenerate does.

    python bench/sound_generated.py --generate src/minisora/pipeline/weights/default --seeds 2:8 \
        --cache runs/avset

--resting makes silence-worthy videos instead (RESTING's prompts: objects at rest on the floor)
and counts their onsets a minute: all of them, and those at no velocity jump the tracker sees.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

RESTING = ("a red ball rests on the floor", "two blue squares rest on the floor",
           "a green triangle rests on the floor", "a yellow ball and a purple square rest on the floor")


def main() -> None:
    from minisora.sound.synthesis import SoundSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", help="finished `minisora eval` run folders")
    parser.add_argument("--generate", metavar="MODEL", default=None,
                        help="make the av_sync cases with this world model instead of reading eval runs")
    parser.add_argument("--seeds", default="0:2", metavar="A:B", help="with --generate: seed indices A..B-1")
    parser.add_argument("--resting", action="store_true",
                        help="with --generate: silence-worthy videos (RESTING's prompts), onsets a minute")
    parser.add_argument("--cache", type=Path, default=None,
                        help="with --generate: keep the silent videos here (made once, read after)")
    parser.add_argument("--model", default=None, help="sound model folder (default: the shipped one)")
    parser.add_argument("--gate", nargs="+", default=["default"], metavar="BEFORE,AFTER",
                        help="onset gates in ms to compare; 'none' for no gate, 'default' for SoundSettings.gate")
    parser.add_argument("--contact-cfg", nargs="+", type=float, default=[SoundSettings.contact_cfg],
                        help="guidance toward the tracked contacts to compare (SoundSettings.contact_cfg)")
    parser.add_argument("--contact-from", type=float, default=SoundSettings.contact_from,
                        help="contact guidance at noise levels t >= this only (SoundSettings.contact_from)")
    parser.add_argument("--regenerate", action="store_true",
                        help="generate the videos again and score the saved MP4s (generate()'s path)")
    parser.add_argument("--before-encoder", action="store_true",
                        help="with --regenerate: voice the frames before the watermark and H.264")
    parser.add_argument("--material", type=int, default=0, metavar="CLIPS",
                        help="also score the timbre: the material classifier (sound/timbre.py) fitted on this "
                             "many renders' true sounds, asked the material of the tracked clean hits")
    parser.add_argument("--details", type=Path, default=None,
                        help="write each video's contacts, onsets and F1 here (JSON lines, one per video and setting)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from minisora.media import read_video
    from minisora.text.refine import refine_prompt

    if args.generate:
        if args.runs:
            raise SystemExit("give eval runs or --generate MODEL, not both")
        args.regenerate = True
        videos = generated_set(args.generate, args.seeds, args.cache, args.resting)
        scratch = Path(tempfile.mkdtemp(prefix="sound-generated."))
        args.runs = [args.generate]
        score(args, videos, scratch)
        return
    if not args.runs:
        raise SystemExit("give finished `minisora eval` run folders, or --generate MODEL --seeds A:B")
    cases = []
    for run in args.runs:
        result = json.loads((Path(run) / "result.json").read_text())
        cases += [(c, result) for c in result["cases"] if any(k["kind"] == "av_sync" for k in c["claims"])]
    if not cases:
        raise SystemExit("no av_sync cases in these runs: give `minisora eval --suite av_sync` (or all) runs")
    videos = []
    scratch = Path(tempfile.mkdtemp(prefix="sound-generated."))
    for case, result in cases:
        stored = next(k for k in case["claims"] if k["kind"] == "av_sync")["passed"]
        if args.regenerate:
            from minisora.pipeline import generate

            made = generate(result["model"], case["prompt"], scratch / "silent.mp4", seconds=case["seconds"],
                            size=tuple(case["size"]), seed=case["seed"], sound=None, **result["sampling"])
            videos.append((made.frames, made.fps, made.caption, case["seed"], stored))
            continue
        video = read_video(case["video"], with_audio=False)
        width, height = case["size"]
        caption = refine_prompt(case["prompt"], seed=case["seed"], width=width, height=height,
                                fps=16, duration=min(case["seconds"], 4.0)).caption
        videos.append((video.frames, video.fps, caption, case["seed"], stored))
    score(args, videos, scratch)


def generated_set(model: str, seeds: str, cache: Path | None, resting: bool = False) -> list[tuple]:
    """(frames, fps, caption, seed, None) for every case with an av_sync claim (or RESTING's
    prompts) and each seed index, generated silent with `model` (or read from `cache`, where they
    are kept once made)."""
    from minisora.eval.benchmark import case_seed
    from minisora.eval.claims import compile_claims
    from minisora.eval.suites import Case, cases
    from minisora.pipeline import generate
    from minisora.pipeline.model import load_world_model

    try:
        first, stop = (int(v) for v in seeds.split(":"))
    except ValueError:
        raise SystemExit(f"--seeds {seeds!r}: give A:B, seed indices A..B-1 (like 0:2)") from None
    chosen = ([Case("resting", p) for p in RESTING] if resting else
              [c for c in cases("all") if any(k.kind == "av_sync" for k in compile_claims(c.prompt, c.seconds))])
    world, videos = None, []
    scratch = Path(tempfile.mkdtemp(prefix="sound-generated."))
    for case in chosen:
        for index in range(first, stop):
            seed = case_seed(case, index)
            kept = None if cache is None else cache / f"{seed}.npz"
            if kept is not None and kept.exists():
                data = np.load(kept)
                videos.append((data["frames"], float(data["fps"]), str(data["caption"]), seed, None))
                continue
            world = world or load_world_model(model)
            made = generate(world, case.prompt, scratch / "silent.mp4", seconds=case.seconds,
                            size=tuple(case.size), seed=seed, sound=None)
            if kept is not None:
                kept.parent.mkdir(parents=True, exist_ok=True)
                part = kept.with_suffix(".part.npz")
                np.savez(part, frames=made.frames, fps=made.fps, caption=made.caption)
                part.replace(kept)
            videos.append((made.frames, made.fps, made.caption, seed, None))
            print("g", end="", file=sys.stderr, flush=True)
    shutil.rmtree(scratch)
    return videos


def score(args, videos: list[tuple], scratch: Path) -> None:
    """Voice each video under every setting asked for and print the benchmark's av_sync figures."""
    from minisora import __version__
    from minisora.eval.analyzer import analyze, analyze_file
    from minisora.eval.checks import _av_sync, av_matches
    from minisora.pipeline.sound import VideoForSound
    from minisora.provenance import ProvenanceInfo, save_video
    from minisora.sound.synthesis import SoundSettings, load_world_sound, parse_gate
    from minisora.sound.timbre import hit_features, tracked_clean_hits, train_material_classifier

    heard = [None]  # the last soundtrack made, for the timbre
    path = "the MP4s' frames voiced again"
    if args.regenerate:
        path = "generated again, the saved MP4s scored, voiced from the frames " + (
            "before the watermark and H.264" if args.before_encoder else "as written")
    if args.resting:
        resting_table(args, videos)
        return
    stored = "" if args.generate else f"; as the runs stored them: {sum(v[4] for v in videos)} claims passed"
    print(f"{len(videos)} av_sync videos from {len(args.runs)} run(s), {path}{stored}\n")
    print("| sound | av_sync claims | mean F1 | recall | precision | mean F1, contacts seen | "
          "F1 pooled (recall, precision) | median err (ms) | stray onsets / min, no contact seen | material (hits) | "
          "s / video |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    sound = load_world_sound(args.model)
    classifier = train_material_classifier(args.material) if args.material else None
    for gate, contact_cfg in ((g, c) for g in args.gate for c in args.contact_cfg):
        window = parse_gate(gate)
        sound.settings = SoundSettings(gate=window, contact_cfg=contact_cfg, contact_from=args.contact_from)
        material = []
        passed, f1s, recalls, precisions, seconds = 0, [], [], [], []
        seen_f1s, pooled_v, pooled_s, errors, stray, quiet_s = [], [], [], [], 0, 0.0
        for frames, fps, caption, seed, _ in videos:
            if args.regenerate:  # as the benchmark reads it: the saved file, one watermark id
                info = ProvenanceInfo("minisora-world-s", __version__, caption, seed, None)

                def voice(shown, frames=frames, fps=fps, caption=caption, seed=seed, seconds=seconds):
                    start = time.perf_counter()
                    track = sound(VideoForSound(frames if args.before_encoder else shown, fps, caption, seed))
                    seconds.append(time.perf_counter() - start)
                    heard[0] = track.samples
                    return track.samples, track.sample_rate

                path = save_video(scratch / "voiced.mp4", frames, fps, voice, info=info, fmt="mp4",
                                  generation_id=seed % 2**32).path
                analysis = analyze_file(path)
            else:
                start = time.perf_counter()
                track = sound(VideoForSound(frames, fps, caption, seed))
                seconds.append(time.perf_counter() - start)
                analysis = analyze(frames, fps, track.samples, track.sample_rate)
                heard[0] = track.samples
            if classifier is not None:
                hits = tracked_clean_hits(analysis, caption)
                predicted = classifier.predict(hit_features(heard[0], hits)) if hits else []
                material += [p == h.material for p, h in zip(predicted, hits)]
            ok, detail, _, _, f1 = _av_sync(analysis)
            visual, hit_v, _, hit_s = av_matches(analysis)
            pooled_v += hit_v
            pooled_s += hit_s
            errors += [min(abs(o.time - v) for o in analysis.onsets) for v, hit in zip(visual, hit_v) if hit]
            if visual:
                seen_f1s.append(f1)
            else:  # nothing to voice: a sound there must be at a faint velocity jump
                stray += hit_s.count(False)
                quiet_s += len(frames) / fps
            if args.details is not None:
                with args.details.open("a") as out:
                    out.write(json.dumps({
                        "setting": [gate, contact_cfg], "seed": seed, "caption": caption, "f1": f1,
                        "seconds": len(frames) / fps,
                        "contacts": [round(c.time, 4) for c in analysis.contacts],
                        "faint": [round(c.time, 4) for c in analysis.faint_contacts],
                        "onsets": [[round(o.time, 4), round(o.strength, 2)] for o in analysis.onsets]}) + "\n")
            passed += bool(ok)
            f1s.append(f1)
            if "recall" in detail:
                recall, precision = (float(v) for v in detail.split("recall ")[1].rstrip(")").split(", precision "))
                recalls.append(recall)
                precisions.append(precision)
            print(".", end="", file=sys.stderr, flush=True)
        name = setting_name(window, contact_cfg, args.contact_from)
        recall, precision = float(np.mean(pooled_v or [0])), float(np.mean(pooled_s or [0]))
        pooled = 2 * recall * precision / max(recall + precision, 1e-9)
        per_min = f"{stray / quiet_s * 60:.2f} ({quiet_s / 60:.1f} min)" if quiet_s else "-"
        print(f"| {name} | {passed} / {len(videos)} | {np.mean(f1s):.3f} | {np.mean(recalls):.3f} | "
              f"{np.mean(precisions):.3f} | {np.mean(seen_f1s):.3f} ({len(seen_f1s)}) | {pooled:.3f} "
              f"({recall:.3f}, {precision:.3f}) | {1000 * np.median(errors or [np.nan]):.0f} | {per_min} | "
              f"{f'{np.mean(material):.3f} ({len(material)})' if material else '-'} | {np.mean(seconds):.2f} |",
              flush=True)
    shutil.rmtree(scratch)


def setting_name(window: tuple[float, float] | None, contact_cfg: float, contact_from: float) -> str:
    name = "no gate" if window is None else f"gate -{window[0] * 1000:g} / +{window[1] * 1000:g} ms"
    return name + (f", contact guidance {contact_cfg:g} at t >= {contact_from:g}" if contact_cfg else "")


def resting_table(args, videos: list[tuple]) -> None:
    """Onsets a minute in silence-worthy videos, voiced as generate() voices them (in memory).
    A video in which the tracker sees a contact is left out (the world model made something
    touch, and the sound should follow it there): it is counted, not scored."""
    from minisora.eval.analyzer import analyze
    from minisora.eval.checks import AV_WINDOW_S
    from minisora.pipeline.sound import VideoForSound
    from minisora.sound.synthesis import SoundSettings, load_world_sound, parse_gate

    minutes = sum(len(frames) / fps for frames, fps, *_ in videos) / 60
    print(f"{len(videos)} silence-worthy videos ({minutes:.1f} min), generated with {args.generate}\n")
    print("| sound | videos with no contact seen (min) | onsets / min there | at no velocity jump / min |")
    print("|---|---|---|---|")
    sound = load_world_sound(args.model)
    for gate, contact_cfg in ((g, c) for g in args.gate for c in args.contact_cfg):
        window = parse_gate(gate)
        sound.settings = SoundSettings(gate=window, contact_cfg=contact_cfg, contact_from=args.contact_from)
        onsets = stray = still = 0
        quiet_s = 0.0
        for frames, fps, caption, seed, _ in videos:
            track = sound(VideoForSound(frames, fps, caption, seed))
            analysis = analyze(frames, fps, track.samples, track.sample_rate)
            print(".", end="", file=sys.stderr, flush=True)
            if analysis.contacts:
                continue
            still += 1
            quiet_s += len(frames) / fps
            onsets += len(analysis.onsets)
            jumps = [c.time for c in analysis.faint_contacts]
            stray += sum(not any(abs(o.time - t) <= AV_WINDOW_S for t in jumps) for o in analysis.onsets)
        name = setting_name(window, contact_cfg, args.contact_from)
        per_min = 60 / max(quiet_s, 1e-9)
        print(f"| {name} | {still} of {len(videos)} ({quiet_s / 60:.1f}) | {onsets * per_min:.2f} | "
              f"{stray * per_min:.2f} |", flush=True)

if __name__ == "__main__":
    main()
