"""generate(): prompt (and image, or clips) in, a watermarked, signed video out.

    1. check inputs        the request, the output path, the input files (before any model work)
    2. encode the prompt   refine it into a training-style caption, encode it and the negative
    3. prepare conditioning  inputs conformed to the output size and the model's frame rate
    4. denoise             chunk by chunk, each mode a conditioning mask (modes.py, chunks.py)
    5. decode              each chunk as it is made; the parts resampled to the output's fps
    6. save_video          watermark, write, sign (the one exit for every output)

Same seed, same video: every chunk draws its noise from a generator seeded by (seed, chunk).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from minisora.media.write import Voicing
from minisora.pipeline.chunks import (
    ChunkInputs,
    ChunkPlan,
    ChunkResult,
    TextCondition,
    evaluations,
    from_nothing,
    plan_times,
    run_chunk,
)
from minisora.pipeline.config import DEFAULT_SECONDS, DEFAULT_SIZE, GenerateConfig, GenerationError
from minisora.pipeline.inputs import (
    check_size,
    conform,
    nearest_size,
    read_clip,
    read_image,
    resample,
    to_model_fps,
)
from minisora.pipeline.layout import search_evaluations
from minisora.pipeline.model import WorldModel, load_world_model
from minisora.pipeline.modes import Made, Sources, make, new_frames
from minisora.pipeline.sound import SoundModel, voicing
from minisora.pipeline.timeline import chunk_windows
from minisora.text.refine import Storyboard, caption_count

# (evaluations done, evaluations planned, stage) -> False to cancel
Progress = Callable[[int, int, str], bool | None]
MAX_KEPT_SIDE = 256  # an input larger than this is brought to the training scale by default


class GenerationCancelled(Exception):
    """The progress callback asked to stop; nothing was written."""


@dataclass
class Generation:
    path: Path  # what save_video wrote
    caption: str  # the refined prompt the model saw
    mode: str
    frames: np.ndarray  # (T, H, W, 3) uint8, the output before the watermark
    fps: int
    chunks: list[ChunkResult]
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.frames.shape[0] / self.fps


@dataclass
class _Raw:
    """Input files as read: frames (T, H, W, 3) uint8 and their frame rates."""

    image: np.ndarray | None = None
    clip: np.ndarray | None = None
    clip_fps: float = 16.0
    second: np.ndarray | None = None
    second_fps: float = 16.0


def generate(model: str | Path | WorldModel | None, prompt: str | GenerateConfig, out: str | Path, *,
             vae: str | Path | None = None, progress: Progress | None = None,
             on_note: Callable[[str], None] | None = None, sound: SoundModel | str | bool | None = "default",
             **options: Any) -> Generation:
    """Generate a video into `out`. `model`: a loaded WorldModel, a model folder, or None for the
    shipped default. `prompt`: the prompt (with GenerateConfig fields as keyword options), or a
    whole GenerateConfig. `sound`: "default" (the shipped sound model, if installed), a
    SoundModel, or None (or False) for a silent video; True means "default"."""
    config = prompt if isinstance(prompt, GenerateConfig) else GenerateConfig(prompt=prompt, **options)
    notes: list[str] = []

    def note(message: str) -> None:
        notes.append(message)
        if on_note is not None:
            on_note(message)

    # 1. check inputs
    out, fmt = check_output(Path(out), config.check().format)
    raw = read_inputs(config)
    world = model if isinstance(model, WorldModel) else load_world_model(model, vae)
    sound = sound_for(sound, world, note) if fmt == "mp4" else None
    size, fps = output_size(config, raw, world), output_fps(config, raw)
    seconds = config.seconds if config.seconds is not None else DEFAULT_SECONDS
    # 2. refine and encode the prompt (a long text-to-video: a caption for each chunk's window)
    caption = refine(config, size, seconds, note)  # first: a word the world does not know stops here
    board = storyboard(config, size, seconds, note)
    caption = caption if board is None else board.caption(0, config.chunk_frames)
    note(f"refined prompt: {caption}")
    texts = prompt_texts(world, caption, config.negative, board, config.model_fps, note)
    # 3. prepare latents and conditioning: inputs at the output size and the model's frame rate
    sources = conform_inputs(raw, size, config.model_fps, note)
    frames = new_frames(seconds, config.model_fps)
    candidates = search_candidates(world, config, caption, note)
    planned = planned_evaluations(world, config, sources, size, frames, candidates)
    # 4. denoise and 5. decode, chunk by chunk
    run = chunk_runner(world, config, texts, size, progress, planned, candidates)
    with torch.inference_mode():
        made = make(config.mode, run, sources, frames, config.chunk_latents, config.context_latents,
                    config.model_fps)
    video = assemble(made, fps)
    audio = soundtrack(sound, fps, caption, config.seed) if fmt == "mp4" else None
    # 6. save_video: watermark, write (the sound made from the frames as written), sign
    saved = save(out, fmt, video, fps, audio, world, config, caption)
    return Generation(saved, caption, config.mode, video, fps, made.chunks, notes)


def check_output(out: Path, fmt: str | None) -> tuple[Path, str]:
    """The output format, and that the output can be written (checked before the work)."""
    from minisora.media.atomic import check_writable
    from minisora.provenance.save import output_format

    fmt = output_format(out, fmt)
    check_writable(out.with_suffix(".png") if fmt == "png" and out.suffix == "" else out)
    return out, fmt


def read_inputs(config: GenerateConfig) -> _Raw:
    """Read the input files the mode needs; MediaError (with the file name) if one is unusable."""
    mode, raw = config.mode, _Raw()
    if config.image is not None:
        raw.image = read_image(Path(config.image))
    if mode in ("extend", "extend-backward", "extend-loop"):
        raw.clip, raw.clip_fps = read_clip(Path(config.extend), "--extend", min_frames=2)
    elif mode == "edit":
        raw.clip, raw.clip_fps = read_clip(Path(config.edit), "--edit", min_frames=5)
    elif mode == "connect":
        first, second = config.connect
        raw.clip, raw.clip_fps = read_clip(Path(first), "--connect")
        raw.second, raw.second_fps = read_clip(Path(second), "--connect")
    return raw


def output_size(config: GenerateConfig, raw: _Raw, world: WorldModel) -> tuple[int, int]:
    """--size, else the first input's size if the model can make it, else the nearest one."""
    if config.size is not None:
        return check_size(config.size, world.size_multiple)
    given = raw.image if raw.image is not None else raw.clip
    if given is None:
        return check_size(DEFAULT_SIZE, world.size_multiple)
    height, width = given.shape[1:3]
    try:
        if max(width, height) <= MAX_KEPT_SIDE:
            return check_size((width, height), world.size_multiple)
    except GenerationError:
        pass
    return check_size(nearest_size(width, height), world.size_multiple)


