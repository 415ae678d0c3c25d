"""Scene sampler: deterministic, always valid, controllable, and the held-out split is separate."""

from __future__ import annotations

import pytest

from minisora.world import ObjectSpec, Rule, SceneSpec
from minisora.world.sampler import (
    HELDOUT_COLOR_SHAPE,
    HELDOUT_COUNT_MOTION,
    SamplerConfig,
    heldout_combinations,
    is_heldout,
    sample_scene,
    start_motion,
)
from minisora.world.spec import aspect_name

N = 60


@pytest.fixture(scope="module")
def train_scenes():
    return [sample_scene(seed) for seed in range(N)]


@pytest.fixture(scope="module")
def heldout_scenes():
    return [sample_scene(seed, split="heldout") for seed in range(N // 2)]


def test_sampling_is_deterministic_from_the_seed():
    assert sample_scene(11).to_json() == sample_scene(11).to_json()
    assert sample_scene(11).to_json() != sample_scene(12).to_json()
    assert sample_scene(5, split="heldout").to_json() == sample_scene(5, split="heldout").to_json()


def test_scenes_are_valid_with_supported_sizes(train_scenes):
    sizes = set()
    for spec in train_scenes:
        spec.validate()
        SceneSpec.from_json(spec.to_json()).validate()
        assert spec.width % 16 == 0 and spec.height % 16 == 0 and min(spec.width, spec.height) == 64
        aspect_name(spec.width, spec.height)
        assert 1 <= len(spec.objects) <= 4
        sizes.add((spec.width, spec.height))
    assert len(sizes) >= 4, "the default mix covers the aspect ratios"


def test_the_distribution_covers_the_features(train_scenes):
    assert sum(bool(s.occluders) for s in train_scenes) >= 3
    assert sum(bool(s.rules) for s in train_scenes) >= 2
    assert sum(s.camera_pan != 0 for s in train_scenes) >= 3
    assert len({o.color for s in train_scenes for o in s.objects}) == 8
    assert len({start_motion(s, k) for s in train_scenes for k in range(len(s.objects))}) >= 5


def test_train_never_shows_a_heldout_combination(train_scenes):
    for spec in train_scenes:
        assert not is_heldout(spec)
        for k, obj in enumerate(spec.objects):
            assert (obj.color, obj.shape) not in HELDOUT_COLOR_SHAPE
            recolours = {r.color for r in spec.rules if r.target == k}
            assert not {(c, obj.shape) for c in recolours} & HELDOUT_COLOR_SHAPE


def test_heldout_always_shows_one(heldout_scenes):
    kinds = set()
    for spec in heldout_scenes:
        spec.validate()
        found = heldout_combinations(spec)
        assert found
        kinds |= {type(next(iter(pair))) for pair in found}
    assert kinds == {str, int}, "both colour x shape and count x motion pairs are held out"


def test_is_heldout_reads_the_declared_pairs():
    color, shape = sorted(HELDOUT_COLOR_SHAPE)[0]
    assert is_heldout(SceneSpec(objects=[ObjectSpec(shape, color)]))
    recoloured = SceneSpec(objects=[ObjectSpec(shape, "green", x=0.3), ObjectSpec("circle", "pink", x=0.7)],
                           rules=[Rule(target=0, color=color)])
    assert (color, shape) != ("green", shape) and is_heldout(recoloured)
    count = next(n for n, motion in HELDOUT_COUNT_MOTION if motion == "roll")
    rolling = [ObjectSpec("circle", "green", "small", x=0.15 + 0.2 * i, y=0.1701, vx=0.3) for i in range(count)]
    assert is_heldout(SceneSpec(objects=rolling))
    assert not is_heldout(SceneSpec(objects=rolling[:-1]))
    resting = [ObjectSpec("circle", "green", "small", x=0.15 + 0.2 * i, y=0.1701) for i in range(count)]
    assert not is_heldout(SceneSpec(objects=resting))


def test_config_controls_the_distribution():
    config = SamplerConfig(min_objects=3, max_objects=3, colors={"blue": 1.0, "green": 1.0}, shapes={"square": 1.0},
                           p_occluder=1.0, p_camera_pan=0.0)
    for seed in range(6):
        spec = sample_scene(seed, config)
        assert len(spec.objects) == 3 and spec.occluders and spec.camera_pan == 0
        assert {o.shape for o in spec.objects} == {"square"} and {o.color for o in spec.objects} <= {"blue", "green"}
    fixed = SamplerConfig.for_clip(size=(256, 144), fps=8, duration=2.0)
    spec = sample_scene(0, fixed)
    assert (spec.width, spec.height, spec.fps, spec.duration) == (256, 144, 8, 2.0)


def test_bad_configs_and_splits_are_refused():
    with pytest.raises(ValueError, match="split"):
        sample_scene(0, split="test")
    with pytest.raises(ValueError, match="colors"):
        sample_scene(0, SamplerConfig(colors={"mauve": 1.0}))
    with pytest.raises(ValueError, match="min"):
        sample_scene(0, SamplerConfig(min_objects=5, max_objects=2))


def test_a_config_with_only_heldout_pairs_has_no_train_scenes():
    color, shape = sorted(HELDOUT_COLOR_SHAPE)[0]
    with pytest.raises(RuntimeError, match="no train scene"):
        sample_scene(0, SamplerConfig(max_objects=1, colors={color: 1.0}, shapes={shape: 1.0}))
    assert is_heldout(sample_scene(0, SamplerConfig(max_objects=1, colors={color: 1.0}, shapes={shape: 1.0}),
                                   split="heldout"))
