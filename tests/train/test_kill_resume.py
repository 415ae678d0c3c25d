"""kill -9 in the middle of a run, start it again: the loss trajectory is the uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from minisora.train.config import TrainConfig
from minisora.train.loop import Trainer
from minisora.train.runlog import read_log

STEPS = 12


def command(latents, out) -> list[str]:
    return [sys.executable, "-m", "minisora.cli", "train", "--latents", str(latents), "--out", str(out),
            "--preset", "tiny", "--steps", str(STEPS), "--checkpoint-every", "2", "--log-every", "1",
            "--tokens-per-batch", "48", "--video-frames", "3", "5", "--no-progress"]


@pytest.mark.slow
def test_kill_9_then_resume_reproduces_losses(tiny_latents, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(command(tiny_latents, out), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    log = out / "log.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not log.exists() or len(read_log(log)) < 5):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # somewhere after step 5: mid-step or mid-checkpoint
    proc.wait()
    assert len(read_log(log)) < STEPS, "the run finished before it could be killed"
    subprocess.run(command(tiny_latents, out), env=env, check=True, capture_output=True, timeout=300)

    straight = Trainer(TrainConfig(latents=str(tiny_latents), out=str(tmp_path / "straight"), preset="tiny",
                                   steps=STEPS, checkpoint_every=100, tokens_per_batch=48,
                                   video_frames=(3, 5), progress=False)).run()
    resumed = read_log(log)
    assert [r["step"] for r in resumed] == list(range(1, STEPS + 1))
    assert [r["loss"] for r in resumed] == [r["loss"] for r in straight]
