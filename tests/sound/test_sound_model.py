"""The sound DiT on a tiny config: shapes, determinism, the shared timeline, backward."""

from __future__ import annotations

import pytest
import torch

from minisora.sound.config import SOUND_PRESETS, SoundConfig
from minisora.sound.model import SoundDiT, audio_token_times, latent_frame_times


def tiny(seed: int = 0, **overrides) -> SoundDiT:
    from dataclasses import replace

    torch.manual_seed(seed)
    model = SoundDiT(replace(SOUND_PRESETS["tiny"], **overrides))
    with torch.no_grad():  # adaLN-Zero starts as v = 0: randomise everything so outputs mean something
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    return model.eval()


def inputs(model: SoundDiT, frames: int = 5, mel_frames: int = 40, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    cfg = model.config
    latents = torch.randn(2, cfg.latent_channels, frames, 4, 6, generator=g)
    x = torch.randn(2, cfg.mel.n_mels, mel_frames, generator=g)
    text = torch.randn(2, 3, cfg.text_dim, generator=g)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    return x, latents, text, mask


def grids_for(latents: torch.Tensor, seed: int = 2) -> torch.Tensor:
    """Random luma grids for the video frames a latent clip holds (4 (T' - 1) + 1)."""
    b, _, t = latents.shape[:3]
    g = SOUND_PRESETS["tiny"].frame_grid
    return torch.rand(b, 4 * (t - 1) + 1, g, g, generator=torch.Generator().manual_seed(seed))


def run(model, x, latents, text, mask, fps=16.0, offset=0.0, shift=0.0, keep=(True, True), grids=None):
    grids = grids_for(latents) if grids is None else grids
    video = model.encode_video(latents, fps, frames=grids).shifted(shift)
    return model(x, torch.tensor([0.3, 0.8]), video, torch.tensor(keep), text, mask, audio_offset=offset)


def test_shapes_and_determinism():
    model = tiny()
    x, latents, text, mask = inputs(model)
    out = run(model, x, latents, text, mask)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert torch.equal(out, run(tiny(), x, latents, text, mask))  # same seed, same weights, same output
    assert not torch.allclose(out, run(tiny(seed=1), x, latents, text, mask))


def test_fresh_model_predicts_a_zero_mel():
    """adaLN-Zero: the untrained network predicts the clean mel 0, so v = x_t / t."""
    model = SoundDiT(SOUND_PRESETS["tiny"])
    x, latents, text, mask = inputs(model)
    v = run(model, x, latents, text, mask)
    assert torch.allclose(v, x / torch.tensor([0.3, 0.8])[:, None, None], atol=1e-6)
    v = run(model, x, latents, text, mask, keep=(False, False))
    assert torch.allclose(v, x / torch.tensor([0.3, 0.8])[:, None, None], atol=1e-6)


def test_audio_and_video_share_one_clock_in_seconds():
    """Rotary positions count seconds: moving audio and video together changes nothing, moving
    only the video changes the output (audio at tau attends to the video around tau)."""
    model = tiny()
    x, latents, text, mask = inputs(model)
    base = run(model, x, latents, text, mask)
    together = run(model, x, latents, text, mask, offset=1.25, shift=1.25)
    assert torch.allclose(base, together, atol=1e-4)
    apart = run(model, x, latents, text, mask, shift=0.5)
    assert (base - apart).abs().max() > 1e-2


def test_timeline_of_tokens():
    cfg = SoundConfig()
    assert torch.allclose(audio_token_times(3, cfg), torch.tensor([0.015, 0.055, 0.095], dtype=torch.float64))
    # latent 0 is frame 0; latent 1 holds frames 1-4 (centre 2.5 / 16 s); latent 2 frames 5-8
    assert torch.allclose(latent_frame_times(3, 16.0, cfg), torch.tensor([0.0, 2.5 / 16, 6.5 / 16],
                                                                         dtype=torch.float64))


def test_dropped_video_and_text_are_the_unconditional_model():
    model = tiny()
    x, latents, text, mask = inputs(model)
    dropped = run(model, x, latents, text, torch.zeros_like(mask), keep=(False, False))
    other = run(model, x, torch.randn_like(latents), torch.randn_like(text), torch.zeros_like(mask),
                keep=(False, False), grids=grids_for(latents, seed=5))
    assert torch.allclose(dropped, other, atol=1e-5)  # nothing of the video or text gets through
    assert (dropped - run(model, x, latents, text, mask)).abs().max() > 1e-2


def test_backward_reaches_every_parameter():
    model = tiny().train()
    x, latents, text, mask = inputs(model)
    run(model, x, latents, text, mask, keep=(True, False)).pow(2).mean().backward()  # the null too
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_bad_shapes_say_what_is_expected():
    model = tiny()
    x, latents, text, mask = inputs(model)
    with pytest.raises(ValueError, match="multiple of"):
        run(model, x[..., :-1], latents, text, mask)
    with pytest.raises(ValueError, match="expected"):
        model.encode_video(latents[:, :3], 16.0, frames=grids_for(latents))
    with pytest.raises(ValueError, match="frame_grid"):
        model.encode_video(latents, 16.0, frames=torch.rand(2, 17, 5, 5))


def test_config_round_trip(tmp_path):
    cfg = SoundConfig(vae_fingerprint="ab" * 32)
    cfg.save(tmp_path / "config.json")
    assert SoundConfig.load(tmp_path / "config.json") == cfg


def test_each_audio_token_hears_the_latent_frame_of_its_moment():
    """The frame-aligned path: a token at tau gets the pooled features of the latent frame whose
    video frames span tau (changing another latent frame far away leaves it unchanged)."""
    from minisora.sound.model import latent_frame_spans

    starts, ends = latent_frame_spans(3, 16.0, SoundConfig())
    assert torch.allclose(starts * 16, torch.tensor([0.0, 1.0, 5.0], dtype=torch.float64))
    assert torch.allclose(ends * 16, torch.tensor([1.0, 5.0, 9.0], dtype=torch.float64))
    model = tiny()
    latents = torch.randn(1, 16, 6, 4, 4)
    times = torch.tensor([0.02, 0.2, 1.3])  # latent frames 0, 1 and 5 (frames 17-20 span 1.0625-1.3125 s)
    grids = grids_for(latents)
    base = model.aligned_video(model.encode_video(latents, 16.0, frames=grids), times)
    changed = latents.clone()
    changed[:, :, 5] += 1.0
    after = model.aligned_video(model.encode_video(changed, 16.0, frames=grids), times)
    assert torch.allclose(base[:, :2], after[:, :2], atol=1e-6)  # frame 5 is not near tau = 0.02, 0.2
    assert (base[:, 2] - after[:, 2]).abs().max() > 1e-3


def test_each_audio_token_sees_the_video_frames_around_its_moment():
    """The frame-rate path: a token at tau hears frames f-1 .. f+2 (f = floor(tau * fps)); a
    change to a frame further away leaves it unchanged, a change to one of those changes it."""
    model = tiny()
    latents = torch.randn(1, 16, 3, 4, 4)
    grids = grids_for(latents)  # 9 frames at 16 fps
    times = torch.tensor([0.03, 0.33])  # frames 0 (-1 .. 2) and 5 (4 .. 7)
    base = model.aligned_frames(model.encode_video(latents, 16.0, frames=grids), times)
    far = grids.clone()
    far[:, 8] += 0.5  # frame 8: near neither
    same = model.aligned_frames(model.encode_video(latents, 16.0, frames=far), times)
    assert torch.allclose(base, same, atol=1e-6)
    near = grids.clone()
    near[:, 7] += 0.5  # frame 7: f + 2 for the token at 0.33 s
    moved = model.aligned_frames(model.encode_video(latents, 16.0, frames=near), times)
    assert torch.allclose(base[:, 0], moved[:, 0], atol=1e-6)
    assert (base[:, 1] - moved[:, 1]).abs().max() > 1e-3


def test_conditioning_made_once_serves_every_step():
    """Sampling makes the video and text keys once per window (SoundDiT.condition): each step
    then gives exactly what a full forward pass gives, and the cache is not changed by use."""
    model = tiny()
    x, latents, text, mask = inputs(model)
    video = model.encode_video(latents, 16.0, frames=grids_for(latents))
    keep = torch.tensor([True, False])
    with torch.no_grad():
        conditioning = model.condition(x.shape[-1], video, keep, text, mask, audio_offset=0.5)
        for t in (0.9, 0.4, 0.9):
            times = torch.tensor([t, t])
            full = model(x * t, times, video, keep, text, mask, audio_offset=0.5)
            assert torch.equal(model(x * t, times, conditioning=conditioning), full)
        with pytest.raises(ValueError, match="conditioning made for 40 mel frames"):
            model(x[..., :36], torch.tensor([0.5, 0.5]), conditioning=conditioning)


def tiny_conv(seed: int = 0, colors: int = 1) -> SoundDiT:
    """The tiny preset with the frame convolutions (FrameEncoder) on an 8 x 8 grid, randomised."""
    return tiny(seed, frame_conv=4, conv_grid=8, frame_colors=colors)


def test_frame_convolutions_added_to_a_trained_model_start_silent():
    """A model given the convolutions (train-sound --frame-conv from weights without them)
    starts as the model it was: same weights, the finer grid pooled to the old one, same output."""
    from dataclasses import replace

    import torch.nn.functional as F

    old = tiny()
    new = SoundDiT(replace(old.config, frame_conv=4, conv_grid=8)).eval()
    missing, unexpected = new.load_state_dict(old.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith(("frame_encoder.", "seen_mlp.")) for k in missing)
    x, latents, text, mask = inputs(old)
    fine = torch.rand(2, 4 * (latents.shape[2] - 1) + 1, 8, 8, generator=torch.Generator().manual_seed(3))
    before = run(old, x, latents, text, mask, grids=F.avg_pool2d(fine, 2))
    assert torch.allclose(run(new, x, latents, text, mask, grids=fine), before, atol=1e-6)
    with torch.no_grad():
        new.seen_mlp[-1].weight.normal_(0.0, 0.2)  # trained: the convolutions now speak
    assert (run(new, x, latents, text, mask, grids=fine) - before).abs().max() > 1e-3


def test_the_frame_convolutions_see_seven_frames_around_each_of_a_tokens_four():
    """A token at frame f reads the convolution features of frames f-1 .. f+2, each of which has
    seen frames t-3 .. t+3 and the change into frame t-3: frames f-5 .. f+5 reach it, no more."""
    model = tiny_conv()
    latents = torch.randn(1, 16, 5, 4, 4)
    grids = torch.rand(1, 17, 8, 8, generator=torch.Generator().manual_seed(4))
    times = torch.tensor([0.03, 0.6])  # frames 0 (0 .. 5 reach it) and 9 (4 .. 14)
    base = model.aligned_frames(model.encode_video(latents, 16.0, frames=grids), times)
    cases = ((3, [True, False]), (4, [True, True]), (5, [True, True]), (6, [False, True]), (14, [False, True]),
             (15, [False, False]))
    for frame, reaches in cases:
        changed = grids.clone()
        changed[:, frame] += 0.5
        after = model.aligned_frames(model.encode_video(latents, 16.0, frames=changed), times)
        assert [bool((base[:, i] - after[:, i]).abs().max() > 1e-4) for i in range(2)] == reaches, frame


@pytest.mark.parametrize("colors", [1, 3])
def test_a_training_crop_reads_the_frames_of_the_whole_clip(colors):
    """collate() keeps only the frames around a crop (less compute): the model's output is
    exactly what the whole clip's frames give, luma or colour."""
    from minisora.sound.train import collate

    model = tiny_conv(colors=colors)
    cfg = model.config
    g = torch.Generator().manual_seed(6)
    grids = torch.rand(2, 33, *cfg.input_shape, generator=g)
    items = [{"mel": torch.randn(cfg.mel.n_mels, 210, generator=g), "latents": torch.randn(16, 9, 4, 4, generator=g),
              "frames": grids[i], "fps": 16, "text": torch.randn(3, cfg.text_dim, generator=g)} for i in range(2)]
    firsts = set()
    for seed in range(6):
        batch = collate(items, cfg, crop=3, generator=torch.Generator().manual_seed(seed))
        firsts.add(batch["first_latent"])
        assert batch["frames"].shape[1] < 33
        args = (batch["mel"], torch.tensor([0.3, 0.7]))
        rest = dict(video_keep=torch.tensor([True, True]), text=batch["text"], text_mask=batch["mask"],
                    audio_offset=batch["audio_offset"])
        cropped = model.encode_video(batch["latents"], 16.0, batch["first_latent"], frames=batch["frames"],
                                     frames_start=batch["frames_start"])
        whole = model.encode_video(batch["latents"], 16.0, batch["first_latent"], frames=grids)
        assert torch.allclose(model(*args, cropped, **rest), model(*args, whole, **rest), atol=1e-6)
    assert len(firsts) > 2  # crops at the start, the middle and the end were drawn


def test_conv_grid_must_pool_to_the_frame_grid():
    with pytest.raises(ValueError, match="conv_grid 20 must be a multiple of 8"):
        SoundConfig(frame_conv=8, conv_grid=20)
    assert SoundConfig(frame_conv=8).input_grid == 32 and SoundConfig().input_grid == 16


def test_colour_grids_hold_the_luma_grids():
    """frame_grid's colour (colors=3) weighed as luma is its luma grid: the MLP path of a colour
    model reads what a luma model's does."""
    import torch.nn.functional as F

    from minisora.sound.model import frame_grid, luma_of

    video = torch.rand(2, 3, 5, 24, 40, generator=torch.Generator().manual_seed(7)) * 2 - 1
    colour = frame_grid(video, 8, colors=3)
    assert colour.shape == (2, 5, 3, 8, 8) and colour.min() >= 0 and colour.max() <= 1
    luma = 0.299 * video[:, 0] + 0.587 * video[:, 1] + 0.114 * video[:, 2]  # Rec. 601, per pixel, then pooled
    expected = F.adaptive_avg_pool2d((luma + 1.0) / 2.0, 8)
    assert torch.allclose(frame_grid(video, 8), expected, atol=1e-6)
    assert torch.allclose(luma_of(colour), expected, atol=1e-6)


def test_colour_convolutions_tell_apart_what_luma_cannot():
    """Two clips whose frames differ only in hue (a red and a green square of one luma moving the
    same way): a colour model hears them differently, a luma model cannot."""
    from minisora.sound.model import LUMA, luma_of

    torch.manual_seed(8)
    latents = torch.randn(1, 16, 3, 4, 4)
    red, green = torch.zeros(1, 9, 3, 8, 8), torch.zeros(1, 9, 3, 8, 8)
    for f in range(9):  # a square moving right, red in one clip, green of the same luma in the other
        red[0, f, 0, 2:5, f % 6: f % 6 + 3] = 0.9
        green[0, f, 1, 2:5, f % 6: f % 6 + 3] = 0.9 * LUMA[0] / LUMA[1]
    assert torch.allclose(luma_of(red), luma_of(green), atol=1e-6)
    times = torch.linspace(0.02, 0.5, 6)
    colour = tiny_conv(colors=3)
    heard = [colour.aligned_frames(colour.encode_video(latents, 16.0, frames=g), times) for g in (red, green)]
    assert (heard[0] - heard[1]).abs().max() > 1e-3
    luma = tiny_conv()
    heard = [luma.aligned_frames(luma.encode_video(latents, 16.0, frames=luma_of(g)), times) for g in (red, green)]
    assert torch.allclose(heard[0], heard[1], atol=1e-5)


def test_colour_needs_the_convolutions_and_three_channels():
    with pytest.raises(ValueError, match="frame_colors 3: 1 \\(luma\\) or 3 \\(colour, with frame_conv\\)"):
        SoundConfig(frame_colors=3)
    with pytest.raises(ValueError, match="frame_colors 2"):
        SoundConfig(frame_conv=8, frame_colors=2)
    assert SoundConfig(frame_conv=8, frame_colors=3).input_shape == (3, 32, 32)
    model = tiny_conv(colors=3)
    x, latents, text, mask = inputs(model)
    with pytest.raises(ValueError, match=r"expected \(2, T, 3, 8, 8\) from frame_grid\(video, 8, colors=3\)"):
        model.encode_video(latents, 16.0, frames=torch.rand(2, 17, 8, 8))
