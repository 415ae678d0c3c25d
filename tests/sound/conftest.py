"""Sound tests run tiny models on a shared 2-core machine: one thread."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _single_thread(one_thread):
    """Every module here runs on one thread (tests/conftest.py)."""


@pytest.fixture(scope="session")
def bounce_clip():
    """A rendered 64x64 clip with contacts on the floor and of two objects, with its true sound."""
    from minisora.world import ObjectSpec, SceneSpec
    from minisora.world.clip import render_clip

    spec = SceneSpec(objects=[ObjectSpec(shape="circle", color="red", x=0.3, y=0.7, vx=0.3),
                              ObjectSpec(shape="square", color="blue", x=0.7, y=0.5, vx=-0.2,
                                         material="metal")])
    return render_clip(spec)
