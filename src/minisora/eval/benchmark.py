"""The world-simulator benchmark: prompts -> videos -> analyzer -> claims -> scores.

`--model render` sends the ground truth through the very path a model's output takes (render,
MP4 round trip, analyzer, claims): it is the ceiling and should score ~100% on every claim.
`--model autoencoder` (or `autoencoder:WEIGHTS`) sends each render through the autoencoder
(encode, decode) first: the ceiling of any world model that makes its videos through that decoder.
A checkpoint goes through `minisora.pipeline.generate`, which watermarks and signs like any output.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minisora.eval.analyzer import Analysis, analyze_file
from minisora.eval.claims import Verdict, compile_claims
from minisora.eval.suites import Case, cases


class EvalError(ValueError):
    """Bad benchmark input; the message says what to do."""


@dataclass
class EvalConfig:
    model: str = "render"  # "render" (the ground-truth ceiling), "autoencoder[:WEIGHTS]", or a checkpoint folder
    suite: str = "all"
    seeds: int = 1
    out: Path = Path("eval_out")
    first_seed: int = 0  # seed indices first_seed .. first_seed + seeds - 1 (two runs can split them)
    sampling: dict[str, Any] = field(default_factory=dict)  # generate() options: steps, cfg, shift, guidance_interval


@dataclass
class CaseResult:
    case: Case
    seed: int
    video: Path
    verdicts: list[Verdict]
    analysis: Analysis | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.case.suite,
            "prompt": self.case.prompt,
            "seconds": self.case.seconds,
            "size": list(self.case.size),
            "seed": self.seed,
            "video": str(self.video),
            "claims": [vars(v) for v in self.verdicts],
        }


def case_seed(case: Case, index: int) -> int:
    """The seed of a case's `index`-th video: its own per case (a hash of suite and prompt), so
    that a run's videos vary in what their prompts leave open (background, layout, noise) as the
    reference renders do. With one seed for every case, all of a run's renders shared their
    background and the ceiling's Fréchet distance was 45 against a floor of 3.4. Far from the
    reference renders' seeds (quality.REFERENCE_SEED_OFFSET and twice it, plus the case's place)."""
    return 1_000_000 + zlib.crc32(f"{case.suite}/{case.prompt}".encode()) % 1_000_000 * 16 + index


def make_video(model, case: Case, seed: int, path: Path, sampling: dict[str, Any] | None = None) -> Path:
    """Write the video for one case: a ground-truth render (through the autoencoder when `model`
    is one), or a loaded world model's generation (with `sampling`'s generate() options)."""
    from minisora.autoencoder import VideoVAE

    if model == "render" or isinstance(model, VideoVAE):
        from minisora import __version__
        from minisora.provenance import ProvenanceInfo, save_video
        from minisora.world import render_clip
        from minisora.world.prompt import parse_prompt

        clip = render_clip(_layout(parse_prompt, case, seed))
        frames = clip.frames if model == "render" else _round_trip(model, clip.frames)
        # an output like the model's: watermarked and signed (a render is algorithmicMedia); its
        # watermark id follows the seed, so a reference render carries the same mark every time
        info = ProvenanceInfo("minisora-world", __version__, case.prompt, seed, None, "algorithmicMedia")
        return save_video(path, frames, clip.fps, clip.audio, info=info, fmt="mp4",
                          generation_id=seed % 2**32).path
    from minisora.pipeline import generate

    return generate(model, case.prompt, path, seconds=case.seconds, size=case.size, seed=seed,
                    **(sampling or {})).path


def _round_trip(vae, frames):
    """uint8 (T, H, W, 3) frames -> the same through encode and decode (streamed, any length)."""
    from minisora.autoencoder import decode_chunked, encode_chunked
    from minisora.pipeline.chunks import to_frames, to_pixels
    from minisora.pipeline.timeline import context_head

    count = len(frames)
    video = to_pixels(context_head(frames, count + (1 - count) % 4))  # held on its last frame to 4k+1
    return to_frames(decode_chunked(vae, encode_chunked(vae, video))[:, :, :count])


def _layout(parse_prompt, case: Case, seed: int):
    """The scene for a case; when a seed's layout does not fit, the next few layouts of the same
    prompt are just as true to it (their seeds are far from any run's)."""
    from minisora.world.prompt import PromptError

    for attempt in range(5):
        try:
            return parse_prompt(
                case.prompt,
                width=case.size[0],
                height=case.size[1],
                duration=case.seconds,
                seed=seed + 100_000 * attempt,
            )
        except PromptError as exc:
            error = exc
    raise error


def renders(model: str) -> bool:
    """True for the models that render rather than sample: 'render' and the autoencoders."""
    return model in ("render", "autoencoder") or model.startswith("autoencoder:")


def load_model(model: str):
    """'render', an autoencoder ('autoencoder' for the shipped one, 'autoencoder:WEIGHTS'), or
    the world model in a checkpoint folder (each loaded once for the whole run)."""
    if model == "render":
        return model
    if model == "autoencoder" or model.startswith("autoencoder:"):
        from minisora.autoencoder import load_vae

        weights = model.partition(":")[2] or None
        if weights is not None and not (Path(weights) / "config.json").exists():
            raise EvalError(f"no autoencoder weights at {weights}: give a folder with config.json and "
                            "model.safetensors (as `python -m minisora.autoencoder.export` writes)")
        return load_vae(weights).eval()
    if not Path(model).exists():
        raise EvalError(
            f"no model checkpoint at {model}; give a model folder written by `minisora train` "
            "(or its run folder), --model render for the ground-truth ceiling, or --model "
            "autoencoder for the ceiling through the autoencoder"
        )
    from minisora.pipeline.model import load_world_model

    return load_world_model(model)


def score_video(
    path: str | Path, prompt: str, seconds: float | None = None
) -> tuple[list[Verdict], Analysis]:
    """Score one video from any generator against the claims of its prompt."""
    analysis = analyze_file(path)
    duration = seconds if seconds is not None else analysis.num_frames / analysis.fps
    return [c.check(analysis) for c in compile_claims(prompt, duration)], analysis


def run_eval(config: EvalConfig, log=print) -> list[CaseResult]:
    """Generate (or render) every case of the suite for each seed, and score it."""
    if config.seeds < 1:
        raise EvalError(f"--seeds {config.seeds}: give at least 1")
    if config.first_seed < 0:
        raise EvalError(f"--first-seed {config.first_seed}: give 0 or more")
    chosen = cases(config.suite)
    model = load_model(config.model)
    videos = Path(config.out) / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    results = []
    for case in chosen:
        for index in range(config.first_seed, config.first_seed + config.seeds):
            start = time.time()
            seed = case_seed(case, index)
            name = f"{case.suite}_{_slug(case.prompt)}_s{index}.mp4"
            video = make_video(model, case, seed, videos / name, config.sampling)
            verdicts, analysis = score_video(video, case.prompt, case.seconds)
            results.append(CaseResult(case, seed, video, verdicts, analysis))
            passed = sum(v.passed for v in verdicts)
            log(
                f"{case.suite:12s} {passed}/{len(verdicts)} claims  {case.prompt!r} seed {seed} ({time.time() - start:.1f} s)"
            )
    return results


def _slug(text: str) -> str:
    return "_".join("".join(ch for ch in word if ch.isalnum()) for word in text.lower().split())[
        :48
    ]
