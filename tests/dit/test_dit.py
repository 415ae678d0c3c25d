"""DiT contracts on a tiny config: shapes, any grid, determinism, identity start, save/load, backward."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from minisora.dit.config import DIT_PRESETS, DiTConfig, dit_config
from minisora.dit.model import DiT, patchify, unpatchify
from minisora.dit.rope import apply_rope, rope_angles, rope_cos_sin


def tiny_inputs(b=2, t=3, h=4, w=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 4, t, h, w, generator=g)
    times = torch.rand(b, t, generator=g)
    text = torch.randn(b, 5, 32, generator=g)
    mask = torch.ones(b, 5, dtype=torch.bool)
    mask[1, 3:] = False
    return x, times, text, mask


def trained_like(model: DiT, seed: int = 1) -> DiT:
    """Give the zero-initialised layers random weights so outputs depend on every input."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model


def test_patchify_roundtrip():
    x = torch.randn(2, 4, 6, 8, 10)
    for patch in [(1, 2, 2), (2, 2, 2), (1, 1, 1)]:
        tokens = patchify(x, patch)
        grid = (6 // patch[0], 8 // patch[1], 10 // patch[2])
        assert tokens.shape == (2, grid[0] * grid[1] * grid[2], 4 * patch[0] * patch[1] * patch[2])
        assert torch.equal(unpatchify(tokens, patch, grid, 4), x)


@pytest.mark.parametrize("grid", [(1, 2, 2), (3, 4, 6), (5, 6, 2)])
def test_forward_shapes_any_size_aspect_duration(grid):
    model = trained_like(DiT(DIT_PRESETS["tiny"]))
    x, t, text, mask = tiny_inputs(t=grid[0], h=grid[1], w=grid[2])
    v = model(x, t, text, mask)
    assert v.shape == x.shape and torch.isfinite(v).all()


def test_starts_as_zero_velocity():
    """adaLN-Zero: the final projection starts at zero, so the untrained model outputs 0."""
    model = DiT(DIT_PRESETS["tiny"])
    x, t, text, mask = tiny_inputs()
    assert torch.equal(model(x, t, text, mask), torch.zeros_like(x))


def test_deterministic_and_batch_independent():
    model = trained_like(DiT(DIT_PRESETS["tiny"]))
    x, t, text, mask = tiny_inputs()
    v1, v2 = model(x, t, text, mask), model(x, t, text, mask)
    assert torch.equal(v1, v2)
    single = model(x[1:], t[1:], text[1:], mask[1:])
    torch.testing.assert_close(single, v1[1:], atol=1e-5, rtol=1e-5)


def test_padding_tokens_are_ignored():
    model = trained_like(DiT(DIT_PRESETS["tiny"]))
    x, t, text, mask = tiny_inputs()
    changed = text.clone()
    changed[1, 3:] = 100.0  # masked positions
    torch.testing.assert_close(model(x, t, changed, mask), model(x, t, text, mask))


def test_each_frame_follows_its_own_timestep():
    """Changing frame 0's t changes the output: the per-frame modulation is wired in."""
    model = trained_like(DiT(DIT_PRESETS["tiny"]))
    x, t, text, mask = tiny_inputs()
    t2 = t.clone()
    t2[:, 0] = 0.0
    assert not torch.allclose(model(x, t, text, mask), model(x, t2, text, mask))
    # a (B,) timestep means the same t for every frame
    same = t[:, :1].expand_as(t)
    torch.testing.assert_close(model(x, t[:, 0], text, mask), model(x, same, text, mask))


def test_rope_is_relative_in_time():
    """Shifting every position by the same frame offset leaves q.k unchanged."""
    cfg = DIT_PRESETS["tiny"]
    q, k = torch.randn(1, 1, 12, cfg.head_dim), torch.randn(1, 1, 12, cfg.head_dim)
    dots = []
    for offset in (0, 7):
        angles = rope_angles((3, 2, 2), cfg.rope_split, cfg.rope_theta, frame_offset=offset)
        cos, sin = rope_cos_sin(angles)
        dots.append(apply_rope(q, cos, sin) @ apply_rope(k, cos, sin).transpose(-1, -2))
    torch.testing.assert_close(dots[0], dots[1], atol=1e-4, rtol=1e-4)


def test_backward_reaches_every_parameter():
    model = trained_like(DiT(DIT_PRESETS["tiny"]))
    x, t, text, mask = tiny_inputs()
    model(x, t, text, mask).pow(2).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_save_load_strict(tmp_path):
    model = trained_like(DiT(DIT_PRESETS["tiny"]))
    model.config.save(tmp_path / "config.json")
    save_file(model.state_dict(), str(tmp_path / "model.safetensors"))
    again = DiT(DiTConfig.load(tmp_path / "config.json"))
    again.load_state_dict(load_file(str(tmp_path / "model.safetensors")), strict=True)
    x, t, text, mask = tiny_inputs()
    assert torch.equal(again(x, t, text, mask), model(x, t, text, mask))


def test_bad_inputs_say_what_to_do():
    model = DiT(DIT_PRESETS["tiny"])
    x, t, text, mask = tiny_inputs()
    with pytest.raises(ValueError, match="divisible by the patch"):
        model(x[..., :3], t, text, mask)
    with pytest.raises(ValueError, match="expected \\(B,\\) or \\(B, T'\\)"):
        model(x, t[:, :2], text, mask)
    with pytest.raises(ValueError, match="encode ''"):
        model(x, t, text, torch.zeros_like(mask))
    with pytest.raises(ValueError, match="unknown"):
        dit_config("world-xxl")


def test_presets_sizes():
    """world-s is ~10 M parameters; the large presets are in their advertised ranges."""
    expected = {"world-s": (8e6, 12e6), "world-m": (80e6, 130e6), "base-l": (0.5e9, 0.7e9),
                "base-xl": (1e9, 2e9)}
    for name, (low, high) in expected.items():
        with torch.device("meta"):
            n = DiT(DIT_PRESETS[name]).num_parameters()
        assert low <= n <= high, (name, n)
    assert dit_config("world-s", depth=3).width == 128


def test_bf16_weights_and_autocast_agree_with_fp32():
    model = trained_like(DiT(DIT_PRESETS["tiny"]))
    x, t, text, mask = tiny_inputs()
    reference = model(x, t, text, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast = model(x, t, text, mask)
    bf16 = DiT(DIT_PRESETS["tiny"]).to(torch.bfloat16)
    bf16.load_state_dict(model.state_dict())
    direct = bf16(x, t, text, mask)
    assert autocast.dtype == direct.dtype == torch.float32  # the output follows x
    scale = reference.abs().mean()
    assert (autocast - reference).abs().mean() < 0.05 * scale
    assert (direct - reference).abs().mean() < 0.05 * scale


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["world-s", "world-m", "base-l", "base-xl"])
def test_every_preset_runs_forward_and_backward(preset):
    cfg = DIT_PRESETS[preset]
    model = DiT(cfg)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, cfg.latent_channels, 2, 4, 6, generator=g)
    text, mask = torch.randn(1, 7, cfg.text_dim, generator=g), torch.ones(1, 7, dtype=torch.bool)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        v = model(x, torch.tensor([[0.3, 0.9]]), text, mask)
    assert v.shape == x.shape and torch.equal(v, torch.zeros_like(v))  # adaLN-Zero start
    v.float().sub(x).pow(2).mean().backward()
    assert model.final.linear.weight.grad.abs().sum() > 0


