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


def main() -> None:
    from minisora.sound.synthesis import SoundSettings, load_world_sound, parse_gate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="finished `minisora eval` run folders")
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
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from minisora import __version__
    from minisora.eval.analyzer import analyze, analyze_file
    from minisora.eval.checks import _av_sync
    from minisora.media import read_video
    from minisora.pipeline.sound import VideoForSound
    from minisora.provenance import ProvenanceInfo, save_video
    from minisora.text.refine import refine_prompt

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
    path = "the MP4s' frames voiced again"
    if args.regenerate:
        path = "generated again, the saved MP4s scored, voiced from the frames " + (
            "before the watermark and H.264" if args.before_encoder else "as written")
    print(f"{len(videos)} av_sync videos from {len(args.runs)} run(s), {path}; as the runs stored them: "
          f"{sum(v[4] for v in videos)} claims passed\n")
    print("| sound | av_sync claims | mean F1 | recall | precision | s / video |")
    print("|---|---|---|---|---|---|")
    sound = load_world_sound(args.model)
    for gate, contact_cfg in ((g, c) for g in args.gate for c in args.contact_cfg):
        window = parse_gate(gate)
        sound.settings = SoundSettings(gate=window, contact_cfg=contact_cfg, contact_from=args.contact_from)
        passed, f1s, recalls, precisions, seconds = 0, [], [], [], []
        for frames, fps, caption, seed, _ in videos:
            if args.regenerate:  # as the benchmark reads it: the saved file, one watermark id
                info = ProvenanceInfo("minisora-world-s", __version__, caption, seed, None)

                def voice(shown, frames=frames, fps=fps, caption=caption, seed=seed, seconds=seconds):
                    start = time.perf_counter()
                    track = sound(VideoForSound(frames if args.before_encoder else shown, fps, caption, seed))
                    seconds.append(time.perf_counter() - start)
                    return track.samples, track.sample_rate

                path = save_video(scratch / "voiced.mp4", frames, fps, voice, info=info, fmt="mp4",
                                  generation_id=seed % 2**32).path
                analysis = analyze_file(path)
            else:
                start = time.perf_counter()
                track = sound(VideoForSound(frames, fps, caption, seed))
                seconds.append(time.perf_counter() - start)
                analysis = analyze(frames, fps, track.samples, track.sample_rate)
            ok, detail, _, _, f1 = _av_sync(analysis)
            passed += bool(ok)
            f1s.append(f1)
            if "recall" in detail:
                recall, precision = (float(v) for v in detail.split("recall ")[1].rstrip(")").split(", precision "))
                recalls.append(recall)
                precisions.append(precision)
            print(".", end="", file=sys.stderr, flush=True)
        name = "no gate" if window is None else f"gate -{window[0] * 1000:g} / +{window[1] * 1000:g} ms"
        name += f", contact guidance {contact_cfg:g} at t >= {args.contact_from:g}" if contact_cfg else ""
        print(f"| {name} | {passed} / {len(videos)} | {np.mean(f1s):.3f} | {np.mean(recalls):.3f} | "
              f"{np.mean(precisions):.3f} | {np.mean(seconds):.2f} |", flush=True)
    shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
