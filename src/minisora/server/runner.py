"""Running one job: the mode's work, step by step, reporting progress between steps.

Until `pipeline.generate()` exists, text-to-video renders the prompt's scene with the world's
renderer (the ground truth the model learns from) and every other mode fails with a message
saying so: the service accepts and checks their inputs now, and never fakes an output.
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
            f"mode {job.mode!r} needs the generation pipeline (minisora.pipeline.generate), which is "
            f"not built yet; this server can run text-to-video only, by rendering the prompt's scene"
        )
    return render_text_to_video(job, output, report)


def render_text_to_video(job: Job, output: Path, report: Report) -> str | None:
    from minisora.world.physics import simulate
    from minisora.world.prompt import parse_prompt
    from minisora.world.render import render_frame
    from minisora.world.sound import render_audio

    params = job.params

    def step(progress: float, stage: str) -> None:
        if not report(progress, stage):
            raise JobCancelled(job.id)

    step(0.02, "reading the prompt")
    try:
        spec = parse_prompt(job.prompt, width=params["width"], height=params["height"], fps=params["fps"],
                            duration=params["seconds"], seed=params["seed"])
    except ValueError as exc:
        raise JobFailed(f"the prompt could not be read: {exc}") from None
    step(0.05, "simulating")
    trajectory = simulate(spec)
    frames = render_frames_reporting(spec, trajectory, render_frame, step, start=0.1, end=0.8)
    step(0.8, "mixing the sound")
    audio = render_audio(spec, trajectory)
    step(0.9, "encoding")
    save_output(output, frames, spec.fps, audio)
    return refine_prompt(job.prompt, spec, trajectory)


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


def save_output(path: Path, frames, fps: int, audio) -> Path:
    from minisora.media import write_mp4

    path.parent.mkdir(parents=True, exist_ok=True)
    return write_mp4(path, frames, fps, audio)


def refine_prompt(prompt: str, spec, trajectory) -> str | None:
    """The caption of what was actually rendered: the prompt as the world understood it."""
    try:
        from minisora.world.captions import caption_clip
    except ImportError:  # the captioner is optional for the service; the prompt stands as typed
        return prompt
    return caption_clip(spec, trajectory)
