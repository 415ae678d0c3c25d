"""The contact path: contacts the world tracker sees, their features, their bins around audio
tokens, and a model that reads them."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from minisora.sound.config import SOUND_PRESETS
from minisora.sound.model import SoundDiT, audio_token_times
from minisora.sound.tracked import (
    BIN_S,
    BINS,
    COLORS,
    FAR,
    FEATURES,
    PARTNERS,
    RAW,
    binned,
    contact_features,
    pad_contacts,
    track_contacts,
)
from minisora.world.spec import SHAPES, SIZES


def test_the_tracker_sees_the_bounces_when_they_happen(bounce_clip):
    """Rendered frames, the real tracker: every clearly visible landing of the red ball is seen
    within half a frame of the simulation's time, against the floor, as a red circle."""
    rows = track_contacts(bounce_clip.frames, bounce_clip.fps)
    assert rows.shape[1] == RAW and rows.dtype == torch.float32
    assert torch.all(rows[1:, 0] >= rows[:-1, 0])  # in time order
    landings = [c.time for c in bounce_clip.trajectory.contacts
                if c.a == 0 and c.b == "floor" and c.speed > 0.5 and c.time > 1.0]
    assert len(landings) >= 3
    half_frame = 0.5 / bounce_clip.fps
    for time in landings:
        near = rows[(rows[:, 0] - time).abs() <= half_frame]
        assert len(near) == 1, f"landing at {time:.3f} s: seen {near[:, 0].tolist()}"
        row = near[0]
        assert row[1] == 1 and row[3] > 0  # a contact (not a faint jump), bounced up
        assert PARTNERS[int(row[4])] == "floor"
        assert (COLORS[int(row[5])], SHAPES[int(row[6])]) == ("red", "circle")
        assert row[8:].tolist() == [-1, -1, -1]  # no partner object
    # the two objects meet: one row names the other as its partner
    assert any(PARTNERS[int(r[4])] == "object" and r[8] >= 0 for r in rows)


def test_a_still_video_has_no_contacts():
    frames = torch.full((17, 32, 32, 3), 40, dtype=torch.uint8).numpy()
    assert track_contacts(frames, 16.0).shape == (0, RAW)


def test_features_one_hot_what_is_known_and_leave_the_unknown_empty():
    raw = torch.tensor([[0.5, 1.0, 0.0, 2.0, PARTNERS.index("floor"), COLORS.index("blue"),
                         SHAPES.index("square"), list(SIZES).index("large"), -1, -1, -1],
                        [0.9, 0.0, 3.0, 4.0, PARTNERS.index("object"), -1, -1, -1, 0, 0, 0]])
    f = contact_features(raw)
    assert f.shape == (2, 1 + FEATURES) and f[:, 0].tolist() == pytest.approx([0.5, 0.9])
    assert f[0, 1:3].tolist() == [1, 0] and f[1, 1:3].tolist() == [0, 1]  # strong, faint
    assert f[1, 3] == pytest.approx(torch.log1p(torch.tensor(5.0)).item())  # |dv| = 5
    partner = f[:, 6: 6 + len(PARTNERS)]
    assert partner.sum(1).tolist() == [1, 1] and partner[0, PARTNERS.index("floor")] == 1
    objects = f[:, 6 + len(PARTNERS):]
    assert objects[0].sum() == 3 and objects[1].sum() == 3  # first row: its own look; second: its partner's
    assert objects[0, COLORS.index("blue")] == 1 and objects[1, : len(COLORS) + 6].sum() == 0


