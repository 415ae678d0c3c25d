"""Job progress as server-sent events: one `data:` line of the job's JSON per change, ending with
the job's final state. Any SSE client works (EventSource, curl -N, httpx streaming)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from minisora.server.jobs import FINAL, JobStore

POLL_SECONDS = 0.1  # one indexed row read; cheap next to any job
KEEPALIVE_SECONDS = 15.0  # proxies close a silent connection; a comment line keeps it open


async def job_events(store: JobStore, job_id: str, owner: str) -> AsyncIterator[str]:
    last_state = None
    last_sent = time.monotonic()
    count = 0
    while True:
        job = store.get(job_id, owner)
        if job is None:  # cannot happen for a checked id unless the database was edited
            return
        state = (job.status, job.progress, job.stage)
        if state != last_state:
            count += 1
            yield f"id: {count}\nevent: {'end' if job.status in FINAL else 'progress'}\ndata: {json.dumps(job.to_api())}\n\n"
            last_state, last_sent = state, time.monotonic()
            if job.status in FINAL:
                return
        elif time.monotonic() - last_sent > KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(POLL_SECONDS)
