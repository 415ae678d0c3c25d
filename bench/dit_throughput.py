"""DiT training throughput (tokens/s) and inference time per sampling step, with the share of
the machine's bf16 matmul peak that training reaches, all measured in the same run.

    .venv/bin/python bench/dit_throughput.py                 # world-s, the default token counts
    .venv/bin/python bench/dit_throughput.py --tokens 272 1088 --steps 6
    .venv/bin/python bench/dit_throughput.py --depth 9 --tokens 272 --threads 2   # the shipped model

Token counts per 4 s 64x64 clip (17 latent frames, patch 1x2x2): 272 with an 8x spatial
autoencoder, 1088 with 4x. A training step packs clips up to --batch-tokens tokens (as the
trainer's buckets do). Model FLOPs per token are counted from the layer shapes (matmuls and
attention; forward + backward = 3x forward); the peak is a square bf16 / fp32 matmul timed here.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from contextlib import nullcontext

import torch

from minisora.dit.config import DIT_PRESETS, DiTConfig, dit_config
from minisora.dit.model import DiT
from minisora.flow.loss import flow_loss
from minisora.flow.samplers import guided_denoiser

TEXT_TOKENS = 48  # a detailed world caption in MiniLM tokens


NOMINAL_BF16_PEAK = 400.0  # GFLOP/s, DESIGN.md's measurement on these machines (2 cores)


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 9) -> float:
    """GFLOP/s of an n x n x n matmul, median of `repeats` (on a shared machine the best single
    run catches moments of no contention: AMX bursts reach 1,000+ GFLOP/s on one core)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    return 2 * n**3 / statistics.median(_timed(lambda: a @ b) for _ in range(repeats)) / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def forward_flops(cfg: DiTConfig, tokens: int, text_tokens: int) -> float:
    """Forward FLOPs of one clip of `tokens` tokens: linears + self- and cross-attention."""
    d, depth = cfg.width, cfg.depth
    per_token = 2 * (3 * d * d + d * d + d * d + d * d + 2 * cfg.mlp_ratio * d * d)  # qkv,o,q,o,mlp
    per_token += 4 * tokens * d + 4 * text_tokens * d  # QK^T and AV, self and cross
    text = 2 * text_tokens * cfg.text_dim * 2 * d  # cross-attention K, V of the text
    embed = 2 * tokens * (cfg.patch_dim * d * 2)  # patch embed and final projection
    return depth * (tokens * per_token + text) + embed


def make_inputs(cfg: DiTConfig, batch: int, frames: int, side: int) -> dict[str, torch.Tensor]:
    return {
        "x0": torch.randn(batch, cfg.latent_channels, frames, side, side),
        "noise": torch.randn(batch, cfg.latent_channels, frames, side, side),
        "t": torch.rand(batch, frames),
        "text": torch.randn(batch, TEXT_TOKENS, cfg.text_dim),
        "mask": torch.ones(batch, TEXT_TOKENS, dtype=torch.bool),
    }


def train_step_time(model: DiT, opt: torch.optim.Optimizer, inp: dict, bf16: bool, steps: int) -> float:
    """Median seconds of a full training step (forward, backward, clip, AdamW)."""
    times = []
    for i in range(steps + 1):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext():
            loss = flow_loss(lambda x, t: model(x, t, inp["text"], inp["mask"]), inp["x0"], inp["noise"], inp["t"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i:  # the first step warms up allocators and kernels
            times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.no_grad()
def sample_step_time(model: DiT, inp: dict, bf16: bool, steps: int, guidance: float) -> float:
    """Median seconds of one sampling step with classifier-free guidance (batch 2: cond + uncond);
    bf16 means bf16 weights (as shipped), not autocast."""
    model = copy.deepcopy(model).eval().to(torch.bfloat16 if bf16 else torch.float32)
    x = inp["noise"][:1]
    denoise = guided_denoiser(model, inp["text"][:1], inp["mask"][:1], inp["text"][:1, :2], inp["mask"][:1, :2],
                              guidance)
    t = torch.full((1, x.shape[2]), 0.5)
    times = []
    for i in range(steps + 1):
        start = time.perf_counter()
        denoise(x, t)
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def grid_for(tokens: int, patch_side: int = 2, frames: int = 17) -> tuple[int, int]:
    """(latent frames, latent side) of a clip with `tokens` tokens at `frames` latent frames."""
    per_frame = tokens // frames
    side = round(per_frame**0.5) * patch_side
    if (side // patch_side) ** 2 * frames != tokens:
        raise SystemExit(f"--tokens {tokens}: need 17 x a square number (272 = 17x16, 1088 = 17x64)")
    return frames, side


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="world-s")
    parser.add_argument("--latent-channels", type=int, default=16)
    parser.add_argument("--depth", type=int, default=0,
                        help="blocks at the preset's width (0: the preset's; the shipped world model has 9)")
    parser.add_argument("--tokens", type=int, nargs="+", default=[272, 1088], help="tokens per clip")
    parser.add_argument("--batch-tokens", type=int, default=2048, help="tokens per training step")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per row (median)")
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    deeper = {"depth": args.depth, "width": DIT_PRESETS[args.preset].width} if args.depth else {}
    cfg = dit_config(args.preset, latent_channels=args.latent_channels, **deeper)
    model = DiT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    print(f"# {args.preset}: {model.num_parameters() / 1e6:.2f} M parameters, width {cfg.width}, depth "
          f"{cfg.depth}, C={cfg.latent_channels}, torch threads {torch.get_num_threads()}, "
          f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    print(f"# matmul peak (2048^3, median of 9, this run): fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 "
          f"{peaks['bf16']:.0f} GFLOP/s (nominal bf16: {NOMINAL_BF16_PEAK:.0f})\n")

    print("| tokens/clip | clips/step | precision | step s | train tokens/s | model GFLOP/s | "
          "share of bf16 peak (this run / nominal) | sample ms/step (CFG, B=2, weights in this precision) |")
    print("|---|---|---|---|---|---|---|---|")
    for tokens in args.tokens:
        frames, side = grid_for(tokens, cfg.patch[1])
        batch = max(1, args.batch_tokens // tokens)
        inp = make_inputs(cfg, batch, frames, side)
        flops = 3 * batch * forward_flops(cfg, tokens, TEXT_TOKENS)
        for precision in ("fp32", "bf16"):
            bf16 = precision == "bf16"
            step = train_step_time(model, opt, inp, bf16, args.steps)
            sample = sample_step_time(model, inp, bf16, args.steps, args.guidance)
            gflops = flops / step / 1e9
            print(f"| {tokens} | {batch} | {precision} | {step:.3f} | {batch * tokens / step:,.0f} | "
                  f"{gflops:.0f} | {gflops / peaks['bf16']:.0%} / {gflops / NOMINAL_BF16_PEAK:.0%} | "
                  f"{sample * 1000:.0f} |", flush=True)


if __name__ == "__main__":
    main()
