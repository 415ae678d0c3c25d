"""Audio onsets: when a new sound starts, by spectral flux (Bello et al. 2005; Dixon 2006).

Every world contact rings decaying partials that start at the contact's sample with a 2 ms
attack. A new hit often lands while an earlier one still rings louder, so the waveform's
envelope barely rises; what does change is the spectrum: new partials appear. Spectral flux
(the summed rise of log magnitudes between short frames) peaks there. Peaks above a threshold,
a refractory time apart, are onsets; the time is the frame where the flux first climbs past half
its peak, shifted by the window's lead (calibrated on renders after AAC).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW = 128  # samples at 16 kHz: 8 ms, short enough to place an onset within a few ms
HOP = 16  # 1 ms
COMPRESS = 10.0  # log(1 + COMPRESS * |X|): codec noise stays near zero, quiet hits do not
LAG = 4  # frames between the two spectra compared (the attack is 2 ms)
THRESHOLD = 4.0  # summed log-magnitude rise that makes an onset
REFRACTORY_S = (
    0.02  # onsets closer than this are one event (two bodies of one contact ring together)
)


@dataclass(frozen=True)
class Onset:
    time: float  # seconds
    strength: float  # peak spectral flux


def spectral_flux(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Flux per hop (F,) and the time (s) of the end of each frame's window (F,)."""
    hop = max(1, round(HOP * sample_rate / 16_000))
    window = max(8, round(WINDOW * sample_rate / 16_000))
    padded = np.concatenate([np.zeros(window, np.float32), audio.astype(np.float32)])
    n_frames = (padded.size - window) // hop + 1
    index = np.arange(window)[None, :] + hop * np.arange(n_frames)[:, None]
    spectra = np.abs(np.fft.rfft(padded[index] * np.hanning(window)[None, :], axis=1))  # (F, bins)
    level = np.log1p(COMPRESS * spectra)
    rise = np.maximum(level[LAG:] - level[:-LAG], 0.0).sum(1)
    flux = np.concatenate([np.zeros(LAG), rise])
    ends = (np.arange(n_frames) * hop) / sample_rate  # window end, minus the leading pad
    return flux, ends


def detect_onsets(audio: np.ndarray | None, sample_rate: int | None) -> list[Onset]:
    """Onsets in a mono signal; an empty list for silence or no audio."""
    if audio is None or sample_rate is None or audio.size == 0:
        return []
    flux, ends = spectral_flux(audio, sample_rate)
    refractory = max(1, round(REFRACTORY_S / (ends[1] - ends[0]))) if ends.size > 1 else 1
    onsets: list[Onset] = []
    i = 0
    while i < flux.size:
        if flux[i] < THRESHOLD:
            i += 1
            continue
        stop = min(flux.size, i + refractory)
        peak = i + int(np.argmax(flux[i:stop]))
        start = i
        while start > 0 and flux[start - 1] >= 0.5 * flux[peak]:
            start -= 1
        first = start + int(np.argmax(flux[start : peak + 1] >= 0.5 * flux[peak]))
        onsets.append(Onset(float(max(ends[first] - LEAD_S, 0.0)), float(flux[peak])))
        i = peak + refractory
    return onsets


LEAD_S = 0.003  # set from renders: how far the half-peak frame's end lies after the true onset
