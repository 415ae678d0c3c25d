"""Segmentation of single frames: colour, shape, size and sub-pixel centre of every object."""

from __future__ import annotations

import numpy as np
import pytest

from minisora.eval.segment import find_blobs, size_class
from minisora.world import ObjectSpec, SceneSpec, render_clip
from minisora.world.spec import BACKGROUNDS, PALETTE, SHAPES


@pytest.mark.parametrize("background", list(BACKGROUNDS))
def test_every_colour_and_shape_is_recovered_exactly_on_every_background(background):
    colors = list(PALETTE)
    for start in range(0, len(colors), 3):
        objects = [
            ObjectSpec(
                shape=SHAPES[i % 3],
                color=c,
                size=("small", "medium", "large")[i % 3],
                x=0.18 + 0.32 * i,
                y=0.55 + 0.02 * i,
            )
            for i, c in enumerate(colors[start : start + 3])
        ]
        spec = SceneSpec(background=background, objects=objects, duration=0.25)
        clip = render_clip(spec, with_audio=False)
        truth = clip.annotations()["frames"][0]["objects"]
        blobs = find_blobs(clip.frames[0])
        assert len(blobs) == len(truth)
        for obj in truth:
            blob = min(blobs, key=lambda b: np.hypot(*(np.array(b.center()) - obj["centroid"])))
            assert (blob.color, blob.shape) == (obj["color"], obj["shape"])
            assert size_class(blob.half, spec.scale) == obj["size"]
            assert np.hypot(*(np.array(blob.center()) - obj["centroid"])) < 0.3


def test_blended_seam_between_touching_colours_is_not_an_object():
    # red and yellow touching: their anti-aliased seam mixes to orange
    spec = SceneSpec(
        objects=[
            ObjectSpec(shape="square", color="red", x=0.4, y=0.5),
            ObjectSpec(shape="square", color="yellow", x=0.6 + 1e-6, y=0.5),
        ],
        duration=0.25,
        ground=False,
    )
    clip = render_clip(spec, with_audio=False)
    assert sorted(b.color for b in find_blobs(clip.frames[0])) == ["red", "yellow"]


def test_nothing_is_found_in_an_empty_scene():
    for background in BACKGROUNDS:
        clip = render_clip(SceneSpec(background=background, duration=0.25), with_audio=False)
        assert find_blobs(clip.frames[0]) == []


def test_row_background_is_each_rows_median_of_its_unsaturated_pixels():
    """All rows at once equals the per-row median it replaced: odd and even counts, rows with no
    unsaturated pixel (the whole row's median), uint8 and float frames."""
    from minisora.eval.segment import MIN_CHROMA, row_background

    rng = np.random.default_rng(0)
    grey = rng.integers(30, 90, (12, 9, 1)).repeat(3, axis=2) + rng.integers(0, 3, (12, 9, 3))
    frame = np.where(rng.random((12, 9, 1)) < 0.4, rng.integers(0, 256, (12, 9, 3)), grey).astype(np.uint8)
    frame[3] = (250, 20, 20)  # a row all saturated
    for f in (frame, frame.astype(np.float32) + rng.normal(0, 2, frame.shape).astype(np.float32)):
        chroma = f.max(-1) - f.min(-1)
        expected = [np.median(f[r][chroma[r] < MIN_CHROMA], 0) if (chroma[r] < MIN_CHROMA).any()
                    else np.median(f[r], 0) for r in range(f.shape[0])]
        assert np.array_equal(row_background(f), np.array(expected, np.float32))
    counts = (frame.max(-1) - frame.min(-1) < MIN_CHROMA).sum(1)
    assert {c % 2 for c in counts if c} == {0, 1} and 0 in counts


def test_unmixing_frames_at_once_equals_the_per_colour_rule_frame_by_frame():
    """unmix_frames on a stack of frames gives, bit for bit, what the plain per-pixel rule gives
    each frame alone: the palette colour whose blend with the row background fits best (the
    first of equal fits), its coverage, zero where nothing fits."""
    from minisora.eval.segment import _PALETTE, MAX_RESIDUAL, row_background, unmix_frames

    clip = render_clip(SceneSpec(background="dusk", objects=[
        ObjectSpec(shape="circle", color="red", x=0.3, y=0.6),
        ObjectSpec(shape="triangle", color="cyan", size="large", x=0.7, y=0.4)]), with_audio=False)
    rng = np.random.default_rng(1)
    frames = np.clip(clip.frames[:6].astype(np.float32) + rng.normal(0, 6, clip.frames[:6].shape), 0, 255)
    frames = frames.astype(np.uint8)
    best_k, best_alpha, background = unmix_frames(frames)
    assert best_k.shape == best_alpha.shape == frames.shape[:3] and background.shape == (6, frames.shape[1], 3)
    for t, frame in enumerate(frames):
        img = frame.astype(np.float32)
        bg = row_background(img)[:, None, :]
        fits = []
        for color in _PALETTE:
            edge = color[None, None, :] - bg
            alpha = np.clip(((img - bg) * edge).sum(-1) / np.maximum((edge * edge).sum(-1), 1.0), 0.0, 1.0)
            fits.append((np.linalg.norm(img - bg - alpha[..., None] * edge, axis=-1), alpha))
        res = np.stack([f[0] for f in fits])
        k = res.argmin(0)
        alpha = np.take_along_axis(np.stack([f[1] for f in fits]), k[None], 0)[0]
        assert np.array_equal(best_k[t], k)
        assert np.array_equal(best_alpha[t], np.where(res.min(0) < MAX_RESIDUAL, alpha, 0.0))
        assert np.array_equal(background[t], bg[:, 0])
    assert (best_alpha > 0.9).sum() > 50  # the objects are found