def output_fps(config: GenerateConfig, raw: _Raw) -> int:
    if config.fps is not None:
        return config.fps
    if raw.clip is not None:
        return int(min(60, max(1, round(raw.clip_fps))))
    return config.model_fps


def refine(config: GenerateConfig, size: tuple[int, int], seconds: float, note: Callable[[str], None]) -> str:
    """The caption the model sees: the prompt refined in the training captions' style.

    Captions describe clips of at most one chunk (the longest the model trained on); a long
    video is conditioned on that caption chunk after chunk."""
    if not config.prompt.strip():
        note("no prompt: the model follows the given frames alone (the empty caption)")
        return ""
    if not config.refine:
        return config.prompt
    from minisora.text.refine import refine_prompt

    try:
        refined = refine_prompt(config.prompt, seed=config.seed, width=size[0], height=size[1],
                                fps=config.model_fps, duration=min(seconds, config.chunk_seconds))
    except RuntimeError as exc:  # an install without the world's captioner
        note(f"prompt used as typed ({exc})")
        return config.prompt
    return refined.caption


def storyboard(config: GenerateConfig, size: tuple[int, int], seconds: float, note: Callable[[str], None]
               ) -> Storyboard | None:
    """For a text-to-video longer than one chunk, the scene laid out for one chunk and simulated
    over the whole length, so that each chunk is captioned from its own window
    (world/storyboard.py); None for other modes, for one chunk, and with `storyboard` or `refine` off."""
    frames = new_frames(seconds, config.model_fps) + 1
    if (config.mode != "text-to-video" or not (config.storyboard and config.refine and config.prompt.strip())
            or frames <= config.chunk_frames):
        return None
    from minisora.text.refine import storyboard_prompt

    try:
        return storyboard_prompt(config.prompt, seed=config.seed, width=size[0], height=size[1],
                                 fps=config.model_fps, duration=config.chunk_seconds,
                                 length=(frames - 1) / config.model_fps)
    except (ImportError, ValueError) as exc:  # e.g. a pan's longer world no longer fits the scene
        note(f"one caption for every chunk: the scene could not be simulated over {seconds:g} s ({exc})")
        return None


