"""World throughput: clips per second on all cores, simulation + rendering + sound (+ MP4).

    .venv/bin/python bench/world_throughput.py [--clips 200] [--workers 2]

Prints a table: size, what is timed, clips/s, ms per clip per worker. Goal (issue 2): >= 20
clips/s for 64x64, 4 s, 16 fps clips with sound on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def _work(args: tuple[int, int, int, bool]) -> tuple[int, float]:
    from minisora.media import write_mp4
    from minisora.world import render_clip
    from minisora.world.sampler import SamplerConfig, sample_scene

    start, count, side, encode = args
    folder = Path(tempfile.mkdtemp())
    cpu = time.process_time()
    for seed in range(start, start + count):
        spec = sample_scene(seed, SamplerConfig.for_clip(size=(side, side)))
        clip = render_clip(spec)
        if encode:
            write_mp4(folder / "clip.mp4", clip.frames, clip.fps, clip.audio)
    return count, time.process_time() - cpu


def measure(side: int, clips: int, workers: int, encode: bool) -> tuple[float, float]:
    """Wall-clock clips/s on all workers, and CPU ms per clip (which other load does not inflate)."""
    per = clips // workers
    jobs = [(k * per, per, side, encode) for k in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_work, [(0, 2, side, encode)] * workers))  # warm-up: imports, caches
        start = time.perf_counter()
        results = list(pool.map(_work, jobs))
    done, cpu = sum(r[0] for r in results), sum(r[1] for r in results)
    return done / (time.perf_counter() - start), 1000 * cpu / done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    print(f"{'size':>9} | {'timed':<34} | {'clips/s':>8} | {'CPU ms/clip':>11} | {'clips/s/core':>12}")
    print("-" * 88)
    for side, clips in ((64, args.clips), (256, max(args.workers * 5, args.clips // 8))):
        for encode in (False, True):
            rate, cpu_ms = measure(side, clips, args.workers, encode)
            what = "sample+simulate+render+sound" + (" + MP4" if encode else "")
            print(f"{side:>4}x{side:<4} | {what:<34} | {rate:8.1f} | {cpu_ms:11.1f} | {1000 / cpu_ms:12.1f}")
    load = os.getloadavg()[0]
    print(f"({args.workers} workers, 4 s clips at 16 fps, sampled scenes; load average {load:.1f} —"
          " clips/s is wall clock and drops when other work shares the cores, CPU ms does not)")


if __name__ == "__main__":
    main()
