"""Long text-to-video is storyboarded: each chunk is conditioned on its own window's caption."""

from __future__ import annotations

from pipeline_helpers import FAST, moving_square, write_image

from minisora.pipeline import GenerateConfig, generate
from minisora.pipeline.generation import chunk_captions
from minisora.pipeline.timeline import chunk_windows, plan_forward
from minisora.text.refine import refine_prompt, storyboard_prompt

PROMPT = "a wood ball falls"  # lands, bounces, rests: later windows read differently from the first


def test_each_chunk_is_captioned_from_its_window(world, tmp_path):
    g = generate(world, PROMPT, tmp_path / "long.gif", seconds=4, seed=2, **FAST)
    board = storyboard_prompt(PROMPT, seed=2, width=32, height=32, fps=16, duration=1.0, length=4.0)
    windows = chunk_windows(65, FAST["chunk_latents"], FAST["context_latents"])
    assert len(g.chunks) == len(windows) > 2
    # the first chunk is captioned as a 1 s generation (a chunk's length here) would be
    short = refine_prompt(PROMPT, seed=2, width=32, height=32, fps=16, duration=1.0).caption
    assert g.caption == board.caption(*windows[0]) == short
    expected, last = [], g.caption
    for start, stop in windows[1:]:
        text = board.caption(start, stop)
        if text != last:
            expected.append(f"from {start / 16:g} s: {text}")
            last = text
    assert expected, "the ball must come to rest within the clip"
    assert [n for n in g.notes if n.startswith("from ")] == expected
    assert "rests on the floor" in expected[-1]
    # what `minisora refine --seconds 4` shows, without a model, is what the chunks were given
    config = GenerateConfig(PROMPT, seconds=4, seed=2, chunk_latents=FAST["chunk_latents"],
                            context_latents=FAST["context_latents"])
    assert chunk_captions(config, (32, 32)) == [(0.0, g.caption)] + [
        (float(n.split(" s: ")[0][5:]), n.split(" s: ", 1)[1]) for n in expected]


def test_chunk_windows_follow_the_plan():
    windows = chunk_windows(65, 5, 1)  # 5-latent chunks, 1 latent frame of context (5 frames)
    assert windows[0] == (0, 17) and windows[1] == (12, 29)  # 5 given frames, 3 new latents
    assert all(b[0] == a[1] - 5 for a, b in zip(windows, windows[1:]))  # each takes 5 frames of context
    assert windows[-1][1] >= 65 and len(windows) == len(plan_forward(0, 65, 5, 1))


def test_without_the_storyboard_every_chunk_has_the_first_caption(world, tmp_path):
    g = generate(world, PROMPT, tmp_path / "long.gif", seconds=4, seed=2, storyboard=False, **FAST)
    assert not [n for n in g.notes if n.startswith("from ")]
    refined = refine_prompt(PROMPT, seed=2, width=32, height=32, fps=16, duration=1.0).caption
    assert g.caption == refined


def test_one_chunk_and_other_modes_are_not_storyboarded(world, tmp_path):
    short = generate(world, PROMPT, tmp_path / "short.gif", seconds=1, seed=2, **FAST)
    assert short.caption == refine_prompt(PROMPT, seed=2, width=32, height=32, fps=16, duration=1.0).caption
    image = write_image(tmp_path / "still.png", moving_square(1, 32, 32)[0])
    i2v = generate(world, PROMPT, tmp_path / "i2v.gif", image=image, seconds=3, seed=2, **FAST)
    assert len(i2v.chunks) > 1 and not [n for n in i2v.notes if n.startswith("from ")]
