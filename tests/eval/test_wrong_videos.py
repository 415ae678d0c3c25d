"""Deliberately wrong videos fail exactly the claims they should, and say where."""

from __future__ import annotations

import dataclasses

import numpy as np

from minisora.eval import analyze
from minisora.eval.claims import compile_claims
from minisora.world import render_clip
from minisora.world.prompt import parse_prompt


def _verdicts(prompt, analysis):
    return [c.check(analysis) for c in compile_claims(prompt)]


def _failed(verdicts):
    return sorted(v.text for v in verdicts if not v.passed)


def test_wrong_count_fails_only_the_counts(render_analysis, round_trip):
    prompt = "three red balls"
    _, analysis = render_analysis(parse_prompt("two red balls", seed=0))
    verdicts = _verdicts(prompt, analysis)
    assert _failed(verdicts) == ["exactly 3 objects in all", "exactly 3 red circles"]
    wrong = next(v for v in verdicts if v.text == "exactly 3 red circles")
    assert wrong.value == 2 and wrong.frame == 0 and "expected 3" in wrong.detail


def test_wrong_direction_fails_only_the_motion(render_analysis, round_trip):
    prompt = "a purple square slides to the right"
    spec = parse_prompt(prompt, seed=0)
    obj = spec.objects[0]
    mirrored = dataclasses.replace(obj, x=spec.view_width - obj.x, vx=-obj.vx)
    _, analysis = render_analysis(dataclasses.replace(spec, objects=[mirrored]))
    verdicts = _verdicts(prompt, analysis)
    assert _failed(verdicts) == ["the purple square moves right"]
    wrong = next(v for v in verdicts if not v.passed)
    assert wrong.track == 0 and wrong.value < 0


def test_vanishing_object_fails_only_permanence(render_analysis, round_trip):
    prompt = "a red ball and a blue square"
    spec = parse_prompt(prompt, seed=0)
    full = render_clip(spec)
    without = render_clip(dataclasses.replace(spec, objects=spec.objects[:1]))
    np.testing.assert_allclose(full.trajectory.positions[:, 0], without.trajectory.positions[:, 0])
    cut = 30
    frames = np.concatenate([full.frames[:cut], without.frames[cut:]])
    video = round_trip(frames, full.fps, full.audio)
    verdicts = _verdicts(prompt, analyze(video.frames, video.fps, video.audio, video.sample_rate))
    assert _failed(verdicts) == ["nothing appears or vanishes in the open"]
    wrong = next(v for v in verdicts if not v.passed)
    assert wrong.frame == cut - 1 and "vanishes" in wrong.detail


def test_effect_before_cause_fails_only_the_order(render_analysis, round_trip):
    prompt = "a red ball hits a blue square which turns yellow"
    spec = parse_prompt(prompt, seed=0)
    clip = render_clip(spec)
    hit = int(clip.trajectory.contacts[0].time * clip.fps)
    early = dataclasses.replace(
        spec,
        rules=[],
        objects=[spec.objects[0], dataclasses.replace(spec.objects[1], color="yellow")],
    )
    yellow = render_clip(early, with_audio=False)
    frames = clip.frames.copy()
    frames[hit - 2 : hit + 1] = yellow.frames[hit - 2 : hit + 1]  # it turns yellow two frames early
    video = round_trip(frames, clip.fps, clip.audio)
    verdicts = _verdicts(prompt, analyze(video.frames, video.fps, video.audio, video.sample_rate))
    assert _failed(verdicts) == ["the blue square turns yellow when hit, not before"]
    wrong = next(v for v in verdicts if not v.passed)
    assert (
        wrong.frame in (hit - 2, hit - 3) and wrong.track == 1 and "before the hit" in wrong.detail
    )
