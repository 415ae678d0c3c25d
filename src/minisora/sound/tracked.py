"""Contacts seen in the frames, for the sound model's contact path (SoundConfig.tracked_contacts).

    frames (T, H, W, 3) uint8 --world tracker (eval.analyzer)--> visual contacts: when (to a
    fraction of a frame), how hard (the velocity jump), against what, and which object
    --track_contacts--> raw rows (K, RAW) --contact_features--> (K, 1 + FEATURES): time + features

The frame-rate path reads pooled changes of luma and finds about 0.58 of the world's contacts
however it is trained (bench/sound_contacts.py): pooling a frame's changes loses which object
moved and when its motion turned. The world tracker follows every object and times each velocity
jump to a fraction of a frame; this path hands its contacts to the sound model directly (as
MMAudio hands it Synchformer's features). Contacts it cannot see (behind a screen, out of view,
too faint to tell from centroid noise) are left for the other paths.

The raw rows are what the training cache keeps; the features are made from them when a batch is
built, so they can change without analysing the clips again.
"""

from __future__ import annotations

import numpy as np
import torch

from minisora.world.spec import MATERIALS, PALETTE, SHAPES, SIZES

COLORS = tuple(PALETTE)
PARTNERS = ("object", "floor", "wall", "unknown")
# time (s), strong (1: a contact; 0: only a faint jump), dv x and y (units/s, y up), partner kind,
# the object's colour, shape and size, the partner object's colour, shape and size (-1: unknown)
RAW = 11
# strong, faint, log1p |dv|, dv x / 4, dv y / 4, partner kind, then one-hot colour, shape and size
# of the object and of its partner object, then the material the caption gives each (none: zeros)
OBJECT_FEATURES = len(COLORS) + len(SHAPES) + len(SIZES)
FEATURES = 5 + len(PARTNERS) + 2 * OBJECT_FEATURES + 2 * len(MATERIALS)


def track_contacts(frames: np.ndarray, fps: float) -> torch.Tensor:
    """Raw rows (K, RAW) float32 of the contacts the world tracker sees in uint8 frames
    (T, H, W, 3): its contacts (strong) and the faint velocity jumps that are not among them."""
    from minisora.eval.analyzer import analyze

    return analysis_contacts(analyze(frames, fps))


def analysis_contacts(analysis) -> torch.Tensor:
    """track_contacts' raw rows (K, RAW) from the world tracker's analysis of the frames."""
    looks = {t.id: t for t in analysis.tracks}
    rows, seen = [], set()
    for strong, contacts in ((1.0, analysis.contacts), (0.0, analysis.faint_contacts)):
        for c in contacts:
            if (c.track, c.frame) in seen:
                continue
            seen.add((c.track, c.frame))
            partner = c.partner if isinstance(c.partner, int) else None
            kind = ("object" if partner is not None else
                    "wall" if str(c.partner).startswith("wall") else str(c.partner))
            rows.append([c.time, strong, c.dv[0], c.dv[1], PARTNERS.index(kind),
                         *_look(looks.get(c.track), c.frame), *_look(looks.get(partner), c.frame)])
    rows.sort(key=lambda r: r[0])
    return torch.tensor(rows, dtype=torch.float32).reshape(len(rows), RAW)


def _look(track, frame: int) -> tuple[int, int, int]:
    """(colour, shape, size) indices of a track at a frame; -1 where unknown."""
    if track is None:
        return -1, -1, -1
    color = track.colors.get(frame)
    if color is None and track.colors:  # not seen whole in that frame: its most common colour
        names = list(track.colors.values())
        color = max(set(names), key=names.count)
    return (COLORS.index(color) if color in COLORS else -1,
            SHAPES.index(track.shape) if track.shape in SHAPES else -1,
            list(SIZES).index(track.size) if track.size in SIZES else -1)


def caption_materials(caption: str) -> list[tuple[set[str], str | None, str | None, str]]:
    """What a caption says objects are made of: (colours, shape, size, material) per group of
    objects it names with a material (colours: its own and any it turns when hit; shape or size
    None where the caption leaves them open). Empty for no caption or one outside the world's
    language."""
    from minisora.world.prompt import PromptError, read_prompt

    if not caption:
        return []
    try:
        meaning = read_prompt(caption)
    except PromptError:
        return []
    turns: dict[int, set[str]] = {}
    for group, color in meaning.rules:
        turns.setdefault(group, set()).add(color)
    return [({g.color} | turns.get(i, set()), g.shape, g.size, g.material)
            for i, g in enumerate(meaning.groups) if g.material is not None and g.color is not None]


def material_of(looks: list, color: int, shape: int, size: int) -> int:
    """The index in MATERIALS of what the caption says an object of this look (tracked.RAW's
    colour, shape and size indices) is made of; -1 when it names none or several fit."""
    if color < 0:
        return -1
    fits = [m for colors, sh, sz, m in looks if COLORS[color] in colors
            and (shape < 0 or sh is None or SHAPES[shape] == sh)
            and (size < 0 or sz is None or list(SIZES)[size] == sz)]
    return list(MATERIALS).index(fits[0]) if fits and all(m == fits[0] for m in fits) else -1


