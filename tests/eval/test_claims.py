"""Compiling prompts into claims: each part of the prompt gives the claims it should."""

from __future__ import annotations

from collections import Counter

from minisora.eval.claims import compile_claims


def _kinds(prompt: str, seconds: float = 4.0) -> Counter:
    return Counter(c.kind for c in compile_claims(prompt, seconds))


def test_each_prompt_part_compiles_to_its_claims():
    assert _kinds("three red balls") == {"count": 2, "binding": 1, "permanence": 1}
    assert _kinds("a green triangle to the left of a pink ball")["spatial"] == 1
    assert _kinds("a purple square slides to the right")["motion"] == 1
    assert _kinds("a cyan ball falls") == {
        "count": 2,
        "binding": 1,
        "motion": 1,
        "gravity": 1,
        "permanence": 1,
        "av_sync": 1,
    }
    assert _kinds("a blue rubber ball bounces")["bounce"] == 1
    assert _kinds("a red ball hits a blue square which turns yellow")["collision"] == 3
    assert _kinds("a red ball rolls behind a grey wall")["occlusion"] == 1
    assert _kinds("the camera pans left over two red squares")["camera"] == 1
    assert _kinds("three balls bounce", 30.0)["long_horizon"] == 2


def test_claims_name_objects_by_what_the_prompt_says():
    texts = [c.text for c in compile_claims("a red ball hits a blue square which turns yellow")]
    assert "the red circle hits the blue square" in texts
    assert "the blue square turns yellow when hit, not before" in texts
    # a colour shared by two shapes binds to both
    binding = [c for c in compile_claims("a red ball and a red square") if c.kind == "binding"]
    assert binding[0].args == {"color": "red", "shapes": ["circle", "square"]}
