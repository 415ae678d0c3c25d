"""The prompt parser: README prompts map to the right specs, and the specs really show them."""

from __future__ import annotations

import numpy as np
import pytest

from minisora.world import simulate
from minisora.world.prompt import PromptError, parse_prompt, read_prompt
from minisora.world.spec import GROUND_HEIGHT
from minisora.world.vocabulary import VOCABULARY

SEEDS = (0, 1, 2)


def _floor_contacts(traj, k: int) -> int:
    return sum(1 for c in traj.contacts if c.a == k and c.b == "floor")


@pytest.mark.parametrize("seed", SEEDS)
def test_three_red_balls_bounce_to_the_right(seed):
    spec = parse_prompt("three red balls bounce to the right", seed=seed)
    assert [(o.shape, o.color) for o in spec.objects] == [("circle", "red")] * 3
    traj = simulate(spec)
    half = len(traj.times) // 2
    for k, obj in enumerate(spec.objects):
        assert obj.y - obj.half > GROUND_HEIGHT + 0.2, "bouncing balls start in the air"
        assert obj.vx > 0
        assert traj.positions[half, k, 0] > traj.positions[0, k, 0]
        assert _floor_contacts(traj, k) >= 2


@pytest.mark.parametrize("seed", SEEDS)
def test_a_blue_square_slides_to_the_left(seed):
    spec = parse_prompt("a blue square slides to the left", seed=seed)
    (obj,) = spec.objects
    assert (obj.shape, obj.color) == ("square", "blue")
    assert obj.vx < 0 and obj.y == pytest.approx(GROUND_HEIGHT + obj.half, abs=1e-3)
    traj = simulate(spec)
    assert traj.positions[-1, 0, 0] < obj.x - 0.1


