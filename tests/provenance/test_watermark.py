"""Embed -> detect on world clips: invisible (PSNR), found, and not found where it is not."""

from __future__ import annotations

import numpy as np
import pytest

from minisora.provenance import DEFAULT_CONFIG, Payload, detect, embed
from minisora.provenance.payload import binomial_p_value, crc16, model_id_for

PAYLOAD = Payload(model_id_for("minisora-world-s"), 0xC0FFEE42)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2))


def test_payload_bits_round_trip_and_check_bits_catch_an_error():
    bits = PAYLOAD.to_bits()
    assert bits.shape == (64,) and Payload.from_bits(bits) == PAYLOAD
    bits[20] ^= 1
    assert Payload.from_bits(bits) is None
    assert crc16([1, 0, 1]) != crc16([1, 1, 1])


def test_binomial_p_value_is_the_exact_tail():
    assert binomial_p_value(0, 10) == pytest.approx(1.0)
    assert binomial_p_value(10, 10) == pytest.approx(2.0**-10)
    assert binomial_p_value(6, 10) == pytest.approx(sum(__import__("math").comb(10, k) for k in range(6, 11)) / 1024)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_embed_is_invisible_and_detect_finds_the_payload(seed, world_frames):
    frames = world_frames(seed)
    marked = embed(frames, PAYLOAD)
    assert psnr(frames, marked) >= 42.0
    found = detect(marked)
    assert found.found and found.p_value < 1e-12
    assert found.payload == PAYLOAD


@pytest.mark.parametrize("size", [(64, 64), (96, 64), (64, 96), (112, 64), (64, 112), (128, 128)])
def test_every_world_size(size, world_frames):
    frames = world_frames(11, *size, seconds=1.0)
    marked = embed(frames, PAYLOAD)
    assert psnr(frames, marked) >= 42.0
    assert detect(marked).payload == PAYLOAD


def test_clean_clips_are_not_flagged(world_frames):
    p_values = [detect(world_frames(1000 + seed)).p_value for seed in range(10)]
    assert min(p_values) > DEFAULT_CONFIG.threshold
    assert np.median(p_values) > 0.05  # p-values of unmarked clips spread over [0, 1]


def test_a_long_video_and_any_second_of_it(world_frames):
    frames = world_frames(12, seconds=12.0)  # 193 frames
    marked = embed(frames, PAYLOAD)
    assert psnr(frames, marked) >= 42.0
    assert detect(marked).payload == PAYLOAD
    for start in (0, 77, 177):
        assert detect(marked[start : start + 16]).found


def test_bad_frames_get_a_clear_error():
    with pytest.raises(ValueError, match="uint8"):
        embed(np.zeros((4, 64, 64, 3), np.float32), PAYLOAD)


def test_embed_and_detect_in_chunks_equal_one_pass(world_frames, monkeypatch):
    """embed() and detect() go over the frames a chunk at a time (flat memory at any length):
    the chunk size changes nothing."""
    import minisora.provenance.watermark as W

    frames = world_frames(13, seconds=2.0)  # 33 frames
    marked, found = embed(frames, PAYLOAD), detect(frames)
    monkeypatch.setattr(W, "CHUNK_FRAMES", 5)
    assert np.array_equal(embed(frames, PAYLOAD), marked)
    assert detect(frames).p_value == pytest.approx(found.p_value, rel=1e-9)


def test_the_mark_is_as_strong_as_the_psnr_allows(world_frames):
    """The strength settles from both sides onto the PSNR target, and the mark moves R, G and B
    along the luma weights (the least RGB error for the luma it adds)."""
    frames = world_frames(14, seconds=1.0)
    marked = embed(frames, PAYLOAD)
    assert DEFAULT_CONFIG.psnr_db - 0.05 <= psnr(frames, marked) <= DEFAULT_CONFIG.psnr_db + 0.1
    delta = marked.astype(np.float64) - frames  # (T, H, W, 3)
    spread = np.abs(delta).reshape(-1, 3).mean(axis=0)
    assert spread[1] > spread[0] > spread[2]  # green moves most, blue least: as the luma weights
