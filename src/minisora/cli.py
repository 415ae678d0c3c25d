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


def parse_patch(text: str) -> tuple[int, int, int]:
    """`1x1x1` -> (1, 1, 1): a spacetime patch (t, h, w) over the latent."""
    try:
        patch = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        patch = ()
    if len(patch) != 3 or min(patch) < 1:
        raise argparse.ArgumentTypeError(f"patch {text!r} must look like 1x2x2 (TxHxW, each >= 1)")
    return patch


def parse_interval(text: str) -> tuple[float, float]:
    """`0.2,0.85` -> (0.2, 0.85); GenerateConfig checks the range."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"interval {text!r} must look like 0.2,0.85 (LO,HI)") from None
    return lo, hi


def parse_condition_modes(text: str) -> dict[str, float]:
    """`none=0.6,first=0.4` -> {"none": 0.6, "first": 0.4}; the config checks the names."""
    modes = {}
    for part in text.split(","):
        name, eq, value = part.partition("=")
        try:
            share = float(value)
        except ValueError:
            share = -1.0
        if not eq or not name.strip() or share < 0:
            raise argparse.ArgumentTypeError(
                f"conditioning mix {text!r}: write MODE=SHARE pairs joined by commas, "
                "e.g. none=0.6,first=0.4, with shares >= 0")
        modes[name.strip()] = share
    return modes


def cmd_serve(args: argparse.Namespace) -> int:
    from minisora.server.config import Limits, ServeConfig
    from minisora.server.serve import serve

    limits = Limits(max_queued_per_key=args.max_queued)
    serve(ServeConfig(host=args.host, port=args.port, data=args.data, workers=args.workers,
                      auth=not args.no_auth, limits=limits, model=args.model, no_model=args.no_model))
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    from minisora.server.keys import create_key_in

    new = create_key_in(args.data, args.name)
    print(f"key {new.id} for {new.name!r} (shown once; only its hash is stored):\n{new.key}")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from minisora.world.commands import render_prompt

    out = render_prompt(
        args.prompt, args.out, size=args.size, fps=args.fps, seconds=args.seconds, seed=args.seed,
        fmt=args.format,
    )
    print(f"wrote {out}")
    return 0


# the codes minisora.provenance.verify returns (EXIT_OK ... EXIT_TAMPERED); a test holds them equal
VERIFY_EXIT_CODES = (
    "exit status: 0 every file carries a minisora watermark or valid manifest and none is tampered; "
    "1 some file carries neither; 2 some file could not be read, or bad arguments; "
    "3 some file's signed manifest does not match its content (tampered)"
)


def cmd_verify(args: argparse.Namespace) -> int:
    import json

    from minisora.provenance.verify import exit_code, verify_file

    reports = [verify_file(path) for path in args.files]
    if args.json:
        print(json.dumps({"files": [r.to_dict() for r in reports], "exit_code": exit_code(reports)}, indent=2))
    else:
        for report in reports:
            print(f"{report.path}: {report.verdict}")
    return exit_code(reports)


def cmd_world_make(args: argparse.Namespace) -> int:
    from minisora.world.dataset import make_dataset

    make_dataset(args.out, n=args.n, seed=args.seed, workers=args.workers, size=args.size,
                 fps=args.fps, seconds=args.seconds, shard_size=args.shard_size, split=args.split,
                 max_objects=args.max_objects)
    return 0


def cmd_train_vae(args: argparse.Namespace) -> int:
    import torch

    from minisora.autoencoder.train import config_from_args, train_vae

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"last checkpoint: {train_vae(config_from_args(vars(args)))}")
    return 0


def cmd_train_counter(args: argparse.Namespace) -> int:
    import torch

    from minisora.pipeline.layout import COUNT_READER
    from minisora.train.counter import train_counter

    if args.threads:
        torch.set_num_threads(args.threads)
    fit = train_counter(args.latents, args.world, args.model, steps=args.steps, seed=args.seed)
    print(f"wrote {Path(args.model) / COUNT_READER}: {int(fit['frames'])} latent frames, held out "
          f"{int(fit['held_out'])}: counted right {fit['right']:.3f}, mean miss {fit['miss']:.3f} objects")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from minisora.train.config import train_config_from_args
    from minisora.train.loop import train
    from minisora.train.shards import ensure_latents

    config = None if args.steps == 0 else train_config_from_args(vars(args)).validate()  # before encoding
    if config is not None and config.bf16:  # before encoding, which can take an hour
        import torch

        from minisora.precision import require_native_bf16

        require_native_bf16(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    ensure_latents(args.latents, args.world, args.vae, args.text_encoder or "", progress=not args.no_progress)
    if config is None:
        print(f"latents ready in {args.latents}")
        return 0
    print(f"run folder: {train(config)}")
    from minisora.train import distributed

    if distributed.launched_by_torchrun():
        distributed.exit_worker(0)  # see there: gloo can abort a worker at interpreter exit
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from minisora.eval.benchmark import renders
    from minisora.eval.run import evaluate_file, evaluate_suites

    if args.compare:
        from minisora.eval.report import compare_table

        if args.video is not None:
            raise CommandError("--compare reads finished benchmark runs; it scores no video")
        try:
            print(compare_table([[Path(f) for f in column.split(",") if f] for column in args.compare]))
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        return 0
    sampling = {k: v for k, v in (("steps", args.steps), ("cfg", args.cfg), ("shift", args.shift),
                                  ("candidates", args.candidates),
                                  ("guidance_interval", args.guidance_interval),
                                  ("context_guidance", False if args.no_context_guidance else None),
                                  ("storyboard", False if args.no_storyboard else None))
                if v is not None}
    if sampling and (args.video is not None or renders(str(args.model))):
        what = "a given video is scored as it is" if args.video is not None else f"--model {args.model} renders"
        raise CommandError("--steps, --cfg, --shift, --candidates, --guidance-interval, --no-context-guidance and "
                           "--no-storyboard set how a "
                           f"model samples, but {what} "
                           "(give a model folder with --model)")
    if args.video is not None:
        if not args.prompt:
            raise CommandError("scoring a file needs the prompt it was made from: --prompt '...'")
        return evaluate_file(args.video, args.prompt, args.out)
    report = evaluate_suites(args.model, args.suite, args.seeds, args.out or Path("eval_out"), args.first_seed,
                             sampling)
    print(f"wrote {report}")
    return 0


def cmd_refine(args: argparse.Namespace) -> int:
    from minisora.pipeline.config import GenerateConfig
    from minisora.pipeline.generation import chunk_captions

    config = GenerateConfig(prompt=args.prompt, seconds=args.seconds, seed=args.seed, size=args.size,
                            model_fps=args.fps, storyboard=not args.no_storyboard).check()
    (_, first), *later = chunk_captions(config, args.size)
    print(f"prompt: {args.prompt}\nrefined: {first}")
    for start, caption in later:  # a long video's storyboard, as `generate` prints it
        print(f"from {start:g} s: {caption}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    import torch

    from minisora.pipeline import GenerateConfig, generate
    from minisora.pipeline.progress import ProgressBar

    if args.threads:
        torch.set_num_threads(args.threads)
    config = GenerateConfig(
        prompt=args.prompt, negative=args.negative, seconds=args.seconds, size=args.size, fps=args.fps,
        seed=args.seed, steps=args.steps, cfg=args.cfg, guidance_interval=args.guidance_interval,
        context_guidance=not args.no_context_guidance, sampler=args.sampler, shift=args.shift, image=args.image,
        extend=args.extend, backward=args.backward, loop=args.loop,
        connect=tuple(args.connect) if args.connect else None, edit=args.edit, strength=args.strength,
        format=args.format, refine=not args.no_refine, storyboard=not args.no_storyboard,
        **({} if args.candidates is None else {"candidates": args.candidates}))
    sound = None if args.no_sound else "default"
    with ProgressBar() as bar:
        result = generate(args.model, config, args.out, vae=args.vae, progress=bar, on_note=bar.note,
                          sound=sound)
    print(f"wrote {result.path} ({result.frames.shape[0]} frames at {result.fps} fps, {config.mode})")
    return 0


def cmd_add_sound(args: argparse.Namespace) -> int:
    import torch

    from minisora.sound.commands import add_sound
    from minisora.sound.synthesis import SoundSettings

    if args.threads:
        torch.set_num_threads(args.threads)
    given = {k: v for k, v in (("steps", args.steps), ("cfg", args.cfg)) if v is not None}
    if args.no_gate:
        given["gate"] = None
    settings = SoundSettings(**given)  # what generate() uses, unless told otherwise
    out = add_sound(args.video, args.out, prompt=args.prompt, seed=args.seed, model=args.model,
                    settings=settings)
    print(f"wrote {out}")
    return 0


def cmd_train_sound(args: argparse.Namespace) -> int:
    import torch

    from minisora.sound.train import SoundTrainConfig, export_weights, train_sound

    if args.threads:
        torch.set_num_threads(args.threads)
    architecture = ("frame_conv", "frame_colors", "width", "tracked_contacts")
    options = {k: v for k, v in vars(args).items() if k not in ("handler", "command", "threads", "export", *architecture)}
    model = {k: getattr(args, k) for k in architecture if getattr(args, k) is not None}
    if args.contact_loss or args.material_loss:
        model["aux_heads"] = True
    if model:
        options["model"] = model
    last = train_sound(SoundTrainConfig.from_dict(options))
    print(f"last checkpoint: {last}")
    if args.export:
        print(f"exported weights: {export_weights(last, args.export)}")
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

    verify = sub.add_parser("verify", help="check files for the minisora watermark and signed C2PA manifest",
                            epilog=VERIFY_EXIT_CODES)
    verify.add_argument("files", nargs="+", type=Path, metavar="FILE", help="MP4, GIF or PNG files")
    verify.add_argument("--json", action="store_true", help="one JSON report on stdout")
    verify.set_defaults(handler=cmd_verify)

    serve = sub.add_parser("serve", help="run the HTTP API, job queue and web page")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--data", type=Path, default=Path("minisora-data"), help="queue, uploads and outputs")
    serve.add_argument("--workers", type=int, default=1, help="jobs run at once")
    serve.add_argument("--no-auth", action="store_true", help="no API keys (loopback hosts only)")
    serve.add_argument("--max-queued", type=int, default=100, help="queued jobs allowed per key")
    serve.add_argument("--model", type=Path, default=None, metavar="DIR",
                       help="world model folder every mode generates with (default: the shipped model, if installed)")
    serve.add_argument("--no-model", action="store_true",
                       help="run no world model: text-to-video renders the world's scenes, other modes fail")
    serve.set_defaults(handler=cmd_serve)

    keys = sub.add_parser("keys", help="API keys for `minisora serve`")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_create = keys_sub.add_parser("create", help="make a key; it is printed once")
    keys_create.add_argument("name", help="who or what the key is for")
    keys_create.add_argument("--data", type=Path, default=Path("minisora-data"), help="the server's --data")
    keys_create.set_defaults(handler=cmd_keys_create)

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
    make.add_argument("--max-objects", type=int, default=4,
                      help="the most objects in a scene (up to 8; more than 4 lay out best at wide sizes)")
    make.set_defaults(handler=cmd_world_make)

    vae = sub.add_parser("train-vae", help="train (or resume) the video autoencoder on world clips")
    vae.add_argument("--run-dir", default="runs/vae", help="checkpoints go here; an existing run resumes")
    vae.add_argument("--preset", default=None, help="VAE preset, a name in autoencoder/config.py's VAE_PRESETS "
                     "(p8c16 is the shipped design)")
    vae.add_argument("--width", type=int, default=None, help="channels at full resolution")
    vae.add_argument("--detail-width", type=int, default=None,
                     help="patch arch: channels of the decoder's per-frame detail path (0: none)")
    vae.add_argument("--detail-blocks", type=int, default=None, help="residual blocks of that path")
    vae.add_argument("--lookahead", action="store_true", default=None,
                     help="patch arch: the decoder also sees the next latent frame (against ghosts of fast "
                          "motion; streams decode one latent frame behind)")
    vae.add_argument("--focus", type=int, default=None,
                     help="windows drawn per training item, keeping the one with the most motion (1: any)")
    vae.add_argument("--steps", type=int, default=None, help="train up to this step")
    vae.add_argument("--batch", type=int, default=None)
    vae.add_argument("--frames", type=int, default=None, help="4k+1 frames per training window")
    vae.add_argument("--crop", type=int, default=None, help="train on random CROPxCROP squares (faster steps)")
    vae.add_argument("--lr", type=float, default=None)
    vae.add_argument("--mse-weight", type=float, default=None, help="weight of a squared-error term")
    vae.add_argument("--adv-weight", type=float, default=None,
                     help="adversarial term (a frame discriminator against ghosts and smears), times the "
                          "adaptive weight; 0: none")
    vae.add_argument("--adv-start", type=int, default=None,
                     help="step from which the decoder feels the adversarial term (the discriminator "
                          "trains from the first)")
    vae.add_argument("--disc-lr", type=float, default=None, help="the discriminator's learning rate")
    vae.add_argument("--disc-width", type=int, default=None, help="the discriminator's first-layer channels")
    vae.add_argument("--init-from", default=None, help="shipped weights folder a new run starts from")
    vae.add_argument("--freeze-encoder", action="store_true", default=None,
                     help="with --init-from: train the decoder only, so the latents stay as they are")
    vae.add_argument("--anchor-weight", type=float, default=None,
                     help="with --init-from: train the encoder too, held near the one it starts from by this "
                          "weight on the squared drift of its latents (normalised units); exports keep its "
                          "latent normalisation, so a world model trained on the old latents reads the new")
    vae.add_argument("--seed", type=int, default=None)
    vae.add_argument("--checkpoint-minutes", type=float, default=None)
    vae.add_argument("--eval-clips", type=int, default=None)
    vae.add_argument("--log-every", type=int, default=None)
    vae.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    vae.set_defaults(handler=cmd_train_vae)

    tr = sub.add_parser("train", help="train (or resume) the world model; torchrun for several processes")
    tr.add_argument("--latents", type=Path, required=True,
                    help="latent shards (made from --world if missing); several: DIR1,DIR2 (made alike)")
    tr.add_argument("--out", default=None, help="run folder; an existing run resumes (default runs/world-s)")
    tr.add_argument("--world", type=Path, default=None, help="a `minisora world make` folder to encode")
    tr.add_argument("--vae", type=Path, default=None, help="autoencoder weights (default: the packaged ones)")
    tr.add_argument("--text-encoder", default=None, help="Hugging Face encoder folder (default: MiniLM)")
    tr.add_argument("--preset", default=None, help="DiT preset: world-s, world-m, base-l, base-xl, tiny")
    tr.add_argument("--depth", type=int, default=None,
                    help="blocks (default: the preset's), at the preset's width; with --init-from a "
                         "shallower model grows, its blocks spread out and the new ones starting as identities")
    tr.add_argument("--patch", type=parse_patch, default=None,
                    help="spacetime patch TxHxW over the latent (default: the preset's, or --init-from's); "
                         "finer than --init-from's re-cuts its patch embedding (e.g. 1x1x1: 4x the tokens)")
    tr.add_argument("--count-classes", type=int, default=None,
                    help="give the model an object-count embedding of N classes (0 unknown, 1 to N-1 objects; "
                         "e.g. 9), read from each detailed caption; added at zero to --init-from weights")
    tr.add_argument("--count-lr-scale", type=float, default=None,
                    help="the count embedding's rate as a multiple of --lr (default 10)")
    tr.add_argument("--steps", type=int, default=None, help="train up to this step (0: only encode)")
    tr.add_argument("--lr", type=float, default=None)
    tr.add_argument("--warmup", type=int, default=None)
    tr.add_argument("--cooldown", type=int, default=None,
                    help="the last N steps before --steps take the rate linearly to zero")
    tr.add_argument("--tokens-per-batch", type=int, default=None, help="sets every bucket's batch size")
    tr.add_argument("--video-frames", type=int, nargs="+", default=None, help="latent frames per video bucket")
    tr.add_argument("--image-share", type=float, default=None, help="share of one-frame image batches")
    tr.add_argument("--per-frame-noise", type=float, default=None,
                    help="share of clips whose frames draw their own noise level (default 0.5)")
    tr.add_argument("--object-weight", type=float, default=None,
                    help="weigh each latent cell's loss 1 + W x the share of it objects cover (from the "
                         "shards' object maps; folders encoded since stop 38); an experiment that biases "
                         "the model toward drawing too many objects; default 0: off")
    tr.add_argument("--object-weight-from", choices=("clip", "prediction"), default=None,
                    help="where --object-weight reads the objects: 'clip' (the shards' object maps; tilts the "
                         "model toward drawing objects) or 'prediction' (a probe on the model's own clean "
                         "estimate; does not tilt)")
    tr.add_argument("--object-weight-below", type=float, default=None,
                    help="apply --object-weight only to frames at noise levels t below this (default 1: all)")
    tr.add_argument("--condition-modes", type=parse_condition_modes, default=None,
                    help="the whole mix of conditioning masks, e.g. none=0.6,first=0.15,first_k=0.1,"
                         "last=0.05,first_last=0.05,random=0.05 (modes left out get none)")
    tr.add_argument("--checkpoint-every", type=int, default=None)
    tr.add_argument("--log-every", type=int, default=None)
    tr.add_argument("--seed", type=int, default=None)
    tr.add_argument("--init-from", type=Path, default=None,
                    help="exported weights a new run starts from (e.g. the shipped model, to continue it)")
    tr.add_argument("--bf16", action="store_true", help="bf16 autocast")
    tr.add_argument("--fsdp", action="store_true", help="FSDP2 instead of DDP (large presets)")
    tr.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    tr.add_argument("--no-progress", action="store_true")
    tr.set_defaults(handler=cmd_train)

    tc = sub.add_parser("train-counter", help="fit a world model's count reader (for generate --candidates)")
    tc.add_argument("--latents", required=True, help="latent folders, comma-separated (from `minisora train --world`)")
    tc.add_argument("--world", required=True, help="the world folders they were encoded from, in the same order")
    tc.add_argument("--model", type=Path, required=True, help="the world model folder the reader is written into")
    tc.add_argument("--steps", type=int, default=6000)
    tc.add_argument("--seed", type=int, default=0)
    tc.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    tc.set_defaults(handler=cmd_train_counter)

    refine = sub.add_parser("refine", help="show the detailed caption a short prompt is expanded into")
    refine.add_argument("prompt")
    refine.add_argument("--seed", type=int, default=0, help="fills in what the prompt leaves open")
    refine.add_argument("--size", type=parse_size, default=(64, 64), help="WIDTHxHEIGHT")
    refine.add_argument("--fps", type=int, default=16)
    refine.add_argument("--seconds", type=float, default=4.0,
                        help="longer than 4 s: also the caption each later chunk gets (the storyboard)")
    refine.add_argument("--no-storyboard", action="store_true", help="only the first chunk's caption")
    refine.set_defaults(handler=cmd_refine)

    gen = sub.add_parser("generate", help="generate a video with a world model (every prompting mode)")
    gen.add_argument("prompt")
    gen.add_argument("--out", type=Path, default=Path("out.mp4"))
    gen.add_argument("--seconds", type=float, default=None, help="1-60 s generated (default 4; --edit: the clip's)")
    gen.add_argument("--size", type=parse_size, default=None, help="WIDTHxHEIGHT (default: the input's, or 64x64)")
    gen.add_argument("--fps", type=int, default=None, help="default: the input's, or 16")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--steps", type=int, default=25)
    gen.add_argument("--cfg", type=float, default=5.0, help="guidance scale (1 = none)")
    gen.add_argument("--guidance-interval", type=parse_interval, default=(0.0, 1.0), metavar="LO,HI",
                     help="guide only at noise levels t in [LO, HI] (default 0,1: every step)")
    gen.add_argument("--no-context-guidance", action="store_true",
                     help="guide on the caption alone (default: on the caption and the given frames)")
    gen.add_argument("--no-storyboard", action="store_true",
                     help="a text-to-video longer than 4 s: every chunk gets the first 4 s caption "
                          "(default: each chunk is captioned from its own window of the simulated scene)")
    gen.add_argument("--sampler", choices=("euler", "heun"), default="euler")
    gen.add_argument("--candidates", type=int, default=None,
                     help="text-to-video: draw this many starts and finish the one whose early estimate holds "
                          "the prompt's number of objects (layout search; 1 = off; default: generate()'s)")
    gen.add_argument("--shift", type=float, default=None,
                     help="sampling time shift: >1 spends more steps at high noise (default: the training shift)")
    gen.add_argument("--negative", default="", help="what guidance steers away from")
    gen.add_argument("--image", type=Path, default=None, help="animate a PNG or JPEG")
    gen.add_argument("--extend", type=Path, default=None, help="continue this video by --seconds")
    gen.add_argument("--backward", action="store_true", help="with --extend: generate what came before")
    gen.add_argument("--loop", action="store_true", help="the last frame flows into the first")
    gen.add_argument("--connect", type=Path, nargs=2, metavar=("A", "B"), default=None,
                     help="a transition of --seconds from video A to video B")
    gen.add_argument("--edit", type=Path, default=None, help="re-generate this video under the prompt")
    gen.add_argument("--strength", type=float, default=None, help="--edit: 0 keeps the video, 1 ignores it (0.6)")
    gen.add_argument("--format", choices=("mp4", "gif", "png"), default=None, help="default: from --out")
    gen.add_argument("--model", type=Path, default=None, help="model folder (default: the shipped model)")
    gen.add_argument("--vae", type=Path, default=None, help="autoencoder folder (default: the model's)")
    gen.add_argument("--no-refine", action="store_true", help="condition on the prompt as typed")
    gen.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    gen.add_argument("--no-sound", action="store_true", help="a silent video (default: the sound model's track)")
    gen.set_defaults(handler=cmd_generate)

    snd = sub.add_parser("add-sound", help="give a silent video of the world its synchronized sound")
    snd.add_argument("video", type=Path, help="an MP4 (any sound in it is replaced)")
    snd.add_argument("--out", type=Path, required=True, help="the MP4 to write (watermarked and signed)")
    snd.add_argument("--prompt", default="", help="what the video shows (names materials the eye cannot see)")
    snd.add_argument("--seed", type=int, default=0)
    snd.add_argument("--steps", type=int, default=None, help="sampling steps (default: generate()'s, 8)")
    snd.add_argument("--cfg", type=float, default=None, help="guidance scale, 1 = none (default: generate()'s, 2)")
    snd.add_argument("--no-gate", action="store_true",
                     help="let sounds start where the tracker sees no contact (hidden hits; more stray sounds)")
    snd.add_argument("--model", type=Path, default=None, help="sound model folder (default: the shipped one)")
    snd.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    snd.set_defaults(handler=cmd_add_sound)

    ts = sub.add_parser("train-sound", help="train (or resume) the sound model on world clips")
    ts.add_argument("--run-dir", default=None, help="checkpoints go here; an existing run resumes (runs/sound-s)")
    ts.add_argument("--cache", default=None, help="rendered clips, mels and latents (runs/sound/cache)")
    ts.add_argument("--clips", type=int, default=None, help="world clips to train on (1000)")
    ts.add_argument("--vae", default=None, help="autoencoder folder (default: the packaged one)")
    ts.add_argument("--preset", default=None, help="sound-s (shipped) or tiny")
    ts.add_argument("--steps", type=int, default=None, help="train up to this step")
    ts.add_argument("--batch", type=int, default=None)
    ts.add_argument("--lr", type=float, default=None)
    ts.add_argument("--warmup", type=int, default=None, help="steps of linear learning-rate warm-up")
    ts.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints")
    ts.add_argument("--log-every", type=int, default=None)
    ts.add_argument("--seed", type=int, default=None)
    ts.add_argument("--init-from", default=None, help="weights a new run starts from (e.g. after a new VAE)")
    ts.add_argument("--frame-conv", type=int, default=None,
                    help="channels of the convolutions over the frames (0: none; a run from --init-from "
                         "weights without them gets them added, starting silent)")
    ts.add_argument("--frame-colors", type=int, default=None, choices=(1, 3),
                    help="what the convolutions read of each frame: 1 its luma (sound-s), 3 its colour")
    ts.add_argument("--width", type=int, default=None, help="the transformer's width (sound-s: 96)")
    ts.add_argument("--tracked-contacts", action="store_true", default=None,
                    help="give the model the contact path: the contacts the world tracker sees in the frames "
                         "(the cache analyses its clips once; added to --init-from weights, it starts silent)")
    ts.add_argument("--contact-loss", type=float, default=None,
                    help="weight of the auxiliary loss: which audio tokens begin a contact, from the video "
                         "(gives the model its aux heads; 0: none)")
    ts.add_argument("--material-loss", type=float, default=None,
                    help="weight of the auxiliary loss: which materials ring at a contact (0: none)")
    ts.add_argument("--partner-dropout", type=float, default=None,
                    help="share of tracked contacts trained with their partner unknown, as the tracker "
                         "reports contacts whose partner it cannot find (0: none)")
    ts.add_argument("--contact-dropout", type=float, default=None,
                    help="share of clips trained told none of the tracker's contacts, their sound kept: "
                         "trains the branch the contact guidance subtracts (0: none)")
    ts.add_argument("--generated", default=None, metavar="INDEX",
                    help="also train on the world model's videos, voiced at the contacts the tracker sees: "
                         "an index.jsonl of {\"video\": MP4, \"caption\": its prompt} per line (needs the contact path)")
    ts.add_argument("--export", default=None, help="write the final EMA here as shipped weights")
    ts.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ts.set_defaults(handler=cmd_train_sound)

    ev = sub.add_parser("eval", help="score videos against the claims of their prompts (world benchmark)")
    ev.add_argument("video", nargs="?", type=Path, default=None, help="one video to score (with --prompt)")
    ev.add_argument("--prompt", default=None, help="the prompt the video was made from")
    ev.add_argument("--model", default="render",
                    help="checkpoint folder, 'render' (the ground-truth ceiling; the default: pass the shipped "
                         "model's folder to score it), or 'autoencoder[:WEIGHTS]' (renders through the "
                         "autoencoder: the ceiling of a model decoded by it)")
    ev.add_argument("--suite", default="all", help="all, or one of the suites (see minisora.eval.suites)")
    ev.add_argument("--seeds", type=int, default=1, help="seeds per prompt")
    ev.add_argument("--first-seed", type=int, default=0,
                    help="first seed index (e.g. two processes: --seeds 1, and --seeds 1 --first-seed 1)")
    ev.add_argument("--out", type=Path, default=None, help="folder for result.json, report.md, figures")
    ev.add_argument("--steps", type=int, default=None, help="sampling steps (default: generate's, 25)")
    ev.add_argument("--cfg", type=float, default=None, help="guidance scale (default: generate's, 5)")
    ev.add_argument("--candidates", type=int, default=None,
                    help="starts the layout search draws for each video (default: generate's)")
    ev.add_argument("--guidance-interval", type=parse_interval, default=None, metavar="LO,HI",
                    help="guide only at noise levels t in [LO, HI] (default: every step)")
    ev.add_argument("--no-context-guidance", action="store_true",
                    help="guide on the caption alone in chunks with given frames (long videos)")
    ev.add_argument("--no-storyboard", action="store_true",
                    help="long videos: every chunk gets the first 4 s caption")
    ev.add_argument("--shift", type=float, default=None,
                    help="sampling time shift (default: generate's, the training shift)")
    ev.add_argument("--compare", nargs="+", default=None, metavar="RUN[,RUN]",
                    help="print finished runs side by side (their --out folders; a comma joins one model's "
                         "seeds into one column) and exit")
    ev.set_defaults(handler=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except CommandError as exc:
        print(f"minisora: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as exc:  # SpecError, MediaError, PromptError, missing
        print(f"minisora: error: {exc}", file=sys.stderr)  # weights or shards: written for users
        return 2
    except KeyboardInterrupt:
        print("minisora: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
