"""kill -9 the server while jobs are queued and running, restart it, and every job finishes once."""

from __future__ import annotations

import random
import sqlite3
import time

from live_server import start_server, submit, wait_for

from minisora.media import probe

JOBS = 8
FRAMES = 33  # 2 s at 16 fps, first frame included
KILLS = 3


def snapshot(data) -> dict[str, tuple[str, int]]:
    """Job id -> (status, attempts), read straight from the database file while the server is dead."""
    with sqlite3.connect(data / "minisora.db") as conn:
        return {row[0]: (row[1], row[2]) for row in conn.execute("SELECT id, status, attempts FROM jobs")}


def done_events(data) -> dict[str, int]:
    with sqlite3.connect(data / "minisora.db") as conn:
        rows = conn.execute("SELECT job_id, COUNT(*) FROM job_log WHERE event = 'done' GROUP BY job_id")
        return dict(rows.fetchall())


def test_kill_9_at_any_moment_loses_nothing_and_finishes_each_job_once(tmp_path):
    data = tmp_path / "data"
    rng = random.Random(0)
    server = start_server(data, "--no-auth", "--no-model")
    with server.client() as client:
        ids = [submit(client, width=96, height=64, seconds=2, seed=i).json()["id"] for i in range(JOBS)]
    interrupted = 0
    for _ in range(KILLS):
        with server.client() as client:  # kill while a job is mid-run: somewhere in render or encode
            running, deadline = None, time.monotonic() + 60
            while running is None and time.monotonic() < deadline:
                jobs = client.get("/v1/jobs", params={"limit": 100}).json()["jobs"]
                running = next((job for job in jobs if job["status"] == "running"), None)
                if all(job["status"] == "done" for job in jobs):
                    break  # the queue drained before this kill: the kills so far must do
            if running is None:
                break
            time.sleep(rng.uniform(0.0, 0.4))
        before = snapshot(data)  # may be a moment stale; only the kill's aftermath matters
        server.kill()
        after = snapshot(data)
        assert set(after) == set(ids)  # nothing lost: queued jobs are still queued (or further on)
        assert {status for status, _ in after.values()} <= {"queued", "running", "done"}
        assert sum(status == "running" for status, _ in after.values()) <= 1
        assert all(after[job_id][0] != "queued" or before[job_id][0] == "queued" for job_id in ids)
        for job_id, (status, _) in after.items():
            if status == "done":  # every finished output is whole
                assert probe(data / "outputs" / job_id / "video.mp4").frames == FRAMES
        interrupted += sum(status == "running" for status, _ in after.values())
        server = start_server(data, "--no-auth", "--no-model")
    try:
        with server.client() as client:
            finals = [wait_for(client, job_id, timeout=120) for job_id in ids]
    finally:
        server.stop()
    assert [job["status"] for job in finals] == ["done"] * JOBS
    assert done_events(data) == dict.fromkeys(ids, 1)
    assert interrupted >= 1 and sum(job["attempts"] for job in finals) == JOBS + interrupted
    for job_id in ids:
        assert probe(data / "outputs" / job_id / "video.mp4").frames == FRAMES
    assert not list((data / "outputs").glob("*/.*"))  # no half-written temporaries left


def test_start_up_sweeps_what_a_crash_leaves_behind(tmp_path):
    data = tmp_path / "data"
    orphan = data / "uploads" / ("job_" + "1" * 32)  # uploaded, but killed before it was queued
    orphan.mkdir(parents=True)
    (orphan / "video.mp4").write_bytes(b"partial upload")
    half_written = data / "outputs" / ("job_" + "2" * 32) / ".video.mp4.abc123.mp4"
    half_written.parent.mkdir(parents=True)
    half_written.write_bytes(b"half an mp4")
    server = start_server(data, "--no-auth", "--workers", "0")
    server.stop()
    assert not orphan.exists() and not half_written.exists()
