"""Griffin-Lim (1984) with the momentum of Perraudin et al. (2013, "fast Griffin-Lim"), started
from phase-locked phases (Laroche & Dolson 1999's phase-locked vocoder): log-mel back to a
waveform with no trained weights.

Random initial phases leave the bins of one partial out of step: they beat, and the flutter
reads as onsets that are not there. Phase locking starts every bin in a peak's region with the
peak's own frequency (from quadratic interpolation of the log magnitude), its phase advancing
by 2 pi f hop / sr from frame to frame and alternating by pi across the bins under the
window's main lobe; a few Griffin-Lim iterations then tidy it. Measured on 40 held-out renders
(onset F1 against the true contacts, the benchmark's loudness rule): random phases, 32
iterations 0.921 (precision 0.876); locked phases, 8 iterations 0.963 (0.955); 32 iterations
0.964.

The mel's magnitudes are brought back to linear frequency with the filterbank's pseudo-inverse
(clipped at zero); phases are then estimated by alternating projections. Griffin-Lim runs on a
4x finer hop than the mel (the log-mel interpolated in time): more overlap constrains the phases
more, and the rebuilt partials flutter less (onset F1 0.77 -> 0.91 on 60 held-out renders at 64
bands/128 bands, see README.md). Bins within 4 dB of the silence floor, and whole frames at
it, are gated to exact zero, so a silent stretch is silent, not low noise.
"""

from __future__ import annotations

import numpy as np
import torch

from minisora.sound.mel import MelConfig, mel_filterbank, silence_level

GATE_MARGIN = 0.02  # normalised units above silence under which a whole frame counts as silent
BIN_GATE = 0.1  # a mel bin less than 4 dB above silence is silence (a generated mel's floor is noisy)


def mel_to_magnitude(mel: torch.Tensor, config: MelConfig) -> torch.Tensor:
    """(B, n_mels, F) normalised log-mel -> (B, n_fft/2 + 1, F) linear magnitudes, silence gated."""
    floor = silence_level(config)
    mel = torch.where(mel < floor + BIN_GATE, torch.full_like(mel, floor), mel.float())
    power = 10.0 ** (mel * config.log_scale - config.log_offset)  # mel magnitudes
    inverse = torch.linalg.pinv(mel_filterbank(config)).to(mel.device)  # (bins, n_mels)
    magnitude = torch.einsum("fm,bmt->bft", inverse, (power - config.floor).clamp_min(0.0)).clamp_min(0.0)
    silent = mel.amax(dim=1, keepdim=True) < floor + GATE_MARGIN  # (B, 1, F)
    return magnitude.masked_fill(silent, 0.0)


def upsample_frames(mel: torch.Tensor, factor: int, frames: int) -> torch.Tensor:
    """(B, M, F) -> (B, M, frames): linear interpolation in time, frame j at coarse position j / factor."""
    position = torch.arange(frames, dtype=torch.float32, device=mel.device) / factor
    lower = position.floor().long().clamp(max=mel.shape[-1] - 1)
    upper = (lower + 1).clamp(max=mel.shape[-1] - 1)
    weight = (position - lower).clamp(0, 1)
    return mel[..., lower] * (1 - weight) + mel[..., upper] * weight


def locked_phases(magnitude: torch.Tensor, hop: int, n_fft: int, sample_rate: int) -> torch.Tensor:
    """(B, bins, T) magnitudes -> (B, bins, T) phases that run on coherently, peak by peak."""
    out = np.zeros(magnitude.shape, np.float64)
    bins = np.arange(magnitude.shape[1])
    for b, mag in enumerate(magnitude.numpy()):
        log = np.log(mag + 1e-9)
        previous = np.zeros(mag.shape[0])
        for t in range(mag.shape[1]):
            col = mag[:, t]
            peaks = np.nonzero((col[1:-1] > col[:-2]) & (col[1:-1] >= col[2:]) & (col[1:-1] > 1e-6))[0] + 1
            if peaks.size == 0:
                out[b, :, t] = previous
                continue
            lo, mid, hi = log[peaks - 1, t], log[peaks, t], log[peaks + 1, t]
            curve = lo - 2 * mid + hi
            offset = np.clip(0.5 * (lo - hi) / np.where(np.abs(curve) > 1e-9, curve, -1e-9), -0.5, 0.5)
            owner = np.abs(bins[:, None] - peaks[None, :]).argmin(1)  # each bin's nearest peak
            freq = (peaks + offset)[owner] * sample_rate / n_fft
            centre = peaks[owner]
            out[b, :, t] = previous[centre] + 2 * np.pi * freq * hop / sample_rate + np.pi * (bins - centre)
            previous = out[b, :, t]
    return torch.from_numpy(out).float()


def griffin_lim(mel: torch.Tensor, samples: int, config: MelConfig | None = None, iters: int = 8,
                upsample: int = 4, momentum: float = 0.99, generator: torch.Generator | None = None,
                init: str = "locked") -> torch.Tensor:
    """(B, n_mels, F) normalised log-mel -> (B, samples) waveform in [-1, 1]. init: "locked"
    (phase-locked start) or "random" (classic Griffin-Lim; `generator` draws the phases)."""
    config = config or MelConfig()
    if config.hop % upsample:
        raise ValueError(f"upsample {upsample} must divide the hop {config.hop}")
    hop = config.hop // upsample
    frames = samples // hop + 1  # what a centred STFT of `samples` samples yields
    magnitude = mel_to_magnitude(upsample_frames(mel, upsample, frames), config)  # (B, bins, frames)
    window = torch.hann_window(config.n_fft, device=mel.device)
    if init == "locked":
        phase = locked_phases(magnitude.cpu(), hop, config.n_fft, config.sample_rate).to(mel.device)
    elif init == "random":
        phase = torch.rand(magnitude.shape, generator=generator).to(mel.device) * 2 * torch.pi
    else:
        raise ValueError(f"init {init!r}: choose 'locked' or 'random'")
    angles = torch.polar(torch.ones_like(magnitude), phase)
    previous = torch.zeros_like(angles)
    for _ in range(iters):
        audio = torch.istft(magnitude * angles, config.n_fft, hop, window=window, length=samples)
        rebuilt = torch.stft(audio, config.n_fft, hop, window=window, return_complex=True)
        accelerated = rebuilt - (momentum / (1 + momentum)) * previous
        previous = rebuilt
        angles = accelerated / accelerated.abs().clamp_min(1e-8)
    audio = torch.istft(magnitude * angles, config.n_fft, hop, window=window, length=samples)
    return audio.clamp(-1.0, 1.0)
