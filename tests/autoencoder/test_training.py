"""Losses (oracle values), checkpoints (atomic, strict, exact resume) and the CLI entry."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from minisora.autoencoder import VAE_PRESETS, VAEConfig, VideoVAE, load_vae, save_weights
from minisora.autoencoder.checkpoint import list_checkpoints, load_checkpoint
from minisora.autoencoder.clips import clip_spec, training_batch
from minisora.autoencoder.losses import gradient_l1, psnr_per_clip, ssim_per_frame
from minisora.autoencoder.train import TrainVAEConfig, train_vae


def test_ssim_and_psnr_oracles() -> None:
    x = torch.rand(2, 3, 3, 16, 16) * 2 - 1
    assert torch.allclose(ssim_per_frame(x, x), torch.ones(2, 3), atol=1e-5)
    assert (ssim_per_frame(x, -x) < 0.5).all()
    # a uniform error of 0.1 in [-1, 1] units is 0.05 of the range: PSNR = 20 log10(1 / 0.05)
    assert torch.allclose(psnr_per_clip(x + 0.1, x), torch.full((2,), 20 * math.log10(20)), atol=1e-3)
    assert gradient_l1(x + 0.3, x).item() < 1e-6  # a constant offset has no gradient error


def test_ssim_blur_equals_a_reflect_padded_gaussian_window() -> None:
    """The matmul blur inside ssim_per_frame against the textbook windowed SSIM, pixel by pixel."""
    import torch.nn.functional as F

    from minisora.autoencoder.losses import _gaussian_window

    def windowed_ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        x, y = (a[0].transpose(0, 1) + 1) / 2, (b[0].transpose(0, 1) + 1) / 2  # (T, 3, H, W)
        g = _gaussian_window()
        window = (g[:, None] * g[None, :]).expand(3, 1, 11, 11)

        def blur(z: torch.Tensor) -> torch.Tensor:
            return F.conv2d(F.pad(z, (5, 5, 5, 5), mode="reflect"), window, groups=3)

        mx, my = blur(x), blur(y)
        sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
        c1, c2 = 0.01**2, 0.03**2
        s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
        return s.mean(dim=(1, 2, 3))[None]

    for shape in [(1, 3, 2, 64, 112), (1, 3, 1, 8, 6)]:
        a = torch.rand(shape) * 2 - 1
        b = (a + 0.3 * torch.randn(shape)).clamp(-1, 1)
        assert torch.allclose(ssim_per_frame(a, b), windowed_ssim(a, b), atol=1e-5)
    with pytest.raises(ValueError, match="at least 6 px"):
        ssim_per_frame(torch.zeros(1, 3, 1, 5, 8), torch.zeros(1, 3, 1, 5, 8))


def test_training_batches_depend_only_on_seed_and_step() -> None:
    a, b = training_batch(3, 0, 2, 5, 0.5), training_batch(3, 0, 2, 5, 0.5)
    assert a.shape[:3] == (2, 3, 5) and torch.equal(a, b)
    assert not torch.equal(a, training_batch(4, 0, 2, 5, 0.5)) or a.shape != training_batch(4, 0, 2, 5, 0.5).shape
    assert clip_spec(0, "train").seed != clip_spec(0, "heldout").seed


def test_focused_batches_hold_more_motion() -> None:
    """focus > 1 keeps the window that changes most between frames: still crops teach little."""
    def motion(batch: torch.Tensor) -> float:
        return batch[:, :, 1:].sub(batch[:, :, :-1]).abs().mean().item()

    steps = range(300, 306)
    focused = [training_batch(s, 0, 8, 9, 0.0, 32, focus=4) for s in steps]
    assert torch.equal(focused[0], training_batch(300, 0, 8, 9, 0.0, 32, focus=4))  # still deterministic
    plain = sum(motion(training_batch(s, 0, 8, 9, 0.0, 32)) for s in steps)
    assert sum(motion(b) for b in focused) > 1.15 * plain  # measured: 1.28x on these steps


def _tiny_run(run_dir: Path, steps: int) -> Path:
    cfg = TrainVAEConfig(run_dir=str(run_dir), preset="tiny", steps=steps, batch=1, frames=5,
                         warmup=2, eval_clips=0, checkpoint_minutes=0.0, log_every=1, bf16=False, crop=16)
    return train_vae(cfg)


def test_resume_is_exact(tmp_path: Path) -> None:
    straight = _tiny_run(tmp_path / "straight", 4)
    _tiny_run(tmp_path / "resumed", 2)
    resumed = _tiny_run(tmp_path / "resumed", 4)
    model_a, ema_a, opt_a, state_a = load_checkpoint(straight)
    model_b, ema_b, opt_b, state_b = load_checkpoint(resumed)
    assert state_a["step"] == state_b["step"] == 4
    for (name, a), b in zip(model_a.state_dict().items(), model_b.state_dict().values()):
        assert torch.equal(a, b), name
    assert all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)
    # the folder layout is the project's checkpoint contract; no temporary folders are left
    assert sorted(p.name for p in straight.iterdir()) == [
        "config.json", "ema.safetensors", "model.safetensors", "optimizer.pt", "state.json"]
    assert [p.name for p in list_checkpoints(tmp_path / "straight")] == ["step_0000003", "step_0000004"]
    assert not [p for p in (tmp_path / "straight").iterdir() if p.name.startswith(".tmp")]


def test_shipped_weights_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = VideoVAE(VAEConfig.from_dict(VAE_PRESETS["tiny"].to_dict())).eval()
    model.set_latent_stats([0.5] * 4, [2.0] * 4)
    folder = save_weights(model, tmp_path / "weights", dtype=torch.float32)
    loaded = load_vae(folder)
    assert loaded.config.latent_scale == [2.0] * 4
    clip = torch.rand(1, 3, 5, 16, 16) * 2 - 1
    assert torch.equal(loaded.encode(clip), model.encode(clip))
    bf16 = load_vae(save_weights(model, tmp_path / "bf16"), dtype=torch.bfloat16)
    assert (bf16.encode(clip) - model.encode(clip)).abs().max() < 0.2
    config = json.loads((folder / "config.json").read_text())
    config["width"] = 4
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_vae(folder)  # strict: weights must match the config exactly
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_vae(tmp_path / "nowhere")


def test_cli_train_vae(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from minisora.cli import main

    rc = main(["train-vae", "--run-dir", str(tmp_path / "run"), "--preset", "tiny", "--steps", "1",
               "--batch", "1", "--frames", "5", "--eval-clips", "1"])
    assert rc == 0
    assert "last checkpoint" in capsys.readouterr().out
    state = json.loads((tmp_path / "run" / "step_0000001" / "state.json").read_text())
    assert state["step"] == 1 and 0 < state["eval"]["ssim"] <= 1
    # resuming needs only the run folder: the saved settings come back, --steps extends the run
    assert main(["train-vae", "--run-dir", str(tmp_path / "run"), "--steps", "2", "--eval-clips", "0"]) == 0
    state = json.loads((tmp_path / "run" / "step_0000002" / "state.json").read_text())
    assert state["train_config"]["frames"] == 5 and state["train_config"]["batch"] == 1
    assert main(["train-vae", "--run-dir", str(tmp_path / "bad"), "--frames", "8"]) == 2


def test_export_measures_latent_statistics(tmp_path: Path) -> None:
    from minisora.autoencoder.export import export_weights

    checkpoint = _tiny_run(tmp_path / "run", 1)
    model = load_vae(export_weights(checkpoint, tmp_path / "shipped", clips=2))
    assert len(model.config.latent_shift) == len(model.config.latent_scale) == 4
    video = torch.rand(1, 3, 5, 64, 64) * 2 - 1
    z = model.encode(video)
    assert torch.isfinite(z).all() and z.shape == (1, 4, 2, 16, 16)


def test_decoder_only_fine_tuning_keeps_the_encoder_and_its_latent_statistics(tmp_path: Path) -> None:
    from minisora.autoencoder.export import export_weights

    start = export_weights(_tiny_run(tmp_path / "run", 1), tmp_path / "v1", clips=2)
    cfg = TrainVAEConfig(run_dir=str(tmp_path / "decoder"), preset="tiny", steps=3, batch=1, frames=5,
                         warmup=1, lr=1e-2, eval_clips=0, checkpoint_minutes=0.0, bf16=False, crop=16,
                         init_from=str(start), freeze_encoder=True)
    v2 = load_vae(export_weights(train_vae(cfg), tmp_path / "v2"))
    v1 = load_vae(start)
    assert v2.config.to_dict() == v1.config.to_dict()  # same normalisation: a DiT's latents stay valid
    for name, value in v1.encoder.state_dict().items():
        assert torch.equal(value, v2.encoder.state_dict()[name]), name
    assert any(not torch.equal(v, v2.decoder.state_dict()[k]) for k, v in v1.decoder.state_dict().items())
    from minisora.autoencoder.checkpoint import latent_fingerprint

    assert latent_fingerprint(start) == latent_fingerprint(tmp_path / "v2")  # the sound model stays valid
    assert latent_fingerprint(start) != latent_fingerprint()  # another autoencoder's latent space
    with pytest.raises(ValueError, match="--init-from"):
        train_vae(TrainVAEConfig(run_dir=str(tmp_path / "none"), preset="tiny", steps=1, freeze_encoder=True))


def test_anchored_encoder_trains_near_the_one_it_starts_from(tmp_path: Path) -> None:
    from minisora.autoencoder.export import export_weights
    from minisora.autoencoder.train import Anchor

    start = export_weights(_tiny_run(tmp_path / "run", 1), tmp_path / "v1", clips=2)
    drifts = {}
    for weight in (1e-6, 100.0):
        cfg = TrainVAEConfig(run_dir=str(tmp_path / f"anchor{weight}"), preset="tiny", steps=4, batch=1,
                             frames=5, warmup=1, lr=2e-2, eval_clips=0, checkpoint_minutes=0.0, bf16=False,
                             crop=16, init_from=str(start), anchor_weight=weight)
        shipped = export_weights(train_vae(cfg), tmp_path / f"v{weight}")
        first = json.loads((tmp_path / f"anchor{weight}" / "log.jsonl").read_text().splitlines()[0])
        assert first["drift"] < 1e-10  # step 1 starts from the reference encoder itself
        model = load_vae(shipped)
        assert model.config.to_dict() == load_vae(start).config.to_dict()  # the normalisation is kept
        changed = [k for k, v in load_vae(start).encoder.state_dict().items()
                   if not torch.equal(v, model.encoder.state_dict()[k])]
        assert changed  # the encoder trained
        video = training_batch(50, 3, 2, 5, 0.0, 16)
        mean, _, _ = model.encode_moments(video)
        drifts[weight] = Anchor(start).loss(video, mean).item()
    assert drifts[100.0] < 0.5 * drifts[1e-6], drifts
    with pytest.raises(ValueError, match="--init-from"):
        TrainVAEConfig(preset="tiny", anchor_weight=1.0).validate()
    with pytest.raises(ValueError, match="freeze-encoder"):
        TrainVAEConfig(preset="tiny", anchor_weight=1.0, init_from=str(start), freeze_encoder=True).validate()


def test_mse_term_weights_large_errors() -> None:
    from minisora.autoencoder.losses import vae_loss

    target = torch.zeros(1, 3, 1, 8, 8)
    mean, logvar = torch.zeros(1, 4, 1, 2, 2), torch.zeros(1, 4, 1, 2, 2)
    small = torch.full_like(target, 0.05)  # a faint error everywhere ...
    large = torch.zeros_like(target)
    large[..., :2, :2] = 0.8  # ... or a missed object: about the same L1, far more squared error
    args = (mean, logvar, 0.0, 0.0, 0.0)
    l1_small, l1_large = vae_loss(small, target, *args)[0], vae_loss(large, target, *args)[0]
    assert abs(l1_small - l1_large) < 0.01
    gap = vae_loss(large, target, *args, mse_weight=2.0)[0] - vae_loss(small, target, *args, mse_weight=2.0)[0]
    assert gap > 0.05


def test_new_run_can_start_from_shipped_weights(tmp_path: Path) -> None:
    torch.manual_seed(1)
    start = VideoVAE(VAEConfig.from_dict(VAE_PRESETS["tiny"].to_dict())).eval()
    start.set_latent_stats([0.3] * 4, [1.5] * 4)
    save_weights(start, tmp_path / "start", dtype=torch.float32)
    cfg = TrainVAEConfig(run_dir=str(tmp_path / "run"), preset="f8c16", steps=0, eval_clips=0,
                         init_from=str(tmp_path / "start"))
    from minisora.autoencoder.train import _new_run

    model, ema, step = _new_run(cfg)
    assert step == 0 and model.config.width == start.config.width  # the weights' config wins
    assert model.config.latent_shift == []  # training works in raw latent units
    for name, value in start.state_dict().items():
        assert torch.equal(model.state_dict()[name], value) and torch.equal(ema[name], value), name


def test_fine_tuning_may_add_a_decoder_detail_path_or_lookahead_and_nothing_else(tmp_path: Path) -> None:
    from minisora.autoencoder.train import _new_run

    torch.manual_seed(2)
    start = VideoVAE(VAEConfig.from_dict(VAE_PRESETS["tiny-patch"].to_dict())).eval()
    save_weights(start, tmp_path / "start", dtype=torch.float32)
    cfg = TrainVAEConfig(run_dir=str(tmp_path / "run"), preset="tiny-patch", steps=0, eval_clips=0,
                         init_from=str(tmp_path / "start"), detail_width=8, detail_blocks=1)
    model, ema, _ = _new_run(cfg)
    assert model.config.detail_width == 8 and model.config.stem == start.config.stem
    for name, value in start.state_dict().items():
        assert torch.equal(model.state_dict()[name], value) and torch.equal(ema[name], value), name
    z = torch.randn(1, 4, 2, 4, 4)
    assert torch.equal(model.eval().decode(z), start.decode(z))  # the new path starts at zero
    save_weights(model, tmp_path / "detailed", dtype=torch.float32)
    with pytest.raises(ValueError, match="does not fit"):  # dropping a trained path loses weights
        _new_run(TrainVAEConfig(**{**vars(cfg), "init_from": str(tmp_path / "detailed"), "detail_width": 0}))
    save_weights(VideoVAE(VAEConfig.from_dict(VAE_PRESETS["tiny"].to_dict())), tmp_path / "conv",
                 dtype=torch.float32)
    with pytest.raises(ValueError, match="patch decoder"):  # a conv VAE has no detail path to add
        _new_run(TrainVAEConfig(**{**vars(cfg), "init_from": str(tmp_path / "conv")}))
    ahead, _, _ = _new_run(TrainVAEConfig(**{**vars(cfg), "init_from": str(tmp_path / "detailed"),
                                               "detail_width": None, "lookahead": True}))
    assert ahead.config.lookahead and torch.equal(ahead.eval().decode(z), model.decode(z))
