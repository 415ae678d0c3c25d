"""Rectified flow: the time convention, the shift, the loss and the samplers, checked exactly."""

from __future__ import annotations

import math

import pytest
import torch

from minisora.flow import (
    cfg_velocity,
    euler_step,
    flow_loss,
    interpolate,
    sample,
    sample_timesteps,
    sampling_times,
    shift_for_tokens,
    shift_time,
    velocity_target,
)
from minisora.flow.samplers import guided_denoiser


def test_time_convention_endpoints():
    x0, eps = torch.randn(2, 3, 4, 2, 2), torch.randn(2, 3, 4, 2, 2)
    assert torch.equal(interpolate(x0, eps, torch.zeros(2, 4)), x0)
    assert torch.equal(interpolate(x0, eps, torch.ones(2, 4)), eps)
    # following the true velocity from t = 1 reaches the data
    assert torch.allclose(euler_step(eps, velocity_target(x0, eps), 1.0), x0, atol=1e-6)


def test_shift_formula():
    t = torch.linspace(0, 1, 11)
    assert torch.equal(shift_time(t, 1.0), t)
    s = shift_for_tokens(1024, 256)
    assert s == 2.0
    assert torch.allclose(shift_time(t, s), 2 * t / (1 + t))
    assert shift_time(torch.tensor([0.0, 1.0]), 3.0).tolist() == [0.0, 1.0]


def test_logit_normal_and_per_frame_draws():
    g = torch.Generator().manual_seed(0)
    t = sample_timesteps(20000, 1, generator=g)
    assert t.min() > 0 and t.max() < 1
    assert abs(float(torch.logit(t).mean())) < 0.03 and abs(float(torch.logit(t).std()) - 1) < 0.03
    shared = sample_timesteps(8, 5, per_frame_prob=0.0, generator=g)
    assert torch.equal(shared, shared[:, :1].expand(-1, 5))
    own = sample_timesteps(8, 5, per_frame_prob=1.0, generator=g)
    assert (own.std(dim=1) > 0).all()
    # a larger shift means more noise on average
    assert sample_timesteps(4000, 1, shift=3.0, generator=g).mean() > t.mean() + 0.1


def test_loss_ignores_conditioning_frames():
    x0, eps = torch.randn(2, 3, 4, 2, 2), torch.randn(2, 3, 4, 2, 2)
    t = torch.full((2, 4), 0.5)
    cond = torch.tensor([[True, False, False, False], [True, True, False, False]])
    seen = {}

    def perfect_except_cond(x, tt):
        seen["t"], seen["x"] = tt, x
        v = velocity_target(x0, eps).clone()
        v[:, :, 0] += 100.0  # wrong on frame 0, which is conditioning in both clips
        return v

    loss = flow_loss(perfect_except_cond, x0, eps, t, cond)
    assert loss.item() == 0.0
    assert torch.equal(seen["t"][cond], torch.zeros(3))  # conditioning frames are at t = 0 ...
    assert torch.equal(seen["x"][:, :, 0], x0[:, :, 0])  # ... and clean
    assert flow_loss(perfect_except_cond, x0, eps, t).item() > 0


def test_euler_step_is_exactly_x_minus_dt_v():
    """The sampler's update is x - dt v, bit for bit, on a shifted grid."""
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(2, 3, 4, 2, 2, generator=g)
    weights = torch.randn(2, 3, 4, 2, 2, generator=g)
    times = sampling_times(3, shift=2.0)

    def velocity(x, t):
        return weights * x + t[:, None, :, None, None]

    x = noise.clone()
    for i in range(3):
        t = times[i].expand(2, 4)
        x = x - (times[i] - times[i + 1]) * velocity(x, t)
    assert torch.equal(sample(velocity, noise, times), x)
    assert times[0] == 1 and times[-1] == 0


def test_heun_is_exact_on_straight_paths():
    """With the true (constant) velocity of a straight path, Euler and Heun both land on x0."""
    x0, eps = torch.randn(1, 2, 3, 2, 2), torch.randn(1, 2, 3, 2, 2)
    v = velocity_target(x0, eps)
    for method in ("euler", "heun"):
        out = sample(lambda x, t: v, eps, sampling_times(4, 3.0), method=method)
        assert torch.allclose(out, x0, atol=1e-5)


