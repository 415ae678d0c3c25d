"""The hook for the sound model (issue 9): video in, a soundtrack on the same timeline out.

`generate()` calls a SoundModel, if given, with the frames as the MP4 shows them (watermarked,
encoded and decoded again: save_video hands them over between writing the video and muxing the
sound) and the caption. Without one the video is silent (GIF and PNG carry no sound).
The model gets pixels, not latents, because long videos are made chunk by chunk: a sound model
that wants the video latent re-encodes the frames with the autoencoder in one streaming pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from minisora.media.write import Voicing


@dataclass(frozen=True)
class VideoForSound:
    frames: np.ndarray  # (T, H, W, 3) uint8, what the output shows
    fps: float
    caption: str  # the refined prompt the video was generated from
    seed: int


@dataclass(frozen=True)
class Soundtrack:
    samples: np.ndarray  # (N,) float32 mono in [-1, 1], N = duration * sample_rate, t = 0 at frame 0
    sample_rate: int


class SoundModel(Protocol):
    def __call__(self, video: VideoForSound) -> Soundtrack: ...


def check_soundtrack(track: Soundtrack, video: VideoForSound) -> Soundtrack:
    """A soundtrack must be mono, in [-1, 1], and as long as the video (to within one frame)."""
    duration = video.frames.shape[0] / video.fps
    samples = np.asarray(track.samples, dtype=np.float32)
    if samples.ndim != 1 or not np.all(np.abs(samples) <= 1.0):
        raise ValueError("the sound model must return mono samples in [-1, 1]")
    if abs(samples.size / track.sample_rate - duration) > 1.0 / video.fps:
        raise ValueError(f"the sound model returned {samples.size / track.sample_rate:.3f} s of sound "
                         f"for {duration:.3f} s of video")
    return Soundtrack(samples, track.sample_rate)


def voicing(sound: SoundModel, fps: float, caption: str, seed: int) -> Voicing:
    """`sound` as save_video's `audio`: handed the frames as the MP4 shows them (watermarked,
    encoded, decoded), it returns the checked soundtrack's (samples, rate)."""

    def voice(shown: np.ndarray) -> tuple[np.ndarray, int]:
        video = VideoForSound(shown, fps, caption, seed)
        track = check_soundtrack(sound(video), video)
        return track.samples, track.sample_rate

    return voice
