"""Video in, soundtrack out: the sound model behind minisora.pipeline's SoundModel hook.

    1. frames    resampled to the model's frame rate (the clock the autoencoder was trained on)
    2. windows   4 s windows, 1 s overlap; each window is encoded as a fresh clip (as generate()
                 makes long videos) and gets its own mel by rectified flow with guidance
    3. seams     a window's overlap with the previous one is known: at every step it is replaced
                 by the known mel noised to the current time (RePaint's replacement), so the new
                 window continues the old one instead of being cross-faded into it
    4. vocoder   one Griffin-Lim pass over the whole mel, so phases run on across windows

Same seed, same soundtrack: window k draws its noise from a generator seeded by (seed, k).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from minisora.flow import cfg_velocity, euler_step, sampling_times
from minisora.pipeline.sound import Soundtrack, VideoForSound
from minisora.precision import native_bf16
from minisora.sound.cache import video_tensor
from minisora.sound.griffinlim import griffin_lim
from minisora.sound.mel import silence_level
from minisora.sound.model import SoundDiT, VideoCondition, frame_grid
from minisora.sound.tracked import (
    STRONG,
    contact_features,
    pad_contacts,
    track_contacts,
    without_strong,
)


@dataclass(frozen=True)
class SoundSettings:
    # 300 held-out clips (bench/sound_quality.py --clips 300 --seed 5), the weights of stop 26:
    # 12 steps, guidance 4 and 8 vocoder iterations gave onset F1 0.913 and material 0.863; these
    # 0.910 and 0.905 in 0.10 s less a clip (sound/README.md, "Sampling settings")
    steps: int = 8
    cfg: float = 2.0  # guidance over (video, text) against neither; 1 runs the conditional model alone
    model_fps: int = 16
    window_frames: int = 65  # 4k + 1 video frames per window (about 4 s)
    stride_frames: int = 48  # 3 s: windows overlap by a second
    vocoder_iters: int = 4  # Griffin-Lim iterations after the phase-locked start
    bf16_encode: bool = True  # the frames' autoencoder encode in bf16 where the CPU has native bf16
    # onset gate: a sound may start only within (before, after) seconds of a contact the tracker
    # sees (faint ones too); elsewhere each mel band may only hold or decay. None: no gate.
    # 300 held-out clips, two sets: onset F1 0.899 / 0.904 -> 0.956 / 0.956, against the
    # simulation's contacts 0.761 -> 0.796 (sound/README.md, "The onset gate")
    gate: tuple[float, float] | None = (0.02, 0.04)
    # guidance toward the tracked contacts (sample_mel's contact_scale; 0: none), at noise levels
    # t >= contact_from only (5 of the 8 steps). With the shipped model (trained with
    # --contact-dropout, stop 36): over 342 generated videos' av_sync claims 273 passed, mean onset
    # F1 0.813 (the model before at guidance 2: 265, 0.791; at 4 it voiced silence-worthy renders);
    # 300 renders, two sets: onset F1 0.970 / 0.977, material 0.919 / 0.913, no false onsets with
    # the caption; 140 held-out videos of the shipped world model: pooled onset F1 0.909 (the gate
    # alone: 0.860) (sound/README.md)
    contact_cfg: float = 3.0
    contact_from: float = 0.7


class WorldSound:
    """A SoundModel: call it with a VideoForSound, get a Soundtrack as long as the video."""

    def __init__(self, model: SoundDiT, vae, text=None, settings: SoundSettings | None = None) -> None:
        self.model, self.vae, self.text = model.eval(), vae.eval(), text
        self.settings = settings or SoundSettings()
        device = next(self.vae.parameters()).device
        self.bf16 = self.settings.bf16_encode and native_bf16(device)  # else many times slower, not faster

    def __call__(self, video: VideoForSound) -> Soundtrack:
        from minisora.pipeline.inputs import resample

        cfg, s = self.model.config, self.settings
        rate = cfg.mel.sample_rate
        samples = round(video.frames.shape[0] / video.fps * rate)
        frames = resample(video.frames, video.fps, s.model_fps, continuation=False,
                          duration=video.frames.shape[0] / video.fps - 1 / video.fps)
        text, mask = self.encode_caption(video.caption)
        total = cfg.mel.frames(samples)
        mel = torch.full((1, cfg.mel.n_mels, total), silence_level(cfg.mel))
        known = 0  # mel frames already made
        seen: set[float] = set()  # times (s) of the contacts the tracker saw, over all windows
        with torch.inference_mode():
            for index, start in enumerate(window_starts(frames.shape[0], s)):
                clip = pad_to_window(frames[start: start + s.window_frames])
                first = round(start / s.model_fps / cfg.mel.seconds_per_frame())
                made, times = self.window_mel(clip, text, mask, mel[..., first: known], video.seed, index,
                                              video.caption)
                seen.update(round(start / s.model_fps + t, 4) for t in times)
                stop = min(total, first + made.shape[-1])
                mel[..., first:stop] = made[..., : stop - first]
                known = stop
            if s.gate is not None:
                mel = gate_onsets(mel, sorted(seen), cfg.mel.seconds_per_frame(), *s.gate,
                                  silence=silence_level(cfg.mel))
            generator = torch.Generator().manual_seed(int(video.seed))
            audio = griffin_lim(mel, samples, cfg.mel, iters=s.vocoder_iters, generator=generator)[0]
        return Soundtrack(audio.numpy().astype(np.float32), rate)

    def encode_caption(self, caption: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Caption tokens; no caption is the empty text (the model hears the video alone)."""
        if not caption:
            return torch.zeros(1, 1, self.model.config.text_dim), torch.zeros(1, 1, dtype=torch.bool)
        if self.text is None:  # loaded on first use: a video without a caption never needs it
            from minisora.text.encoder import TextEncoder

            self.text = TextEncoder()
        return self.text.encode([caption])

    def window_mel(self, frames: np.ndarray, text: torch.Tensor, mask: torch.Tensor, known: torch.Tensor,
                   seed: int, index: int, caption: str = "") -> tuple[torch.Tensor, list[float]]:
        """(1, n_mels, F) mel for one window of frames (4k + 1), its first known.shape[-1] frames
        given; `caption` names the materials of the tracked contacts' objects (contact path).
        Also the times (s, from the window's start) of the contacts the tracker sees in it, if the
        model reads them or the gate needs them."""
        cfg, s = self.model.config, self.settings
        pixels = video_tensor(frames)
        with torch.autocast(pixels.device.type, torch.bfloat16, enabled=self.bf16):
            latents = self.vae.encode(pixels).float()  # (1, C, T', H', W')
        contacts, times = None, []
        if cfg.tracked_contacts or s.gate is not None:  # what the world tracker sees, on its clock
            rows = track_contacts(frames, s.model_fps)
            times = rows[:, 0].tolist()
            if cfg.tracked_contacts:
                contacts = pad_contacts([contact_features(rows, caption)])
        video = self.model.encode_video(latents, s.model_fps, frames=frame_grid(pixels, cfg.input_grid, cfg.frame_colors),
                                        contacts=contacts)
        seconds = frames.shape[0] / s.model_fps
        length = math.ceil(seconds / cfg.mel.seconds_per_frame() / cfg.mel_patch) * cfg.mel_patch
        seed_k = int(np.random.SeedSequence([int(seed), index]).generate_state(1)[0])
        noise = torch.randn((1, cfg.mel.n_mels, length), generator=torch.Generator().manual_seed(seed_k))
        return sample_mel(self.model, noise, video, text, mask, known, s.steps, s.cfg, s.contact_cfg,
                          s.contact_from), times


