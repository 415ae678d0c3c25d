"""The job queue on a real SQLite file: order, limits, exactly-once endings, crash recovery."""

from __future__ import annotations

import threading

import pytest

from minisora.server.db import Database
from minisora.server.jobs import JobStore, QueueFull, new_job_id


@pytest.fixture
def store(tmp_path):
    return JobStore(Database(tmp_path / "minisora.db"))


def queue(store, owner="alice", limit=100):
    return store.submit(new_job_id(), owner, "text-to-video", "a red ball", {"seed": 1}, {}, limit)


def test_jobs_are_claimed_oldest_first_once_each(store):
    jobs = [queue(store) for _ in range(3)]
    claimed = [store.claim() for _ in range(3)]
    assert [job.id for job in claimed] == [job.id for job in jobs]
    assert all(job.status == "running" and job.attempts == 1 for job in claimed)
    assert store.claim() is None


def test_a_job_finishes_exactly_once(store):
    queue(store)
    job = store.claim()
    assert store.report(job, 0.5, "halfway")
    assert store.finish(job, "a red ball, refined")
    assert not store.finish(job, "again") and not store.fail(job, "late")
    done = store.get(job.id, "alice")
    assert (done.status, done.progress, done.refined_prompt) == ("done", 1.0, "a red ball, refined")
    assert [event for event, _ in store.log(job.id)] == ["queued", "started", "done"]


def test_cancel_stops_a_running_job_from_finishing(store):
    queue(store)
    job = store.claim()
    assert store.cancel(job.id, "alice")
    assert not store.report(job, 0.6, "still going")  # the worker learns it was cancelled
    assert not store.finish(job, None)
    assert store.get(job.id, "alice").status == "cancelled"
    assert not store.cancel(job.id, "alice")


def test_an_interrupted_job_is_queued_again_and_its_old_attempt_cannot_finish(store):
    first, second = queue(store), queue(store)
    stale = store.claim()
    assert stale.id == first.id
    assert store.requeue_interrupted() == [first.id]  # what start-up does after a crash
    assert store.get(first.id, "alice").status == "queued"
    assert store.get(second.id, "alice").status == "queued"
    retry = store.claim()
    assert retry.id == first.id and retry.attempts == 2
    assert not store.finish(stale, None)  # the crashed attempt's late finish is refused
    assert store.finish(retry, None)
    assert [e for e, _ in store.log(first.id)].count("done") == 1


def test_owners_see_only_their_own_jobs(store):
    mine = queue(store, "alice")
    queue(store, "bob")
    assert store.get(mine.id, "bob") is None and not store.cancel(mine.id, "bob")
    jobs, _ = store.page("bob", 10)
    assert [job.owner for job in jobs] == ["bob"]


def test_the_queued_limit_holds_under_concurrent_submits(tmp_path):
    db_path = tmp_path / "minisora.db"
    JobStore(Database(db_path))
    accepted, refused = [], []

    def client() -> None:
        store = JobStore(Database(db_path))  # one connection per thread, as in the server
        for _ in range(10):
            try:
                accepted.append(queue(store, limit=25))
            except QueueFull:
                refused.append(1)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 25 and len(refused) == 55
