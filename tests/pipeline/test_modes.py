"""Every prompting mode on a tiny random world model loaded from a real checkpoint folder.

The model is random, so these are contract and oracle tests: shapes, durations, frame rates,
determinism, and that the given frames come through the sampler unchanged in latent space."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pipeline_helpers import FAST, moving_square, write_image

from minisora.media import probe, read_video, write_mp4
from minisora.pipeline import generate
from minisora.pipeline.chunks import to_pixels

PROMPT = "a red ball bounces to the right"


def encode(world, frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (C, T', H', W') latents, as the pipeline encodes given frames."""
    return world.vae.encode(to_pixels(frames))[0]


def test_text_to_video_writes_the_requested_clip(world, tmp_path):
    g = generate(world, PROMPT, tmp_path / "t2v.mp4", seconds=1, **FAST)
    assert g.frames.shape == (17, 32, 32, 3) and g.fps == 16 and g.mode == "text-to-video"
    info = probe(g.path)
    assert (info.width, info.height, info.frames, info.fps) == (32, 32, 17, 16)
    assert "red" in g.caption and g.caption != PROMPT  # refined into a training-style caption
    assert len(g.chunks) == 1 and not g.chunks[0].cond_mask.any()
    assert g.frames.std() > 0


def test_same_seed_same_video_other_seed_another(world, tmp_path):
    a = generate(world, PROMPT, tmp_path / "a.gif", seconds=2, seed=3, **FAST)
    b = generate(world, PROMPT, tmp_path / "b.gif", seconds=2, seed=3, **FAST)
    c = generate(world, PROMPT, tmp_path / "c.gif", seconds=2, seed=4, **FAST)
    assert len(a.chunks) > 1  # determinism holds across chunks too
    np.testing.assert_array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, c.frames)


@pytest.mark.parametrize("fps,frames", [(8, 9), (16, 17), (24, 25)])
def test_any_fps_keeps_the_duration(world, tmp_path, fps, frames):
    g = generate(world, PROMPT, tmp_path / "f.mp4", seconds=1, fps=fps, **FAST)
    assert g.frames.shape[0] == frames and probe(g.path).fps == fps


def test_other_aspect_ratio_and_png_frames(world, tmp_path):
    g = generate(world, PROMPT, tmp_path / "wide", seconds=1, format="png", **{**FAST, "size": (48, 32)})
    assert g.frames.shape == (17, 32, 48, 3)
    assert len(list(g.path.glob("*.png"))) == 17


def test_image_to_video_keeps_the_image_as_the_first_latent_frame(world, tmp_path):
    image = moving_square(1, 32, 32)
    path = write_image(tmp_path / "still.png", image[0])
    g = generate(world, PROMPT, tmp_path / "i2v.mp4", image=path, seconds=1, **FAST)
    np.testing.assert_array_equal(g.frames[0], image[0])  # PNG is lossless
    assert g.frames.shape[0] == 17
    first = g.chunks[0]
    assert first.cond_mask.tolist() == [True, False, False, False, False]
    assert torch.equal(first.latents[:, :1], encode(world, image))  # bit for bit


def test_image_of_another_size_is_cropped_and_resized_with_a_note(world, tmp_path):
    path = write_image(tmp_path / "photo.jpg", np.full((40, 100, 3), 128, np.uint8), codec="mjpeg")
    g = generate(world, PROMPT, tmp_path / "i2v.mp4", image=path, seconds=1,
                 **{k: v for k, v in FAST.items() if k != "size"})
    assert g.frames.shape[1:3] == (64, 112)  # 2.5:1 -> 16:9, the nearest supported aspect
    assert any("resized from 100x40 to 112x64" in n and "cropping" in n for n in g.notes)


def test_extend_forward_keeps_the_given_clip_and_its_latents(world, tmp_path, clip_file):
    given = read_video(clip_file).frames
    g = generate(world, PROMPT, tmp_path / "ext.mp4", extend=clip_file, seconds=1, **FAST)
    assert g.frames.shape[0] == 21 + 16 and g.fps == 16
    np.testing.assert_array_equal(g.frames[:21], given)
    first, second = g.chunks
    assert first.cond_mask.tolist() == [True, True, False, False, False]
    assert torch.equal(first.latents[:, :2], encode(world, given[-5:]))
    # the next chunk's context is the tail of what the first made: the overlap
    assert torch.equal(second.latents[:, :2], encode(world, g.frames[28:33]))


def test_extend_backward_ends_on_the_given_clip(world, tmp_path, clip_file):
    given = read_video(clip_file).frames
    g = generate(world, PROMPT, tmp_path / "back.mp4", extend=clip_file, backward=True, seconds=1, **FAST)
    assert g.frames.shape[0] == 16 + 21
    np.testing.assert_array_equal(g.frames[16:], given)
    first = g.chunks[0]
    assert first.cond_mask.tolist() == [False] * 4 + [True]
    assert torch.equal(first.latents[:, -1:], encode(world, given[:5])[:, 1:])