def test_conditioning_frame_passes_through_unchanged():
    g = torch.Generator().manual_seed(2)
    noise, clean = torch.randn(2, 3, 5, 2, 2, generator=g), torch.randn(2, 3, 5, 2, 2, generator=g)
    cond = torch.zeros(2, 5, dtype=torch.bool)
    cond[:, 0] = True
    cond[1, 4] = True
    seen_t = []

    def velocity(x, t):
        seen_t.append(t)
        return torch.sin(3 * x) + 1.0

    for method, ctx in (("euler", 0.0), ("heun", 0.0), ("euler", 0.05)):
        seen_t.clear()
        out = sample(velocity, noise, sampling_times(6), clean, cond, method=method, context_noise=ctx)
        assert torch.equal(out[:, :, 0], clean[:, :, 0])
        assert torch.equal(out[1, :, 4], clean[1, :, 4])
        assert not torch.equal(out[0, :, 4], noise[0, :, 4])  # frames to generate do move
        expected_ctx = torch.full((3,), ctx)
        assert all(torch.equal(t[cond], expected_ctx) for t in seen_t)


def test_cfg():
    vc, vu = torch.randn(3, 4), torch.randn(3, 4)
    torch.testing.assert_close(cfg_velocity(vc, vu, 1.0), vc)
    assert torch.equal(cfg_velocity(vc, vu, 0.0), vu)
    torch.testing.assert_close(cfg_velocity(vc, vu, 5.0), vu + 5 * (vc - vu))


def test_guided_denoiser_batches_cond_and_uncond():
    calls = []

    def model(x, t, text, mask):
        calls.append((x.shape[0], text.shape[1]))
        return x * text.sum(dim=(1, 2))[:, None, None, None, None] * mask.sum(1)[:, None, None, None, None]

    x, t = torch.ones(2, 1, 1, 1, 1), torch.zeros(2, 1)
    text, mask = torch.ones(2, 3, 1), torch.ones(2, 3, dtype=torch.bool)
    null, null_mask = torch.ones(1, 2, 1), torch.ones(1, 2, dtype=torch.bool)
    v = guided_denoiser(model, text, mask, null, null_mask, scale=4.0)(x, t)
    assert calls == [(4, 3)]  # one call, batch 2B, padded to the longer caption
    assert torch.allclose(v, torch.full_like(v, 4 + 4.0 * (9 - 4)))
    assert math.isclose(float(guided_denoiser(model, text, mask, null, null_mask, 1.0)(x, t)[0]), 9.0)


def test_guided_denoiser_gives_the_count_to_the_conditional_branch_only():
    seen = []

    def model(x, t, text, mask, count=None):
        seen.append(count)
        return x * (1 + count.float())[:, None, None, None, None]

    x, t = torch.ones(1, 1, 1, 1, 1), torch.zeros(1, 1)
    text, mask = torch.ones(1, 3, 1), torch.ones(1, 3, dtype=torch.bool)
    null, null_mask = torch.ones(1, 2, 1), torch.ones(1, 2, dtype=torch.bool)
    v = guided_denoiser(model, text, mask, null, null_mask, 2.0, count=torch.tensor([3]))(x, t)
    assert seen[-1].tolist() == [3, 0]  # unconditional: 0, "unknown", as with a dropped caption
    assert float(v) == 1 + 2.0 * (4 - 1)
    assert float(guided_denoiser(model, text, mask, null, null_mask, 1.0, count=torch.tensor([5]))(x, t)) == 6


def test_guidance_interval_guides_only_inside_it():
    """Outside [lo, hi] a step is the conditional model alone (one call of batch B)."""
    calls = []

    def model(x, t, text, mask):
        calls.append(x.shape[0])
        return x * text.sum(dim=(1, 2))[:, None, None, None, None]

    x = torch.ones(1, 1, 2, 1, 1)
    text, mask = torch.full((1, 1, 1), 3.0), torch.ones(1, 1, dtype=torch.bool)
    null, null_mask = torch.ones(1, 1, 1), torch.ones(1, 1, dtype=torch.bool)
    guided = guided_denoiser(model, text, mask, null, null_mask, 2.0, interval=(0.2, 0.8))
    # the frames being made decide: a clean (t = 0) conditioning frame beside them does not
    assert float(guided(x, torch.tensor([[0.0, 0.5]]))[0, 0, 0]) == 1 + 2 * (3 - 1)
    assert float(guided(x, torch.tensor([[0.0, 0.9]]))[0, 0, 0]) == 3.0
    assert float(guided(x, torch.tensor([[0.0, 0.1]]))[0, 0, 0]) == 3.0
    assert calls == [2, 1, 1]
    # conditioning frames noised above the made frames' level (context noise) do not count
    made = torch.tensor([False, True])
    late = guided_denoiser(model, text, mask, null, null_mask, 2.0, interval=(0.0, 0.1), made=made)
    assert float(late(x, torch.tensor([[0.2, 0.05]]))[0, 0, 0]) == 1 + 2 * (3 - 1)
    with pytest.raises(ValueError, match="guidance interval"):
        guided_denoiser(model, text, mask, null, null_mask, 2.0, interval=(0.8, 0.2))