def test_a_contact_lands_in_the_bins_of_its_offset_from_each_token():
    f = contact_features(torch.tensor([[1.0, 1.0, 0.0, 1.0, 1, 0, 0, 0, -1, -1, -1]]))
    contacts = pad_contacts([f, f[:0]])  # a clip with one contact, one with none
    assert contacts.shape == (2, 1, 1 + FEATURES) and contacts[1, 0, 0] == FAR
    times = torch.tensor([1.0, 0.99, 1.05, 1.2, 0.5])
    out = binned(contacts, times).reshape(2, 5, BINS, FEATURES)
    strong = out[..., 0]  # the "strong" feature is 1: its bin weights
    centre = BINS // 2
    assert strong[0, 0].tolist() == pytest.approx([1.0 if j == centre else 0.0 for j in range(BINS)], abs=1e-4)
    # 10 ms after the token's centre: half in the centre bin, half in the next (+20 ms)
    assert strong[0, 1, centre] == pytest.approx(0.5, abs=1e-4) and strong[0, 1, centre + 1] == pytest.approx(0.5, abs=1e-4)
    # 50 ms before the token: half in the -40 and -60 ms bins
    assert strong[0, 2, centre - 2] == pytest.approx(0.5, abs=1e-4) and strong[0, 2, centre - 3] == pytest.approx(0.5, abs=1e-4)
    assert strong[0, 3:].abs().sum() == 0 and out[1].abs().sum() == 0  # beyond reach; padding reaches nothing
    assert BIN_S * (BINS // 2 + 1) < 0.2


def tracked_model(seed: int = 0) -> SoundDiT:
    torch.manual_seed(seed)
    return SoundDiT(replace(SOUND_PRESETS["tiny"], tracked_contacts=True))


def inputs(contacts: torch.Tensor | None):
    torch.manual_seed(1)
    latents, grids = torch.randn(1, 16, 5, 4, 4), torch.rand(1, 17, 4, 4)
    x, t = torch.randn(1, 16, 100), torch.tensor([0.7])
    text, mask = torch.randn(1, 3, 384), torch.ones(1, 3, dtype=torch.bool)
    return latents, grids, x, t, text, mask, contacts


def velocity(model, latents, grids, x, t, text, mask, contacts):
    video = model.encode_video(latents, 16.0, frames=grids, contacts=contacts)
    return model(x, t, video, torch.tensor([True]), text, mask)


def test_the_contact_path_starts_silent_and_then_hears_only_around_its_contact():
    """Added to a model it starts at zero (weights without it give the same velocity); once it
    has learned anything, its output changes at the audio tokens within reach of the contact and
    nowhere else (attention then spreads it: the test reads the path's own output)."""
    plain = SoundDiT(SOUND_PRESETS["tiny"])
    model = tracked_model()
    state = plain.state_dict()
    model.load_state_dict(state, strict=False)
    contacts = pad_contacts([contact_features(torch.tensor([[0.5, 1.0, 0.0, 1.5, 1, 0, 0, 0, -1, -1, -1]]))])
    a = velocity(model, *inputs(contacts))
    latents, grids, x, t, text, mask, _ = inputs(None)
    b = plain(x, t, plain.encode_video(latents, 16.0, frames=grids), torch.tensor([True]), text, mask)
    assert torch.equal(a, b)
    with torch.no_grad():
        model.contact_mlp[-1].weight.normal_(0.0, 0.1)
    video = model.encode_video(latents, 16.0, frames=grids, contacts=contacts)
    times = audio_token_times(25, model.config)
    heard = model.contact_mlp(binned(video.contacts, times))[0].abs().sum(-1)  # (N,)
    near = (times - 0.5).abs() < 0.08  # 100 mel frames: 25 tokens over 1 s
    assert near.sum() >= 3 and torch.all(heard[~near] == heard[~near][0])  # far tokens: the bias alone
    assert torch.all((heard[near] - heard[~near][0]).abs() > 1e-4)
    moved = pad_contacts([contact_features(torch.tensor([[0.3, 1.0, 0.0, 1.5, 1, 0, 0, 0, -1, -1, -1]]))])
    added = [model.condition(100, model.encode_video(latents, 16.0, frames=grids, contacts=c), torch.tensor([True]),
                             text, mask).added for c in (contacts, moved)]
    assert not torch.allclose(*added)  # what the blocks read moves with the contact


def test_a_model_with_the_contact_path_needs_the_contacts():
    model = tracked_model()
    latents, grids, *_ = inputs(None)
    with pytest.raises(ValueError, match="tracked.pad_contacts"):
        model.encode_video(latents, 16.0, frames=grids)
    with pytest.raises(ValueError, match="tracked.pad_contacts"):
        model.encode_video(latents, 16.0, frames=grids, contacts=torch.zeros(1, 2, 5))


def test_guidance_doubles_the_contacts_and_a_shift_moves_them():
    model = tracked_model()
    latents, grids, *_ = inputs(None)
    contacts = pad_contacts([contact_features(torch.tensor([[1.0, 1.0, 0.0, 1.5, 1, 0, 0, 0, -1, -1, -1]]))])
    video = model.encode_video(latents, 16.0, frames=grids, contacts=contacts)
    assert video.doubled().contacts.shape[0] == 2
    assert video.shifted(0.5).contacts[0, 0, 0] == pytest.approx(1.5) and video.contacts[0, 0, 0] == 1.0


def test_the_caption_names_the_material_of_a_tracked_object_when_only_one_fits():
    from minisora.sound.tracked import caption_materials, material_of
    from minisora.world.spec import MATERIALS

    caption = ("A small red rubber ball bounces. A large red metal square rests on the floor. "
               "A blue glass triangle slides, and the red ball hits the blue triangle, which turns green.")
    looks = caption_materials(caption)
    red, circle, square = COLORS.index("red"), SHAPES.index("circle"), SHAPES.index("square")
    size = list(SIZES).index
    assert material_of(looks, red, circle, size("small")) == list(MATERIALS).index("rubber")
    assert material_of(looks, red, square, -1) == list(MATERIALS).index("metal")
    assert material_of(looks, red, -1, -1) == -1  # two red objects of two materials: not told
    assert material_of(looks, COLORS.index("green"), SHAPES.index("triangle"), -1) == list(MATERIALS).index("glass")
    assert material_of(looks, COLORS.index("pink"), circle, -1) == -1 and material_of([], red, circle, 0) == -1
    assert caption_materials("") == [] and caption_materials("zorblax flurbs") == []
    raw = torch.tensor([[0.5, 1.0, 0.0, 1.0, PARTNERS.index("object"), red, circle, size("small"),
                         red, square, size("large")]])
    f = contact_features(raw, caption)[0, -2 * len(MATERIALS):]
    assert f.tolist() == [1, 0, 0, 0, 0, 0, 1, 0]  # rubber hits metal
    assert contact_features(raw)[0, -2 * len(MATERIALS):].sum() == 0


def test_partner_dropout_tells_a_share_of_contacts_without_their_partner():
    from minisora.sound.tracked import COLORS, MATERIALS, PARTNERS, contact_features, drop_partners

    ball = (COLORS.index("red"), SHAPES.index("circle"), list(SIZES).index("small"))
    square = (COLORS.index("blue"), SHAPES.index("square"), list(SIZES).index("large"))
    raw = torch.tensor([[0.5 + 0.1 * i, 1.0, 0.3, -2.0, 0.0, *ball, *square] for i in range(400)])
    rows = contact_features(raw, "A small red rubber ball and a large blue wood square.")
    partner = slice(6, 6 + len(PARTNERS))
    assert torch.equal(drop_partners(rows, 0.0), rows)
    out = drop_partners(rows, 0.3, torch.Generator().manual_seed(0))
    dropped = out[:, partner].argmax(1) == PARTNERS.index("unknown")
    assert 0.2 < dropped.float().mean() < 0.4
    kept = ~dropped
    assert torch.equal(out[kept], rows[kept])  # the rest untouched
    # a row: time, 5 of strength and velocity jump, 4 partner kinds, the object's look (8 colours,
    # 3 shapes, 3 sizes), the partner's look, the object's material, the partner's material
    look = 8 + 3 + 3
    partner_look, object_material = slice(10 + look, 10 + 2 * look), slice(10 + 2 * look, 14 + 2 * look)
    assert rows.shape[1] == 10 + 2 * look + 2 * len(MATERIALS)
    assert rows[:, partner_look].sum() > 0 and rows[:, -4:].sum() > 0  # a blue wood square partner
    assert rows[:, object_material].sum() > 0  # hit by a red rubber ball
    assert out[dropped][:, partner_look].abs().sum() == 0 and out[dropped][:, -4:].abs().sum() == 0
    keep = torch.cat([torch.arange(6), torch.arange(10, 10 + look), torch.arange(object_material.start, 46 - 4)])
    assert torch.equal(out[dropped][:, keep], rows[dropped][:, keep])  # when, how hard, which object, its material


def test_without_strong_takes_out_the_tracked_contacts_of_the_clips_named():
    from minisora.sound.tracked import FAR, STRONG, contact_features, pad_contacts, without_strong

    ball = (COLORS.index("red"), SHAPES.index("circle"), list(SIZES).index("small"))
    none = (-1, -1, -1)
    raw = torch.tensor([[0.5, 1.0, 0.3, -2.0, 1.0, *ball, *none],    # a strong floor contact
                        [1.0, 0.0, 0.1, 0.2, 3.0, *ball, *none],     # a faint jump
                        [2.0, 1.0, -1.0, 0.0, 2.0, *ball, *none]])  # a strong wall contact
    rows = pad_contacts([contact_features(raw), contact_features(raw[:2])])  # (2, 3, 1 + FEATURES)
    assert torch.equal(without_strong(rows, torch.tensor([False, False])), rows)
    out = without_strong(rows, torch.tensor([True, False]))
    assert out[0, :, 0].tolist() == [FAR, 1.0, FAR]  # clip 0: its strong contacts reach no token
    assert torch.equal(out[0, :, 1:], rows[0, :, 1:]) and torch.equal(out[1], rows[1])  # the rest as it was
    everything = without_strong(rows)
    assert (everything[..., 0] < FAR).sum() == 2 and bool((everything[..., STRONG] < 0.5)[everything[..., 0] < FAR].all())