def contact_features(raw: torch.Tensor, caption: str = "") -> torch.Tensor:
    """Raw rows (K, RAW) -> (K, 1 + FEATURES): time (s), then the features the model reads; the
    materials of the object and its partner come from the caption (caption_materials)."""
    k = raw.shape[0]
    raw = raw.float()
    looks = caption_materials(caption)
    materials = torch.tensor([[material_of(looks, *(int(v) for v in row[first: first + 3])) for first in (5, 8)]
                              for row in raw.tolist()], dtype=torch.float32).reshape(k, 2)
    dv = raw[:, 2:4]
    parts = [raw[:, :1], raw[:, 1:2], 1 - raw[:, 1:2], torch.log1p(dv.norm(dim=1, keepdim=True)), dv / 4.0,
             _one_hot(raw[:, 4], len(PARTNERS))]
    for first in (5, 8):  # the object, then its partner
        parts += [_one_hot(raw[:, first], len(COLORS)), _one_hot(raw[:, first + 1], len(SHAPES)),
                  _one_hot(raw[:, first + 2], len(SIZES))]
    parts += [_one_hot(materials[:, 0], len(MATERIALS)), _one_hot(materials[:, 1], len(MATERIALS))]
    out = torch.cat(parts, dim=1)
    assert out.shape == (k, 1 + FEATURES)
    return out


STRONG = 1  # column of the strong flag in contact_features' rows (1: among the tracker's contacts)
PARTNER = 1 + 5  # column of the partner kind's one-hot in contact_features' rows
PARTNER_LOOK = PARTNER + len(PARTNERS) + OBJECT_FEATURES  # the partner's colour, shape, size
PARTNER_MATERIAL = PARTNER_LOOK + OBJECT_FEATURES + len(MATERIALS)


def drop_partners(contacts: torch.Tensor, share: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Feature rows (..., 1 + FEATURES) with a random `share` of them told as the tracker tells a
    contact whose partner it did not find: kind "unknown", no partner look or material (training
    augmentation: a velocity jump is a contact whatever the tracker makes of its partner)."""
    if share <= 0:
        return contacts
    out = contacts.clone()
    drop = torch.rand(contacts.shape[:-1], generator=generator) < share
    out[..., PARTNER: PARTNER + len(PARTNERS)][drop] = torch.eye(len(PARTNERS))[PARTNERS.index("unknown")]
    out[..., PARTNER_LOOK: PARTNER_LOOK + OBJECT_FEATURES][drop] = 0.0
    out[..., PARTNER_MATERIAL: PARTNER_MATERIAL + len(MATERIALS)][drop] = 0.0
    return out


def without_strong(contacts: torch.Tensor, which: torch.Tensor | None = None) -> torch.Tensor:
    """Feature rows (B, K, 1 + FEATURES) with the tracker's (strong) contacts taken out, of the
    clips `which` (B,) bool (default: all): their rows moved to time FAR, where they reach no
    audio token; the faint velocity jumps stay. The contact guidance's second branch, and its
    training (`train-sound --contact-dropout`)."""
    strong = contacts[..., STRONG] > 0.5
    if which is not None:
        strong = strong & which[:, None]
    out = contacts.clone()
    out[..., 0] = out[..., 0].masked_fill(strong, FAR)
    return out


def _one_hot(index: torch.Tensor, classes: int) -> torch.Tensor:
    """(K,) indices, -1 for none -> (K, classes) with a 1 at the index (all zeros for -1)."""
    valid = index >= 0
    out = torch.zeros(index.shape[0], classes)
    out[valid, index[valid].long()] = 1.0
    return out


FAR = 1e6  # seconds: the time of a padding row, beyond every token's reach


def pad_contacts(items: list[torch.Tensor]) -> torch.Tensor:
    """Feature rows of several clips (K_i, 1 + FEATURES) -> (B, max K, 1 + FEATURES), padded with
    rows at time FAR (they reach no audio token)."""
    most = max([1] + [x.shape[0] for x in items])
    out = torch.zeros(len(items), most, 1 + FEATURES)
    out[:, :, 0] = FAR
    for i, x in enumerate(items):
        out[i, : x.shape[0]] = x
    return out


BIN_S = 0.02  # the contact path's time bins: a contact's offset from a token, to the nearest 20 ms
BINS = 7  # offsets -60 .. +60 ms


def binned(contacts: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """(B, K, 1 + FEATURES) contacts and (N,) token times (s) -> (B, N, BINS * FEATURES): each
    contact's features spread over the bins of its offset from the token (a triangle 20 ms wide
    either side of each bin's centre), summed over contacts."""
    centres = (torch.arange(BINS, dtype=torch.float64) - BINS // 2) * BIN_S
    offset = contacts[:, None, :, 0].double() - times.double()[None, :, None]  # (B, N, K)
    weight = (1 - (offset[..., None] - centres).abs() / BIN_S).clamp_min(0).to(contacts.dtype)  # (B, N, K, BINS)
    out = torch.einsum("bnkj,bke->bnje", weight, contacts[..., 1:])
    return out.reshape(*out.shape[:2], -1)
