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


def upsample_frames(mel: torch.Tensor, factor: int, frames: int, start: int = 0) -> torch.Tensor:
    """(B, M, F) -> (B, M, frames): linear interpolation in time, frame j at coarse position
    j / factor, for the fine frames start .. start + frames - 1."""
    position = torch.arange(start, start + frames, dtype=torch.float32, device=mel.device) / factor
    lower = position.floor().long().clamp(max=mel.shape[-1] - 1)
    upper = (lower + 1).clamp(max=mel.shape[-1] - 1)
    weight = (position - lower).clamp(0, 1)
    return mel[..., lower] * (1 - weight) + mel[..., upper] * weight


def locked_phases(magnitude: torch.Tensor, hop: int, n_fft: int, sample_rate: int,
                  previous: torch.Tensor | None = None) -> torch.Tensor:
    """(B, bins, T) magnitudes -> (B, bins, T) float64 phases that run on coherently, peak by
    peak. `previous` (B, bins): the phases of the frame before the first (zero: a start).

    Every frame's peaks, their interpolated frequencies and each bin's nearest peak are found
    for all frames at once; only the phase advance itself runs frame by frame (a gather)."""
    out = np.zeros((magnitude.shape[0], magnitude.shape[2], magnitude.shape[1]), np.float64)  # (B, T, bins)
    for b, mag in enumerate(magnitude.numpy()):
        centre, advance, spread, voiced = (a.T.copy() for a in _peak_plan(mag, hop, n_fft, sample_rate))
        phase = np.zeros(mag.shape[0]) if previous is None else previous[b].double().numpy()
        for t in range(mag.shape[1]):
            if voiced[t]:  # a frame without peaks keeps the phases it was given
                phase = phase[centre[t]] + advance[t] + spread[t]
            out[b, t] = phase
    return torch.from_numpy(out).transpose(1, 2).contiguous()


def _peak_plan(mag: np.ndarray, hop: int, n_fft: int, sample_rate: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For magnitudes (bins, T): each bin's nearest spectral peak (bins, T) (the lower on a tie),
    the phase advance of the peak's frequency over a hop (bins, T), the alternation by pi
    across the peak (bins, T), and which frames have a peak (T,)."""
    bins = mag.shape[0]
    index = np.arange(bins)[:, None]
    inner = mag[1:-1]
    peak = np.zeros(mag.shape, bool)
    peak[1:-1] = (inner > mag[:-2]) & (inner >= mag[2:]) & (inner > 1e-6)
    log = np.log(mag + 1e-9)
    lo, mid, hi = np.roll(log, 1, axis=0), log, np.roll(log, -1, axis=0)  # read at peaks only
    curve = lo - 2 * mid + hi
    offset = np.clip(0.5 * (lo - hi) / np.where(np.abs(curve) > 1e-9, curve, -1e-9), -0.5, 0.5)
    left = np.maximum.accumulate(np.where(peak, index, -bins), axis=0)  # nearest peak at or below
    right = np.minimum.accumulate(np.where(peak, index, 2 * bins)[::-1], axis=0)[::-1]  # at or above
    centre = np.where((index - left) <= (right - index), left, right)
    voiced = peak.any(axis=0)
    centre = np.where(voiced, centre, 0)
    columns = np.arange(mag.shape[1])[None, :]
    freq = (centre + offset[centre, columns]) * sample_rate / n_fft
    return centre, 2 * np.pi * freq * hop / sample_rate, np.pi * (index - centre), voiced


BLOCK_SECONDS = 4.0  # griffin_lim() works on blocks of about this length: flat memory at any length


def griffin_lim(mel: torch.Tensor, samples: int, config: MelConfig | None = None, iters: int = 8,
                upsample: int = 4, momentum: float = 0.99, generator: torch.Generator | None = None,
                init: str = "locked", block_seconds: float = BLOCK_SECONDS) -> torch.Tensor:
    """(B, n_mels, F) normalised log-mel -> (B, samples) waveform in [-1, 1]. init: "locked"
    (phase-locked start) or "random" (classic Griffin-Lim; `generator` draws the phases).

    With the locked start, a long input goes in blocks of `block_seconds`, each with a margin
    on both sides wider than the iterations can reach (each STFT round couples frames within
    n_fft / hop of each other), its phases started from where the block before left them: the
    result is that of one pass over the whole, bit for bit, in memory that does not grow."""
    config = config or MelConfig()
    if config.hop % upsample:
        raise ValueError(f"upsample {upsample} must divide the hop {config.hop}")
    hop = config.hop // upsample
    frames = samples // hop + 1  # what a centred STFT of `samples` samples yields
    core = max(1, round(block_seconds * config.sample_rate / hop))
    margin = (iters + 2) * -(-config.n_fft // hop)
    if init == "random" or frames <= core + margin:  # a short input: one pass costs no more
        return _griffin_lim_block(mel, samples, 0, frames, config, hop, upsample, iters, momentum,
                                  generator, init)[0]
    parts, known = [], None  # known: the starting phases of the next block's first frames
    for first in range(0, frames, core):
        last = min(frames, first + core)  # the block's own frames: first .. last - 1
        lo, hi = max(0, first - margin), min(frames, last + margin)
        length = samples - lo * hop if hi == frames else (hi - lo - 1) * hop
        audio, phase = _griffin_lim_block(mel, length, lo, hi - lo, config, hop, upsample, iters, momentum,
                                          None, init, known)
        known = phase[..., max(0, last - margin) - lo:]  # the next block starts at last - margin
        stop = samples if last == frames else last * hop
        parts.append(audio[:, first * hop - lo * hop: stop - lo * hop])
    return torch.cat(parts, dim=-1)


def _griffin_lim_block(mel: torch.Tensor, samples: int, start: int, frames: int, config: MelConfig, hop: int,
                       upsample: int, iters: int, momentum: float, generator: torch.Generator | None,
                       init: str, known: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Griffin-Lim over the fine frames start .. start + frames - 1 (`samples` samples from
    sample start * hop); returns the waveform and the starting phases. `known`: the locked
    phases of the first frames, already scanned by the block before."""
    magnitude = mel_to_magnitude(upsample_frames(mel, upsample, frames, start), config)  # (B, bins, frames)
    window = torch.hann_window(config.n_fft, device=mel.device)
    if init == "locked":
        done = 0 if known is None else known.shape[-1]
        rest = locked_phases(magnitude[..., done:].cpu(), hop, config.n_fft, config.sample_rate,
                             None if known is None else known[..., -1])
        phase = (rest if known is None else torch.cat([known, rest], dim=-1)).to(mel.device)
    elif init == "random":
        phase = torch.rand(magnitude.shape, generator=generator).to(mel.device) * 2 * torch.pi
    else:
        raise ValueError(f"init {init!r}: choose 'locked' or 'random'")
    angles = torch.polar(torch.ones_like(magnitude), phase.to(magnitude.dtype))
    previous_rebuilt = torch.zeros_like(angles)
    for _ in range(iters):
        audio = torch.istft(magnitude * angles, config.n_fft, hop, window=window, length=samples)
        rebuilt = torch.stft(audio, config.n_fft, hop, window=window, return_complex=True)
        accelerated = rebuilt - (momentum / (1 + momentum)) * previous_rebuilt
        previous_rebuilt = rebuilt
        angles = torch.sgn(accelerated)  # unit phasors (0 where the rebuilt bin is exactly 0)
    audio = torch.istft(magnitude * angles, config.n_fft, hop, window=window, length=samples)
    return audio.clamp(-1.0, 1.0), phase
