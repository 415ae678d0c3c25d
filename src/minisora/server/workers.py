"""Worker threads: each takes one job at a time from the queue and runs it to an end.

Threads rather than processes so that a killed server takes its workers with it: no orphan
can finish a job that the restarted server has already queued again. The heavy steps (NumPy,
PyAV's encoder, PyTorch) release the GIL, so the API stays responsive while they run. With a
world model, each worker loads its own copy on its first job and keeps it (models.py).
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

from minisora.server.jobs import Job, JobStore
from minisora.server.models import WorkerModel
from minisora.server.runner import VIDEO_NAME, JobCancelled, JobFailed, run_job

log = logging.getLogger("minisora.server")
IDLE_WAIT = 0.5  # seconds between looks at an empty queue when nobody wakes the workers


class WorkerPool:
    def __init__(self, store: JobStore, outputs: Path, count: int, uploads: Path,
                 model: Path | None = None) -> None:
        self.store = store
        self.outputs = outputs
        self.uploads = uploads
        self.count = count
        self.model = model  # the world model folder each worker loads; None: no model
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self.count):
            thread = threading.Thread(target=self._loop, name=f"minisora-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """A job was queued: look now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs; a job still running is left `running` and queued again at start-up."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        model = WorkerModel(self.model) if self.model is not None else None  # loaded on the first job
        while not self._stop.is_set():
            job = self.store.claim()
            if job is None:
                self._wake.wait(IDLE_WAIT)
                self._wake.clear()
                continue
            self.run_one(job, model)

    def run_one(self, job: Job, model: WorkerModel | None = None) -> None:
        output = self.outputs / job.id / VIDEO_NAME

        def report(progress: float, stage: str) -> bool:
            return not self._stop.is_set() and self.store.report(job, progress, stage)

        try:
            refined = run_job(job, output, report, self.uploads / job.id, model)
        except JobCancelled:
            if not self._stop.is_set():
                shutil.rmtree(output.parent, ignore_errors=True)
            return
        except JobFailed as exc:
            shutil.rmtree(output.parent, ignore_errors=True)  # a failed job has no output, not even a folder
            self.store.fail(job, str(exc))
            return
        except Exception as exc:  # a bug, not the user's fault: keep the server up, say so
            log.exception("job %s failed", job.id)
            shutil.rmtree(output.parent, ignore_errors=True)
            self.store.fail(job, f"internal error while running the job ({type(exc).__name__}: {exc}); "
                                 f"please report it")
            return
        if not self.store.finish(job, refined):  # cancelled between the last step and now
            shutil.rmtree(output.parent, ignore_errors=True)