def chunk_captions(config: GenerateConfig, size: tuple[int, int] = DEFAULT_SIZE) -> list[tuple[float, str]]:
    """What a text-to-video of `config` is conditioned on, without a model: (the second it
    starts at, caption) for the first chunk and each later one whose caption changes."""
    seconds = config.seconds if config.seconds is not None else DEFAULT_SECONDS
    caption = refine(config, size, seconds, lambda message: None)
    board = storyboard(config, size, seconds, lambda message: None)
    if board is None:
        return [(0.0, caption)]
    frames = new_frames(seconds, config.model_fps) + 1
    out: list[tuple[float, str]] = []
    for start, stop in chunk_windows(frames, config.chunk_latents, config.context_latents):
        text = board.caption(start, stop)
        if not out or text != out[-1][1]:
            out.append((start / config.model_fps, text))
    return out


def prompt_texts(world: WorldModel, caption: str, negative: str, board: Storyboard | None, fps: int,
                 note: Callable[[str], None]) -> Callable[[int, int], TextCondition]:
    """texts(start, stop): the encoded caption for a chunk over frames [start, stop) at `fps` —
    `caption` for every chunk, or with a storyboard each window's own (encoded once per caption;
    a note when it changes)."""
    encoded = {caption: encode_prompt(world, caption, negative)}
    last = [caption]

    def texts(start: int, stop: int) -> TextCondition:
        if board is None or start == 0:
            return encoded[caption]
        text = board.caption(start, stop)
        if text not in encoded:
            encoded[text] = encode_prompt(world, text, negative)
        if text != last[0]:
            note(f"from {start / fps:g} s: {text}")
            last[0] = text
        return encoded[text]

    return texts


def encode_prompt(world: WorldModel, caption: str, negative: str) -> TextCondition:
    tokens, mask = world.text.encode([caption])  # (1, L, D), (1, L)
    null_tokens, null_mask = world.text.encode([negative])  # "" is the unconditional caption
    objects = caption_count(caption)
    count = torch.tensor([objects], dtype=torch.long) if world.dit.config.count_classes else None
    return TextCondition(tokens, mask, null_tokens, null_mask, count, objects)


def search_candidates(world: WorldModel, config: GenerateConfig, caption: str, note: Callable[[str], None]) -> int:
    """How many starts the layout search draws for a chunk made from nothing (layout.py): the
    config's, or 1 with a note when the model has no count reader or the caption names no count."""
    if config.candidates <= 1 or config.mode not in ("text-to-video", "loop"):
        return 1
    if world.counter is None:
        note(f"one start instead of {config.candidates}: this model has no count reader "
             "(fit one with `minisora train-counter`)")
        return 1
    if caption_count(caption) == 0:
        note(f"one start instead of {config.candidates}: the caption does not say how many objects")
        return 1
    return config.candidates


def conform_inputs(raw: _Raw, size: tuple[int, int], model_fps: int, note: Callable[[str], None]) -> Sources:
    src = Sources(clip_fps=raw.clip_fps, second_fps=raw.second_fps)
    if raw.image is not None:
        src.image = conform(raw.image, size, "image", note)
    if raw.clip is not None:
        src.clip = conform(raw.clip, size, "input clip", note)
        src.clip_model = to_model_fps(src.clip, raw.clip_fps, model_fps, "input clip", note)
    if raw.second is not None:
        src.second = conform(raw.second, size, "second clip", note)
        src.second_model = to_model_fps(src.second, raw.second_fps, model_fps, "second clip", note)
    return src


def chunk_runner(world: WorldModel, config: GenerateConfig, texts: Callable[[int, int], TextCondition],
                 size: tuple[int, int], progress: Progress | None, planned: int = 0, candidates: int = 1
                 ) -> Callable[[ChunkPlan, ChunkInputs], ChunkResult]:
    """run(plan, inputs) for the timeline: the chunk's seed, caption, sampler settings and progress
    over `planned` transformer evaluations in all. Chunks are taken to follow one another forward
    from frame 0 (text-to-video) when their caption is looked up by window."""
    strength = config.edit_strength if config.mode == "edit" else None
    counter = {"chunks": 0, "evals": 0, "frames": 0}

    def on_eval() -> None:
        counter["evals"] += 1
        stage = f"chunk {counter['chunks']}"
        if progress is not None and progress(counter["evals"], planned, stage) is False:
            raise GenerationCancelled("generation cancelled")

    def run(plan: ChunkPlan, inputs: ChunkInputs) -> ChunkResult:
        counter["chunks"] += 1
        seed = int(np.random.SeedSequence([config.seed, counter["chunks"]]).generate_state(1)[0])
        made = counter["frames"]
        text = texts(made - plan.before, made + plan.new_frames)
        result = run_chunk(world, plan, inputs, text, size, steps=config.steps, cfg=config.cfg,
                         sampler=config.sampler, generator=torch.Generator().manual_seed(seed),
                         context_noise=config.context_noise, strength=strength, bf16=config.bf16,
                         keep_latents=config.keep_latents, on_eval=on_eval,
                         guidance_interval=config.guidance_interval, shift=config.shift,
                         context_guidance=config.context_guidance, candidates=candidates)
        counter["frames"] = made + result.frames.shape[0]
        return result

    return run


