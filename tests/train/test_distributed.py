"""A 2-process run on CPU (gloo) under torchrun, DDP or FSDP2, equals its single-process
oracle: the mean of the two ranks' losses, one clipped AdamW step on the averaged gradient."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from minisora.flow.loss import flow_loss
from minisora.train.config import TrainConfig
from minisora.train.loop import Trainer, learning_rate
from minisora.train.runlog import read_log


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def batch_loss(model, batch):
    return flow_loss(lambda x, t: model(x, t, batch.text, batch.text_mask), batch.latents, batch.noise,
                     batch.t, batch.cond_mask)


@pytest.mark.parametrize("mode", ["ddp", pytest.param("fsdp", marks=pytest.mark.slow)])
def test_two_process_step_matches_oracle(mode, tiny_latents, tmp_path):
    out = tmp_path / mode
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
           "127.0.0.1", "--master_port", str(free_port()), "-m", "minisora.cli", "train",
           "--latents", str(tiny_latents), "--out", str(out), "--preset", "tiny", "--steps", "2",
           "--checkpoint-every", "2", "--log-every", "1", "--tokens-per-batch", "48",
           "--video-frames", "3", "5", "--warmup", "1", "--lr", "1e-3", "--no-progress"]
    cmd += ["--fsdp"] if mode == "fsdp" else []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]

    cfg = TrainConfig(latents=str(tiny_latents), out=str(tmp_path / "oracle"), preset="tiny", steps=2,
                      tokens_per_batch=48, video_frames=(3, 5), warmup=1, lr=1e-3, progress=False)
    oracle = Trainer(cfg)
    losses = []
    for step in range(2):
        b0, b1 = oracle.sampler.batch(step, rank=0), oracle.sampler.batch(step, rank=1)
        for group in oracle.optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg)
        loss = (batch_loss(oracle.model, b0) + batch_loss(oracle.model, b1)) / 2
        oracle.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(oracle.model.parameters(), cfg.grad_clip)
        oracle.optimizer.step()
        oracle.ema.update(oracle.model, step)
        losses.append(float(loss.detach()))

    logged = [r["loss"] for r in read_log(out / "log.jsonl")]
    assert len(logged) == 2
    torch.testing.assert_close(torch.tensor(logged), torch.tensor(losses), atol=1e-5, rtol=1e-5)
    weights = load_file(str(out / "step_0000002" / "model.safetensors"))
    assert set(weights) == set(oracle.model.state_dict())
    for name, value in oracle.model.state_dict().items():
        torch.testing.assert_close(weights[name], value, atol=1e-5, rtol=1e-4)
    ema = load_file(str(out / "step_0000002" / "ema.safetensors"))
    for name, value in oracle.ema.state_dict().items():
        torch.testing.assert_close(ema[name], value, atol=1e-5, rtol=1e-4)
