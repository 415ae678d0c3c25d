"""`--model autoencoder`: renders sent through the autoencoder, the ceiling of a world model
that makes its videos through that decoder."""

from __future__ import annotations

import numpy as np
import pytest

from minisora.eval.benchmark import EvalError, _round_trip, load_model


def test_round_trip_keeps_length_and_looks_like_the_render() -> None:
    from minisora.world import render_clip
    from minisora.world.prompt import parse_prompt

    vae = load_model("autoencoder")
    frames = render_clip(parse_prompt("a red ball rolls to the right", width=64, height=64, duration=1.0,
                                      seed=3)).frames
    for count in (len(frames), 14):  # 4k+1 frames, and a count the autoencoder pads to 4k+1
        out = _round_trip(vae, frames[:count])
        assert out.shape == frames[:count].shape and out.dtype == np.uint8
        error = np.mean((out.astype(np.float64) - frames[:count]) ** 2)
        assert 10 * np.log10(255**2 / error) > 22.0  # the shipped weights reach ~30 dB on such clips
    assert not np.array_equal(out, frames[:14])  # it went through the network


def test_missing_autoencoder_weights_say_what_to_give(tmp_path) -> None:
    with pytest.raises(EvalError, match="config.json"):
        load_model(f"autoencoder:{tmp_path / 'none'}")