def planned_evaluations(world: WorldModel, config: GenerateConfig, sources: Sources, size: tuple[int, int],
                        frames: int, candidates: int = 1) -> int:
    """Transformer evaluations the request takes: the modes run once on blank frames, no model.
    `candidates` > 1: chunks made from nothing are searched (search_candidates said they can be)."""
    strength = config.edit_strength if config.mode == "edit" else None
    total = 0

    def dry_run(plan: ChunkPlan, inputs: ChunkInputs) -> ChunkResult:
        nonlocal total
        times = plan_times(world, plan, size, config.steps, strength, config.shift)
        plain = evaluations(times, config.sampler)
        searched = candidates > 1 and from_nothing(plan, strength)
        total += search_evaluations(plain, times, config.sampler, candidates) if searched else plain
        blank = np.zeros((plan.new_frames, size[1], size[0], 3), np.uint8)
        return ChunkResult(plan, blank, plan.mask(), None, 1.0)

    make(config.mode, dry_run, sources, frames, config.chunk_latents, config.context_latents,
         config.model_fps)
    return total


def assemble(made: Made, fps: int) -> np.ndarray:
    """The output frames at `fps`: each segment resampled by its own timing, then joined."""
    if made.loop:
        (segment,) = made.segments
        duration = segment.frames.shape[0] / segment.fps - 1 / fps  # the frame after the last is frame 0
        return resample(segment.frames, segment.fps, fps, continuation=False, duration=duration)
    parts = [resample(s.frames, s.fps, fps, continuation=s.continuation) for s in made.segments]
    return np.concatenate(parts)


def sound_for(sound: SoundModel | str | bool | None, world: WorldModel, note: Callable[[str], None]
              ) -> SoundModel | None:
    """The sound model to call: the one given, none, or for "default" the shipped one (issue 9),
    sharing the world model's text encoder when it is the same packaged MiniLM."""
    if sound is False or sound is None:
        return None
    if sound is True:
        sound = "default"
    if not isinstance(sound, str):
        if not callable(sound):
            raise TypeError(f"sound={sound!r}: pass 'default', a SoundModel, or None for silence")
        return sound
    if sound != "default":
        raise ValueError(f"sound={sound!r}: pass 'default', a SoundModel, or None for silence")
    from minisora.sound.weights import has_default_sound

    if not has_default_sound():
        note("silent video: no sound model is installed (train one with `minisora train-sound`)")
        return None
    from minisora.sound.synthesis import load_world_sound

    return load_world_sound(text=world.text if world.text.config.path == "" else None)


def soundtrack(sound: SoundModel | None, fps: int, caption: str, seed: int) -> Voicing | None:
    """The sound model's soundtrack (issue 9), or None for silence: a function that save_video
    hands the frames as the MP4 shows them (watermarked, encoded, decoded), so that the sound
    follows the contacts a viewer sees. Voiced from the frames before the watermark and H.264,
    the shipped models' videos passed 11 of the benchmark's 28 av_sync claims (mean onset F1
    0.70); from the frames as written, 21 (0.85; `bench/sound_generated.py --regenerate`).

    A long video's sound hears its first caption throughout, not the storyboard: on the
    long_horizon videos the storyboard's "rests on the floor" silenced contacts the video still
    showed (onset recall 0.26 against 0.54, F1 0.41 against 0.63 on the same 4 videos)."""
    return None if sound is None else voicing(sound, fps, caption, seed)


def save(out: Path, fmt: str, frames: np.ndarray, fps: int, audio: Voicing | None, world: WorldModel,
         config: GenerateConfig, caption: str) -> Path:
    from minisora import __version__
    from minisora.provenance import ProvenanceInfo, save_video

    settings = {k: v for k, v in asdict(config).items() if k not in ("prompt", "keep_latents")}
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in settings.items()}
    settings["connect"] = [str(p) for p in config.connect] if config.connect else None
    # as the CLI writes them: the manifest's CBOR turns a list of small ints into bytes
    settings["size"] = "x".join(map(str, config.size)) if config.size else None
    settings["guidance_interval"] = ",".join(f"{v:g}" for v in config.guidance_interval)
    info = ProvenanceInfo(model_name=world.name, model_version=__version__, prompt=caption, seed=config.seed,
                          steps=config.steps, parameters={"mode": config.mode, "user_prompt": config.prompt,
                                                          "width": frames.shape[2], "height": frames.shape[1],
                                                          "fps": fps, **settings})
    return save_video(out, frames, fps, audio, info=info, fmt=fmt).path
