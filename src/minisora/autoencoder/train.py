"""`minisora train-vae`: train the autoencoder on world clips rendered on the fly.

AdamW with a linear warm-up then a constant rate (a run can always be continued), gradient
clipping at 1.0, bf16 autocast on CPU, an EMA of the weights (the EMA is what ships); with
`adv_weight`, a frame discriminator (discriminator.py) trains beside it and is checkpointed with
it. Batch i depends only on (seed, i), and the sampling noise of step i too, so resuming from a
checkpoint continues exactly the run that was interrupted.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch

from minisora.autoencoder.checkpoint import (
    list_checkpoints,
    load_checkpoint,
    load_discriminator,
    save_checkpoint,
)
from minisora.autoencoder.clips import clip_spec, render_pixels, training_batch
from minisora.autoencoder.config import VAE_PRESETS, VAEConfig
from minisora.autoencoder.discriminator import (
    FrameDiscriminator,
    adaptive_weight,
    discriminator_loss,
    generator_loss,
    last_decoder_layer,
)
from minisora.autoencoder.losses import psnr_per_clip, ssim_per_frame, vae_loss
from minisora.autoencoder.model import VideoVAE
from minisora.precision import BF16_ADVICE, native_bf16


@dataclass
class TrainVAEConfig:
    run_dir: str = "runs/vae"
    preset: str = "f8c16"  # a key of VAE_PRESETS; ignored when resuming (the checkpoint decides)
    width: int | None = None  # override the preset's width
    detail_width: int | None = None  # override the preset's decoder detail path (patch arch)
    detail_blocks: int | None = None
    lookahead: bool | None = None  # override: the decoder also sees the next latent frame (patch arch)
    steps: int = 10_000
    batch: int = 4
    frames: int = 17  # 4k+1 frames per training window
    aspect_mix: float = 0.3  # share of batches with a non-square aspect ratio
    crop: int | None = None  # train on random crop x crop squares (a multiple of the spatial factor)
    focus: int = 1  # windows drawn per item; the one with the most motion is kept (clips.training_batch)
    lr: float = 1e-3
    warmup: int = 200
    ema_decay: float = 0.998
    ssim_weight: float = 0.2
    grad_weight: float = 0.5
    kl_weight: float = 1e-6
    mse_weight: float = 0.0  # squared error: its gradient grows with the error, so small objects the
    #                          reconstruction misses outweigh the large, easy background
    adv_weight: float = 0.0  # adversarial term (discriminator.py), scaled by VQGAN's adaptive weight; 0: off
    adv_start: int = 0  # the decoder feels it from this step; the discriminator trains from the first
    disc_width: int = 64
    disc_lr: float = 2e-4
    init_from: str | None = None  # shipped weights folder a new run starts from (fine-tuning)
    freeze_encoder: bool = False  # train the decoder only: the latents (and a DiT trained on them)
    #                               stay valid while the reconstruction improves
    anchor_weight: float = 0.0  # with init_from: the encoder trains too, its posterior means held near
    #                             those of init_from's encoder (squared distance in the normalised units
    #                             a DiT sees), so models trained on the old latents still read the new
    seed: int = 0
    bf16: bool = True
    checkpoint_minutes: float = 5.0
    log_every: int = 10
    eval_clips: int = 4  # held-out 64x64 4 s clips scored (EMA weights) at each checkpoint

    def validate(self) -> TrainVAEConfig:
        if self.preset not in VAE_PRESETS:
            raise ValueError(f"preset {self.preset!r}: choose from {', '.join(VAE_PRESETS)}")
        if self.frames % 4 != 1:
            raise ValueError(f"frames {self.frames}: training windows need 4k+1 frames (5, 9, 17, ...)")
        if self.batch < 1 or self.steps < 0:
            raise ValueError("batch must be >= 1 and steps >= 0")
        if self.adv_weight < 0 or self.adv_start < 0:
            raise ValueError("adv_weight and adv_start must be >= 0 (adv_weight 0: no adversarial term)")
        if self.anchor_weight < 0:
            raise ValueError(f"anchor_weight {self.anchor_weight}: give a weight >= 0 (0: no anchor)")
        if self.anchor_weight > 0 and (self.freeze_encoder or not self.init_from):
            raise ValueError("--anchor-weight holds a trainable encoder near the one it starts from: pass "
                             "--init-from WEIGHTS, and not --freeze-encoder (a frozen encoder needs no anchor)")
        if self.disc_width < 4 or self.disc_width % 4:
            raise ValueError(f"disc_width {self.disc_width}: give a multiple of 4")
        return self


def _new_run(cfg: TrainVAEConfig) -> tuple[VideoVAE, dict[str, torch.Tensor], int]:
    torch.manual_seed(cfg.seed)
    vae_config = VAEConfig.from_dict(VAE_PRESETS[cfg.preset].to_dict())
    if cfg.width is not None:
        vae_config.width = cfg.width
    if cfg.init_from:
        from minisora.autoencoder.checkpoint import load_vae

        start = load_vae(cfg.init_from)  # raw latents in training: its normalisation is dropped
        vae_config = VAEConfig.from_dict({**start.config.to_dict(), "latent_shift": [], "latent_scale": []})
    _override_decoder(vae_config, cfg)
    model = VideoVAE(vae_config)
    if cfg.init_from:
        missing, unexpected = model.load_state_dict(start.state_dict(), strict=False)
        new_parts = [k for k in missing if ".detail_" not in k and ".ahead." not in k]
        if unexpected or new_parts:
            raise ValueError(f"--init-from {cfg.init_from} does not fit this architecture (missing "
                             f"{new_parts[:3]}, unexpected {unexpected[:3]}); only a decoder detail path "
                             "or look-ahead may be added to initialising weights")
        added = f", {len(missing)} new decoder tensors (detail path, look-ahead) start at zero" if missing else ""
        print(f"new run initialised from {cfg.init_from}{added}", flush=True)
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return model, ema, 0


def _override_decoder(vae_config: VAEConfig, cfg: TrainVAEConfig) -> None:
    if cfg.detail_width is not None:
        vae_config.detail_width = cfg.detail_width
    if cfg.detail_blocks is not None:
        vae_config.detail_blocks = cfg.detail_blocks
    if cfg.lookahead is not None:
        vae_config.lookahead = cfg.lookahead
    vae_config.validate()


def _resume(cfg: TrainVAEConfig, optimizer_for) -> tuple[VideoVAE, dict[str, torch.Tensor], torch.optim.Optimizer, int]:
    checkpoints = list_checkpoints(cfg.run_dir)
    if not checkpoints:
        model, ema, step = _new_run(cfg)
        return model, ema, optimizer_for(model), step
    model, ema, optimizer_state, state = load_checkpoint(checkpoints[-1])
    optimizer = optimizer_for(model)
    optimizer.load_state_dict(optimizer_state)
    print(f"resumed {checkpoints[-1]} at step {state['step']}", flush=True)
    return model, ema, optimizer, int(state["step"])


def learning_rate(cfg: TrainVAEConfig, step: int) -> float:
    return cfg.lr * min(1.0, (step + 1) / max(cfg.warmup, 1))


@torch.no_grad()
def evaluate(model: VideoVAE, clips: int, frames: int = 65, size: tuple[int, int] = (64, 64)
             ) -> dict[str, float]:
    """Mean PSNR / SSIM of the posterior-mean reconstruction of held-out clips."""
    psnrs, ssims = [], []
    for index in range(clips):
        video = render_pixels(clip_spec(index, "heldout", size))[:, :frames].unsqueeze(0)
        recon = model.decode(model.encode(video))
        psnrs.append(psnr_per_clip(recon, video).item())
        ssims.append(ssim_per_frame(recon, video).mean().item())
    return {"psnr": sum(psnrs) / len(psnrs), "ssim": sum(ssims) / len(ssims)}


def _ema_model(model: VideoVAE, ema: dict[str, torch.Tensor]) -> VideoVAE:
    copy = VideoVAE(VAEConfig.from_dict(model.config.to_dict()))
    copy.load_state_dict(ema, strict=True)
    return copy.eval()


def _discriminator(cfg: TrainVAEConfig, run_dir: Path
                   ) -> tuple[FrameDiscriminator, torch.optim.Optimizer] | tuple[None, None]:
    """The discriminator and its optimizer when the run has an adversarial term: from the last
    checkpoint that holds one, else fresh (seeded apart from the autoencoder's own draws)."""
    if cfg.adv_weight <= 0:
        return None, None
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed * 7_919 + 17)
        disc = FrameDiscriminator(cfg.disc_width)
    optimizer = torch.optim.Adam(disc.parameters(), lr=cfg.disc_lr, betas=(0.5, 0.9))
    checkpoints = list_checkpoints(run_dir)
    saved = load_discriminator(checkpoints[-1]) if checkpoints else None
    if saved is not None:
        disc.load_state_dict(saved[0], strict=True)
        optimizer.load_state_dict(saved[1])
    elif checkpoints:
        print(f"{checkpoints[-1]} has no discriminator: a fresh one starts here", flush=True)
    return disc, optimizer


