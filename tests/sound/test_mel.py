"""Log-mel features and the Griffin-Lim vocoder: shapes, silence, and the round trip."""

from __future__ import annotations

import numpy as np
import torch

from minisora.eval.onsets import detect_onsets
from minisora.sound.griffinlim import griffin_lim
from minisora.sound.mel import MelConfig, log_mel, mel_filterbank, silence_level


def test_one_frame_per_hop_and_silence_at_minus_one():
    config = MelConfig()
    mel = log_mel(np.zeros(16_000 + 1, np.float32), config)
    assert mel.shape == (1, config.n_mels, 101)  # ceil(16001 / 160)
    assert torch.allclose(mel, torch.full_like(mel, silence_level(config)))
    assert silence_level(config) == -1.0


def test_filterbank_covers_the_band_once():
    bank = mel_filterbank(MelConfig())
    assert (bank >= 0).all() and bank.shape == (128, 257)
    assert (bank.sum(0)[2:-10] > 0).all()  # every bin from 30 Hz to near 8 kHz is heard


def test_a_tone_lands_in_its_band_at_its_time():
    config = MelConfig()
    t = np.arange(32_000) / 16_000
    audio = np.where(t >= 1.0, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0).astype(np.float32)
    mel = log_mel(audio, config)[0]
    loud_frames = (mel.amax(0) > 0).nonzero().flatten()
    assert abs(int(loud_frames[0]) - 100) <= 2  # frame k at k * 10 ms
    centres = torch.tensor([float(b.argmax()) for b in mel_filterbank(config)]) * 8000 / 256
    assert abs(float(centres[int(mel[:, 150].argmax())]) - 1000) < 60


def test_silence_is_rebuilt_as_exact_silence():
    mel = log_mel(np.zeros(8000, np.float32))
    assert torch.count_nonzero(griffin_lim(mel, 8000)) == 0


def test_mel_vocoder_mel_round_trip_keeps_spectrum_and_onsets(bounce_clip):
    """The world's sound through mel -> Griffin-Lim -> mel: the same mel and the same hits."""
    config = MelConfig()
    mel = log_mel(bounce_clip.audio, config)
    audio = griffin_lim(mel, bounce_clip.audio.size, config, generator=torch.Generator().manual_seed(0))[0]
    assert audio.shape == (bounce_clip.audio.size,) and audio.abs().max() <= 1.0
    again = log_mel(audio, config)
    loud = mel > -0.5
    assert float((again - mel).abs()[loud].mean()) < 0.12  # normalised log units (0.5 = 10 dB)
    truth = sorted({round(c.time, 3) for c in bounce_clip.trajectory.contacts})
    heard = [o.time for o in detect_onsets(audio.numpy(), 16_000)]
    found = [min(abs(h - t) for h in heard) for t in truth]
    assert truth and np.mean(np.array(found) <= 0.04) >= 0.8
    assert np.median(found) <= 0.01


def test_a_ringing_hit_is_rebuilt_as_one_onset():
    """Phase-locked Griffin-Lim: a metal ring decays smoothly, without flutter read as new hits."""
    from minisora.world.sound import impact_sound

    audio = np.zeros(16_000, np.float32)
    hit = impact_sound("metal", 0.07, 2.0)
    audio[4000: 4000 + hit.size] = hit[: 12_000]
    rebuilt = griffin_lim(log_mel(audio), audio.size)[0].numpy()
    onsets = detect_onsets(rebuilt, 16_000)
    loudest = max(o.strength for o in onsets)
    loud = [o for o in onsets if o.strength >= 0.5 * loudest]  # the benchmark's loudness rule
    assert len(loud) == 1 and abs(loud[0].time - 0.25) <= 0.01
    random = griffin_lim(log_mel(audio), audio.size, iters=32, init="random",
                         generator=torch.Generator().manual_seed(0))[0].numpy()
    assert len(onsets) < len(detect_onsets(random, 16_000))  # random phases flutter more


def test_griffin_lim_in_blocks_equals_one_pass(bounce_clip):
    """A long soundtrack is vocoded block by block in flat memory: the same waveform, to the bit,
    as one pass over the whole (the margins cover what the iterations reach, and each block's
    phases start where the block before left them)."""
    mel = log_mel(bounce_clip.audio)
    samples = bounce_clip.audio.size
    whole = griffin_lim(mel, samples, block_seconds=1e9)
    for block in (0.5, 1.0, 1.7):
        assert torch.equal(griffin_lim(mel, samples, block_seconds=block), whole)