def test_loop_closes_on_its_own_first_frames(world, tmp_path):
    g = generate(world, PROMPT, tmp_path / "loop.gif", loop=True, seconds=2, **FAST)
    assert g.frames.shape[0] == 32  # 2 s at 16 fps, no closing copy of frame 0
    seam = g.chunks[-1]
    assert seam.cond_mask.tolist() == [True, True, False, False, True]
    assert torch.equal(seam.latents[:, -1:], encode(world, g.frames[:5])[:, 1:])
    assert torch.equal(seam.latents[:, :2], encode(world, g.frames[32 - 8 - 5 + 1:32 - 8 + 1]))


def test_connect_runs_from_the_first_clip_into_the_second(world, tmp_path, clip_file):
    first_clip = read_video(clip_file).frames
    second = write_mp4(tmp_path / "b.mp4", moving_square(13, 32, 32, colour=(40, 80, 230)), 16)
    second_clip = read_video(second).frames
    g = generate(world, PROMPT, tmp_path / "bridge.mp4", connect=(clip_file, second), seconds=1, **FAST)
    assert g.frames.shape[0] == 21 + 15 + 13  # B's first frame is 1 s after A's last
    np.testing.assert_array_equal(g.frames[:21], first_clip)
    np.testing.assert_array_equal(g.frames[-13:], second_clip)
    last = g.chunks[-1]
    assert last.cond_mask.tolist() == [True, True, False, True]
    assert torch.equal(last.latents[:, -1:], encode(world, second_clip[:5])[:, 1:])


def test_edit_at_full_strength_is_text_to_video(world, tmp_path, clip_file):
    options = {**FAST, "refine": False, "seed": 7}
    edited = generate(world, PROMPT, tmp_path / "e.mp4", edit=clip_file, strength=1.0, **options)
    fresh = generate(world, PROMPT, tmp_path / "t.mp4", seconds=1.25, **options)
    assert edited.frames.shape[0] == 21
    np.testing.assert_array_equal(edited.frames, fresh.frames)


def test_edit_at_low_strength_stays_near_the_clip(world, tmp_path, clip_file):
    given = read_video(clip_file).frames
    g = generate(world, PROMPT, tmp_path / "e.mp4", edit=clip_file, strength=0.02, **FAST)
    first = g.chunks[0]
    assert first.start_time == pytest.approx(0.02)
    target = encode(world, given[:17])
    far = generate(world, PROMPT, tmp_path / "f.mp4", edit=clip_file, strength=0.9, **FAST).chunks[0]
    near_error = (first.latents - target).abs().mean()
    assert near_error < 0.25 * target.abs().mean()  # the random model moves it by ~strength * |v|
    assert near_error < 0.25 * (far.latents - target).abs().mean()


def test_long_video_is_made_in_chunks_with_overlap(world, tmp_path):
    g = generate(world, PROMPT, tmp_path / "long.mp4", seconds=3, **FAST)
    assert g.frames.shape[0] == 49 and probe(g.path).frames == 49
    assert [c.plan.latents for c in g.chunks] == [5, 5, 5, 4]
    start = g.chunks[0].plan.new_frames
    for chunk in g.chunks[1:]:
        assert torch.equal(chunk.latents[:, :2], encode(world, g.frames[start - 5:start]))
        start += chunk.plan.new_frames


def test_loop_from_an_image_starts_on_it_and_returns_to_it(world, tmp_path):
    image = moving_square(1, 32, 32)
    path = write_image(tmp_path / "still.png", image[0])
    g = generate(world, PROMPT, tmp_path / "iloop.mp4", image=path, loop=True, seconds=2, **FAST)
    assert g.mode == "image-loop" and g.frames.shape[0] == 32
    np.testing.assert_array_equal(g.frames[0], image[0])
    assert torch.equal(g.chunks[0].latents[:, :1], encode(world, image))
    assert torch.equal(g.chunks[-1].latents[:, -1:], encode(world, g.frames[:5])[:, 1:])


@pytest.mark.slow
def test_a_minute_on_the_world_s_preset_in_constant_size_chunks(tmp_path):
    """60 s at 64x64 with the world-s architecture (random weights, 2 steps): 961 frames."""
    from minisora.autoencoder import VAE_PRESETS, VideoVAE
    from minisora.dit.config import dit_config
    from minisora.dit.model import DiT
    from minisora.pipeline import WorldModel

    vae = VideoVAE(VAE_PRESETS["f8c16"]).eval()
    model = WorldModel(DiT(dit_config("world-s")).eval(), vae, _text_encoder(), "world-s-random", tmp_path)
    g = generate(model, PROMPT, tmp_path / "minute.mp4", seconds=60, steps=2, keep_latents=True)
    assert g.frames.shape == (961, 64, 64, 3) and probe(g.path).frames == 961
    assert len(g.chunks) == 20 and {c.plan.latents for c in g.chunks[1:-1]} == {17}
    assert {tuple(c.latents.shape) for c in g.chunks[1:-1]} == {(16, 17, 8, 8)}


def _text_encoder():
    from minisora.text.encoder import TextEncoder

    return TextEncoder()


