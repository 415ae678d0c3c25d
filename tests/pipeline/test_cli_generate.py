"""`minisora generate` as a user meets it: a real subprocess, real files."""

from __future__ import annotations

import os
import subprocess
import sys

from minisora.media import probe
from minisora.pipeline import DEFAULT_MODEL

EXE = [sys.executable, "-m", "minisora.cli", "generate"]


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([*EXE, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_generate_prints_the_refined_prompt_and_the_output(model_folder, tmp_path):
    out = tmp_path / "clip.mp4"
    result = run("three red balls bounce to the right", "--seconds", "1", "--size", "32x32", "--steps", "2",
                 "--seed", "1", "--model", str(model_folder), "--threads", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "refined prompt: " in result.stdout and "Three" in result.stdout
    assert f"wrote {out}" in result.stdout
    info = probe(out)
    assert (info.width, info.height, info.frames, info.fps) == (32, 32, 17, 16)
    assert "step" in result.stderr  # the progress bar


def test_contradictory_flags_exit_non_zero_and_write_nothing(tmp_path):
    result = run("a red ball", "--loop", "--edit", "x.mp4", "--out", str(tmp_path / "o.mp4"), cwd=tmp_path)
    assert result.returncode == 2
    assert "--loop" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_without_a_model_it_says_how_to_train_one(tmp_path):
    args = ["a red ball", "--out", str(tmp_path / "o.mp4")]
    if (DEFAULT_MODEL / "config.json").is_file():
        args += ["--model", str(tmp_path / "none")]
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "minisora train" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_long_video_prints_each_new_caption_on_its_own_line(model_folder, tmp_path):
    out = tmp_path / "long.gif"
    result = run("a wood ball falls", "--seconds", "8", "--size", "32x32", "--steps", "2", "--seed", "1",
                 "--model", str(model_folder), "--threads", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    storyboard = [line for line in result.stdout.splitlines() if line.startswith("from ")]
    assert storyboard and all(" s: On a " in line for line in storyboard)  # "from 3 s: On a ... background"
    assert "rests on the floor" in storyboard[-1]
    assert "step/s" not in result.stdout  # the bar stays on stderr, the notes above it
