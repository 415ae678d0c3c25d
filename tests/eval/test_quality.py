"""Distribution and quality metrics: Fréchet distance, flicker, sharpness, the shipped encoder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from minisora.eval.quality import flicker, frechet_distance, sharpness
from minisora.world import ObjectSpec, SceneSpec, render_clip


@pytest.fixture(scope="module")
def frames():
    spec = SceneSpec(
        objects=[
            ObjectSpec(color="red", x=0.3, y=0.6, vx=0.5),
            ObjectSpec(shape="square", color="cyan", x=0.7, y=0.4),
        ]
    )
    return render_clip(spec, with_audio=False).frames


def test_frechet_distance_is_zero_for_one_set_and_the_squared_shift_for_a_moved_mean():
    a = np.random.default_rng(0).normal(size=(400, 8))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.zeros(8)
    shift[0] = 3.0
    assert frechet_distance(a, a + shift) == pytest.approx(9.0, rel=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(a[:1], a)


def test_flicker_is_zero_on_a_render_and_grows_with_brightness_jitter(frames):
    assert flicker(frames) < 0.05
    jitter = np.random.default_rng(0).integers(-6, 7, (len(frames), 1, 1, 1))
    assert flicker(np.clip(frames.astype(int) + jitter, 0, 255).astype(np.uint8)) > 2.0


def test_sharpness_drops_when_the_video_is_blurred(frames):
    blurred = np.stack(
        [ndimage.gaussian_filter(f.astype(np.float32), (1.5, 1.5, 0)) for f in frames]
    )
    assert sharpness(frames) > 0.5
    assert sharpness(blurred.clip(0, 255).astype(np.uint8)) < 0.5 * sharpness(frames)


def test_the_shipped_encoder_is_small_loads_strictly_and_is_deterministic(frames):
    from minisora.eval.encoder import WEIGHTS, load_encoder, video_features

    assert (WEIGHTS / "model.safetensors").stat().st_size < 2_000_000
    config = json.loads((WEIGHTS / "config.json").read_text())
    model = load_encoder()
    a, b = video_features(model, frames), video_features(model, frames)
    assert a.shape == (config["features"],) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, video_features(model, frames[:, :, ::-1]))  # it sees the picture
