"""API keys against a real server: hashed at rest, required, and each key sees only its own jobs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from live_server import running_server, submit, wait_for


def make_key(data, name: str) -> str:
    out = subprocess.run([sys.executable, "-m", "minisora.cli", "keys", "create", name, "--data", str(data)],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    data = tmp_path_factory.mktemp("keyed") / "data"
    keys = {name: make_key(data, name) for name in ("alice", "bob")}
    with running_server(data, "--workers", "0", "--max-queued", "2") as server:
        yield server, keys


def test_keys_are_stored_only_as_hashes(keyed):
    server, keys = keyed
    stored = (server.data / "minisora.db").read_bytes() + (server.data / "minisora.db-wal").read_bytes()
    for key in keys.values():
        assert key.startswith("msk_") and key.encode() not in stored


def test_every_route_but_health_and_page_needs_a_key(keyed):
    server, keys = keyed
    with server.client() as anonymous, server.client("msk_wrong") as wrong:
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/").status_code == 200 and anonymous.get("/static/app.js").status_code == 200
        for method, path in [("GET", "/v1/jobs"), ("POST", "/v1/jobs"), ("GET", "/v1/modes"),
                             ("GET", "/v1/jobs/job_" + "0" * 32), ("DELETE", "/v1/jobs/job_" + "0" * 32),
                             ("POST", "/v1/verify")]:
            response = anonymous.request(method, path)
            assert response.status_code == 401 and "minisora keys create" in response.json()["detail"]
            assert wrong.request(method, path).status_code == 401


def test_a_key_sees_only_its_own_jobs_and_has_a_queued_limit(keyed):
    server, keys = keyed
    with server.client(keys["alice"]) as alice, server.client(keys["bob"]) as bob:
        first = submit(alice).json()
        assert submit(alice).status_code == 202
        full = submit(alice)  # no workers run: both jobs stay queued, the third is over the limit
        assert full.status_code == 429 and "2 queued jobs, the limit" in full.json()["detail"]
        assert submit(bob).status_code == 202  # the limit is per key
        for path in (f"/v1/jobs/{first['id']}", f"/v1/jobs/{first['id']}/video", f"/v1/jobs/{first['id']}/events"):
            assert bob.get(path).status_code == 404
        assert bob.delete(f"/v1/jobs/{first['id']}").status_code == 404
        assert first["id"] not in [job["id"] for job in bob.get("/v1/jobs").json()["jobs"]]
        assert alice.delete(f"/v1/jobs/{first['id']}").status_code == 200  # frees a queue slot
        assert wait_for(alice, first["id"])["status"] == "cancelled"
        assert submit(alice).status_code == 202


def test_no_auth_only_on_loopback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "minisora.cli", "serve", "--host", "0.0.0.0", "--no-auth",
                             "--data", str(tmp_path / "data")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--no-auth is allowed only on loopback" in result.stderr
    assert not (tmp_path / "data").exists()


def test_one_server_per_data_folder(keyed, tmp_path):
    server, _ = keyed
    result = subprocess.run([sys.executable, "-m", "minisora.cli", "serve", "--port", "1", "--data", str(server.data)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "another minisora server is using" in result.stderr
