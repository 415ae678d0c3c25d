"""A tiny world model saved as a real training run folder: a random DiT checkpoint (the trainer's
layout), a random tiny autoencoder in vae/, and the packaged MiniLM text encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_helpers import make_model_folder, moving_square


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory) -> Path:
    return make_model_folder(tmp_path_factory.mktemp("runs") / "tiny")


@pytest.fixture(scope="session")
def world(model_folder):
    from minisora.pipeline import load_world_model

    return load_world_model(model_folder)


@pytest.fixture
def clip_file(tmp_path):
    """A 21-frame 32x32 clip at 16 fps (a square sliding right) written as MP4."""
    from minisora.media import write_mp4

    return write_mp4(tmp_path / "given.mp4", moving_square(21, 32, 32), 16)


@pytest.fixture(autouse=True, scope="module")
def _single_thread(one_thread):
    """Every module here runs on one thread (tests/conftest.py)."""
