"""Jobs run by a world model: the service's modes through the real runner and worker, on a tiny
random model saved as a real training run (tests/pipeline/pipeline_helpers.py).

The model is random, so these are contract tests: the job's fields and uploads reach
generate(), its MP4 has the asked-for frames and size, progress climbs, the refined prompt comes
back, a cancelled job leaves no file, and the pipeline's refusals become the job's error.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from live_server import running_server, submit, wait_for
from pipeline_helpers import moving_square, write_image

from minisora.media import probe, read_video, write_mp4
from minisora.server.config import Limits, ServeConfig
from minisora.server.db import Database
from minisora.server.jobs import Job, JobStore, new_job_id
from minisora.server.models import WorkerModel, choose_model, shipped_model_folder
from minisora.server.runner import VIDEO_NAME, JobFailed, run_job
from minisora.server.validation import check_job_request
from minisora.server.workers import WorkerPool

PROMPT = "a red ball bounces to the right"
pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"width": 32, "height": 32, "seconds": 1, "fps": 16, "seed": 0, "steps": 2, "cfg": 2.0}


@pytest.fixture(scope="module")
def model(model_folder) -> WorkerModel:
    """One worker's model, shared by the module's jobs as a worker shares it across its jobs."""
    return WorkerModel(model_folder)


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory) -> Path:
    """A 21-frame 32x32 clip at 16 fps: a square sliding right."""
    return write_mp4(tmp_path_factory.mktemp("inputs") / "given.mp4", moving_square(21, 32, 32), 16)


class RecordingStore(JobStore):
    """The real queue, which also remembers every report and can cancel its job at a stage,
    as a user pressing Cancel mid-run would."""

    def __init__(self, db: Database, cancel_at: str | None = None) -> None:
        super().__init__(db)
        self.reports: list[tuple[float, str]] = []
        self.cancel_at = cancel_at

    def report(self, job: Job, progress: float, stage: str) -> bool:
        self.reports.append((progress, stage))
        if self.cancel_at is not None and self.cancel_at in stage:
            self.cancel(job.id, job.owner)
        return super().report(job, progress, stage)


def make_pool(tmp_path: Path, cancel_at: str | None = None) -> WorkerPool:
    store = RecordingStore(Database(tmp_path / "minisora.db"), cancel_at)
    return WorkerPool(store, tmp_path / "outputs", 0, tmp_path / "uploads")


def claim_job(pool: WorkerPool, mode: str, uploads: dict[str, Path] | None = None, prompt: str = PROMPT,
              **fields) -> Job:
    """Queue a job as the API would (its uploads copied into its folder, its fields checked by
    the API's validation) and claim it as a worker."""
    job_id = new_job_id()
    folder = pool.uploads / job_id
    folder.mkdir(parents=True)
    files = {slot: Path(shutil.copy(path, folder / f"{slot}{path.suffix}")) for slot, path in (uploads or {}).items()}
    request = check_job_request({"mode": mode, "prompt": prompt, **TINY, **fields}, files, Limits())
    inputs = {slot: path.name for slot, path in request.inputs.items()}
    pool.store.submit(job_id, "tester", mode, request.prompt, request.params, inputs, 100)
    return pool.store.claim()


def run(pool: WorkerPool, job: Job, model: WorkerModel) -> Job:
    pool.run_one(job, model)
    return pool.store.get(job.id, job.owner)


def output_of(pool: WorkerPool, job: Job) -> Path:
    return pool.outputs / job.id / VIDEO_NAME


def assert_progress_climbed(reports: list[tuple[float, str]], steps: int) -> None:
    progress = [value for value, _ in reports]
    assert progress == sorted(progress) and progress[0] < 0.1 and progress[-1] >= 0.9
    assert any(stage.startswith("denoising chunk 1: step 1 of ") for _, stage in reports)
    assert sum(stage.startswith("denoising") for _, stage in reports) >= steps - 1


def test_text_to_video_job_generates_with_the_world_model(tmp_path, model):
    pool = make_pool(tmp_path)
    done = run(pool, claim_job(pool, "text-to-video"), model)
    assert done.status == "done" and done.progress == 1 and done.error is None, done.error
    assert "red" in done.refined_prompt and done.refined_prompt != PROMPT  # the caption the model saw
    info = probe(output_of(pool, done))
    assert (info.width, info.height, info.frames, info.fps) == (32, 32, 17, 16)  # 1 s + the first frame
    assert_progress_climbed(pool.store.reports, TINY["steps"])
    assert not list(output_of(pool, done).parent.glob(".*"))  # no temporary left beside it


def test_image_to_video_starts_from_the_uploaded_image(tmp_path, model):
    image = moving_square(1, 32, 32)[0]
    still = write_image(tmp_path / "still.png", image)
    pool = make_pool(tmp_path)
    done = run(pool, claim_job(pool, "image-to-video", {"image": still}, prompt=""), model)
    assert done.status == "done", done.error
    assert done.refined_prompt == ""  # no prompt: the model followed the image alone
    video = read_video(output_of(pool, done), with_audio=False)
    assert video.frames.shape == (17, 32, 32, 3) and video.fps == 16
    # the image is the first frame (through the watermark and H.264); the random model's frames are not it
    first = np.abs(video.frames[0].astype(int) - image).mean()
    assert first < 6 and first < np.abs(video.frames[-1].astype(int) - image).mean() / 2


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_extend_keeps_the_uploaded_clip_on_its_side(tmp_path, model, clip_file, direction):
    pool = make_pool(tmp_path)
    done = run(pool, claim_job(pool, "extend", {"video": clip_file}, direction=direction), model)
    assert done.status == "done", done.error
    video = read_video(output_of(pool, done), with_audio=False)
    assert video.frames.shape == (21 + 16, 32, 32, 3) and video.fps == 16
    given = read_video(clip_file, with_audio=False).frames.astype(int)
    kept = video.frames[:21] if direction == "forward" else video.frames[16:]
    assert np.abs(kept.astype(int) - given).mean() < 6


def test_the_model_is_loaded_once_per_worker_not_per_job(tmp_path, model):
    world, _ = model.get()
    pool = make_pool(tmp_path)
    assert run(pool, claim_job(pool, "text-to-video", seed=1), model).status == "done"
    assert model.get()[0] is world
    assert pool.store.reports[0][1] == "preparing"  # not "loading the world model" again


def test_cancelling_mid_run_leaves_no_output(tmp_path, model):
    pool = make_pool(tmp_path, cancel_at="step 1 of")
    job = claim_job(pool, "text-to-video")
    after = run(pool, job, model)
    assert after.status == "cancelled"
    assert not (pool.outputs / job.id).exists()  # neither the video nor a temporary
    stages = [stage for _, stage in pool.store.reports]
    assert stages[-1].startswith("denoising chunk 1: step 1 of")  # generate() stopped right there


def test_pipeline_refusals_become_the_jobs_error_without_server_paths(tmp_path, model):
    one_frame = write_mp4(tmp_path / "one.mp4", moving_square(1, 32, 32), 16)
    pool = make_pool(tmp_path)
    failed = run(pool, claim_job(pool, "extend", {"video": one_frame}), model)
    assert failed.status == "failed" and "needs at least 2" in failed.error
    assert failed.error.startswith("upload 'video': has 1 frame(s)") and str(tmp_path) not in failed.error
    short = run(pool, claim_job(pool, "text-to-video", seconds=0.5), model)  # the pipeline makes 1 s or more
    assert short.status == "failed" and "0.5 is out of range" in short.error
    assert not (pool.outputs / failed.id).exists() and not (pool.outputs / short.id).exists()


def test_without_a_model_other_modes_say_how_to_give_one(tmp_path, clip_file):
    pool = make_pool(tmp_path)
    job = claim_job(pool, "extend", {"video": clip_file})
    with pytest.raises(JobFailed, match=r"minisora serve --model DIR"):
        run_job(job, output_of(pool, job), lambda progress, stage: True, pool.uploads / job.id, None)


def test_choosing_the_model(tmp_path, model_folder):
    from minisora.pipeline import DEFAULT_MODEL, GenerationError

    assert shipped_model_folder() == DEFAULT_MODEL  # found without importing the pipeline
    assert choose_model(ServeConfig(data=tmp_path, model=model_folder)) == model_folder.resolve()
    assert choose_model(ServeConfig(data=tmp_path, no_model=True)) is None
    with pytest.raises(GenerationError, match="no world model at"):
        choose_model(ServeConfig(data=tmp_path, model=tmp_path / "missing"))
    with pytest.raises(ValueError, match="contradict"):
        ServeConfig(data=tmp_path, model=model_folder, no_model=True).check()


def test_the_apis_defaults_are_the_pipelines():
    from minisora.pipeline import GenerateConfig
    from minisora.server.validation import DEFAULT_CFG, DEFAULT_STEPS, DEFAULT_STRENGTH

    config = GenerateConfig(prompt="")
    assert (config.steps, config.cfg, config.edit_strength) == (DEFAULT_STEPS, DEFAULT_CFG, DEFAULT_STRENGTH)


def test_serve_with_model_runs_a_job_over_http(tmp_path, model_folder):
    with running_server(tmp_path / "data", "--no-auth", "--model", str(model_folder)) as server:
        with server.client() as client:
            job = wait_for(client, submit(client, PROMPT, **TINY).json()["id"], timeout=120)
            assert job["status"] == "done", job
            assert job["params"]["steps"] == 2 and "red" in job["refined_prompt"]
            (tmp_path / "out.mp4").write_bytes(client.get(f"/v1/jobs/{job['id']}/video").content)
    info = probe(tmp_path / "out.mp4")
    assert (info.width, info.height, info.frames) == (32, 32, 17)