def parse_gate(text: str) -> tuple[float, float] | None:
    """'BEFORE,AFTER' in ms -> SoundSettings.gate in seconds; 'none' -> None; 'default' -> the default's."""
    if text in ("none", "default"):
        return None if text == "none" else SoundSettings.gate
    try:
        before, after = (float(v) / 1000 for v in text.split(","))
    except ValueError:
        raise ValueError(f"gate {text!r}: give BEFORE,AFTER in ms (like 20,40), 'none' or 'default'") from None
    if before < 0 or after < 0:
        raise ValueError(f"gate {text!r}: both sides must be >= 0 ms")
    return before, after


def gate_onsets(mel: torch.Tensor, contacts: list[float], seconds_per_frame: float, before: float,
                after: float, silence: float = -1.0) -> torch.Tensor:
    """mel (..., n_mels, F) where no band rises outside [c - before, c + after] of a contact time c:
    there each frame is held at or below the frame before it (the first at or below `silence`), so
    what rang on decays as it was made and nothing new starts. A frame is centred on its time (the
    STFT is centred)."""
    t = torch.arange(mel.shape[-1]) * seconds_per_frame
    open_ = torch.zeros(mel.shape[-1], dtype=torch.bool)
    for c in contacts:
        open_ |= (t >= c - before) & (t <= c + after)
    out = mel.clone()
    previous = torch.full_like(out[..., 0], silence)
    for f in range(mel.shape[-1]):
        if not open_[f]:
            out[..., f] = torch.minimum(out[..., f], previous)
        previous = out[..., f]
    return out


