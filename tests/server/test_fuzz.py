"""The API fuzzed against its own OpenAPI schema with schemathesis: no 500s, and every answer
matches the schema (status codes, content types, bodies, headers, auth, Allow on 405).

One check is left out: `positive_data_acceptance` expects every schema-valid request to be
accepted, but some rules cannot be written in JSON Schema (a mode's uploads, the aspect ratio,
the world's vocabulary), so such requests rightly get a 4xx that says why.
Workers are off, so the fuzzer spends its time on the API (parsing, validation, auth, the queue
limit), not on rendering the jobs it submits.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from live_server import running_server

from minisora.server.keys import create_key_in

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def fuzz(tmp_path, examples: int) -> None:
    data = tmp_path / "data"
    key = create_key_in(data, "fuzzer").key
    with running_server(data, "--workers", "0", "--max-queued", "20") as server:
        result = subprocess.run(
            [str(SCHEMATHESIS), "run", server.url + "/openapi.json", "-H", f"Authorization: Bearer {key}",
             "--checks", "all", "--exclude-checks", "positive_data_acceptance", "--max-examples", str(examples),
             "--seed", "1", "--request-timeout", "10", "--no-color"],
            capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout or " passed" in result.stdout, result.stdout[-3000:]


def test_the_api_survives_fuzzing_against_its_schema(tmp_path):
    fuzz(tmp_path, examples=10)


@pytest.mark.slow
def test_the_api_survives_long_fuzzing(tmp_path):
    fuzz(tmp_path, examples=300)
