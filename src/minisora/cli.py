"""The minisora command line: each subcommand parses into the library's arguments and calls one
function. Heavy modules (torch, PyAV) are imported inside the handlers so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


class CommandError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} must look like 64x64 (WIDTHxHEIGHT)") from None
    return width, height


def cmd_render(args: argparse.Namespace) -> int:
    from minisora.world.commands import render_prompt

    out = render_prompt(
        args.prompt, args.out, size=args.size, fps=args.fps, seconds=args.seconds, seed=args.seed,
        fmt=args.format,
    )
    print(f"wrote {out}")
    return 0


def cmd_world_make(args: argparse.Namespace) -> int:
    from minisora.world.dataset import make_dataset

    make_dataset(args.out, n=args.n, seed=args.seed, workers=args.workers, size=args.size,
                 fps=args.fps, seconds=args.seconds, shard_size=args.shard_size, split=args.split)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minisora", description="minisora: text-to-video trained on its own procedural physics world"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    render = sub.add_parser("render", help="render a ground-truth world clip from a prompt")
    render.add_argument("prompt")
    render.add_argument("--out", type=Path, default=Path("clip.mp4"))
    render.add_argument("--size", type=parse_size, default=(64, 64), help="WIDTHxHEIGHT, multiples of 16")
    render.add_argument("--fps", type=int, default=16)
    render.add_argument("--seconds", type=float, default=4.0)
    render.add_argument("--seed", type=int, default=0)
    render.add_argument("--format", choices=("mp4", "gif", "png"), default=None,
                        help="default: from the --out suffix")
    render.set_defaults(handler=cmd_render)

    world = sub.add_parser("world", help="the procedural world's data tools")
    world_sub = world.add_subparsers(dest="world_command", required=True)
    make = world_sub.add_parser("make", help="write a sharded data set of world clips")
    make.add_argument("--n", type=int, required=True, help="number of clips")
    make.add_argument("--out", type=Path, required=True)
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--workers", type=int, default=None, help="default: all cores")
    make.add_argument("--size", type=parse_size, default=None, help="fixed size (default: sampled aspects)")
    make.add_argument("--fps", type=int, default=16)
    make.add_argument("--seconds", type=float, default=4.0)
    make.add_argument("--shard-size", type=int, default=64)
    make.add_argument("--split", choices=("train", "heldout"), default="train")
    make.set_defaults(handler=cmd_world_make)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except CommandError as exc:
        print(f"minisora: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # SpecError, MediaError, PromptError: messages written for users
        print(f"minisora: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("minisora: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