def test_count_embedding_starts_silent_then_tells_counts_apart():
    x, t, text, mask = tiny_inputs()
    plain = trained_like(DiT(dit_config("tiny")))
    counted = DiT(dit_config("tiny", count_classes=4))
    state = {**counted.state_dict(), **plain.state_dict()}  # the plain model's weights, the count at zero
    counted.load_state_dict(state)
    with torch.no_grad():
        reference = plain(x, t, text, mask)
        for count in (None, torch.tensor([0, 2]), torch.tensor([3, 9])):
            torch.testing.assert_close(counted(x, t, text, mask, count=count), reference)
        counted.count_embed.weight.normal_(0, 0.5)
        two, three, many = (counted(x, t, text, mask, count=torch.tensor([n, n])) for n in (2, 3, 7))
        assert not torch.allclose(two, three)
        torch.testing.assert_close(counted(x, t, text, mask, count=torch.tensor([3, 3])), many)  # 3+ is the last
        torch.testing.assert_close(counted(x, t, text, mask), counted(x, t, text, mask, count=torch.zeros(2)))
    with pytest.raises(ValueError, match="count of shape"):
        counted(x, t, text, mask, count=torch.tensor([1]))
    with pytest.raises(ValueError, match="count_classes"):
        dit_config("tiny", count_classes=1)
