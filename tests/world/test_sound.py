import numpy as np
import pytest

from minisora.world import ObjectSpec, SceneSpec, render_clip
from minisora.world.sound import PEAK, SAMPLE_RATE, impact_sound
from minisora.world.spec import GROUND_HEIGHT, SIZES


def onsets(audio: np.ndarray, rate: int = SAMPLE_RATE, threshold: float = 0.02) -> list[float]:
    """Times where the signal first rises above threshold after 50 ms of quiet."""
    loud = np.abs(audio) > threshold
    times, last = [], -1e9
    for index in np.flatnonzero(loud):
        if index - last > 0.05 * rate:
            times.append(index / rate)
        last = index
    return times


def dominant_frequency(sound: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(sound, n=1 << 15))
    return float(np.argmax(spectrum) * SAMPLE_RATE / (1 << 15))


def test_audio_lasts_exactly_as_long_as_the_video(busy_spec):
    clip = render_clip(busy_spec)
    assert clip.audio.size == round(clip.frames.shape[0] / clip.fps * SAMPLE_RATE)


def test_onsets_are_within_10_ms_of_contacts():
    spec = SceneSpec(objects=[ObjectSpec(x=0.5, y=0.9, material="wood")])
    clip = render_clip(spec)
    contacts = [c.time for c in clip.trajectory.contacts if c.speed > 0.5]
    found = onsets(clip.audio)
    assert len(contacts) >= 3
    for time in contacts:
        assert min(abs(time - f) for f in found) <= 0.010


def test_a_still_scene_is_silent():
    spec = SceneSpec(objects=[ObjectSpec(x=0.5, y=GROUND_HEIGHT + 0.1)])
    assert np.abs(render_clip(spec).audio).max() == 0.0


def test_pitch_falls_with_size_and_timbre_follows_material():
    small = dominant_frequency(impact_sound("glass", SIZES["small"], 1.0))
    large = dominant_frequency(impact_sound("glass", SIZES["large"], 1.0))
    assert small == pytest.approx(large * SIZES["large"] / SIZES["small"], rel=0.02)

    def ring_time(material: str) -> float:
        sound = np.abs(impact_sound(material, SIZES["medium"], 1.0))
        return np.flatnonzero(sound > 0.05 * sound.max())[-1] / SAMPLE_RATE

    assert ring_time("metal") > 3 * ring_time("rubber")


def test_many_contacts_mix_without_clipping():
    objects = [ObjectSpec(x=0.1 + 0.16 * k, y=0.3 + 0.1 * (k % 3), vx=(-1) ** k * 1.5, material="metal", size="small")
               for k in range(6)]
    clip = render_clip(SceneSpec(objects=objects))
    assert len(clip.trajectory.contacts) > 10
    assert 0 < np.abs(clip.audio).max() <= PEAK + 1e-6
