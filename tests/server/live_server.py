"""A real `minisora serve` process on a free loopback port, with its own data folder, and
small client helpers: the tests of the API, the crash test, the browser tests and the bench use them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

PROMPT = "three red balls bounce to the right"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    process: subprocess.Popen
    url: str
    data: Path
    log: Path

    def client(self, key: str | None = None, timeout: float = 30.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(data: Path, *args: str, port: int | None = None) -> LiveServer:
    port = port or free_port()
    data.mkdir(parents=True, exist_ok=True)
    log = data.parent / f"{data.name}-server-{port}.log"
    command = [sys.executable, "-m", "minisora.cli", "serve", "--port", str(port), "--data", str(data), *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = LiveServer(process, f"http://127.0.0.1:{port}", data, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                return server
        time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"the server did not answer within 60 s:\n{log.read_text()}")


@contextlib.contextmanager
def running_server(data: Path, *args: str) -> Iterator[LiveServer]:
    server = start_server(data, *args)
    try:
        yield server
    finally:
        server.stop()


def wait_for(client: httpx.Client, job_id: str, statuses=("done", "failed", "cancelled"), timeout=60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not reach {statuses} within {timeout} s: {job}")


def submit(client: httpx.Client, prompt: str = PROMPT, files=None, **fields) -> httpx.Response:
    """POST /v1/jobs: multipart when there are files, else a urlencoded form."""
    data = {"prompt": prompt, **{name: str(value) for name, value in fields.items()}}
    return client.post("/v1/jobs", data=data, files=files)
