"""Audio onsets against known hit times, including a quiet hit on top of a ringing one."""

from __future__ import annotations

import numpy as np

from minisora.eval.onsets import detect_onsets
from minisora.world.sound import SAMPLE_RATE, impact_sound


def _mix(hits: list[tuple[float, str, float]], seconds: float = 2.0) -> np.ndarray:
    audio = np.zeros(int(seconds * SAMPLE_RATE), np.float32)
    for time, material, speed in hits:
        sound = impact_sound(material, 0.1, speed)
        start = round(time * SAMPLE_RATE)
        end = min(audio.size, start + sound.size)
        audio[start:end] += sound[: end - start]
    return audio


def test_onsets_are_found_within_10_ms_even_over_a_ringing_sound():
    hits = [(0.2, "metal", 2.0), (0.31, "rubber", 0.3), (0.9, "glass", 1.0), (1.5, "wood", 0.2)]
    found = [o.time for o in detect_onsets(_mix(hits), SAMPLE_RATE)]
    assert len(found) == len(hits)
    for (time, _, _), onset in zip(hits, found):
        assert abs(onset - time) <= 0.010


def test_silence_and_missing_audio_have_no_onsets():
    assert detect_onsets(np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE) == []
    noise = np.random.default_rng(0).normal(0, 1e-3, SAMPLE_RATE).astype(np.float32)  # codec floor
    assert detect_onsets(noise, SAMPLE_RATE) == []
    assert detect_onsets(None, None) == []
