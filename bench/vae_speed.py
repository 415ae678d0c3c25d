"""Autoencoder speed and memory vs clip length: streaming encode/decode on this machine.

Each (direction, length) runs in a fresh subprocess so that its peak resident memory
(ru_maxrss) can be read; the table shows the increase over the loaded model, frames per
second, and how many times faster than real time (16 fps) it ran. Usage:

    .venv/bin/python bench/vae_speed.py [--weights DIR] [--seconds 4 16 60] [--size 64x64]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

FPS = 16


def measure(direction: str, seconds: float, size: tuple[int, int], weights: str | None, threads: int) -> dict:
    import torch

    from minisora.autoencoder import decode_stream, encode_stream, load_vae
    from minisora.autoencoder.streaming import split_latents, split_video

    torch.set_num_threads(threads)
    model = load_vae(weights, dtype=torch.bfloat16)
    width, height = size
    frames = round(seconds * FPS) + 1
    c, t, h, w = model.latent_shape(frames, height, width)
    if direction == "encode":
        # the clip arrives as uint8 frames (as from a file); chunks are converted one by one
        clip = torch.randint(0, 256, (1, 3, frames, height, width), dtype=torch.uint8)
        chunks = (x.float() / 127.5 - 1 for x in split_video(clip, 16))
        warm = list(encode_stream(model, split_video(clip[:, :, :17].float() / 127.5 - 1, 16)))
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        produced = sum(z.shape[2] for z in encode_stream(model, chunks))
        assert produced == t
    else:
        latents = torch.randn(1, c, t, h, w)
        warm = list(decode_stream(model, split_latents(latents[:, :, :5], 4)))
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        produced = sum(x.shape[2] for x in decode_stream(model, split_latents(latents, 4)))
        assert produced == frames
    elapsed = time.perf_counter() - start
    del warm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"direction": direction, "seconds": seconds, "frames": frames, "time_s": elapsed,
            "fps": frames / elapsed, "realtime_x": frames / FPS / elapsed, "peak_mb": peak / 1024,
            "extra_mb": (peak - base) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--seconds", type=float, nargs="+", default=[4, 16, 60])
    parser.add_argument("--size", default="64x64")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", nargs=2, metavar=("DIRECTION", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    if args.one:
        print(json.dumps(measure(args.one[0], float(args.one[1]), size, args.weights, args.threads)))
        return
    print(f"VAE streaming speed at {args.size}, {FPS} fps, bf16 weights, {args.threads} threads, chunks of 16 frames / 4 latents")
    print("| direction | clip | frames | time (s) | frames/s | x real time | peak RSS (MB) | growth over 4 s (MB) |")
    print("|---|---|---|---|---|---|---|---|")
    for direction in ("encode", "decode"):
        first = None
        for seconds in args.seconds:
            cmd = [sys.executable, __file__, "--one", direction, str(seconds), "--size", args.size,
                   "--threads", str(args.threads)] + (["--weights", args.weights] if args.weights else [])
            row = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            first = first if first is not None else row["peak_mb"]
            print(f"| {direction} | {seconds:g} s | {row['frames']} | {row['time_s']:.2f} | {row['fps']:.0f} | "
                  f"{row['realtime_x']:.1f} | {row['peak_mb']:.0f} | {row['peak_mb'] - first:+.0f} |", flush=True)


if __name__ == "__main__":
    main()