class Anchor:
    """The encoder a run started from, frozen: `loss` is the mean squared distance of a trainable
    encoder's posterior means from its own, in normalised latent units (each channel divided by
    its latent_scale), the units a DiT trained on its latents sees."""

    def __init__(self, weights: str | Path) -> None:
        from minisora.autoencoder.checkpoint import load_vae

        self.reference = load_vae(weights).float().eval().requires_grad_(False)
        self.scale = self.reference.latent_scale.float().reshape(1, -1, 1, 1, 1)

    def loss(self, video: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target, _, _ = self.reference.encode_moments(video)
        return ((mean.float() - target.float()) / self.scale).pow(2).mean()


def train_step(model: VideoVAE, optimizer: torch.optim.Optimizer, video: torch.Tensor,
               cfg: TrainVAEConfig, step: int, disc: FrameDiscriminator | None = None,
               disc_optimizer: torch.optim.Optimizer | None = None, anchor: Anchor | None = None
               ) -> dict[str, float]:
    generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    for group in optimizer.param_groups:
        group["lr"] = learning_rate(cfg, step)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
        if cfg.freeze_encoder:
            with torch.no_grad():
                mean, logvar, _ = model.encode_moments(video)
            z = mean + (0.5 * logvar).exp() * torch.randn(mean.shape, generator=generator)
            recon, _ = model.decode_raw(z.to(video.dtype))
        else:
            recon, mean, logvar = model(video, generator=generator)
    loss, parts = vae_loss(recon, video, mean, logvar, cfg.ssim_weight, cfg.grad_weight, cfg.kl_weight,
                           cfg.mse_weight)
    if anchor is not None and cfg.anchor_weight > 0:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            drift = anchor.loss(video, mean)
        loss = loss + cfg.anchor_weight * drift
        parts["drift"] = drift.item()  # mean squared drift, normalised units
    if disc is not None and step >= cfg.adv_start:
        disc.requires_grad_(False)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            adversarial = generator_loss(disc(recon.float()).float())
        weight = cfg.adv_weight * adaptive_weight(loss, adversarial, last_decoder_layer(model.decoder))
        loss = loss + weight * adversarial
        parts["adv_g"], parts["adv_weight"] = adversarial.item(), weight.item()
        disc.requires_grad_(True)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    parts["grad_norm"] = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item()
    optimizer.step()
    if disc is not None and disc_optimizer is not None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            d_loss = discriminator_loss(disc(video).float(), disc(recon.detach().float()).float())
        disc_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        disc_optimizer.step()
        parts["adv_d"] = d_loss.item()
    return parts


def train_vae(cfg: TrainVAEConfig) -> Path:
    """Train (or continue) the run in cfg.run_dir up to cfg.steps; returns the last checkpoint."""
    cfg.validate()
    step_cfg = cfg  # what a step runs with; the run keeps asking for bf16 where it pays
    if cfg.bf16 and not native_bf16(torch.device("cpu")):
        print(f"bf16 off: {BF16_ADVICE}; training in fp32", flush=True)
        step_cfg = replace(cfg, bf16=False)
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    def optimizer_for(m: VideoVAE) -> torch.optim.Optimizer:
        return torch.optim.AdamW(m.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=0.0)

    model, ema, optimizer, step = _resume(cfg, optimizer_for)
    disc, disc_optimizer = _discriminator(cfg, run_dir)
    anchor = Anchor(cfg.init_from) if cfg.anchor_weight > 0 and cfg.init_from else None
    model.train()
    if cfg.freeze_encoder:
        if not cfg.init_from and step == 0:
            raise ValueError("--freeze-encoder fine-tunes a trained decoder: pass --init-from WEIGHTS")
        model.encoder.requires_grad_(False)
    params = sum(p.numel() for p in model.parameters())
    print(f"VAE {model.config.to_dict()} params {params / 1e6:.2f} M, from step {step} to {cfg.steps}", flush=True)
    last_save, last_path = time.time(), None
    log = (run_dir / "log.jsonl").open("a")
    stop, previous = _stop_on_signals()
    while step < cfg.steps and not stop:
        started = time.time()
        video = training_batch(step, cfg.seed, cfg.batch, cfg.frames, cfg.aspect_mix, cfg.crop, cfg.focus)
        parts = train_step(model, optimizer, video, step_cfg, step, disc, disc_optimizer, anchor)
        with torch.no_grad():
            decay = min(cfg.ema_decay, (1 + step) / (10 + step))
            for name, value in model.state_dict().items():
                ema[name].mul_(decay).add_(value.detach(), alpha=1 - decay)
        step += 1
        if step % cfg.log_every == 0 or step == 1:
            record = {"step": step, "sec": round(time.time() - started, 3), **{k: round(v, 5) for k, v in parts.items()}}
            log.write(json.dumps(record) + "\n")
            log.flush()
            print(json.dumps(record), flush=True)
        if time.time() - last_save > cfg.checkpoint_minutes * 60 or step == cfg.steps or stop:
            last_path = _checkpoint(run_dir, step, model, ema, optimizer, cfg, log, disc, disc_optimizer)
            last_save = time.time()
    log.close()
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    return last_path or list_checkpoints(run_dir)[-1]


def _stop_on_signals() -> tuple[list[int], dict[int, Any]]:
    """SIGTERM / SIGINT end the run after the current step, with a checkpoint.

    Returns the list of signals received (truthy once hit) and the handlers to restore.
    """
    hits: list[int] = []
    previous: dict[int, Any] = {}

    def handler(signum: int, _frame: Any) -> None:
        hits.append(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not the main thread: the run ends at cfg.steps
            previous[sig] = signal.signal(sig, handler)
    return hits, previous


def _checkpoint(run_dir: Path, step: int, model: VideoVAE, ema: dict[str, torch.Tensor],
                optimizer: torch.optim.Optimizer, cfg: TrainVAEConfig, log: Any,
                disc: FrameDiscriminator | None = None, disc_optimizer: torch.optim.Optimizer | None = None) -> Path:
    scores = evaluate(_ema_model(model, ema), cfg.eval_clips) if cfg.eval_clips else {}
    path = save_checkpoint(run_dir, step, model, ema, optimizer, {"train_config": asdict(cfg), "eval": scores},
                           discriminator=disc, disc_optimizer=disc_optimizer)
    record = {"step": step, "checkpoint": str(path), **{f"eval_{k}": round(v, 4) for k, v in scores.items()}}
    log.write(json.dumps(record) + "\n")
    log.flush()
    print(json.dumps(record), flush=True)
    return path


def config_from_args(values: dict[str, Any]) -> TrainVAEConfig:
    """A TrainVAEConfig from a dict of overrides (None values are not overrides).

    When the run folder already holds a checkpoint, its saved training config is the base, so
    `minisora train-vae --run-dir DIR` alone continues a run with the settings it started with.
    """
    known = {f.name for f in fields(TrainVAEConfig)}
    overrides = {k: v for k, v in values.items() if k in known and v is not None}
    checkpoints = list_checkpoints(overrides.get("run_dir", TrainVAEConfig.run_dir))
    base: dict[str, Any] = {}
    if checkpoints:
        saved = json.loads((checkpoints[-1] / "state.json").read_text()).get("train_config", {})
        base = {k: v for k, v in saved.items() if k in known}
    return TrainVAEConfig(**{**base, **overrides})
