"""A small material classifier for contact sounds: what the benchmark asks the generated hits of.

It is trained on the world's true contact sounds and then asked about generated ones: a hit that
sounds like the right material (rubber, wood, metal, glass) is classified as it. Only clean hits
are used, on both sides: one body against the floor or a wall (a collision mixes two
materials), with no other contact from 0.3 s before to 0.15 s after it (no ringing tail of
another hit underneath, no new hit inside the window).

Features: the log-mel of the 150 ms after the contact, its first 40 ms averaged (the spectrum:
pitch and partials) and the later frames' fall against it (the decay: metal rings, rubber
thuds), loudness removed. Model: multinomial logistic regression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from minisora.sound.mel import MelConfig, log_mel
from minisora.world.spec import MATERIALS

CLASSES = tuple(MATERIALS)
BEFORE_S, AFTER_S = 0.30, 0.15  # a clean hit has no other contact this long before / after it
WINDOW = 15  # mel frames (150 ms) after the contact


@dataclass(frozen=True)
class Hit:
    time: float  # seconds
    material: str


def clean_hits(spec, trajectory) -> list[Hit]:
    """A clip's single-body, isolated contacts with the struck object's material."""
    contacts = trajectory.contacts
    hits = []
    for c in contacts:
        if isinstance(c.b, int):
            continue
        crowded = any(o is not c and c.time - BEFORE_S <= o.time <= c.time + AFTER_S for o in contacts)
        if not crowded and c.time + AFTER_S <= spec.num_frames / spec.fps:
            hits.append(Hit(c.time, spec.objects[c.a].material))
    return hits


def tracked_clean_hits(analysis, caption: str) -> list[Hit]:
    """A video's clean hits as the world tracker sees them, for videos with no simulation behind
    them (the world model's): its contacts against the floor or a wall with no other contact from
    BEFORE_S before to AFTER_S after, each with the material the caption gives the struck object;
    those whose material the caption does not settle are left out. The faint velocity jumps do not
    crowd a hit (a generated object twitches: few of its hits would be left)."""
    from minisora.sound.tracked import PARTNERS, analysis_contacts, caption_materials, material_of

    rows = analysis_contacts(analysis).tolist()
    looks = caption_materials(caption)
    duration = analysis.num_frames / analysis.fps
    hits = []
    for i, row in enumerate(rows):
        time, strong, partner = row[0], row[1] > 0.5, PARTNERS[int(row[4])]
        crowded = any(j != i and other[1] > 0.5 and time - BEFORE_S <= other[0] <= time + AFTER_S
                      for j, other in enumerate(rows))
        if not strong or partner not in ("floor", "wall") or crowded or time + AFTER_S > duration:
            continue
        material = material_of(looks, *(int(v) for v in row[5:8]))
        if material >= 0:
            hits.append(Hit(time, CLASSES[material]))
    return hits


def hit_features(audio: np.ndarray, hits: list[Hit], config: MelConfig | None = None) -> np.ndarray:
    """(len(hits), 2 * n_mels) features of the hits in one mono track."""
    config = config or MelConfig()
    mel = log_mel(audio, config)[0].numpy()  # (n_mels, F)
    mel = np.pad(mel, ((0, 0), (0, WINDOW)), constant_values=mel.min())
    rows = []
    for hit in hits:
        k = int(round(hit.time / config.seconds_per_frame()))
        window = mel[:, k: k + WINDOW]
        onset = window[:, :4].mean(1)
        tail = window[:, 8:].mean(1)
        rows.append(np.concatenate([onset - onset.max(), tail - onset]))
    return np.asarray(rows, np.float32).reshape(len(hits), -1)


class MaterialClassifier:
    """Logistic regression on hit features, standardised."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, mean: torch.Tensor, std: torch.Tensor):
        self.weight, self.bias, self.mean, self.std = weight, bias, mean, std

    @classmethod
    def fit(cls, features: np.ndarray, labels: list[str], steps: int = 300, l2: float = 1e-3
            ) -> MaterialClassifier:
        x = torch.from_numpy(features)
        y = torch.tensor([CLASSES.index(m) for m in labels])
        mean, std = x.mean(0), x.std(0) + 1e-3
        x = (x - mean) / std
        weight = torch.zeros(x.shape[1], len(CLASSES), requires_grad=True)
        bias = torch.zeros(len(CLASSES), requires_grad=True)
        optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(x @ weight + bias, y) + l2 * weight.pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        return cls(weight.detach(), bias.detach(), mean, std)

    def predict(self, features: np.ndarray) -> list[str]:
        if len(features) == 0:
            return []
        x = (torch.from_numpy(features) - self.mean) / self.std
        return [CLASSES[i] for i in (x @ self.weight + self.bias).argmax(1).tolist()]


def train_material_classifier(clips: int = 600, seed: int = 1) -> MaterialClassifier:
    """Fit on the clean hits of `clips` rendered training-split clips (their true sound)."""
    from minisora.world.clip import render_clip
    from minisora.world.dataset import DatasetConfig, sample_clip_spec

    dataset = DatasetConfig(n=clips, seed=seed, size=(64, 64))
    features, labels = [], []
    for i in range(clips):
        clip = render_clip(sample_clip_spec(dataset, i))
        hits = clean_hits(clip.spec, clip.trajectory)
        if hits:
            features.append(hit_features(clip.audio, hits))
            labels += [h.material for h in hits]
    return MaterialClassifier.fit(np.concatenate(features), labels)
