"""The service's settings: where it listens, where it keeps its data, and what a request may ask."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

MODES = ("text-to-video", "image-to-video", "extend", "loop", "connect", "edit")

# The uploads each mode needs (slot -> kind). The page builds its upload fields from this table,
# served at /v1/modes, so the two never disagree.
MODE_INPUTS: dict[str, dict[str, str]] = {
    "text-to-video": {},
    "image-to-video": {"image": "image"},
    "extend": {"video": "video"},
    "loop": {"video": "video"},
    "connect": {"video": "video", "end_video": "video"},
    "edit": {"video": "video"},
}

# Modes whose prompt may be empty: the inputs alone say what to make.
PROMPT_OPTIONAL = ("image-to-video", "extend", "loop", "connect")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".gif")


@dataclass(frozen=True)
class Limits:
    """What one request may ask for. The world-s preset renders up to 256 px; longer videos come
    from extension, so one job stays short enough to finish in seconds on two cores."""

    max_prompt_chars: int = 500
    min_side: int = 16
    max_side: int = 256
    min_seconds: float = 0.25
    max_seconds: float = 16.0
    min_fps: int = 1
    max_fps: int = 30
    max_seed: int = 2**31 - 1
    max_upload_bytes: int = 20 * 1024 * 1024
    max_input_side: int = 1024
    max_input_seconds: float = 60.0
    max_queued_per_key: int = 100
    max_page: int = 100
    max_steps: int = 100  # sampling steps a job may ask for (the pipeline's default is 25)
    max_cfg: float = 20.0  # guidance scale; 1 is none, the pipeline's default 5


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    data: Path = Path("minisora-data")
    workers: int = 1
    auth: bool = True
    limits: Limits = field(default_factory=Limits)
    model: Path | None = None  # a world model folder; None: the shipped default, if one is installed
    no_model: bool = False  # run no world model even if one is installed: text-to-video renders the world

    def check(self) -> ServeConfig:
        """Raise ValueError with what to do when the settings cannot be served safely."""
        if not self.auth and not is_loopback(self.host):
            raise ValueError(
                f"--no-auth is allowed only on loopback (127.0.0.1, ::1 or localhost), not {self.host!r}: "
                f"make a key with `minisora keys create NAME --data {self.data}` instead"
            )
        if not 0 <= self.workers <= 64:  # 0: accept and queue jobs, run none (a front-end machine)
            raise ValueError(f"--workers {self.workers} is out of range: use 0 to 64")
        if self.limits.max_queued_per_key < 1:
            raise ValueError(f"--max-queued {self.limits.max_queued_per_key} must be at least 1")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--port {self.port} is out of range: use 0 to 65535")
        if self.model is not None and self.no_model:
            raise ValueError(f"--model {self.model} and --no-model contradict each other: give one of them")
        return self


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
