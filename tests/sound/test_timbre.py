"""Clean hits as the world tracker sees them (for videos with no simulation behind them)."""

from __future__ import annotations

from minisora.eval.analyzer import analyze
from minisora.sound.timbre import clean_hits, tracked_clean_hits
from minisora.world.captions import caption_clip


def test_the_tracked_clean_hits_of_a_render_are_its_simulated_ones(bounce_clip):
    """The tracker, its contacts' isolation and the caption's materials find every clean hit the
    simulation knows (the same moment within a frame, the same material), and each hit they find
    is a single-body contact of an object of that material."""
    clip, frame = bounce_clip, 1 / bounce_clip.fps
    hits = tracked_clean_hits(analyze(clip.frames, clip.fps), caption_clip(clip.spec, clip.trajectory))
    truth = clean_hits(clip.spec, clip.trajectory)
    assert len(truth) >= 2
    for true in truth:
        assert any(abs(h.time - true.time) <= frame and h.material == true.material for h in hits)
    for hit in hits:
        assert any(abs(c.time - hit.time) <= frame and not isinstance(c.b, int)
                   and clip.spec.objects[c.a].material == hit.material for c in clip.trajectory.contacts)


def test_without_a_caption_no_material_is_known_and_no_hit_is_scored(bounce_clip):
    assert tracked_clean_hits(analyze(bounce_clip.frames, bounce_clip.fps), "") == []
