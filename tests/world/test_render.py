import numpy as np
import pytest

from minisora.world import ObjectSpec, Occluder, SceneSpec, render_clip
from minisora.world.spec import GROUND_HEIGHT, PALETTE


def colour_mask(frame: np.ndarray, name: str, tol: float = 40) -> np.ndarray:
    return np.linalg.norm(frame.astype(float) - PALETTE[name], axis=-1) < tol


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean() + 0.5, ys.mean() + 0.5])


def still_ball(**kw) -> SceneSpec:
    return SceneSpec(objects=[ObjectSpec(x=0.3, y=GROUND_HEIGHT + 0.1)], **kw)


@pytest.mark.parametrize("size", [(64, 64), (256, 256), (96, 64), (64, 112)])
def test_any_resolution_places_shapes_by_world_units(size):
    spec = still_ball(width=size[0], height=size[1])
    frame = render_clip(spec, with_audio=False).frames[0]
    scale = min(size)
    expected = np.array([0.3 * scale, size[1] - (GROUND_HEIGHT + 0.1) * scale])
    assert np.abs(centroid(colour_mask(frame, "red")) - expected).max() < 0.5
    area = colour_mask(frame, "red", tol=120).sum()
    assert area == pytest.approx(np.pi * (0.1 * scale) ** 2, rel=0.1)


def test_edges_are_anti_aliased():
    frame = render_clip(still_ball(), with_audio=False).frames[0].astype(float)
    red, bg = np.array(PALETTE["red"]), frame[2, 2]
    # pixels strictly between background and red exist along the rim
    t = ((frame - bg) @ (red - bg)) / ((red - bg) @ (red - bg))
    assert ((t > 0.15) & (t < 0.85)).sum() >= 8


def test_occluders_are_drawn_in_front():
    spec = still_ball(occluders=[Occluder(x=0.25, width=0.1, height=0.6, color=(150, 150, 150))])
    frame = render_clip(spec, with_audio=False).frames[0]
    column = int(0.3 * 64)
    assert np.all(frame[40:50, column] == (150, 150, 150))
    assert colour_mask(frame, "red").sum() > 0  # the parts outside the occluder still show


def test_camera_pan_moves_the_world_left():
    spec = SceneSpec(camera_pan=0.1, objects=[ObjectSpec(x=0.8, y=GROUND_HEIGHT + 0.1)])
    frames = render_clip(spec, with_audio=False).frames
    first, last = centroid(colour_mask(frames[0], "red")), centroid(colour_mask(frames[-1], "red"))
    assert last[0] - first[0] == pytest.approx(-0.1 * 4 * 64, abs=0.5)
    # the ground's stripes move too, so a pan is visible with no object in view
    assert not np.array_equal(frames[0][-3], frames[8][-3])


def coverage(frame: np.ndarray, colour) -> np.ndarray:
    """Per-pixel share of `colour` blended over the background (the anti-aliasing weight)."""
    frame, bg, c = frame.astype(float), frame[1, 1].astype(float), np.asarray(colour, float)
    return np.clip(((frame - bg) @ (c - bg)) / ((c - bg) @ (c - bg)), 0, 1)


def test_shapes_cover_their_exact_areas():
    areas = {}
    for shape in ("circle", "square", "triangle"):
        spec = SceneSpec(width=256, height=256, ground=False, objects=[ObjectSpec(shape=shape, x=0.5, y=0.5)])
        areas[shape] = coverage(render_clip(spec, with_audio=False).frames[0], PALETTE["red"]).sum()
    side = 0.2 * 256
    assert areas["square"] == pytest.approx(side**2, rel=0.01)
    assert areas["triangle"] == pytest.approx(side**2 / 2, rel=0.02)
    assert areas["circle"] == pytest.approx(np.pi * side**2 / 4, rel=0.01)
