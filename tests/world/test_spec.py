import pytest

from minisora.world import ObjectSpec, Occluder, Rule, SceneSpec, SpecError
from minisora.world.spec import PALETTE, aspect_name


def test_json_round_trip(busy_spec):
    text = busy_spec.to_json()
    back = SceneSpec.from_json(text)
    assert back == busy_spec
    assert back.to_json() == text


def test_palette_colours_are_far_apart():
    colours = list(PALETTE.values())
    assert len(colours) >= 8
    for i, a in enumerate(colours):
        for b in colours[:i]:
            assert sum((x - y) ** 2 for x, y in zip(a, b)) ** 0.5 > 60


@pytest.mark.parametrize("size,aspect", [((64, 64), "1:1"), ((96, 64), "3:2"), ((64, 96), "2:3"),
                                          ((256, 144), "16:9"), ((112, 64), "16:9"), ((64, 112), "9:16")])
def test_supported_sizes(size, aspect):
    assert aspect_name(*size) == aspect
    SceneSpec(width=size[0], height=size[1]).validate()


@pytest.mark.parametrize("kwargs,match", [
    ({"width": 60}, "multiples of 16"),
    ({"width": 192, "height": 64}, "supported"),
    ({"fps": 0}, "fps"),
    ({"background": "plaid"}, "choose from"),
    ({"objects": [ObjectSpec(color="teal")]}, "teal"),
    ({"objects": [ObjectSpec(x=0.5), ObjectSpec(x=0.55)]}, "overlap"),
    ({"objects": [ObjectSpec(y=0.05)]}, "below the floor"),
    ({"rules": [Rule(target=3)]}, "names no object"),
])
def test_bad_specs_say_what_is_allowed(kwargs, match):
    with pytest.raises(SpecError, match=match):
        SceneSpec(**kwargs).validate()


def test_occluder_colour_survives_json():
    spec = SceneSpec(occluders=[Occluder(color=(1, 2, 3))])
    assert SceneSpec.from_json(spec.to_json()).occluders[0].color == (1, 2, 3)
