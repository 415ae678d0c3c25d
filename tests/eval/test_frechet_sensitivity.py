"""The shipped encoder's Fréchet distance sees what a generator gets wrong: a set of frozen clips
and a set of blurred clips score well above the floor (two sets of renders), after the same MP4
round trip. The full table is bench/frechet_sensitivity.py."""

from __future__ import annotations

import numpy as np
import pytest

from minisora.eval.degrade import blur, freeze
from minisora.eval.quality import frechet_distance
from minisora.world import render_clip
from minisora.world.sampler import sample_scene

N = 48  # videos per set
RATIO = 3.0  # how far above the floor a degradation the metric sees must score


@pytest.fixture(scope="module")
def features(round_trip):
    from minisora.eval.encoder import load_encoder, video_features

    encoder = load_encoder()

    def of(frame_sets, fps):
        return np.stack(
            [video_features(encoder, round_trip(f, fps, None).frames) for f in frame_sets]
        )

    reference = [render_clip(sample_scene(7_000_000 + k), with_audio=False) for k in range(N)]
    other = [render_clip(sample_scene(8_000_000 + k), with_audio=False) for k in range(N)]
    fps = other[0].fps
    frames = [c.frames for c in other]
    return {
        "reference": of([c.frames for c in reference], fps),
        "renders": of(frames, fps),
        "frozen": of([freeze(f) for f in frames], fps),
        "blurred": of([blur(f, sigma=1.0) for f in frames], fps),
    }


def test_frozen_and_blurred_sets_score_well_above_the_render_floor(features):
    floor = frechet_distance(features["reference"], features["renders"])
    frozen = frechet_distance(features["reference"], features["frozen"])
    blurred = frechet_distance(features["reference"], features["blurred"])
    assert floor > 0
    assert frozen > RATIO * floor, (frozen, floor)
    assert blurred > RATIO * floor, (blurred, floor)


def test_dropping_the_object_a_rule_names_drops_the_rule_too():
    from minisora.eval.degrade import drop_object
    from minisora.world.spec import ObjectSpec, Rule, SceneSpec

    spec = SceneSpec(objects=[ObjectSpec(x=0.3, y=0.5), ObjectSpec(x=0.7, y=0.5)],
                     rules=[Rule(target=0, color="blue"), Rule(target=1, color="red")]).validate()
    dropped = drop_object(spec)
    assert len(dropped.objects) == 1 and [r.target for r in dropped.rules] == [0]
    render_clip(dropped, with_audio=False)  # simulates: the scene is valid
    assert len(spec.objects) == 2  # the original is untouched
