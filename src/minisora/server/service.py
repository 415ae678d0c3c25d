"""One running service: its data folder, database, queue and workers, started and stopped once.

Layout of the data folder (nothing is written outside it):

    minisora.db            keys, jobs, job log (SQLite, WAL)
    server.lock            held while a server runs, so two never share one queue
    uploads/<job id>/      a job's inputs, under names the server chose (image.png, video.mp4)
    outputs/<job id>/      a job's video, written to a temporary name and then renamed
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from pathlib import Path

from minisora.server.config import ServeConfig
from minisora.server.db import Database
from minisora.server.jobs import JobStore
from minisora.server.keys import DB_NAME
from minisora.server.models import choose_model
from minisora.server.workers import WorkerPool

log = logging.getLogger("minisora.server")


class ServiceError(ValueError):
    """The service cannot start; the message says what to do."""


class Service:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config.check()
        self.data = Path(config.data).resolve()
        self.uploads = self.data / "uploads"
        self.outputs = self.data / "outputs"
        self._lock_fd: int | None = None
        self.store: JobStore | None = None
        self.workers: WorkerPool | None = None
        self.model: Path | None = None  # the world model folder the workers run; None: none

    def start(self) -> None:
        """Check the model, lock the data folder, open the queue, recover from a crash, start the workers."""
        if self.store is not None:
            return
        self.model = choose_model(self.config)  # a wrong --model stops the start here (GenerationError)
        for folder in (self.data, self.uploads, self.outputs):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock()
        self.store = JobStore(Database(self.data / DB_NAME))
        requeued = self.store.requeue_interrupted()
        if requeued:
            log.warning("queued again %d job(s) interrupted by a stop: %s", len(requeued), ", ".join(requeued))
        self._sweep()
        self.workers = WorkerPool(self.store, self.outputs, self.config.workers, self.uploads, self.model)
        self.workers.start()

    def stop(self) -> None:
        if self.workers is not None:
            self.workers.stop()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the lock; a killed process releases it too
            self._lock_fd = None

    def _lock(self) -> None:
        fd = os.open(self.data / "server.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ServiceError(f"another minisora server is using {self.data}; stop it or pass another --data") from None
        self._lock_fd = fd

    def _sweep(self) -> None:
        """Remove what a crash can leave behind: uploads of jobs never queued, half-written outputs."""
        for folder in self.uploads.iterdir():
            if folder.is_dir() and not self.store.db.query("SELECT 1 FROM jobs WHERE id = ?", (folder.name,)):
                shutil.rmtree(folder, ignore_errors=True)
        for temp in self.outputs.glob("*/.*"):
            temp.unlink(missing_ok=True)
