"""Generation speed and memory against video length, on the world-s preset.

    .venv/bin/python bench/generate_speed.py                  # 4, 8, 16, 30, 60 s at 64x64
    .venv/bin/python bench/generate_speed.py --seconds 4 60 --threads 1

Each length runs in its own process (so its peak RSS is its own) through the whole of
`generate()`: prompt refinement, text encoding, sampling (25 Euler steps, guidance 5, batch 2),
decoding chunk by chunk, the soundtrack (the shipped sound model, when installed), and
save_video (watermark, H.264, C2PA). The DiT has random weights (the world-s architecture,
~9.5 M parameters, the compute of the shipped one); the autoencoder is the packaged default
when it exists, else a random f8c16. Model loading is not timed. Columns:

    wall s      the generate() call        s/s       wall time per second of video
    +s/s        time per added second against the previous row
    dit s       the transformer's share    ms/step   per guided evaluation (batch 2)
    sound s     the soundtrack's share     sound %   it against the rest of the call (silent)
    vae+save    the rest (refine, text, VAE encode/decode, watermark, write, sign)
    gen MB      peak RSS before save_video peak MB   peak RSS of the whole process
    chunks      chunks of <= 17 latent frames (4 s); each later one adds 3 s
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build_model():
    import torch

    from minisora.autoencoder import DEFAULT_WEIGHTS, VAE_PRESETS, VideoVAE, load_vae
    from minisora.dit.config import dit_config
    from minisora.dit.model import DiT
    from minisora.pipeline.model import WorldModel
    from minisora.text.encoder import TextEncoder

    torch.manual_seed(0)
    trained_vae = (DEFAULT_WEIGHTS / "config.json").is_file()
    vae = load_vae() if trained_vae else VideoVAE(VAE_PRESETS["f8c16"]).eval()
    dit = DiT(dit_config("world-s", latent_channels=vae.config.latent_channels)).eval()
    model = WorldModel(dit=dit, vae=vae, text=TextEncoder(), name="minisora-world-s-random",
                       folder=Path("random"))
    return model, ("packaged" if trained_vae else "random f8c16")


def one(seconds: float, threads: int, bf16: bool) -> dict:
    """Generate one clip of `seconds` and report its timings (run in a child process)."""
    import torch

    import minisora.pipeline.generation as pipeline
    from minisora.pipeline import generate

    torch.set_num_threads(threads)
    model, vae_kind = build_model()
    dit_time, calls = [0.0], [0]
    forward = model.dit.forward

    def timed_forward(*args, **kwargs):
        start = time.perf_counter()
        out = forward(*args, **kwargs)
        dit_time[0] += time.perf_counter() - start
        calls[0] += 1
        return out

    model.dit.forward = timed_forward
    save, before_save = pipeline.save, [0.0]

    def measured_save(*args, **kwargs):
        before_save[0] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return save(*args, **kwargs)

    pipeline.save = measured_save
    soundtrack, sound_time = pipeline.soundtrack, [0.0]

    def timed_soundtrack(*args, **kwargs):  # save_video calls the voicing it returns
        voice = soundtrack(*args, **kwargs)
        if voice is None:
            return None

        def timed_voice(shown):
            start = time.perf_counter()
            out = voice(shown)
            sound_time[0] += time.perf_counter() - start
            return out

        return timed_voice

    pipeline.soundtrack = timed_soundtrack
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = generate(model, "three red balls bounce to the right", Path(folder) / "clip.mp4",
                          seconds=seconds, size=(64, 64), steps=25, cfg=5.0, seed=0, bf16=bf16)
        wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "wall": wall, "dit": dit_time[0], "frames": int(result.frames.shape[0]),
            "evals": calls[0], "sound": sound_time[0], "gen_mb": before_save[0], "load": os.getloadavg()[0],
            "chunks": len(result.chunks), "peak_mb": peak_mb, "vae": vae_kind,
            "latents_per_chunk": max(c.plan.latents for c in result.chunks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[4, 8, 16, 30, 60])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast for the transformer")
    parser.add_argument("--one", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.threads, args.bf16)))
        return
    rows = []
    for seconds in args.seconds:
        command = [sys.executable, __file__, "--one", str(seconds), "--threads", str(args.threads)]
        command += ["--bf16"] if args.bf16 else []
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  {seconds:g} s done in {rows[-1]['wall']:.1f} s", file=sys.stderr, flush=True)
    print_table(rows, args.threads, args.bf16)


def print_table(rows: list[dict], threads: int, bf16: bool) -> None:
    load = sum(r["load"] for r in rows) / len(rows)
    print(f"generate() on world-s (random DiT weights), 64x64, 16 fps, 25 Euler steps, guidance 5, "
          f"{threads} threads, {'bf16 autocast' if bf16 else 'fp32'}, VAE: {rows[0]['vae']}, "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    print(f"{'video s':>8} {'frames':>7} {'chunks':>7} {'wall s':>8} {'s/s':>6} {'+s/s':>6} "
          f"{'dit s':>7} {'ms/step':>8} {'sound s':>8} {'sound %':>8} {'vae+save':>9} {'gen MB':>7} {'peak MB':>8}")
    previous = None
    for r in rows:
        added = "" if previous is None else f"{(r['wall'] - previous['wall']) / (r['seconds'] - previous['seconds']):.2f}"
        print(f"{r['seconds']:>8g} {r['frames']:>7d} {r['chunks']:>7d} {r['wall']:>8.2f} "
              f"{r['wall'] / r['seconds']:>6.2f} {added:>6} {r['dit']:>7.2f} "
              f"{1000 * r['dit'] / r['evals']:>8.0f} {r['sound']:>8.2f} {100 * r['sound'] / (r['wall'] - r['sound']):>7.0f}% "
              f"{r['wall'] - r['dit'] - r['sound']:>9.2f} {r['gen_mb']:>7.0f} "
              f"{r['peak_mb']:>8.0f}")
        previous = r


if __name__ == "__main__":
    main()
