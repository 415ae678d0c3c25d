"""The adversarial term: the discriminator's losses and weight, what it learns to tell apart, and
a run that has one checkpoints and resumes it exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from minisora.autoencoder.checkpoint import load_checkpoint, load_discriminator
from minisora.autoencoder.discriminator import (
    FrameDiscriminator,
    adaptive_weight,
    discriminator_loss,
    generator_loss,
)
from minisora.autoencoder.train import TrainVAEConfig, train_vae


def test_hinge_losses_and_shapes() -> None:
    disc = FrameDiscriminator(8)
    logits = disc(torch.zeros(2, 3, 5, 32, 48))
    assert logits.shape == (10, 1, 8, 12)  # one map per frame, a patch every 4 px
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert discriminator_loss(real, fake).item() == pytest.approx((0 + 0.5) / 2 + (0 + 1) / 2)
    assert generator_loss(fake).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="RGB"):
        disc(torch.zeros(1, 4, 5, 32, 32))


def test_adaptive_weight_is_the_ratio_of_gradient_norms() -> None:
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    rec = (3.0 * w).sum()  # gradient (3, 3): norm 3 sqrt 2
    adv = (w * torch.tensor([1.0, 0.0])).sum() * 0.5  # gradient (0.5, 0): norm 0.5
    assert adaptive_weight(rec, adv, w).item() == pytest.approx(3 * 2**0.5 / (0.5 + 1e-4), rel=1e-5)


def _squares(places: list[list[tuple[float, float]]]) -> torch.Tensor:
    """(3, T, 32, 32): a bright square on dark grey at each (top row, opacity) of frame t's list."""
    video = torch.full((3, len(places), 32, 32), -0.6)
    for t, frame in enumerate(places):
        for top, alpha in frame:
            patch = video[:, t, int(top):int(top) + 6, 13:19]
            video[:, t, int(top):int(top) + 6, 13:19] = patch * (1 - alpha) + 0.9 * alpha
    return video


def test_the_discriminator_learns_to_tell_a_ghost_from_a_falling_square() -> None:
    """Crisp squares falling against the same squares drawn half at two places (what a decoder
    unsure of the position draws): after a short training the ghosts score lower."""
    torch.manual_seed(0)
    disc = FrameDiscriminator(8)
    opt = torch.optim.Adam(disc.parameters(), lr=2e-3, betas=(0.5, 0.9))

    def batch(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        real, ghost = [], []
        for _ in range(4):
            y0 = float(torch.randint(2, 10, (1,), generator=generator))
            ys = [y0 + 3 * t for t in range(5)]
            real.append(_squares([[(y, 1.0)] for y in ys]))
            ghost.append(_squares([[(y - 3, 0.5), (y + 3, 0.5)] for y in ys]))
        return torch.stack(real), torch.stack(ghost)

    g = torch.Generator().manual_seed(1)
    for _ in range(60):
        real, ghost = batch(g)
        loss = discriminator_loss(disc(real), disc(ghost))
        opt.zero_grad()
        loss.backward()
        opt.step()
    disc.eval()
    with torch.no_grad():
        real, ghost = batch(torch.Generator().manual_seed(99))
        assert disc(real).mean() > disc(ghost).mean() + 0.5


def _adv_run(run_dir: Path, steps: int) -> Path:
    cfg = TrainVAEConfig(run_dir=str(run_dir), preset="tiny", steps=steps, batch=1, frames=5, warmup=2,
                         eval_clips=0, checkpoint_minutes=0.0, log_every=1, bf16=False, crop=16,
                         adv_weight=0.5, adv_start=1, disc_width=8)
    return train_vae(cfg)


def test_an_adversarial_run_logs_checkpoints_and_resumes_its_discriminator(tmp_path: Path) -> None:
    straight = _adv_run(tmp_path / "straight", 4)
    _adv_run(tmp_path / "resumed", 2)
    resumed = _adv_run(tmp_path / "resumed", 4)
    for a, b in zip(load_checkpoint(straight)[0].state_dict().values(),
                    load_checkpoint(resumed)[0].state_dict().values()):
        assert torch.equal(a, b)
    disc_a, disc_b = load_discriminator(straight), load_discriminator(resumed)
    assert disc_a is not None and disc_b is not None
    assert disc_a[0].keys() == disc_b[0].keys()
    assert all(torch.equal(disc_a[0][k], disc_b[0][k]) for k in disc_a[0])
    log = [json.loads(line) for line in (tmp_path / "straight" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "loss" in r]
    assert "adv_g" not in steps[0] and "adv_d" in steps[0]  # the decoder feels it from adv_start
    assert all("adv_g" in r and r["adv_weight"] > 0 for r in steps[1:])
    assert load_discriminator(_tiny_plain(tmp_path / "plain")) is None
    with pytest.raises(ValueError, match="adv_weight"):
        TrainVAEConfig(preset="tiny", adv_weight=-1.0).validate()
    with pytest.raises(ValueError, match="multiple of 4"):
        TrainVAEConfig(preset="tiny", adv_weight=0.5, disc_width=6).validate()


def _tiny_plain(run_dir: Path) -> Path:
    return train_vae(TrainVAEConfig(run_dir=str(run_dir), preset="tiny", steps=1, batch=1, frames=5,
                                    eval_clips=0, checkpoint_minutes=0.0, bf16=False, crop=16))
