"""The job queue: submit, claim, report progress, finish exactly once, cancel, list.

Every state change is one guarded UPDATE: a worker may finish a job only while the job is
still `running` under the attempt it claimed, so a job cancelled meanwhile, or queued again
after a crash and claimed by a later attempt, can never be finished twice. The job log records
each transition in the same transaction, which is what the crash test counts.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any

from minisora.server.db import Database

STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINAL = ("done", "failed", "cancelled")


class QueueFull(Exception):
    """The key already has its limit of queued jobs."""


@dataclass(frozen=True)
class Job:
    seq: int
    id: str
    owner: str
    mode: str
    prompt: str
    params: dict[str, Any]
    inputs: dict[str, str]
    status: str
    progress: float
    stage: str
    refined_prompt: str | None
    error: str | None
    attempts: int
    created_at: float
    started_at: float | None
    finished_at: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        data = dict(row)
        data["params"] = json.loads(data["params"])
        data["inputs"] = json.loads(data["inputs"])
        return cls(**data)

    def timings(self) -> dict[str, float | None]:
        end = self.finished_at or time.time()
        queued = (self.started_at or end) - self.created_at
        running = end - self.started_at if self.started_at else None
        return {"created_at": self.created_at, "started_at": self.started_at,
                "finished_at": self.finished_at, "queued_seconds": round(queued, 3),
                "run_seconds": None if running is None else round(running, 3)}

    def to_api(self) -> dict[str, Any]:
        """The job as the API shows it (the owner stays private)."""
        return {
            "id": self.id, "mode": self.mode, "prompt": self.prompt, "params": self.params,
            "inputs": sorted(self.inputs), "status": self.status,
            "progress": round(self.progress, 4), "stage": self.stage,
            "refined_prompt": self.refined_prompt, "error": self.error,
            "attempts": self.attempts, "timings": self.timings(),
        }


def new_job_id() -> str:
    return "job_" + uuid.uuid4().hex


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- clients ------------------------------------------------------------------------------
    def submit(self, job_id: str, owner: str, mode: str, prompt: str, params: dict[str, Any],
               inputs: dict[str, str], max_queued: int) -> Job:
        """Queue a job unless the owner already has `max_queued` queued (then QueueFull)."""
        now = time.time()
        with self.db.transaction() as conn:
            # One statement checks the limit and inserts, so concurrent submits cannot overshoot.
            cursor = conn.execute(
                "INSERT INTO jobs (id, owner, mode, prompt, params, inputs, status, created_at) "
                "SELECT ?, ?, ?, ?, ?, ?, 'queued', ? "
                "WHERE (SELECT COUNT(*) FROM jobs WHERE owner = ? AND status = 'queued') < ?",
                (job_id, owner, mode, prompt, json.dumps(params), json.dumps(inputs), now, owner, max_queued),
            )
            if cursor.rowcount != 1:
                raise QueueFull(owner)
            self._log(conn, job_id, "queued", 0, now)
        return self.get(job_id, owner)

    def get(self, job_id: str, owner: str) -> Job | None:
        rows = self.db.query("SELECT * FROM jobs WHERE id = ? AND owner = ?", (job_id, owner))
        return Job.from_row(rows[0]) if rows else None

    def queued(self, owner: str) -> int:
        rows = self.db.query("SELECT COUNT(*) AS n FROM jobs WHERE owner = ? AND status = 'queued'", (owner,))
        return rows[0]["n"]

    def page(self, owner: str, limit: int, before: int | None = None) -> tuple[list[Job], int | None]:
        """Newest first; the cursor for the next page is the last job's seq, None at the end."""
        rows = self.db.query(
            "SELECT * FROM jobs WHERE owner = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            (owner, before if before is not None else 2**62, limit + 1),
        )
        jobs = [Job.from_row(row) for row in rows[:limit]]
        return jobs, (jobs[-1].seq if len(rows) > limit else None)

    def cancel(self, job_id: str, owner: str) -> bool:
        """Cancel a queued or running job; False if it had already ended."""
        now = time.time()
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET status = 'cancelled', stage = 'cancelled', finished_at = ? "
                "WHERE id = ? AND owner = ? AND status IN ('queued', 'running')",
                (now, job_id, owner),
            )
            if cursor.rowcount == 1:
                self._log(conn, job_id, "cancelled", -1, now)
        return cursor.rowcount == 1

    # -- workers ------------------------------------------------------------------------------
    def claim(self) -> Job | None:
        """Take the oldest queued job (running, attempt + 1), or None if the queue is empty."""
        now = time.time()
        with self.db.transaction() as conn:
            # PostgreSQL: add FOR UPDATE SKIP LOCKED to the inner SELECT.
            rows = conn.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = ?, "
                "progress = 0, stage = 'starting' "
                "WHERE seq = (SELECT seq FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1) "
                "AND status = 'queued' RETURNING *",
                (now,),
            ).fetchall()
            if not rows:
                return None
            job = Job.from_row(rows[0])
            self._log(conn, job.id, "started", job.attempts, now)
        return job

    def report(self, job: Job, progress: float, stage: str) -> bool:
        """Record progress; False when the job is no longer this attempt's (cancelled)."""
        cursor = self.db.connection().execute(
            "UPDATE jobs SET progress = ?, stage = ? WHERE id = ? AND status = 'running' AND attempts = ?",
            (progress, stage, job.id, job.attempts),
        )
        return cursor.rowcount == 1

    def finish(self, job: Job, refined_prompt: str | None) -> bool:
        return self._end(job, "done", "UPDATE jobs SET status = 'done', progress = 1, stage = 'done', "
                         "finished_at = ?, refined_prompt = ?, error = NULL", (refined_prompt,))

    def fail(self, job: Job, error: str, refined_prompt: str | None = None) -> bool:
        return self._end(job, "failed", "UPDATE jobs SET status = 'failed', stage = 'failed', "
                         "finished_at = ?, refined_prompt = ?, error = ?", (refined_prompt, error))

    def _end(self, job: Job, event: str, update: str, args: tuple) -> bool:
        now = time.time()
        with self.db.transaction() as conn:
            cursor = conn.execute(
                update + " WHERE id = ? AND status = 'running' AND attempts = ?",
                (now, *args, job.id, job.attempts),
            )
            if cursor.rowcount == 1:
                self._log(conn, job.id, event, job.attempts, now)
        return cursor.rowcount == 1

    def requeue_interrupted(self) -> list[str]:
        """At start-up: jobs left `running` by a crash go back to the queue (one server per
        data folder, held by a lock, so nothing else can be running them)."""
        now = time.time()
        with self.db.transaction() as conn:
            rows = conn.execute(
                "UPDATE jobs SET status = 'queued', progress = 0, stage = 'interrupted; queued again' "
                "WHERE status = 'running' RETURNING id, attempts"
            ).fetchall()
            for row in rows:
                self._log(conn, row["id"], "requeued", row["attempts"], now)
        return [row["id"] for row in rows]

    def log(self, job_id: str) -> list[tuple[str, int]]:
        rows = self.db.query("SELECT event, attempt FROM job_log WHERE job_id = ? ORDER BY at", (job_id,))
        return [(row["event"], row["attempt"]) for row in rows]

    @staticmethod
    def _log(conn: sqlite3.Connection, job_id: str, event: str, attempt: int, at: float) -> None:
        conn.execute("INSERT INTO job_log (job_id, event, attempt, at) VALUES (?, ?, ?, ?)",
                     (job_id, event, attempt, at))
