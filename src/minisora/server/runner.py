"""Running one job: the mode's work, step by step, reporting progress between steps.

With a world model (the shipped default, or `minisora serve --model DIR`) every mode runs
`minisora.pipeline.generate()`: the job's fields and uploads become one GenerateConfig, the
pipeline's progress over transformer evaluations becomes the job's progress, and the video
leaves through save_video() (watermarked, written atomically, signed) like every output.

Without a model, text-to-video renders the prompt's scene with the world's renderer (the ground
truth the model learns from) and every other mode fails with a message saying how to give the
server a model: the service accepts and checks their inputs either way, and never fakes an output.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minisora.server.jobs import Job

if TYPE_CHECKING:  # the pipeline imports torch: only a server with a model loads it, when it runs
    from minisora.pipeline import GenerateConfig
    from minisora.server.models import WorkerModel

# progress in [0, 1] and a stage name; returns False when the job was cancelled meanwhile
Report = Callable[[float, str], bool]
VIDEO_NAME = "video.mp4"
DENOISING = (0.05, 0.95)  # the share of the job's progress bar the denoising steps fill


class JobCancelled(Exception):
    """The job was cancelled (or taken back) while it ran; its output is thrown away."""


class JobFailed(Exception):
    """The job cannot be done; the message is shown to the user as the job's error."""


def run_job(job: Job, output: Path, report: Report, uploads: Path, model: WorkerModel | None = None
            ) -> str | None:
    """Do the job, writing its video to `output` (atomically); return the refined prompt.

    `uploads` is the job's upload folder; `model` the worker's world model, None without one."""
    if model is not None:
        return generate_job(job, output, report, uploads, model)
    if job.mode != "text-to-video":
        raise JobFailed(
            f"mode {job.mode!r} needs the generation pipeline, which needs a world model, and this server "
            f"runs without one: install the default model, or pass a trained one with "
            f"`minisora serve --model DIR`. Without a model it runs text-to-video only, by rendering "
            f"the prompt's world scene"
        )
    return render_text_to_video(job, output, report)


def checker(job: Job, report: Report) -> Callable[[float, str], None]:
    """report(), raising JobCancelled when the job was cancelled meanwhile."""

    def step(progress: float, stage: str) -> None:
        if not report(progress, stage):
            raise JobCancelled(job.id)

    return step


# -- with a world model: the generation pipeline ------------------------------------------------
def generate_job(job: Job, output: Path, report: Report, uploads: Path, model: WorkerModel) -> str:
    """Run generate() for the job; return the caption the model was conditioned on."""
    from minisora.pipeline import GenerationCancelled, generate

    step = checker(job, report)
    step(0.01, "preparing" if model.loaded else "loading the world model")
    config = generate_config(job, uploads)
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        world, sound = model.get()
        step(DENOISING[0], "refining and encoding the prompt")
        result = generate(world, config, output, sound=sound, progress=denoising_progress(report))
    except GenerationCancelled:
        raise JobCancelled(job.id) from None
    except input_errors() as exc:  # the request cannot be made: the pipeline's message says why
        raise JobFailed(user_message(str(exc), job, uploads)) from None
    return result.caption


def generate_config(job: Job, uploads: Path) -> GenerateConfig:
    """The job's fields and uploads as a GenerateConfig (the server's modes in the pipeline's terms)."""
    from minisora.pipeline import GenerateConfig

    params, files = job.params, {slot: uploads / name for slot, name in job.inputs.items()}
    defaults = GenerateConfig(prompt="")
    fields: dict[str, Any] = {
        "negative": params.get("negative", defaults.negative), "seed": params["seed"],
        "steps": params.get("steps", defaults.steps), "cfg": params.get("cfg", defaults.cfg),
        "size": (params["width"], params["height"]), "fps": params["fps"], "seconds": params["seconds"],
    }
    if job.mode == "image-to-video":
        fields["image"] = files["image"]
    elif job.mode == "extend":
        fields.update(extend=files["video"], backward=params.get("direction") == "backward")
    elif job.mode == "loop":  # the server's loop closes an uploaded clip: a transition back to its start
        fields.update(extend=files["video"], loop=True)
    elif job.mode == "connect":
        fields["connect"] = (files["video"], files["end_video"])
    elif job.mode == "edit":  # an edit keeps its clip's length: the job's seconds do not apply
        fields.update(edit=files["video"], strength=params.get("strength"), seconds=None)
    return GenerateConfig(prompt=job.prompt, **fields)


