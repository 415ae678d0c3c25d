import math
import random

import numpy as np
import pytest

from minisora.world import MATERIALS, SHAPES, SIZES, ObjectSpec, SceneSpec, SpecError, simulate
from minisora.world.physics import signed_distance, total_energy
from minisora.world.spec import GRAVITY, GROUND_HEIGHT


def random_valid_specs(count: int, seed: int = 0, **overrides):
    rng = random.Random(seed)
    specs = []
    while len(specs) < count:
        objects = [
            ObjectSpec(
                shape=rng.choice(SHAPES), size=rng.choice(list(SIZES)), material=rng.choice(list(MATERIALS)),
                x=rng.uniform(0.15, 0.85), y=rng.uniform(0.3, 0.9), vx=rng.uniform(-1.5, 1.5), vy=rng.uniform(-1, 1),
            )
            for _ in range(rng.randint(1, 6))
        ]
        spec = SceneSpec(objects=objects, **overrides)
        try:
            specs.append(spec.validate())
        except SpecError:
            continue
    return specs


def test_simulation_is_deterministic(busy_spec):
    a, b = simulate(busy_spec), simulate(busy_spec)
    assert np.array_equal(a.positions, b.positions)
    assert a.contacts == b.contacts


def test_drop_hits_the_floor_at_the_analytic_time():
    spec = SceneSpec(objects=[ObjectSpec(x=0.5, y=0.8)])
    first = simulate(spec).contacts[0]
    drop = 0.8 - SIZES["medium"] - GROUND_HEIGHT
    assert first.b == "floor"
    assert first.time == pytest.approx(math.sqrt(2 * drop / GRAVITY), abs=1e-9)
    assert first.speed == pytest.approx(math.sqrt(2 * GRAVITY * drop), rel=1e-9)


@pytest.mark.parametrize("shapes", [("circle", "circle"), ("square", "square"), ("circle", "square")])
def test_pair_contact_is_recorded_exactly_when_the_shapes_touch(shapes):
    # both in free fall: gravity cancels in relative motion, so they meet at gap / closing speed
    a, b = (ObjectSpec(shape=s, x=x, y=0.8, vx=v) for s, x, v in zip(shapes, (0.2, 0.8), (1.0, -1.0)))
    spec = SceneSpec(ground=False, objects=[a, b])
    contact = next(c for c in simulate(spec).contacts if c.b == 1)
    gap = 0.6 - 2 * SIZES["medium"]
    assert contact.time == pytest.approx(gap / 2.0, abs=1e-7)
    assert contact.x == pytest.approx(0.5, abs=1e-6)


def test_energy_never_grows_when_restitution_is_below_one():
    assert all(m.restitution < 1 for m in MATERIALS.values())
    for spec in random_valid_specs(40):
        energy = total_energy(spec, simulate(spec))
        # resting contacts are projected apart, which may lift a body by a hair: 0.2% of E0
        assert np.all(np.diff(energy) <= 2e-3 * energy[0]), spec
        assert energy[-1] <= energy[0] * (1 + 1e-3)


def test_nothing_overlaps_or_tunnels():
    for spec in random_valid_specs(30, seed=1):
        traj = simulate(spec)
        for frame in traj.positions:
            for i in range(len(spec.objects)):
                assert frame[i, 1] - spec.objects[i].half >= GROUND_HEIGHT - 1e-6  # above the floor
                assert frame[i, 0] - spec.objects[i].half >= -1e-6
                assert frame[i, 0] + spec.objects[i].half <= spec.world_width + 1e-6
                for j in range(i):
                    gap, _ = signed_distance(frame[i], spec.objects[i].half, spec.objects[i].shape == "circle",
                                             frame[j], spec.objects[j].half, spec.objects[j].shape == "circle")
                    assert gap > -0.01, (spec, i, j, gap)


@pytest.mark.parametrize("shape,rolling", [("circle", 0.1), ("square", 1.0)])
def test_friction_brings_rolling_and_sliding_objects_to_rest(shape, rolling):
    spec = SceneSpec(duration=6, objects=[ObjectSpec(shape=shape, x=0.12, y=GROUND_HEIGHT + 0.1, vx=0.6)])
    traj = simulate(spec)
    assert np.abs(traj.velocities[-1]).max() == 0.0
    # Coulomb friction: stopping distance v^2 / (2 mu g); circles roll with a tenth of mu
    mu = MATERIALS["rubber"].friction * rolling
    assert traj.positions[-1, 0, 0] - 0.12 == pytest.approx(0.36 / (2 * mu * GRAVITY), rel=0.02)


def test_colour_change_rule_fires_on_the_first_hit(busy_spec):
    traj = simulate(busy_spec)
    hits = [c for c in traj.contacts if 1 in (c.a, c.b) and isinstance(c.b, int)]
    assert traj.color_changes and traj.color_changes[0][1] == 1
    assert traj.color_changes[0][0] == pytest.approx(hits[0].time)
    frame = math.ceil(hits[0].time * busy_spec.fps)
    assert traj.colors[frame - 1][1] == "blue" and traj.colors[frame][1] == "yellow"


def test_objects_without_walls_leave_the_frame():
    spec = SceneSpec(walls=False, objects=[ObjectSpec(x=0.5, y=0.2, vx=1.5)])
    traj = simulate(spec)
    assert traj.positions[-1, 0, 0] > spec.view_width + 0.2


def test_camera_pan_moves_the_view():
    spec = SceneSpec(camera_pan=0.2, objects=[ObjectSpec(x=0.5, y=0.2)])
    traj = simulate(spec)
    assert traj.camera_x[0] == 0 and traj.camera_x[-1] == pytest.approx(0.8)
    assert spec.world_width == pytest.approx(1.8)