def test_context_guidance_blinds_the_unconditional_branch():
    """With given_noise, the unconditional half sees the given frames as that noise at t = 1
    (the model's "nothing given"); the conditional half and the frames being made are untouched."""
    seen = []

    def model(x, t, text, mask):
        seen.append((x.clone(), t.clone()))
        return torch.zeros_like(x)

    x = torch.arange(3.0).reshape(1, 1, 3, 1, 1)  # frame 0 given (clean), frames 1-2 being made
    t = torch.tensor([[0.0, 0.6, 0.6]])
    made = torch.tensor([False, True, True])
    noise = torch.full_like(x, 7.0)
    text, mask = torch.ones(1, 2, 1), torch.ones(1, 2, dtype=torch.bool)
    null, null_mask = torch.ones(1, 1, 1), torch.ones(1, 1, dtype=torch.bool)
    guided_denoiser(model, text, mask, null, null_mask, 3.0, made=made, given_noise=noise)(x, t)
    (xs, ts), = seen
    assert torch.equal(xs[0], x[0]) and torch.equal(ts[0], t[0])  # conditional: as given
    assert xs[1, 0, :, 0, 0].tolist() == [7.0, 1.0, 2.0] and torch.equal(ts[1], torch.tensor([1.0, 0.6, 0.6]))
    seen.clear()
    guided_denoiser(model, text, mask, null, null_mask, 3.0, made=made)(x, t)  # off: the caption alone
    assert torch.equal(seen[0][0][1], x[0]) and torch.equal(seen[0][1][1], t[0])
    seen.clear()
    everything = torch.ones(3, dtype=torch.bool)  # nothing given: the same as plain guidance
    guided_denoiser(model, text, mask, null, null_mask, 3.0, made=everything, given_noise=noise)(x, t)
    assert torch.equal(seen[0][0][1], x[0])
    with pytest.raises(ValueError, match="needs `made`"):
        guided_denoiser(model, text, mask, null, null_mask, 3.0, given_noise=noise)


def test_loss_weight_is_a_weighted_mean_over_cells():
    """A uniform weight is no weight; a weight on one cell makes that cell's error count more,
    the same for every channel; conditioning frames still carry none."""
    x0, eps = torch.randn(2, 3, 4, 2, 2), torch.randn(2, 3, 4, 2, 2)
    t = torch.full((2, 4), 0.5)
    cond = torch.tensor([[True, False, False, False], [False, False, False, False]])

    def wrong_at_one_cell(x, tt):
        v = velocity_target(x0, eps).clone()
        v[:, :, 1, 0, 0] += 1.0  # error 1 on every channel at (frame 1, cell 0, 0)
        v[:, :, 0] += 100.0  # and a large one on frame 0: conditioning in clip 0 only
        return v

    plain = flow_loss(wrong_at_one_cell, x0, eps, t, cond)
    assert torch.allclose(flow_loss(wrong_at_one_cell, x0, eps, t, cond, torch.full((2, 4, 2, 2), 3.0)), plain)
    # the plain mean over the generated cells against the same with one cell weighted 5x
    weight = torch.ones(2, 4, 2, 2)
    weight[:, 1, 0, 0] = 5.0
    weighted = flow_loss(wrong_at_one_cell, x0, eps, t, cond, weight)
    cells = 3 * 4 + 4 * 4  # generated cells of clip 0 and clip 1
    err = 2 * 1.0 + 4 * 100.0**2  # per channel: the one cell in both clips, clip 1's frame 0
    assert torch.allclose(plain, torch.tensor(err / cells))
    assert torch.allclose(weighted, torch.tensor((2 * 5.0 + 4 * 100.0**2) / (cells + 2 * 4.0)))
    with pytest.raises(ValueError, match="loss weight must be"):
        flow_loss(wrong_at_one_cell, x0, eps, t, cond, torch.ones(2, 4, 2))
