"""The world model's training loop: `minisora train`.

    1. join the process group (torchrun) or run alone
    2. load the latent shards and their text cache; size the DiT from them
    3. build model, AdamW and EMA; resume from the newest checkpoint in the run folder
    4. each step: the step's batch (a pure function of seed, step, rank) -> rectified-flow loss
       with conditioning masks and per-frame noise -> backward -> clip -> AdamW -> EMA
    5. every `checkpoint_every` steps: an atomic checkpoint folder, the loss plot

AdamW with linear warm-up then a constant rate (DiT, SD3), gradient clipping at 1.0, EMA with
a warmed-up decay, optional bf16 autocast. Nothing random is drawn outside the per-step
generator, so a run killed at any moment and resumed reproduces the same losses.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

from minisora.dit.config import DiTConfig, dit_config
from minisora.dit.grow import can_grow, finer_rope_scale, grown_state
from minisora.dit.model import DiT
from minisora.flow.loss import WeightFn, flow_loss
from minisora.precision import require_native_bf16
from minisora.train import distributed as D
from minisora.train.buckets import Batch, BucketSampler
from minisora.train.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from minisora.train.config import TrainConfig
from minisora.train.ema import EMA
from minisora.train.runlog import RunLog, write_loss_plot
from minisora.train.shards import load_latents


def learning_rate(step: int, config: TrainConfig) -> float:
    """Linear warm-up over `warmup` steps, then constant; then, over the last `cooldown` steps
    before `steps`, linearly down to zero (the warm-up-stable-decay schedule: a decay at the end
    buys what a cosine schedule does, while the stable phase can be resumed for longer)."""
    rate = config.lr if config.warmup == 0 else config.lr * min(1.0, (step + 1) / config.warmup)
    if config.cooldown and step >= config.steps - config.cooldown:
        rate *= max(0.0, (config.steps - step) / config.cooldown)
    return rate


def train_step(module: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: Batch, lr: float,
               config: TrainConfig, device: torch.device, weight_fn: WeightFn | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimiser step; returns (loss, gradient norm before clipping). `weight_fn` (x_t, t, v)
    gives the loss weight from the model's own prediction, when the batch carries none."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
    x0, noise, t, cond = (v.to(device) for v in (batch.latents, batch.noise, batch.t, batch.cond_mask))
    text, text_mask, count = batch.text.to(device), batch.text_mask.to(device), batch.count.to(device)
    weight = weight_fn if batch.weight is None else batch.weight.to(device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if config.bf16 else nullcontext()
    with autocast:
        loss = flow_loss(lambda x, tt: module(x, tt, text, text_mask, count=count), x0, noise, t, cond,
                         weight)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(module.parameters(), config.grad_clip)
    optimizer.step()
    return loss.detach(), grad_norm.detach()


def model_config(config: TrainConfig, manifest: dict[str, Any]) -> DiTConfig:
    """The preset, fitted to the latents and text encoder; `config.depth` replaces its depth but
    keeps its width (so that a run from --init-from can grow the model it starts from). The patch
    is `config.patch`, else --init-from's, else the preset's; with --init-from the rotary scale
    follows it (dit.grow: a finer patch keeps the positions' spacing)."""
    overrides: dict[str, Any] = {"latent_channels": manifest["latent_channels"], "text_dim": manifest["text_dim"]}
    if config.depth:
        overrides.update(depth=config.depth, width=dit_config(config.preset).width)
    if config.count_classes:
        overrides["count_classes"] = config.count_classes
    if config.patch != (0, 0, 0):
        overrides["patch"] = config.patch
    start_file = Path(config.init_from) / "config.json"
    if config.init_from and start_file.is_file():  # (a missing one is reported when the weights load)
        start = DiTConfig.load(start_file)
        overrides.setdefault("patch", start.patch)  # (a coarser one is refused by can_grow)
        overrides["rope_scale"] = finer_rope_scale(start, overrides["patch"])
    return dit_config(config.preset, **overrides)


class Trainer:
    def __init__(self, config: TrainConfig, info: D.DistInfo | None = None) -> None:
        self.config = config.validate()
        self.info = info or D.DistInfo()
        if config.bf16:
            require_native_bf16(self.info.device)
        clips, text, self.manifest = load_latents(config.latents)
        self.model_config = model_config(config, self.manifest)
        self.sampler = BucketSampler(clips, text, config, self.model_config.patch)
        self.weight_fn = self._prediction_weight(clips)
        torch.manual_seed(config.seed)  # the same initial weights on every rank
        self.model = DiT(self.model_config).to(self.info.device)
        self.ema = EMA(self.model, config.ema_decay)
        self.sharded = self.info.enabled and config.fsdp
        self.step = self._resume()
        self.module = D.wrap_model(self.model, self.info, config.fsdp)
        if self.sharded:
            self.ema.shard_like(self.model)
        self.optimizer = torch.optim.AdamW(self._param_groups(), lr=config.lr, betas=(0.9, 0.999),
                                           weight_decay=config.weight_decay)
        if self._optimizer_state is not None:
            D.load_optimizer_state(self.module, self.optimizer, self._optimizer_state, self.sharded)

    def _prediction_weight(self, clips: list) -> WeightFn | None:
        """--object-weight-from prediction: the cover probe (fitted once, kept in the run folder)."""
        cfg = self.config
        if cfg.object_weight <= 0 or cfg.object_weight_from != "prediction":
            return None
        from minisora.train.cover import load_or_fit_probe, prediction_weight

        probe, fit = load_or_fit_probe(Path(cfg.out) / "cover_probe.safetensors", clips, cfg.seed,
                                       write=self.info.is_main)
        if fit is not None and self.info.is_main:
            print(f"cover probe fitted: correlation {fit['correlation']:.3f} with the object maps on held-out "
                  f"cells; mean estimate {fit['on_objects']:.2f} on object cells, {fit['elsewhere']:.3f} elsewhere",
                  flush=True)
        return prediction_weight(probe.to(self.info.device), cfg.object_weight, cfg.object_weight_below)

    def _param_groups(self) -> list[dict[str, Any]]:
        """Every weight at the rate, the count embedding (if any) at `count_lr_scale` times it."""
        named = list(self.module.named_parameters())
        counts = [p for n, p in named if "count_embed." in n]
        groups = [{"params": [p for n, p in named if "count_embed." not in n], "lr_scale": 1.0}]
        if counts:
            groups.append({"params": counts, "lr_scale": self.config.count_lr_scale})
        return groups

    def _resume(self) -> int:
        self._optimizer_state = None
        checkpoints = list_checkpoints(self.config.out)
        if not checkpoints:
            if self.config.init_from:
                self._start_from(Path(self.config.init_from))
            return 0
        ckpt = load_checkpoint(checkpoints[-1])
        if ckpt["config"] != self.model_config:
            raise ValueError(f"{checkpoints[-1]} holds a different model ({ckpt['config']}); "
                             "use another --out or the same preset and latents")
        self.model.load_state_dict(ckpt["model"], strict=True)
        self.ema.load_state_dict(ckpt["ema"])
        self._optimizer_state = ckpt["optimizer"]
        return int(ckpt["state"]["step"])

    def _start_from(self, folder: Path) -> None:
        """A new run from exported weights: the weights become the model and its EMA; AdamW
        starts afresh (exported weights carry no optimizer state), after the usual warm-up."""
        from minisora.train.checkpoint import load_dit

        start = load_dit(folder)
        if not can_grow(start.config, self.model_config):  # the same model, or deeper, counted or finer-cut
            raise ValueError(f"--init-from {folder} holds a different model ({start.config}) than the preset "
                             f"and latents make ({self.model_config}); only --depth may be larger, to grow "
                             "it, --count-classes added to a model without one, and --patch finer")
        self.model.load_state_dict(grown_state(start, self.model_config), strict=True)
        self.ema.load_state_dict(self.model.state_dict())

    def save(self) -> Path | None:
        """Every rank takes part (sharded states are gathered); rank 0 writes."""
        model_state = D.full_model_state(self.module if self.sharded else self.model, self.sharded)
        optimizer_state = D.full_optimizer_state(self.module, self.optimizer, self.sharded)
        ema_state = {k: (v.full_tensor() if hasattr(v, "full_tensor") else v) for k, v in self.ema.shadow.items()}
        path = None
        if self.info.is_main:
            state = {"train": self.config.to_dict(), "latents": {k: v for k, v in self.manifest.items()
                                                               if k not in ("shards", "vae_config")},
                     "vae_config": self.manifest.get("vae_config"),
                     "text_encoder": self.manifest.get("text_encoder", {})}
            path = save_checkpoint(self.config.out, self.step, model_state, self.model_config, ema_state,
                                   optimizer_state, state, keep=self.config.keep_checkpoints)
            write_loss_plot(Path(self.config.out) / "log.jsonl", Path(self.config.out) / "loss.svg")
        D.barrier(self.info)
        return path

    def run(self, until: int | None = None) -> list[dict[str, Any]]:
        """Train to step `until` (default: config.steps); returns this call's log records."""
        cfg, until = self.config, until or self.config.steps
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        log = RunLog(cfg.out, self.step, cfg.steps, self.info.is_main, cfg.progress)
        records = []
        try:
            while self.step < until:
                records.append(self._one_step(log))
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                    self.save()
        finally:
            log.close()
        return records

    def _one_step(self, log: RunLog) -> dict[str, Any]:
        started = time.perf_counter()
        batch = self.sampler.batch(self.step, self.info.rank)
        lr = learning_rate(self.step, self.config)
        loss, grad_norm = train_step(self.module, self.optimizer, batch, lr, self.config, self.info.device,
                                     self.weight_fn)
        self.ema.update(self.model, self.step)
        self.step += 1
        loss_value = D.mean_across_ranks(loss, self.info)
        seconds = time.perf_counter() - started
        b = batch.bucket
        tokens = b.batch * b.tokens(self.model_config.patch) * self.info.world_size
        record = {"step": self.step, "loss": loss_value, "lr": lr, "grad_norm": float(grad_norm),
                  "bucket": [b.frames, b.height, b.width, b.batch], "tokens": tokens,
                  "seconds": round(seconds, 4), "tokens_per_s": round(tokens / seconds, 1)}
        if self.step % self.config.log_every == 0 or self.step == self.config.steps:
            log.write(record)
        log.advance(loss_value)
        return record


def train(config: TrainConfig) -> Path:
    """Train (or resume) a world model run; returns the run folder."""
    if config.threads:
        torch.set_num_threads(config.threads)
    info = D.init_distributed()
    try:
        Trainer(config, info).run()
    finally:
        D.shutdown_distributed(info)
    return Path(config.out)