def test_extend_into_a_loop_and_no_prompt_with_an_input(world, tmp_path, clip_file):
    given = read_video(clip_file).frames
    g = generate(world, "", tmp_path / "eloop.mp4", extend=clip_file, loop=True, seconds=1, **FAST)
    assert g.mode == "extend-loop" and g.caption == "" and any("no prompt" in n for n in g.notes)
    assert g.frames.shape[0] == 21 + 15  # the 16th new frame would be the clip's first again
    np.testing.assert_array_equal(g.frames[:21], given)
    assert torch.equal(g.chunks[-1].latents[:, -1:], encode(world, given[:5])[:, 1:])


def test_progress_counts_every_step_and_can_cancel(world, tmp_path):
    from minisora.pipeline import GenerationCancelled

    seen = []
    generate(world, PROMPT, tmp_path / "p.gif", seconds=2, progress=lambda d, t, s: seen.append((d, t)), **FAST)
    assert [d for d, _ in seen] == list(range(1, len(seen) + 1))
    assert {t for _, t in seen} == {len(seen)} == {2 * 3}  # 2 steps x 3 chunks, planned in advance
    with pytest.raises(GenerationCancelled):
        generate(world, PROMPT, tmp_path / "c.gif", seconds=2, progress=lambda d, t, s: d < 3, **FAST)
    assert not (tmp_path / "c.gif").exists()


def test_sound_hook_muxes_what_the_sound_model_returns(world, tmp_path):
    """The hook issue 9's sound model plugs into: frames and caption in, a soundtrack out."""
    from minisora.pipeline.sound import Soundtrack

    calls = []

    def tone(video):
        calls.append(video)
        n = round(video.frames.shape[0] / video.fps * 16000)
        return Soundtrack((0.2 * np.sin(np.arange(n) / 16000 * 2 * np.pi * 440)).astype(np.float32), 16000)

    g = generate(world, PROMPT, tmp_path / "s.mp4", seconds=1, sound=tone, **FAST)
    assert calls[0].caption == g.caption and calls[0].frames.shape == g.frames.shape
    assert probe(g.path).has_audio
    silent = generate(world, PROMPT, tmp_path / "q.mp4", seconds=1, sound=None, **FAST)
    assert not probe(silent.path).has_audio
    assert not probe(generate(world, PROMPT, tmp_path / "f.mp4", seconds=1, sound=False, **FAST).path).has_audio
    with pytest.raises(TypeError, match="SoundModel"):
        generate(world, PROMPT, tmp_path / "bad.mp4", seconds=1, sound=3, **FAST)
    assert not (tmp_path / "bad.mp4").exists()


@pytest.mark.parametrize("lookahead", [False, True])
def test_chunk_frames_are_the_decode_of_its_latents(world, tmp_path, clip_file, lookahead):
    """A chunk's frames are those of decoding all of its latents: a causal decoder needs none of
    the after-context, a look-ahead one (tiny, random) its first latent frame."""
    import dataclasses

    from minisora.autoencoder import VAE_PRESETS, VAEConfig, VideoVAE

    if lookahead:
        torch.manual_seed(0)
        vae = VideoVAE(VAEConfig.from_dict({**VAE_PRESETS["tiny-patch-lookahead"].to_dict(),
                                            "latent_shift": world.vae.config.latent_shift,
                                            "latent_scale": world.vae.config.latent_scale})).eval()
        torch.nn.init.normal_(vae.decoder.layers[0].ahead.weight, std=0.3)
        world = dataclasses.replace(world, vae=vae)
    second = write_mp4(tmp_path / "b.mp4", moving_square(13, 32, 32, colour=(40, 80, 230)), 16)
    g = generate(world, PROMPT, tmp_path / "bridge.mp4", connect=(clip_file, second), seconds=1, **FAST)
    last = g.chunks[-1]
    whole = world.vae.decode(last.latents[None])  # (1, 3, frames, H, W)
    start = last.plan.before
    expected = ((whole[0, :, start:start + last.plan.new_frames].clamp(-1, 1) + 1) * 127.5).round()
    np.testing.assert_array_equal(last.frames, expected.to(torch.uint8).permute(1, 2, 3, 0).numpy())


def test_context_guidance_changes_only_chunks_with_given_frames(world, tmp_path):
    """Guiding on the given frames too changes image-to-video (its image still comes through) and
    leaves text-to-video, which has no given frames, exactly as it was; the manifest says which."""
    from minisora.provenance.manifest import read_manifest

    path = write_image(tmp_path / "still.png", moving_square(1, 32, 32)[0])
    on = generate(world, PROMPT, tmp_path / "on.mp4", image=path, seconds=1, **FAST)
    off = generate(world, PROMPT, tmp_path / "off.mp4", image=path, seconds=1, context_guidance=False, **FAST)
    np.testing.assert_array_equal(on.frames[0], off.frames[0])
    assert not np.array_equal(on.frames[1:], off.frames[1:])
    assert read_manifest(on.path).generation["parameters"]["context_guidance"] is True
    assert read_manifest(off.path).generation["parameters"]["context_guidance"] is False
    t2v = [generate(world, PROMPT, tmp_path / f"t{flag}.gif", seconds=1, context_guidance=flag, **FAST).frames
           for flag in (True, False)]
    np.testing.assert_array_equal(*t2v)
