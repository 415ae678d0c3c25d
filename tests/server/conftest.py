"""Fixtures: a live no-auth server shared by a test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from live_server import LiveServer, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    """One no-auth server with one worker, shared by a test module."""
    with running_server(tmp_path_factory.mktemp("serve") / "data", "--no-auth") as live:
        yield live
