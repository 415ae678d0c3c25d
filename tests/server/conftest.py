"""Fixtures: a live no-auth server shared by a test module, and a tiny world model folder."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import LiveServer, running_server

# the pipeline tests' helpers build a tiny world model saved as a real training run
sys.path.insert(0, str(Path(__file__).parents[1] / "pipeline"))


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    """One no-auth server with one worker, shared by a test module. It runs no world model (the
    world's renderer), so these tests hold whether or not a default model is installed."""
    with running_server(tmp_path_factory.mktemp("serve") / "data", "--no-auth", "--no-model") as live:
        yield live


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory) -> Path:
    """runs/tiny/: a random tiny DiT checkpoint, its tiny autoencoder in vae/, the packaged MiniLM."""
    from pipeline_helpers import make_model_folder

    return make_model_folder(tmp_path_factory.mktemp("runs") / "tiny")
