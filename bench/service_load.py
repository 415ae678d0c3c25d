"""Load test of `minisora serve` on loopback: many concurrent clients submit short jobs and poll
them to the end. Prints API latency (p50/p99 per route), jobs per minute, and whether every job
completed exactly once (read from the server's job log).

    .venv/bin/python bench/service_load.py                      # 50 clients, 200 jobs
    .venv/bin/python bench/service_load.py --clients 10 --jobs 20 --workers 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

PROMPTS = ("a red ball falls", "a blue box slides to the right", "two green balls roll to the left")
FINAL = ("done", "failed", "cancelled")


@dataclass
class Stats:
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # route -> seconds
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    jobs: dict[str, str] = field(default_factory=dict)  # id -> final status
    video_bytes: int = 0

    async def call(self, client: httpx.AsyncClient, route: str, method: str, url: str, **kwargs) -> httpx.Response:
        start = time.perf_counter()
        response = await client.request(method, url, **kwargs)
        self.latency[route].append(time.perf_counter() - start)
        self.statuses[response.status_code] += 1
        return response


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(data: Path, workers: int):
    port = free_port()
    command = [sys.executable, "-m", "minisora.cli", "serve", "--no-auth", "--port", str(port),
               "--data", str(data), "--workers", str(workers), "--max-queued", "1000"]
    log = open(data.parent / "server.log", "wb")  # noqa: SIM115 - closed below
    # Signing keys for this run only: the bench leaves the user's ~/.config/minisora alone.
    env = {**os.environ, "MINISORA_HOME": str(data.parent / "home")}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {(data.parent / 'server.log').read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


async def client_loop(url: str, jobs: list[int], stats: Stats, poll: float) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for index in jobs:
            fields = {"prompt": PROMPTS[index % len(PROMPTS)], "width": "64", "height": "64",
                      "seconds": "1", "fps": "8", "seed": str(index)}
            response = await stats.call(client, "POST /v1/jobs", "POST", "/v1/jobs", data=fields)
            if response.status_code != 202:
                raise RuntimeError(f"submit refused: {response.status_code} {response.text}")
            job_id = response.json()["id"]
            while True:
                await asyncio.sleep(poll)
                job = (await stats.call(client, "GET /v1/jobs/{id}", "GET", f"/v1/jobs/{job_id}")).json()
                if job["status"] in FINAL:
                    break
            stats.jobs[job_id] = job["status"]
            if job["status"] == "done":
                video = await stats.call(client, "GET /v1/jobs/{id}/video", "GET", f"/v1/jobs/{job_id}/video")
                stats.video_bytes += len(video.content)
            await stats.call(client, "GET /v1/jobs", "GET", "/v1/jobs", params={"limit": 20})


def exactly_once(data: Path, ids: list[str]) -> tuple[int, int]:
    """(jobs with exactly one `done` in the log, jobs started more than once)."""
    with sqlite3.connect(data / "minisora.db") as conn:
        done = dict(conn.execute("SELECT job_id, COUNT(*) FROM job_log WHERE event = 'done' GROUP BY job_id"))
        started = dict(conn.execute("SELECT job_id, COUNT(*) FROM job_log WHERE event = 'started' GROUP BY job_id"))
    return sum(done.get(job_id) == 1 for job_id in ids), sum(started.get(job_id, 0) > 1 for job_id in ids)


def percentile_ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q)) if values else float("nan")


def run(clients: int, jobs: int, workers: int, poll: float) -> None:
    with tempfile.TemporaryDirectory(prefix="minisora-load-") as tmp:
        data = Path(tmp) / "data"
        with server(data, workers) as url:
            stats = Stats()
            shares = [list(range(jobs))[i::clients] for i in range(clients)]
            start = time.perf_counter()

            async def everyone() -> None:
                await asyncio.gather(*(client_loop(url, share, stats, poll) for share in shares if share))

            asyncio.run(everyone())
            wall = time.perf_counter() - start
        once, retried = exactly_once(data, list(stats.jobs))
    done = sum(status == "done" for status in stats.jobs.values())
    every = [value for values in stats.latency.values() for value in values]
    rows = [("clients / jobs / workers", f"{clients} / {jobs} / {workers}")]
    for route, values in sorted(stats.latency.items()):
        rows.append((f"{route} p50 / p99 (ms)",
                     f"{percentile_ms(values, 50):.1f} / {percentile_ms(values, 99):.1f}  (n={len(values)})"))
    rows += [
        ("all API requests p50 / p99 (ms)", f"{percentile_ms(every, 50):.1f} / {percentile_ms(every, 99):.1f}"),
        ("HTTP statuses", ", ".join(f"{code}: {count}" for code, count in sorted(stats.statuses.items()))),
        ("wall time (s)", f"{wall:.1f}"),
        ("jobs per minute", f"{done / wall * 60:.1f}"),
        ("jobs done", f"{done} / {jobs}"),
        ("completed exactly once (job log)", f"{once} / {jobs}" + ("" if once == jobs else "  <-- FAIL")),
        ("jobs started more than once", str(retried)),
        ("video bytes fetched", f"{stats.video_bytes:,}"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"| {'metric'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    if once != jobs or done != jobs:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="the server's --workers")
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between a client's status polls")
    args = parser.parse_args()
    run(args.clients, args.jobs, args.workers, args.poll)


if __name__ == "__main__":
    main()
