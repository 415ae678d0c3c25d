"""WorldSound, the SoundModel behind generate(): duration, determinism, windows without seams."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from minisora.flow import sampling_times
from minisora.pipeline.sound import VideoForSound, check_soundtrack
from minisora.sound.synthesis import (
    SoundSettings,
    WorldSound,
    gate_onsets,
    pad_to_window,
    sample_mel,
    window_starts,
)


@pytest.fixture(scope="module")
def tiny_sound():
    from minisora.autoencoder import load_vae
    from minisora.sound.config import SOUND_PRESETS
    from minisora.sound.model import SoundDiT

    torch.manual_seed(0)
    model = SoundDiT(SOUND_PRESETS["tiny"])
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.1)
    return WorldSound(model, load_vae(), None, SoundSettings(steps=2, vocoder_iters=2))


def square_video(frames: int, size: int = 32) -> np.ndarray:
    video = np.full((frames, size, size, 3), 40, np.uint8)
    for t in range(frames):
        x = (2 * t) % (size - 8)
        video[t, 10:18, x: x + 8] = (220, 60, 40)
    return video


@pytest.mark.parametrize("frames, fps", [(17, 16.0), (23, 10.0), (150, 16.0), (40, 24.0)])
def test_the_track_is_exactly_as_long_as_the_video(tiny_sound, frames, fps):
    video = VideoForSound(square_video(frames), fps, "", seed=3)
    track = check_soundtrack(tiny_sound(video), video)
    assert track.sample_rate == 16_000
    assert track.samples.shape == (round(frames / fps * 16_000),)
    assert track.samples.dtype == np.float32 and np.abs(track.samples).max() <= 1.0


def test_same_seed_same_track_other_seed_another(tiny_sound):
    frames = square_video(21)
    a = tiny_sound(VideoForSound(frames, 16.0, "", seed=1)).samples
    assert np.array_equal(a, tiny_sound(VideoForSound(frames, 16.0, "", seed=1)).samples)
    assert not np.allclose(a, tiny_sound(VideoForSound(frames, 16.0, "", seed=2)).samples)


def test_windows_cover_long_videos_with_a_second_of_overlap():
    s = SoundSettings()
    assert window_starts(65, s) == [0]
    assert window_starts(66, s) == [0, 48]
    starts = window_starts(16 * 60, s)
    assert starts[-1] + s.window_frames >= 960 and all(b - a == 48 for a, b in zip(starts, starts[1:]))
    assert pad_to_window(np.zeros((7, 4, 4, 3), np.uint8)).shape[0] == 9


def test_a_window_continues_the_known_mel_exactly(tiny_sound):
    """The overlap with the previous window is given: it comes back unchanged (no seam)."""
    model = tiny_sound.model
    video = model.encode_video(torch.randn(1, 16, 3, 4, 4), 16.0, frames=torch.rand(1, 9, 4, 4))
    noise = torch.randn(1, model.config.mel.n_mels, 24, generator=torch.Generator().manual_seed(0))
    known = torch.rand(1, model.config.mel.n_mels, 10)
    text, mask = torch.zeros(1, 1, 384), torch.zeros(1, 1, dtype=torch.bool)
    with torch.inference_mode():
        out = sample_mel(model, noise.clone(), video, text, mask, known, steps=3, scale=2.0)
    assert torch.equal(out[..., :10], known)
    assert not torch.allclose(out[..., 10:], noise[..., 10:])


def test_the_frames_are_encoded_in_bf16_only_where_the_cpu_has_it(tiny_sound, monkeypatch):
    """bf16 autocast on a CPU without native bf16 runs many times slower: there the encode stays
    fp32 (the capability probe answers as such a CPU would); the setting can turn it off too."""
    import minisora.sound.synthesis as synthesis

    model, vae = tiny_sound.model, tiny_sound.vae
    monkeypatch.setattr(synthesis, "native_bf16", lambda device: False)
    assert not WorldSound(model, vae, None, SoundSettings(bf16_encode=True)).bf16
    monkeypatch.setattr(synthesis, "native_bf16", lambda device: True)
    assert WorldSound(model, vae, None, SoundSettings(bf16_encode=True)).bf16
    assert not WorldSound(model, vae, None, SoundSettings(bf16_encode=False)).bf16
    frames = square_video(17)
    one = WorldSound(model, vae, None, SoundSettings(steps=2, vocoder_iters=2, bf16_encode=True))
    track = one(VideoForSound(frames, 16.0, "", seed=0)).samples  # bf16 encode, fp32 sampling
    assert track.dtype == np.float32 and np.isfinite(track).all()
    assert np.array_equal(track, one(VideoForSound(frames, 16.0, "", seed=0)).samples)


def test_guidance_one_runs_the_conditional_model_alone(tiny_sound):
    """At guidance 1 the unconditional half is skipped: the same mel as the guided batch of two
    with guidance 1 (v_u + 1 (v_c - v_u) = v_c), to float rounding."""
    model = tiny_sound.model
    video = model.encode_video(torch.randn(1, 16, 3, 4, 4), 16.0, frames=torch.rand(1, 9, 4, 4))
    noise = torch.randn(1, model.config.mel.n_mels, 24, generator=torch.Generator().manual_seed(1))
    text, mask = torch.randn(1, 5, 384), torch.ones(1, 5, dtype=torch.bool)
    known = torch.zeros(1, model.config.mel.n_mels, 0)
    with torch.inference_mode():
        alone = sample_mel(model, noise, video, text, mask, known, steps=3, scale=1.0)
        x, times = noise.clone(), sampling_times(3, model.config.time_shift)
        conditioning = model.condition(24, video.doubled(), torch.tensor([True, False]),
                                       torch.cat([text, text]), torch.cat([mask, torch.zeros_like(mask)]))
        for i in range(3):
            v = model(torch.cat([x, x]), torch.full((2,), float(times[i])), conditioning=conditioning)[:1]
            x = x - float(times[i] - times[i + 1]) * v
        guided = sample_mel(model, noise, video, text, mask, known, steps=3, scale=2.0)
    torch.testing.assert_close(alone, x, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(alone, guided, atol=1e-3)  # guidance 2 does weigh the other half


def test_a_contact_path_model_hears_the_tracked_contacts_of_each_window():
    """Synthesis analyses each window's frames with the world tracker: a model with the contact
    path makes a track as long as the video, and another track when its contacts differ."""
    from dataclasses import replace

    from minisora.autoencoder import load_vae
    from minisora.sound.config import SOUND_PRESETS
    from minisora.sound.model import SoundDiT
    from minisora.world import ObjectSpec, SceneSpec
    from minisora.world.clip import render_clip

    torch.manual_seed(0)
    model = SoundDiT(replace(SOUND_PRESETS["tiny"], tracked_contacts=True))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.1)
    sound = WorldSound(model, load_vae(), None, SoundSettings(steps=2, vocoder_iters=2))
    ball = render_clip(SceneSpec(objects=[ObjectSpec(shape="circle", color="red", x=0.5, y=0.6)]), with_audio=False)
    frames = ball.frames[:81]  # two windows
    track = sound(VideoForSound(frames, ball.fps, "", seed=0)).samples
    assert track.shape == (round(frames.shape[0] / ball.fps * 16_000),)
    with torch.no_grad():  # the same model with the contact path silenced: the track changes
        model.contact_mlp[-1].weight.zero_()
        model.contact_mlp[-1].bias.zero_()
    assert not np.allclose(track, sound(VideoForSound(frames, ball.fps, "", seed=0)).samples)


def test_the_gate_lets_sounds_start_only_at_contacts_and_keeps_their_decay():
    frames = 100  # 10 ms a frame: 1 s
    mel = torch.full((1, 4, frames), -1.0)
    for start in (20, 60):  # a hit at 0.2 s (a contact) and one at 0.6 s (none there)
        mel[..., start: start + 10] = torch.linspace(0.8, -0.5, 10)
    gated = gate_onsets(mel, [0.21], 0.01, before=0.02, after=0.04)
    assert torch.equal(gated[..., :40], mel[..., :40])  # the contact's hit and its whole decay
    rises = gated[..., 1:] - gated[..., :-1]
    assert (rises[..., 40:] <= 0).all()  # after it nothing rises again: the 0.6 s hit is gone
    assert gated[..., 60:70].max() <= -1.0 + 1e-6
    # no contact at all: nothing rises above silence, not even in the first frame
    loud_start = mel.clone()
    loud_start[..., :5] = 0.5
    assert (gate_onsets(loud_start, [], 0.01, 0.02, 0.04, silence=-1.0) == -1.0).all()


def test_a_gated_soundtrack_has_no_sound_starting_where_nothing_touches(tiny_sound):
    from minisora.eval.onsets import detect_onsets

    still = np.full((33, 32, 32, 3), 40, np.uint8)  # nothing moves: the tracker sees no contact
    loose = tiny_sound(VideoForSound(still, 16.0, "", seed=5)).samples
    gated = WorldSound(tiny_sound.model, tiny_sound.vae, None,
                       SoundSettings(steps=2, vocoder_iters=2, gate=(0.02, 0.04)))
    track = gated(VideoForSound(still, 16.0, "", seed=5)).samples
    assert track.shape == loose.shape
    assert len(detect_onsets(track[1600:], 16_000)) < max(1, len(detect_onsets(loose[1600:], 16_000)))


def test_gate_settings_read_from_text():
    from minisora.sound.synthesis import parse_gate

    assert parse_gate("20,40") == (0.02, 0.04)
    assert parse_gate("none") is None and parse_gate("default") == SoundSettings.gate
    for bad in ("20", "a,b", "-5,40"):
        with pytest.raises(ValueError, match="gate"):
            parse_gate(bad)


def test_contact_guidance_weighs_the_tracked_contacts_linearly_and_only_them(tiny_sound):
    """One Euler step is linear in the contact guidance scale: 2 moves the mel twice as far as 1
    from 0; a model without the contact path ignores the scale."""
    from dataclasses import replace

    from minisora.sound.config import SOUND_PRESETS
    from minisora.sound.model import SoundDiT
    from minisora.sound.tracked import FEATURES, STRONG

    torch.manual_seed(0)
    model = SoundDiT(replace(SOUND_PRESETS["tiny"], tracked_contacts=True))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.1)
    contacts = torch.rand(1, 2, 1 + FEATURES)
    contacts[0, :, 0] = torch.tensor([0.2, 0.4])  # seconds
    contacts[0, :, STRONG] = 1.0  # both among the tracker's contacts
    video = model.encode_video(torch.randn(1, 16, 3, 4, 4), 16.0, frames=torch.rand(1, 9, 4, 4), contacts=contacts)
    noise = torch.randn(1, model.config.mel.n_mels, 24, generator=torch.Generator().manual_seed(2))
    text, mask = torch.randn(1, 5, 384), torch.ones(1, 5, dtype=torch.bool)
    known = torch.zeros(1, model.config.mel.n_mels, 0)
    with torch.inference_mode():
        x0, x1, x2 = (sample_mel(model, noise, video, text, mask, known, steps=1, scale=2.0, contact_scale=c)
                      for c in (0.0, 1.0, 2.0))
        plain = sample_mel(model, noise, video, text, mask, known, steps=1, scale=2.0)
        other = tiny_sound.model
        blind = other.encode_video(torch.randn(1, 16, 3, 4, 4), 16.0, frames=torch.rand(1, 9, 4, 4))
        b0, b3 = (sample_mel(other, noise, blind, text, mask, known, steps=1, scale=2.0, contact_scale=c)
                  for c in (0.0, 3.0))
    assert torch.equal(x0, plain)
    assert not torch.allclose(x1, x0, atol=1e-4)
    torch.testing.assert_close(x2 - x1, x1 - x0, atol=1e-5, rtol=1e-4)
    assert torch.equal(b0, b3)
    faint = contacts.clone()
    faint[0, :, STRONG] = 0.0  # faint velocity jumps alone: in both rows, so nothing to guide toward
    video = video._replace(contacts=faint)
    with torch.inference_mode():
        f0, f2 = (sample_mel(model, noise, video, text, mask, known, steps=1, scale=2.0, contact_scale=c)
                  for c in (0.0, 2.0))
    torch.testing.assert_close(f0, f2, atol=1e-6, rtol=1e-6)
