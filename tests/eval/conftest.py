"""Fixtures for the analyzer and benchmark tests: renders sent through an MP4 round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def mp4_round_trip(tmp: Path, frames: np.ndarray, fps: float, audio: np.ndarray | None):
    """Write frames (and sound) as the default MP4 and read them back."""
    from minisora.media import read_video, write_mp4

    path = write_mp4(tmp / f"clip_{len(list(tmp.iterdir()))}.mp4", frames, fps, audio)
    return read_video(path)


def analyze_render(tmp: Path, spec):
    """Render a spec, round-trip it through MP4 and analyze it: (clip, analysis)."""
    from minisora.eval import analyze
    from minisora.world import render_clip

    clip = render_clip(spec)
    video = mp4_round_trip(tmp, clip.frames, clip.fps, clip.audio)
    return clip, analyze(video.frames, video.fps, video.audio, video.sample_rate)


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("eval")


@pytest.fixture(scope="module")
def round_trip(module_tmp):
    """frames, fps, audio -> VideoData after the default MP4 round trip."""
    return lambda frames, fps, audio: mp4_round_trip(module_tmp, frames, fps, audio)


@pytest.fixture(scope="module")
def render_analysis(module_tmp):
    """spec -> (clip, analysis of its MP4 round trip)."""
    return lambda spec: analyze_render(module_tmp, spec)