@pytest.mark.parametrize("seed", SEEDS)
def test_two_green_triangles_fall(seed):
    spec = parse_prompt("two green triangles fall", seed=seed)
    assert [(o.shape, o.color) for o in spec.objects] == [("triangle", "green")] * 2
    traj = simulate(spec)
    for k, obj in enumerate(spec.objects):
        assert obj.y > 0.6 * spec.view_height, "dropped from high"
        assert traj.positions[len(traj.times) // 2, k, 1] < obj.y - 0.2


@pytest.mark.parametrize("seed", SEEDS)
def test_a_red_ball_left_of_a_yellow_square(seed):
    spec = parse_prompt("a red ball left of a yellow square", seed=seed)
    ball, square = spec.objects
    assert (ball.shape, ball.color, square.shape, square.color) == ("circle", "red", "square", "yellow")
    assert ball.x < square.x
    flipped = parse_prompt("a red ball to the right of a yellow square", seed=seed)
    assert flipped.objects[0].x > flipped.objects[1].x


def test_above_and_below_order_heights():
    ball, box = parse_prompt("a red ball above a blue box").objects
    assert ball.y > box.y
    ball, box = parse_prompt("a red ball below a blue box").objects
    assert ball.y < box.y


@pytest.mark.parametrize("seed", SEEDS)
def test_a_small_metal_ball_rolls_behind_a_grey_pillar(seed):
    spec = parse_prompt("a small metal ball rolls behind a grey pillar", seed=seed)
    (ball,) = spec.objects
    assert (ball.shape, ball.size, ball.material) == ("circle", "small", "metal")
    assert ball.vx != 0 and ball.y == pytest.approx(GROUND_HEIGHT + ball.half, abs=1e-3)
    (pillar,) = spec.occluders
    assert pillar.color == (150, 150, 150) and pillar.height >= 0.9
    xs = simulate(spec).positions[:, 0, 0]
    behind = (xs + ball.half > pillar.x) & (xs - ball.half < pillar.x + pillar.width)
    assert behind.any() and not behind.all(), "the ball passes behind the pillar, visible before or after"


def test_the_camera_pans_right_over_four_purple_balls():
    spec = parse_prompt("the camera pans right over four purple balls")
    assert spec.camera_pan > 0
    assert [(o.shape, o.color) for o in spec.objects] == [("circle", "purple")] * 4
    assert parse_prompt("the camera pans left over a ball").camera_pan < 0


@pytest.mark.parametrize("seed", SEEDS)
def test_a_blue_ball_hits_a_red_square_which_turns_yellow(seed):
    spec = parse_prompt("a blue ball hits a red square, which turns yellow", seed=seed)
    ball, square = spec.objects
    assert (ball.shape, ball.color, square.shape, square.color) == ("circle", "blue", "square", "red")
    assert [(r.target, r.color) for r in spec.rules] == [(1, "yellow")]
    traj = simulate(spec)
    assert any({c.a, c.b} == {0, 1} for c in traj.contacts)
    assert traj.colors[-1][1] == "yellow" and traj.colors[-1][0] == "blue"


def test_turns_green_when_hit_adds_a_hitter():
    spec = parse_prompt("a red square turns green when hit")
    assert spec.objects[0].shape == "square" and len(spec.objects) == 2
    assert simulate(spec).colors[-1][0] == "green"


def test_roll_to_the_left_is_on_the_floor_moving_left():
    (ball,) = parse_prompt("a ball rolls to the left", seed=3).objects
    assert ball.vx < 0 and ball.y == pytest.approx(GROUND_HEIGHT + ball.half, abs=1e-3)


def test_background_ground_walls_and_entering():
    assert parse_prompt("a ball bounces on a grey background").background == "grey"
    assert parse_prompt("a ball bounces at dusk").background == "dusk"
    assert parse_prompt("a ball falls, no ground").ground is False
    assert parse_prompt("a ball rolls to the right with no walls").walls is False
    spec = parse_prompt("a green ball enters from the left")
    (ball,) = spec.objects
    assert spec.walls is False and ball.x + ball.half < 0 and ball.vx > 0


def test_counts_digits_sizes_and_synonyms():
    spec = parse_prompt("2 large wooden cubes and a tiny steel sphere")
    assert [(o.shape, o.size, o.material) for o in spec.objects] == [
        ("square", "large", "wood"), ("square", "large", "wood"), ("circle", "small", "metal")]


def test_defaults_are_deterministic_from_the_seed():
    assert parse_prompt("some balls", seed=5).to_json() == parse_prompt("some balls", seed=5).to_json()
    variety = {parse_prompt("a ball", seed=s).to_json() for s in range(6)}
    assert len(variety) > 1


def test_unknown_words_are_named_with_the_vocabulary():
    with pytest.raises(PromptError) as err:
        parse_prompt("three red dragons bounce gracefully")
    message = str(err.value)
    assert "'dragons'" in message and "'gracefully'" in message
    assert "circle" in message and "bounce" in message
    assert "'red'" not in message


def test_impossible_prompts_get_clear_errors():
    with pytest.raises(PromptError, match="1 to 6"):
        parse_prompt("nine balls")
    with pytest.raises(PromptError, match="no object"):
        parse_prompt("the camera pans left")
    with pytest.raises(PromptError, match="ground"):
        parse_prompt("a ball rolls with no ground")
    with pytest.raises(PromptError, match="wider size"):
        parse_prompt("five large balls rest")


def test_vocabulary_words_all_parse():
    words = [w for kind in ("colors", "shapes", "sizes", "materials") for w in VOCABULARY[kind]]
    for word in words:
        read_prompt(f"a {word} ball" if word not in VOCABULARY["shapes"] else f"a {word}")


def test_parsed_specs_are_valid_and_inside_the_view():
    for text in ("four small cubes slide to the right", "two balls collide", "a big ball and two small boxes"):
        spec = parse_prompt(text, seed=1)
        spec.validate()
        for obj in spec.objects:
            assert obj.x - obj.half >= 0 and obj.x + obj.half <= spec.view_width
            assert np.isfinite([obj.vx, obj.vy]).all()


def test_onto_into_and_each_other_are_collisions():
    assert read_prompt("a ball drops onto a box").hits == [(0, 1)]
    assert read_prompt("a purple box slides into a red ball").hits == [(0, 1)]
    assert read_prompt("two balls roll into each other").hits == [(0, None)]
    assert read_prompt("a ball falls onto the floor").hits == []
    spec = parse_prompt("a ball drops onto a box", seed=1)
    ball, box = spec.objects
    assert ball.y > box.y and abs(ball.x - box.x) < box.half
    traj = simulate(spec)
    assert any({c.a, c.b} == {0, 1} for c in traj.contacts)


def test_walls_and_screen_of_the_view_are_not_occluders():
    assert read_prompt("a green ball bounces off the walls").occluders == []
    assert read_prompt("a ball bounces off the right wall").occluders == []
    assert read_prompt("a ball hops across the screen").occluders == []
    assert [o.kind for o in read_prompt("a ball rolls behind a screen").occluders] == ["screen"]
    assert read_prompt("a ball rolls with no walls").walls is False


def test_the_same_object_named_again_is_not_a_new_one():
    meaning = read_prompt("a red ball rolls to the right. the red ball hits a blue box")
    assert len(meaning.groups) == 2 and meaning.hits == [(0, 1)]


def test_different_colours_give_each_object_its_own():
    spec = parse_prompt("three balls of different colours bounce")
    assert [o.shape for o in spec.objects] == ["circle"] * 3 and len({o.color for o in spec.objects}) == 3
    spec = parse_prompt("a red ball and four colourful cubes")
    assert spec.objects[0].color == "red"
    assert len({o.color for o in spec.objects[1:]}) == 4 and "red" not in {o.color for o in spec.objects[1:]}


def test_open_counts_and_sizes_give_way_to_fit():
    spec = parse_prompt("big balls bounce to the right")
    assert 2 <= len(spec.objects) <= 3 and {o.size for o in spec.objects} == {"large"}
    spec = parse_prompt("six balls")  # sizes were left open: they shrink to fit side by side
    assert len(spec.objects) == 6 and {o.size for o in spec.objects} == {"small"}


def test_punctuation_case_and_odd_input():
    assert len(parse_prompt("Three RED balls \u2014 bounce!").objects) == 3
    assert len(parse_prompt("\u201ca red-ball rolls left-ward\u201d").objects) == 1
    with pytest.raises(PromptError, match="whole numbers"):
        parse_prompt("2.5 balls")
    with pytest.raises(PromptError, match="empty"):
        parse_prompt("   ")
    with pytest.raises(PromptError, match="'dragön'"):
        parse_prompt("a dragön")


@pytest.mark.parametrize("text, side", [("a ball rolls to the right and leaves the view", "right"),
                                        ("a box leaves the frame on the left", "left")])
def test_leaving_the_view(text, side):
    spec = parse_prompt(text, seed=2)
    (obj,) = spec.objects
    traj = simulate(spec)
    x_end = traj.positions[-1, 0, 0] - traj.camera_x[-1]
    assert spec.walls is False and obj.x - obj.half >= 0 and obj.x + obj.half <= spec.view_width
    assert (x_end - obj.half >= spec.view_width) if side == "right" else (x_end + obj.half <= 0)