def window_starts(frames: int, settings: SoundSettings) -> list[int]:
    """First frame of each window: every stride, until a window reaches the last frame."""
    starts = [0]
    while starts[-1] + settings.window_frames < frames:
        starts.append(starts[-1] + settings.stride_frames)
    return starts


def pad_to_window(frames: np.ndarray) -> np.ndarray:
    """Repeat the last frame up to 4k + 1 frames (a still frame makes no sound)."""
    target = max(5, 4 * math.ceil((frames.shape[0] - 1) / 4) + 1)
    return np.concatenate([frames, np.repeat(frames[-1:], target - frames.shape[0], axis=0)])


def sample_mel(model: SoundDiT, noise: torch.Tensor, video: VideoCondition, text: torch.Tensor,
               mask: torch.Tensor, known: torch.Tensor, steps: int, scale: float,
               contact_scale: float = 0.0, contact_from: float = 0.0) -> torch.Tensor:
    """Euler from noise (1, n_mels, F) to a mel; the first known.shape[-1] frames follow `known`.
    `contact_scale` > 0 adds guidance toward the tracked contacts: the conditional velocity minus
    that of the same video and text told none of the tracker's (strong) contacts, its faint
    velocity jumps kept, times contact_scale, at noise levels t >= contact_from (when a hit
    sounds is decided early, its timbre late). A window without such contacts skips it."""
    k = known.shape[-1]
    guided = scale != 1.0  # guidance 1 is the conditional model alone: one half of the batch
    keep = torch.tensor([True, False] if guided else [True])
    if guided:
        text, mask, video = torch.cat([text, text]), torch.cat([mask, torch.zeros_like(mask)]), video.doubled()
    strong = None if video.contacts is None else video.contacts[:1, :, STRONG] > 0.5
    toward_contacts = contact_scale != 0.0 and strong is not None and bool(strong.any())
    if toward_contacts:  # a last row: the conditional one without its strong contacts
        first = video._replace(tokens=video.tokens[:1], pooled=video.pooled[:1], frames=video.frames[:1],
                               seen=None if video.seen is None else video.seen[:1])
        video = video.joined(first._replace(contacts=without_strong(video.contacts[:1])))
        text, mask, keep = torch.cat([text, text[:1]]), torch.cat([mask, mask[:1]]), torch.cat([keep, keep[:1]])
    times = sampling_times(steps, model.config.time_shift)
    x = noise.clone()
    conditioning = model.condition(x.shape[-1], video, keep, text, mask)  # the same at every step
    for i in range(steps):
        t = float(times[i])
        if k:
            x[..., :k] = (1 - t) * known + t * noise[..., :k]
        v = model(torch.cat([x] * len(keep)), torch.full((len(keep),), t), conditioning=conditioning)
        if toward_contacts:
            v, bare_v = v[:-1], v[-1:]
            v_c = v[:1]
        v = cfg_velocity(*v.chunk(2), scale) if guided else v
        if toward_contacts and t >= contact_from:
            v = v + contact_scale * (v_c - bare_v)
        x = euler_step(x, v, t - float(times[i + 1]))
    if k:
        x[..., :k] = known
    return x


def load_world_sound(folder: str | Path | None = None, vae=None, text=None,
                     settings: SoundSettings | None = None) -> WorldSound:
    """The shipped (or a given) sound model with the autoencoder it was trained on; the text
    encoder (MiniLM) is `text` if given, else loaded when the first caption comes."""
    from minisora.sound.weights import load_sound_model

    model = load_sound_model(folder)
    if vae is None:
        from minisora.autoencoder.checkpoint import load_vae

        vae = load_vae()
    return WorldSound(model, vae, text, settings)
