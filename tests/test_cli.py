"""The command line as a user meets it: real subprocesses, real files."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from minisora.media import probe

EXE = [sys.executable, "-m", "minisora.cli"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([*EXE, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def test_help_is_fast_and_imports_no_torch():
    code = "import sys, minisora.cli; minisora.cli.build_parser(); print('torch' in sys.modules, 'av' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
    assert run("--help").returncode == 0


def test_render_writes_an_mp4_with_sound(tmp_path):
    out = tmp_path / "clip.mp4"
    result = run("render", "three red balls bounce to the right", "--out", str(out))
    assert result.returncode == 0, result.stderr
    info = probe(out)
    assert (info.width, info.height, info.frames, info.has_audio) == (64, 64, 65, True)


def test_render_other_sizes_and_formats(tmp_path):
    assert run("render", "a blue square", "--size", "96x64", "--seconds", "1",
               "--out", str(tmp_path / "a.gif")).returncode == 0
    assert probe(tmp_path / "a.gif").width == 96
    assert run("render", "a blue square", "--seconds", "1", "--format", "png",
               "--out", str(tmp_path / "frames")).returncode == 0
    assert len(list((tmp_path / "frames").glob("*.png"))) == 17


@pytest.mark.parametrize("args,message", [
    (["a wobbly florp bounces"], "wobbly"),
    (["a red ball", "--size", "100x64"], "multiples of 16"),
    (["a red ball", "--size", "64"], "64x64"),
    (["a red ball", "--out", "/nonexistent-dir/clip.mp4"], "does not exist"),
    (["a red ball", "--out", "clip.avi"], "suffix"),
])
def test_bad_input_gets_a_clear_message_and_leaves_nothing(tmp_path, args, message):
    if "--out" not in args:
        args = [*args, "--out", str(tmp_path / "clip.mp4")]
    result = run("render", *args, cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
