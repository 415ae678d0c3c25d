"""Running one job: the mode's work, step by step, reporting progress between steps.

Until the service runs `pipeline.generate()` with a trained model, text-to-video renders the
prompt's scene with the world's renderer (the ground truth the model learns from) and every
other mode fails with a message saying so: the service accepts and checks their inputs now,
and never fakes an output.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from minisora.server.jobs import Job

# progress in [0, 1] and a stage name; returns False when the job was cancelled meanwhile
Report = Callable[[float, str], bool]
VIDEO_NAME = "video.mp4"


class JobCancelled(Exception):
    """The job was cancelled (or taken back) while it ran; its output is thrown away."""


class JobFailed(Exception):
    """The job cannot be done; the message is shown to the user as the job's error."""


def run_job(job: Job, output: Path, report: Report) -> str | None:
    """Do the job, writing its video to `output` (atomically); return the refined prompt."""
    if job.mode != "text-to-video":
        raise JobFailed(
            f"mode {job.mode!r} needs the generation pipeline (a trained model run by "
            f"minisora.pipeline.generate), which this server does not run yet; it runs text-to-video "
            f"only, by rendering the prompt's world scene"
        )
    return render_text_to_video(job, output, report)


def render_text_to_video(job: Job, output: Path, report: Report) -> str:
    from minisora.world.physics import simulate
    from minisora.world.render import render_frame
    from minisora.world.sound import render_audio

    def step(progress: float, stage: str) -> None:
        if not report(progress, stage):
            raise JobCancelled(job.id)

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
