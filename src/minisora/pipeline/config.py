"""What `generate()` is asked for: one typed dataclass, checked before any work is done.

The prompting mode follows from which inputs are given (Sora's report lists them): none is
text-to-video; `image` animates a picture; `extend` continues a clip (`backward` generates what
came before it); `loop` makes the end flow into the start (from text, from an image, or after a
clip given with `extend`: a transition from its end back to its start); `connect`
bridges two clips; `edit` re-generates a clip SDEdit-style at a `strength`. Every mode is the
same conditioning-mask machinery (see chunks.py); this file only names and checks the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_SECONDS = 60.0
MIN_SECONDS = 1.0
DEFAULT_SECONDS = 4.0
DEFAULT_SIZE = (64, 64)
DEFAULT_FPS = 16
DEFAULT_STRENGTH = 0.6
FORMATS = ("mp4", "gif", "png")
SAMPLERS = ("euler", "heun")


class GenerationError(ValueError):
    """A request that cannot be generated; the message says what to do instead."""


@dataclass
class GenerateConfig:
    prompt: str
    negative: str = ""  # what guidance steers away from ("" = the empty caption)
    seconds: float | None = None  # length of the generated part; None: 4 s (edit: the input's length)
    size: tuple[int, int] | None = None  # (width, height); None: the input's nearest supported size, or 64x64
    fps: int | None = None  # output frame rate; None: the input's, or 16
    seed: int = 0
    steps: int = 25
    cfg: float = 5.0  # classifier-free guidance scale; 1 = no guidance
    guidance_interval: tuple[float, float] = (0.0, 1.0)  # guide only at noise levels t in [lo, hi]
    context_guidance: bool = True  # guidance's unconditional branch loses the given frames too
    sampler: str = "euler"
    candidates: int = 4  # text-to-video: starts drawn, the one whose early estimate holds the caption's count kept (layout.py)
    shift: float | None = None  # sampling time shift; None: SD3's sqrt(tokens / 256), as in training
    image: Path | None = None  # image-to-video: a PNG or JPEG
    extend: Path | None = None  # a clip to continue
    backward: bool = False  # with extend: generate what came before the clip
    loop: bool = False  # the last frame flows into the first
    connect: tuple[Path, Path] | None = None  # a transition from the first clip to the second
    edit: Path | None = None  # a clip to re-generate under the prompt
    strength: float | None = None  # edit: 0 keeps the clip, 1 ignores it; None: 0.6
    format: str | None = None  # mp4, gif or png; None: from the output's suffix
    refine: bool = True  # expand the prompt into a training-style caption first
    storyboard: bool = True  # long text-to-video: each chunk captioned from its own window of the scene
    model_fps: int = 16  # the frame rate the model was trained at; outputs are resampled from it
    chunk_latents: int = 17  # latent frames per chunk (17 = 4 s at 16 fps, the longest training clip)
    context_latents: int = 4  # latent frames of overlap carried into the next chunk (~1 s)
    context_noise: float = 0.05  # diffusion forcing: the model sees generated context at this t
    bf16: bool = False  # bf16 autocast for the transformer
    keep_latents: bool = False  # keep every chunk's latents in the result (tests, analysis)

    @property
    def mode(self) -> str:
        if self.edit is not None:
            return "edit"
        if self.connect is not None:
            return "connect"
        if self.extend is not None:
            return "extend-loop" if self.loop else "extend-backward" if self.backward else "extend"
        if self.loop:
            return "image-loop" if self.image is not None else "loop"
        return "image-to-video" if self.image is not None else "text-to-video"

    @property
    def input_files(self) -> list[Path]:
        files = [self.image, self.extend, self.edit, *(self.connect or ())]
        return [Path(f) for f in files if f is not None]

    @property
    def chunk_frames(self) -> int:
        """Frames of a first chunk (a clip from nothing): its first latent frame is one frame."""
        return 4 * self.chunk_latents - 3

    @property
    def chunk_seconds(self) -> float:
        """The length of one chunk: the longest clip a caption describes."""
        return (self.chunk_frames - 1) / self.model_fps

    @property
    def edit_strength(self) -> float:
        return DEFAULT_STRENGTH if self.strength is None else self.strength

    def check(self) -> GenerateConfig:
        """Raise GenerationError for contradictory or out-of-range settings (no files are read)."""
        problems = self._flag_problems() + self._range_problems()
        if problems:
            raise GenerationError("; ".join(problems))
        return self

    def _flag_problems(self) -> list[str]:
        chosen = [name for name, value in (("--image", self.image), ("--extend", self.extend),
                                           ("--connect", self.connect), ("--edit", self.edit))
                  if value is not None]
        problems = []
        if len(chosen) > 1:
            problems.append(f"{' and '.join(chosen)} are different modes: give one of them")
        if self.loop and {"--connect", "--edit"} & set(chosen):
            problems.append("--loop closes a clip made from text, --image or --extend FILE; it cannot "
                            f"be combined with {', '.join(c for c in chosen if c in ('--connect', '--edit'))}")
        if self.loop and self.backward:
            problems.append("--loop and --backward contradict each other: a loop's transition runs "
                            "forward from the clip's end to its start")
        if self.backward and self.extend is None:
            problems.append("--backward needs --extend FILE (the clip to generate the past of)")
        if self.strength is not None and self.edit is None:
            problems.append("--strength applies to --edit FILE only")
        if self.edit is not None and self.seconds is not None:
            problems.append("--edit keeps the length of the clip it edits: drop --seconds")
        if not self.prompt.strip() and self.mode in ("text-to-video", "loop"):
            problems.append("the prompt is empty: describe the video (only modes with an input "
                            "image or clip can go without one)")
        return problems

    def _range_problems(self) -> list[str]:
        problems = []
        if self.seconds is not None and not MIN_SECONDS <= self.seconds <= MAX_SECONDS:
            problems.append(f"--seconds {self.seconds:g} is out of range: generate {MIN_SECONDS:g} to "
                            f"{MAX_SECONDS:g} seconds at a time (extend the result for more)")
        if self.fps is not None and not 1 <= self.fps <= 60:
            problems.append(f"--fps {self.fps} is out of range: use 1 to 60")
        if self.seed < 0:
            problems.append(f"--seed {self.seed}: use a non-negative integer")
        if self.steps < 1 or self.steps > 1000:
            problems.append(f"--steps {self.steps}: use 1 to 1000 sampling steps (25 is the default)")
        interval = self.guidance_interval
        if not (isinstance(interval, (tuple, list)) and len(interval) == 2
                and all(isinstance(v, (int, float)) for v in interval)):
            problems.append(f"guidance_interval {interval!r}: give two numbers (LO, HI), e.g. (0.2, 0.85)")
            interval = (0.0, 1.0)
        lo, hi = interval
        if not 0 <= lo < hi <= 1:
            problems.append(f"--guidance-interval {lo:g},{hi:g}: give LO,HI with 0 <= LO < HI <= 1 "
                            "(guidance at noise levels from LO to HI)")
        if self.cfg < 0:
            problems.append(f"--cfg {self.cfg:g}: the guidance scale must be >= 0 (1 = no guidance)")
        if self.shift is not None and not 0 < self.shift <= 20:
            problems.append(f"--shift {self.shift:g}: use a value in (0, 20]; 1 spaces the steps evenly "
                            "in t, larger values spend more of them at high noise")
        if not 1 <= self.candidates <= 16:
            problems.append(f"--candidates {self.candidates}: draw 1 to 16 starts (1: no layout search)")
        if self.sampler not in SAMPLERS:
            problems.append(f"sampler {self.sampler!r}: choose {' or '.join(SAMPLERS)}")
        if self.strength is not None and not 0 < self.strength <= 1:
            problems.append(f"--strength {self.strength:g}: use a value in (0, 1]; 0.3 keeps much of "
                            "the clip, 0.9 little")
        if self.format is not None and self.format not in FORMATS:
            problems.append(f"--format {self.format!r}: choose from {', '.join(FORMATS)}")
        if self.context_latents < 1 or self.chunk_latents < 2 * self.context_latents + 3:
            problems.append(f"chunk_latents {self.chunk_latents} must be at least 2 * context_latents + 3 "
                            f"(= {2 * self.context_latents + 3}) so that a chunk holds context on both "
                            "sides and a new frame")
        if not 0 <= self.context_noise < 1:
            problems.append(f"context_noise {self.context_noise:g} must be in [0, 1)")
        if self.size is not None:
            width, height = self.size
            if width < 16 or height < 16 or width % 16 or height % 16:
                problems.append(f"size {width}x{height}: width and height must be multiples of 16 "
                                "(for example 64x64, 96x64, 64x96, 112x64)")
        return problems