def denoising_progress(report: Report) -> Callable[[int, int, str], bool]:
    """generate()'s (done, planned, stage) callback as the job's report(); False cancels."""
    start, end = DENOISING

    def progress(done: int, planned: int, stage: str) -> bool:
        fraction = min(1.0, done / planned) if planned else 1.0
        # after the last step generate() says nothing more until it returns: name what it does then
        if done < planned:
            stage = f"denoising {stage}: step {done} of {planned}"
        else:
            stage = "decoding the video, then watermarking and signing it"
        return report(start + (end - start) * fraction, stage)

    return progress


def input_errors() -> tuple[type[Exception], ...]:
    """What the pipeline raises for a request it cannot make (each message says what to do)."""
    from minisora.media import MediaError
    from minisora.pipeline import GenerationError
    from minisora.world.prompt import PromptError
    from minisora.world.spec import SpecError

    return GenerationError, MediaError, PromptError, SpecError


def user_message(message: str, job: Job, uploads: Path) -> str:
    """The message with upload paths (the server's data folder) named by their upload slots."""
    for slot, name in job.inputs.items():
        message = message.replace(str(uploads / name), f"upload {slot!r}")
    return message


# -- without a world model: the world's renderer -----------------------------------------------
def render_text_to_video(job: Job, output: Path, report: Report) -> str:
    from minisora.world.physics import simulate
    from minisora.world.render import render_frame
    from minisora.world.sound import render_audio

    step = checker(job, report)
    step(0.02, "refining the prompt")
    spec, refined = refine(job)
    step(0.05, "simulating")
    trajectory = simulate(spec)
    frames = render_frames_reporting(spec, trajectory, render_frame, step, start=0.1, end=0.8)
    step(0.8, "mixing the sound")
    audio = render_audio(spec, trajectory)
    step(0.85, "watermarking, encoding and signing")
    save_output(job, output, frames, spec.fps, audio, refined)
    return refined


def refine(job: Job):
    """The scene spec and the refined prompt (the world captioner's description of the scene)."""
    from minisora.text.refine import refine_prompt
    from minisora.world.prompt import parse_prompt

    params = job.params
    size = {"width": params["width"], "height": params["height"], "fps": params["fps"],
            "duration": params["seconds"], "seed": params["seed"]}
    try:
        refined = refine_prompt(job.prompt, **size)
        return refined.spec, refined.caption
    except RuntimeError:  # an install without the world's captioner: the prompt stands as typed
        return parse_prompt(job.prompt, **size), job.prompt
    except ValueError as exc:
        raise JobFailed(f"the prompt could not be read: {exc}") from None


def render_frames_reporting(spec, trajectory, render_frame, step, start: float, end: float):
    """All frames (T, H, W, 3) uint8, reporting progress about every 5% of them."""
    import numpy as np

    count = len(trajectory.times)
    frames = np.empty((count, spec.height, spec.width, 3), dtype=np.uint8)
    every = max(1, count // 20)
    for index in range(count):
        frames[index] = render_frame(spec, trajectory, index)
        if index % every == 0:
            step(start + (end - start) * index / count, f"rendering frame {index + 1} of {count}")
    return frames


def save_output(job: Job, path: Path, frames, fps: int, audio, refined: str) -> Path:
    """Through save_video(), like every output: watermarked, written atomically, C2PA-signed."""
    from minisora import __version__
    from minisora.provenance import ProvenanceInfo, save_video

    params = job.params
    info = ProvenanceInfo(model_name="minisora-world", model_version=__version__, prompt=refined,
                          seed=params["seed"], steps=None, source_type="algorithmicMedia",
                          parameters={"mode": job.mode, "user_prompt": job.prompt, "job": job.id})
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_video(path, frames, fps, audio, info=info, fmt="mp4").path
