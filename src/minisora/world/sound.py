"""Contact sounds: every impact rings at the exact sample of its contact time.

Modal synthesis: a few decaying sinusoids per hit. Pitch falls with object size (a large
object rings an octave below a small one, frequency ~ 1 / size), timbre follows material:
rubber is a dull low thud, wood a short hollow knock, metal a long inharmonic ring, glass a
bright high ring. Loudness follows impact speed. The mix is scaled, never clipped.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from minisora.world.physics import Contact, Trajectory
from minisora.world.spec import MATERIALS, SIZES, SceneSpec

SAMPLE_RATE = 16_000
PEAK = 0.9  # the mix is scaled down (never clipped) if it would exceed this
ATTACK = 0.002  # seconds: a short ramp avoids a click before the onset


def loudness(speed: float) -> float:
    """A hit's peak amplitude, 0 .. 0.5, from its impact speed (units/s)."""
    return min(speed / 2.0, 1.0) ** 0.7 * 0.5


def impact_sound(material: str, half: float, speed: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The sound of one object struck at `speed` (units/s); starts at sample 0."""
    mat = MATERIALS[material]
    f0 = mat.pitch * SIZES["medium"] / half
    length = int(min(6 * mat.decay, 1.0) * sample_rate)
    t = np.arange(length, dtype=np.float64) / sample_rate
    wave = np.zeros(length)
    for k, ratio in enumerate(mat.partials):
        freq = f0 * ratio
        if freq >= sample_rate / 2:
            continue
        wave += np.sin(2 * np.pi * freq * t) * np.exp(-t * (1 + 0.6 * k) / mat.decay) / (k + 1)
    wave *= np.minimum(t / ATTACK, 1.0)
    return (loudness(speed) * wave / max(np.abs(wave).max(), 1e-9)).astype(np.float32)


def render_audio(spec: SceneSpec, traj: Trajectory, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The clip's soundtrack (mono float32), as long as the video: num_frames / fps seconds."""
    total = round(spec.num_frames / spec.fps * sample_rate)
    starts = [(round(c.time * sample_rate), c) for c in traj.contacts]
    return mix_hits(total, ((start, contact_sound(spec, c, sample_rate)) for start, c in starts if start < total))


def mix_hits(total: int, hits: Iterable[tuple[int, np.ndarray]]) -> np.ndarray:
    """Sounds placed at their start samples and summed into `total` samples (mono float32); the
    mix is scaled down, never clipped, where it would exceed PEAK. Sounds starting outside are
    left out."""
    mix = np.zeros(total, dtype=np.float64)
    for start, sound in hits:
        if not 0 <= start < total:
            continue
        end = min(total, start + sound.size)
        mix[start:end] += sound[: end - start]
    peak = np.abs(mix).max() if total else 0.0
    if peak > PEAK:
        mix *= PEAK / peak
    return mix.astype(np.float32)


def contact_sound(spec: SceneSpec, contact: Contact, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Both bodies ring when two objects meet; floor and walls add no tone of their own."""
    parts = [contact.a] + ([contact.b] if isinstance(contact.b, int) else [])
    return struck([(spec.objects[k].material, spec.objects[k].half) for k in parts], contact.speed, sample_rate)


def struck(bodies: list[tuple[str, float]], speed: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The sound of a hit at `speed` (units/s) in which each (material, half-size) body rings."""
    sounds = [impact_sound(material, half, speed, sample_rate) for material, half in bodies]
    out = np.zeros(max(s.size for s in sounds), np.float32)
    for s in sounds:
        out[: s.size] += s / len(sounds) ** 0.5
    return out
