"""Training the sound model on world clips: `minisora train-sound`.

    1. cache    render n clips once: log-mels, caption tokens, video latents (cache.py)
    2. train    rectified flow on the mel given video and text, with dropped conditions for
                guidance; batches of one aspect ratio at a time; an EMA of the weights
    3. save     run/step_XXXXXXX/ (config.json, model.safetensors, ema.safetensors, optimizer.pt,
                state.json) atomically every `checkpoint_every` steps; an existing run resumes

A step's randomness comes from a generator seeded by (seed, step), so a resumed run draws what
the uninterrupted run would have drawn.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from minisora.flow import flow_loss, sample_timesteps
from minisora.sound.config import SOUND_PRESETS, SoundConfig
from minisora.sound.model import SoundDiT
from minisora.world.spec import MATERIALS

PREFIX = "step_"
FRAME_MARGIN = 6  # video frames kept either side of a training crop for the frame-rate path
# modules a run may add to --init-from weights (the frame path's start silent; the heads are not used in sampling)
ADDABLE = ("frame_encoder.", "seen_mlp.", "contact_head.", "material_head.", "contact_mlp.")


@dataclass
class SoundTrainConfig:
    run_dir: str = "runs/sound-s"
    cache: str = "runs/sound/cache"
    clips: int = 1000
    world_seed: int = 0
    vae: str | None = None  # autoencoder folder (default: the packaged one)
    preset: str = "sound-s"
    steps: int = 3000
    batch: int = 8
    crop: int = 9  # latent frames per training window (about 2 s at 16 fps); 0: whole clips
    lr: float = 5e-4
    warmup: int = 100
    weight_decay: float = 0.01
    ema: float = 0.998
    drop_all: float = 0.1  # share of examples with neither video nor text (guidance's unconditional)
    drop_text: float = 0.1  # share with video but no text
    checkpoint_every: int = 250
    log_every: int = 25
    seed: int = 0
    init_from: str | None = None  # weights folder a new run starts from (e.g. after a new VAE)
    # auxiliary losses, with the model's aux_heads (train-sound --contact-loss, --material-loss):
    # which audio tokens begin a contact (binary cross-entropy against its loudness, from the
    # video-aligned features alone) and which materials ring in them (from the last block,
    # weighed by the noise level t)
    contact_loss: float = 0.0
    material_loss: float = 0.0
    partner_dropout: float = 0.0  # share of tracked contacts told with their partner unknown (augmentation)
    # share of examples told none of the tracker's (strong) contacts, their sound kept: trains the
    # contact guidance's second branch (synthesis.sample_mel), which otherwise is never seen in training
    contact_dropout: float = 0.0
    # the world model's videos voiced at the contacts seen in them (sound.generated): an index.jsonl
    # of {"video", "caption"}, its cache made beside it in <index folder>/sound-cache; with the
    # tracked contact path only
    generated: str | None = None
    model: dict[str, Any] = field(default_factory=dict)  # SoundConfig overrides of the preset

    def __post_init__(self) -> None:
        for name in ("partner_dropout", "contact_dropout"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} {getattr(self, name)} (--{name.replace('_', '-')}): a share, give 0 to 1")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SoundTrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known and v is not None})


def model_config(config: SoundTrainConfig, fingerprint: str) -> SoundConfig:
    base = asdict(SOUND_PRESETS[config.preset])
    return SoundConfig(**{**base, **config.model, "vae_fingerprint": fingerprint})


def batches_by_shape(items: list[dict[str, Any]]) -> list[list[int]]:
    """Indices grouped by (latent shape, mel frames): a batch holds one aspect ratio."""
    groups: dict[tuple, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault((tuple(item["latents"].shape), item["mel"].shape[-1], item["fps"]), []).append(i)
    return list(groups.values())


def pad_frames(mel: torch.Tensor, multiple: int, value: float) -> torch.Tensor:
    """(..., F) -> (..., F') with F' the next multiple, padded with `value` (silence)."""
    extra = -mel.shape[-1] % multiple
    return torch.nn.functional.pad(mel, (0, extra), value=value) if extra else mel


def crop_window(latent_frames: int, first: int, count: int, fps: float, cfg: SoundConfig
                ) -> tuple[int, int]:
    """Mel frames (start, count) heard during latent frames first .. first + count - 1.

    Latent frame 0 is video frame 0 alone; latent frame j >= 1 holds frames 4j - 3 .. 4j."""
    start_s = 0.0 if first == 0 else (cfg.time_factor * first - cfg.time_factor + 1) / fps
    end_s = (cfg.time_factor * (first + count - 1) + 1) / fps
    per_s = 1.0 / cfg.mel.seconds_per_frame()
    start = math.ceil(start_s * per_s - 1e-9)
    frames = math.ceil(end_s * per_s - 1e-9) - start
    return start, frames - frames % cfg.mel_patch


def collate(items: list[dict[str, Any]], cfg: SoundConfig, crop: int = 0,
            generator: torch.Generator | None = None, partner_dropout: float = 0.0,
            contact_dropout: float = 0.0) -> dict[str, Any]:
    """A batch of one shape; with `crop`, one random window of `crop` latent frames for all;
    `partner_dropout`: the share of tracked contacts told without their partner; `contact_dropout`:
    the share of clips told none of their strong contacts (the faint jumps kept)."""
    from minisora.sound.mel import silence_level
    from minisora.sound.tracked import drop_partners, pad_contacts, without_strong
    from minisora.text.cache import pad_tokens

    mel = torch.stack([pad_frames(it["mel"].float(), cfg.mel_patch, silence_level(cfg.mel)) for it in items])
    latents = torch.stack([it["latents"].float() for it in items])
    grids = torch.stack([it["frames"].float() for it in items])  # (B, T, G, G) or (B, T, 3, G, G): whole clips
    fps, offset, first, first_frame = float(items[0]["fps"]), 0.0, 0, 0
    if 0 < crop < latents.shape[2]:
        first = int(torch.randint(latents.shape[2] - crop + 1, (1,), generator=generator))
        start, frames = crop_window(latents.shape[2], first, crop, fps, cfg)
        latents, mel = latents[:, :, first: first + crop], mel[..., start: start + frames]
        offset = start * cfg.mel.seconds_per_frame()
        # the crop's video frames and the frames the frame-rate path reads around them (its
        # convolutions see 3 frames either side, a token frames f - 1 .. f + 2): the features are
        # those of the whole clip, for less compute
        shown = (0 if first == 0 else cfg.time_factor * first - cfg.time_factor + 1,
                 cfg.time_factor * (first + crop - 1) + 1)
        first_frame = max(0, shown[0] - FRAME_MARGIN)
        grids = grids[:, first_frame: shown[1] + FRAME_MARGIN]
    text, mask = pad_tokens([it["text"].float() for it in items])
    start = round(offset / cfg.mel.seconds_per_frame())
    none = torch.zeros(0, 2 + len(MATERIALS), dtype=torch.float64)  # a clip without its contacts: no targets
    contact, materials = zip(*(contact_targets(it.get("contacts", none), start, mel.shape[-1], cfg) for it in items))
    tracked = None
    if cfg.tracked_contacts:  # the whole clip's, on its clock (the audio tokens' times are too)
        tracked = pad_contacts([it["tracked"] for it in items])  # features (cache.load_cache)
        tracked = drop_partners(tracked, partner_dropout, generator)
        if contact_dropout > 0:
            tracked = without_strong(tracked, torch.rand(len(items), generator=generator) < contact_dropout)
    return {"mel": mel, "latents": latents, "frames": grids, "text": text, "mask": mask, "fps": fps,
            "audio_offset": offset, "first_latent": first, "frames_start": first_frame / fps,
            "contact": torch.stack(contact), "materials": torch.stack(materials), "tracked": tracked}


def contact_targets(contacts: torch.Tensor, start: int, frames: int, cfg: SoundConfig
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The aux heads' targets for mel frames start .. start + frames of a clip (cache.clip_contacts):
    (N,) the loudest contact beginning in each audio token (0: none) and (N, materials) which
    materials ring there. A contact begins in the mel frame nearest its time."""
    n = frames // cfg.mel_patch
    contact = torch.zeros(n)
    materials = torch.zeros(n, contacts.shape[1] - 2)
    for row in contacts:
        k = round(float(row[0]) / cfg.mel.seconds_per_frame()) - start
        if 0 <= k < n * cfg.mel_patch:
            i = k // cfg.mel_patch
            contact[i] = max(contact[i], float(row[1]))
            materials[i] = torch.maximum(materials[i], row[2:].float())
    return contact, materials


def draw_batch(groups: list[list[int]], batch: int, generator: torch.Generator) -> list[int]:
    sizes = torch.tensor([len(g) for g in groups], dtype=torch.float64)
    group = groups[int(torch.multinomial(sizes, 1, generator=generator))]
    picks = torch.randint(len(group), (batch,), generator=generator)
    return [group[int(i)] for i in picks]


CONTACT_POS_WEIGHT = 10.0  # about one audio token in thirty begins a contact


def training_loss(model: SoundDiT, batch: dict[str, torch.Tensor], config: SoundTrainConfig,
                  generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
    """Rectified-flow loss on the mel (viewed as a one-frame latent, flow/'s convention), plus
    the auxiliary losses when asked; returns the total and its parts."""
    b = batch["mel"].shape[0]
    video = model.encode_video(batch["latents"], batch["fps"], batch["first_latent"], frames=batch["frames"],
                               frames_start=batch["frames_start"], contacts=batch.get("tracked"))
    roll = torch.rand(b, generator=generator)
    keep_video = roll >= config.drop_all
    keep_text = roll >= config.drop_all + config.drop_text
    text_mask = batch["mask"] & keep_text[:, None]
    x0 = batch["mel"][:, :, None, None, :]  # (B, n_mels, 1, 1, F)
    noise = torch.randn(x0.shape, generator=generator)
    t = sample_timesteps(b, 1, shift=model.config.time_shift, generator=generator)  # (B, 1)
    conditioning = model.condition(x0.shape[-1], video, keep_video, batch["text"], text_mask, batch["audio_offset"])
    hidden = []

    def denoiser(x: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:
        v, tokens = model(x[:, :, 0, 0], tt[:, 0], conditioning=conditioning, return_hidden=True)
        hidden.append(tokens)
        return v[:, :, None, None, :]

    loss = flow_loss(denoiser, x0, noise, t)
    parts = {"flow": loss.item()}
    if (config.contact_loss or config.material_loss) and not model.config.aux_heads:
        raise ValueError("contact_loss / material_loss need a model with aux_heads (train-sound --contact-loss)")
    if config.contact_loss:
        logits = model.contact_head(conditioning.aligned)[..., 0]  # (B, N)
        contact = F.binary_cross_entropy_with_logits(
            logits, batch["contact"], pos_weight=torch.tensor(CONTACT_POS_WEIGHT))
        loss = loss + config.contact_loss * contact
        parts["contact"] = contact.item()
    if config.material_loss:
        ring = (batch["contact"] > 0).float()[..., None]  # (B, N, 1) tokens where something rings
        material = F.binary_cross_entropy_with_logits(
            model.material_head(hidden[-1]), batch["materials"], reduction="none")  # (B, N, M)
        weight = ring * t[:, :, None]  # high noise: the mel does not show the material yet
        material = (material * weight).sum() / (weight.sum() * material.shape[-1]).clamp_min(1.0)
        loss = loss + config.material_loss * material
        parts["material"] = material.item()
    return loss, parts


def lr_at(step: int, config: SoundTrainConfig) -> float:
    """Linear warmup, then cosine to a tenth."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def list_checkpoints(run: Path) -> list[Path]:
    return sorted(p for p in run.iterdir() if p.is_dir() and p.name.startswith(PREFIX)) if run.is_dir() else []


def save_checkpoint(run: Path, step: int, model: SoundDiT, ema: dict[str, torch.Tensor],
                    optimizer: torch.optim.Optimizer, state: dict[str, Any], keep: int = 2) -> Path:
    from minisora.media.atomic import atomic_folder

    final = run / f"{PREFIX}{step:07d}"
    with atomic_folder(final) as tmp:
        model.config.save(tmp / "config.json")
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(tmp / "model.safetensors"))
        save_file({k: v.contiguous() for k, v in ema.items()}, str(tmp / "ema.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        (tmp / "state.json").write_text(json.dumps({**state, "step": step}, indent=1) + "\n")
    for old in list_checkpoints(run)[:-keep]:
        shutil.rmtree(old)
    return final


def export_weights(checkpoint: str | Path, out: str | Path) -> Path:
    """A checkpoint's EMA as shipped weights: config.json + model.safetensors (bf16)."""
    from minisora.media.atomic import atomic_folder

    checkpoint, out = Path(checkpoint), Path(out)
    ema = load_file(str(checkpoint / "ema.safetensors"))
    with atomic_folder(out) as tmp:
        shutil.copy(checkpoint / "config.json", tmp / "config.json")
        save_file({k: v.to(torch.bfloat16).contiguous() for k, v in ema.items()}, str(tmp / "model.safetensors"))
        for extra in ("README.md",):
            if (out / extra).exists():
                shutil.copy(out / extra, tmp / extra)
    for path in out.iterdir():
        path.chmod(0o644)
    return out


def start_or_resume(config: SoundTrainConfig, fingerprint: str
                    ) -> tuple[SoundDiT, dict[str, torch.Tensor], torch.optim.Optimizer, int, list]:
    """The model, EMA, optimizer, first step and log: from the newest checkpoint, else fresh."""
    run = Path(config.run_dir)
    checkpoints = list_checkpoints(run)
    if checkpoints:
        last = checkpoints[-1]
        model = SoundDiT(SoundConfig.load(last / "config.json"))
        model.load_state_dict(load_file(str(last / "model.safetensors")), strict=True)
        ema = load_file(str(last / "ema.safetensors"))
        optimizer = make_optimizer(model, config)
        optimizer.load_state_dict(torch.load(last / "optimizer.pt"))
        state = json.loads((last / "state.json").read_text())
        if model.config.vae_fingerprint != fingerprint:
            raise ValueError(f"{run} was trained on latents of another autoencoder; start a new run "
                             f"with --init-from {last} to adapt it")
        return model, ema, optimizer, state["step"], state.get("log", [])
    model = SoundDiT(model_config(config, fingerprint))
    if config.init_from:  # shipped weights, a checkpoint (its EMA) or a run folder (its newest EMA)
        from minisora.sound.weights import find_sound_weights

        folder, name = find_sound_weights(Path(config.init_from))
        weights, own = load_file(str(folder / name)), model.state_dict()
        differ = sorted({k for k, v in weights.items() if k not in own or own[k].shape != v.shape}
                        | {k for k in own if k not in weights and not k.startswith(ADDABLE)})
        if differ:
            raise ValueError(f"{folder}: weights of another architecture ({len(differ)} tensors differ, e.g. "
                             f"{differ[:3]}); only the frame convolutions (--frame-conv) can be added to them")
        model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=False)
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return model, ema, make_optimizer(model, config), 0, []


def generated_items(config: SoundTrainConfig, wanted: SoundConfig, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """The clips of config.generated (its cache made on first use), as load_cache gives them."""
    from minisora.sound.cache import load_cache
    from minisora.sound.generated import build_generated_cache

    if not wanted.tracked_contacts:
        raise ValueError("--generated clips are voiced at the contacts the tracker sees: they need the contact "
                         "path (--tracked-contacts, or --init-from weights that have it)")
    root = Path(config.generated).parent / "sound-cache"
    latents_dir, frames_dir, count = build_generated_cache(config.generated, root, config.vae, wanted.mel,
                                                           wanted.input_grid, wanted.frame_colors, log)
    items = load_cache(root, latents_dir, frames_dir, count, tracked=True)
    log(f"generated clips: {len(items)} beside {config.clips} renders")
    return items


def make_optimizer(model: SoundDiT, config: SoundTrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                             betas=(0.9, 0.99))


def train_sound(config: SoundTrainConfig, log: Callable[[str], None] = print) -> Path:
    """Train (or resume) into config.run_dir; returns the last checkpoint folder."""
    from minisora.sound.cache import build_cache, load_cache, vae_fingerprint

    fingerprint = vae_fingerprint(config.vae)
    wanted = model_config(config, fingerprint)
    latents_dir, frames_dir = build_cache(config.cache, config.clips, config.world_seed, config.vae, wanted.mel,
                                          log=log, grid=wanted.input_grid, colors=wanted.frame_colors,
                                          tracked=wanted.tracked_contacts)
    items = load_cache(config.cache, latents_dir, frames_dir, config.clips, tracked=wanted.tracked_contacts)
    if config.generated:
        items += generated_items(config, wanted, log)
    groups = batches_by_shape(items)
    model, ema, optimizer, step, history = start_or_resume(config, fingerprint)
    run = Path(config.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    (run / "train_config.json").write_text(json.dumps(asdict(config), indent=1) + "\n")
    model.train()
    started, losses, parts = time.time(), [], {}
    last = list_checkpoints(run)[-1] if list_checkpoints(run) else None
    while step < config.steps:
        generator = torch.Generator().manual_seed(int(np.random.SeedSequence([config.seed, step]).generate_state(1)[0]))
        batch = collate([items[i] for i in draw_batch(groups, config.batch, generator)], model.config,
                        config.crop, generator, config.partner_dropout, config.contact_dropout)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        loss, loss_parts = training_loss(model, batch, config, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        decay = min(config.ema, (1 + step) / (10 + step))  # warm-up: early weights fade fast
        with torch.no_grad():
            for name, value in model.state_dict().items():
                ema[name].mul_(decay).add_(value.detach(), alpha=1 - decay)
        step += 1
        losses.append(loss.item())
        for name, value in loss_parts.items():
            parts.setdefault(name, []).append(value)
        if step % config.log_every == 0 or step == config.steps:
            entry = {"step": step, "loss": float(np.mean(losses)), "s": round(time.time() - started, 1)}
            if len(parts) > 1:  # the auxiliary losses beside the flow's
                entry |= {name: round(float(np.mean(v)), 5) for name, v in parts.items()}
            history.append(entry)
            log(json.dumps(entry))
            losses, parts = [], {}
        if step % config.checkpoint_every == 0 or step == config.steps:
            last = save_checkpoint(run, step, model, ema, optimizer, {"log": history, "train": asdict(config)})
    return last
