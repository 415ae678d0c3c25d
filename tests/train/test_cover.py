"""The cover probe: object cover read off a latent, for a loss weight from the model's own prediction."""

from __future__ import annotations

import pytest
import torch

from minisora.flow.loss import clean_estimate, flow_loss, velocity_target
from minisora.train.cover import CoverProbe, fit_cover_probe, load_or_fit_probe, prediction_weight
from minisora.train.shards import LatentClip


def _clips(n: int, seed: int = 0) -> list[LatentClip]:
    """Latents whose rows share a background, with a 'object' in a few cells that stands out
    along a direction of its own; the object map says where."""
    direction = torch.randn(4, generator=torch.Generator().manual_seed(1234))  # the same in every set
    g = torch.Generator().manual_seed(seed)
    clips = []
    for _ in range(n):
        z = torch.randn(4, 3, 1, 1, generator=g).expand(4, 3, 6, 6).clone()  # a background per frame
        z = z + 0.2 * torch.randn(4, 3, 6, 6, generator=g)
        objects = torch.zeros(3, 6, 6, dtype=torch.uint8)
        for f in range(3):
            y, x = (int(v) for v in torch.randint(0, 6, (2,), generator=g))
            z[:, f, y, x] += 2.5 * direction
            objects[f, y, x] = 255
        clips.append(LatentClip(z, ["a caption"], objects))
    return clips


def test_probe_finds_what_stands_out_of_its_row():
    probe, fit = fit_cover_probe(_clips(60), clips_used=60, steps=300, batch=512, seed=1)
    assert fit["correlation"] > 0.9 and fit["on_objects"] > 0.8 and fit["elsewhere"] < 0.05, fit
    held_out = _clips(5, seed=9)
    z = torch.stack([c.latent for c in held_out])
    cover = probe(z)
    assert cover.shape == (5, 3, 6, 6) and ((cover >= 0) & (cover <= 1)).all()
    truth = torch.stack([c.objects for c in held_out]) > 0
    assert cover[truth].min() > cover[~truth].max() - 0.2 and cover[truth].mean() > 0.8
    assert CoverProbe.features(z).shape == (5, 3, 6, 6, 8)
    with pytest.raises(ValueError, match="object maps"):
        fit_cover_probe([LatentClip(z[0], ["x"], None)])


def test_probe_is_written_once_and_read_back(tmp_path):
    path = tmp_path / "run" / "cover_probe.safetensors"
    probe, fit = load_or_fit_probe(path, _clips(20), seed=3)
    assert fit is not None and path.is_file() and not list(path.parent.glob("*.partial"))
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left beside it
    again, refit = load_or_fit_probe(path, [], seed=99)  # resuming: read, never fitted anew
    assert refit is None
    z = torch.randn(2, 4, 3, 6, 6)
    assert torch.equal(probe(z), again(z))


def test_prediction_weight_reads_the_model_estimate_not_the_clip():
    """The weight is 1 + W x the probe's cover of x_t - t v, on frames under the noise gate; and
    flow_loss calls it with detached tensors, so no gradient flows through the weight."""
    probe, _ = fit_cover_probe(_clips(60), clips_used=60, steps=300, batch=512, seed=1)
    clip = _clips(1, seed=5)[0]
    x0, eps = clip.latent[None], torch.randn(1, 4, 3, 6, 6, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([[0.2, 0.4, 0.8]])
    x_t = (1 - t[:, None, :, None, None]) * x0 + t[:, None, :, None, None] * eps
    exact = velocity_target(x0, eps)  # a model that knows the clip: its estimate is x0 itself
    assert torch.allclose(clean_estimate(x_t, t, exact), x0, atol=1e-5)
    weight_fn = prediction_weight(probe, 4.0, below=0.5)
    w = weight_fn(x_t, t, exact)
    assert w.shape == (1, 3, 6, 6)
    assert torch.allclose(w[:, :2], 1 + 4.0 * probe(x0)[:, :2], atol=1e-5)
    assert (w[:, 2] == 1).all()  # t = 0.8 is above the gate
    assert w[0, 0][clip.objects[0] > 0].min() > 3.5  # the object's cell weighs ~5, the others ~1
    assert w[0, 0][clip.objects[0] == 0].max() < 1.5

    seen = []
    param = torch.zeros((), requires_grad=True)

    def model(x, tt):
        return exact + param + 0.1

    def recording(x, tt, v):
        seen.append((x.requires_grad, v.requires_grad))
        return weight_fn(x, tt, v)

    loss = flow_loss(model, x0, eps, t, None, recording)
    loss.backward()
    assert seen == [(False, False)] and param.grad is not None
    # the weight changes the mean over cells, as a tensor weight of the same values does
    assert torch.allclose(loss, flow_loss(model, x0, eps, t, None, weight_fn(x_t, t, exact + 0.1)))
