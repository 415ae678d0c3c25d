"""Shared test fixtures: small world scenes that exercise every feature."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# save_video() makes signing keys on first use in the config folder: keep the tests' keys in a
# temporary one (subprocesses inherit it), never in the user's ~/.config/minisora.
os.environ["MINISORA_HOME"] = tempfile.mkdtemp(prefix="minisora-test-home-")
atexit.register(shutil.rmtree, os.environ["MINISORA_HOME"], True)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models on a shared 2-core machine: one thread avoids ~20 ms of thread wake-up per op.
    The folders of tiny-model tests use it for every module (their conftest asks for it)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def busy_spec():
    from minisora.world import ObjectSpec, Occluder, Rule, SceneSpec

    return SceneSpec(
        objects=[
            ObjectSpec(shape="circle", color="red", x=0.2, y=0.6, vx=0.8),
            ObjectSpec(shape="square", color="blue", x=0.5, y=0.3, vx=-0.5, material="wood"),
            ObjectSpec(shape="triangle", color="green", size="large", x=0.8, y=0.7, material="metal"),
        ],
        occluders=[Occluder(x=0.45, width=0.1, height=0.5)],
        rules=[Rule(target=1, color="yellow")],
    )
