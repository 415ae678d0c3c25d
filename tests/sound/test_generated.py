"""Generated videos as sound training clips: voiced at the contacts the tracker sees, cached in
the renders' layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from minisora.eval.analyzer import analyze
from minisora.eval.onsets import detect_onsets
from minisora.sound.generated import build_generated_cache, read_index, voice_contacts
from minisora.world.sound import SAMPLE_RATE
from minisora.world.spec import MATERIALS

CAPTION = "A red rubber ball and a blue metal square."
WINDOW = 0.04  # the benchmark's onset window


def test_every_contact_seen_is_voiced_and_nothing_else(bounce_clip):
    """The real tracker on rendered frames, the real onset detector on the voicing: an onset within
    40 ms of every contact seen, no loud onset away from one; the caption's materials ring."""
    analysis = analyze(bounce_clip.frames, bounce_clip.fps)
    audio, rows = voice_contacts(analysis, CAPTION, seed=0)
    assert audio.dtype == np.float32 and audio.size == round(len(bounce_clip.frames) / bounce_clip.fps * SAMPLE_RATE)
    assert np.abs(audio).max() <= 0.9 + 1e-6
    contacts = sorted({round(c.time, 3) for c in analysis.contacts})
    assert len(contacts) >= 4
    onsets = detect_onsets(audio, SAMPLE_RATE)
    for t in contacts:
        assert any(abs(o.time - t) <= WINDOW for o in onsets), f"contact at {t:.3f} s not voiced"
    loud = 0.5 * np.median([o.strength for o in onsets])
    for o in onsets:
        if o.strength >= loud:
            assert any(abs(o.time - t) <= WINDOW for t in contacts), f"a sound at {o.time:.3f} s with no contact"
    names = list(MATERIALS)
    assert rows.shape == (len(rows), 2 + len(names)) and len(rows) <= len(analysis.contacts)
    assert torch.all((rows[:, 1] > 0) & (rows[:, 1] <= 1))
    assert rows[:, 2 + names.index("rubber")].any() and rows[:, 2 + names.index("metal")].any()
    assert not rows[:, 2 + names.index("glass")].any()  # the caption names both objects' materials


def test_a_still_video_is_silent():
    frames = np.full((17, 32, 32, 3), 40, dtype=np.uint8)
    audio, rows = voice_contacts(analyze(frames, 16.0), "", seed=0)
    assert audio.size == round(17 / 16 * SAMPLE_RATE) and not audio.any() and rows.shape[0] == 0


def test_a_generated_cache_loads_as_the_renders_do(bounce_clip, tmp_path):
    """An MP4 written and read back with PyAV: its cache holds the voiced mel, the latents of its
    4k+1 frames, and the tracker's contacts of the frames it read; made once, then reused."""
    from minisora.media.read import read_video
    from minisora.media.write import write_mp4
    from minisora.sound.cache import load_cache
    from minisora.sound.config import SOUND_PRESETS
    from minisora.sound.tracked import contact_features, track_contacts

    write_mp4(tmp_path / "clip.mp4", bounce_clip.frames, bounce_clip.fps)
    index = tmp_path / "index.jsonl"
    index.write_text(json.dumps({"video": "clip.mp4", "caption": CAPTION}) + "\n")
    tiny = SOUND_PRESETS["tiny"]
    root = tmp_path / "cache"
    latents_dir, frames_dir, count = build_generated_cache(index, root, mel=tiny.mel, grid=4, log=lambda m: None)
    assert count == 1
    items = load_cache(root, latents_dir, frames_dir, count, tracked=True)
    frames = read_video(tmp_path / "clip.mp4", with_audio=False).frames
    assert items[0]["latents"].shape[1] == (len(frames) - 1) // 4 + 1
    assert items[0]["frames"].shape == (len(frames), 4, 4)
    assert torch.equal(items[0]["tracked"], contact_features(track_contacts(frames, bounce_clip.fps), CAPTION))
    mel_frames = items[0]["mel"].shape[1]
    assert abs(mel_frames * tiny.mel.hop - len(frames) / bounce_clip.fps * tiny.mel.sample_rate) <= tiny.mel.hop * 2
    assert float(items[0]["mel"].float().std()) > 0  # not silence: the ball bounces
    stamp = (root / "clips_0000.pt").stat().st_mtime_ns
    build_generated_cache(index, root, mel=tiny.mel, grid=4, log=lambda m: None)
    assert (root / "clips_0000.pt").stat().st_mtime_ns == stamp  # complete: nothing made again
    other = tmp_path / "other.jsonl"
    other.write_text(index.read_text() * 2)
    with pytest.raises(ValueError, match="another index"):
        build_generated_cache(other, root, mel=tiny.mel, grid=4, log=lambda m: None)


def test_a_bad_index_says_what_it_needs(tmp_path):
    with pytest.raises(FileNotFoundError, match="one JSON object per line"):
        read_index(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"video": "a.mp4"}) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl:1: each line needs 'video' and 'caption'"):
        read_index(bad)
