"""The edits a watermark must survive, applied to a saved output file.

Each is what a person who re-shares a video does to it: re-encode (H.264 / H.265 at the
ffmpeg defaults, 4:2:0 chroma), resize, crop, grade, add noise, cut in time, re-mux, turn into
a GIF. The bench (bench/watermark_robustness.py) and the tests run the same functions.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

Attack = Callable[[np.ndarray, Path], np.ndarray]  # (decoded frames, the file) -> attacked frames
FPS = 16  # the rate the codecs are told; the default world output rate


def reencode(frames: np.ndarray, crf: int, codec: str = "libx264") -> np.ndarray:
    """Encode as MP4 in yuv420p with B-frames (what a re-upload does) at `crf`, and decode."""
    from minisora.media import read_video, write_mp4

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "attack.mp4"
        write_mp4(path, _even(frames), FPS, crf=crf, codec=codec, pix_fmt="yuv420p", b_frames=True)
        return read_video(path, with_audio=False).frames


def to_gif(frames: np.ndarray) -> np.ndarray:
    from minisora.media import read_video, write_gif

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "attack.gif"
        write_gif(path, frames, FPS)
        return read_video(path, with_audio=False).frames


def remux(path: Path, out: Path) -> Path:
    """Copy the streams of an MP4 into a new MP4 without re-encoding (the manifest is dropped)."""
    import av

    with av.open(str(path)) as source, av.open(str(out), mode="w", format="mp4") as dest:
        streams = {s.index: dest.add_stream_from_template(s) for s in source.streams if s.type in ("video", "audio")}
        for packet in source.demux():
            if packet.dts is None or packet.stream.index not in streams:
                continue
            packet.stream = streams[packet.stream.index]
            dest.mux(packet)
    return out


def remux_frames(path: Path) -> np.ndarray:
    """Re-mux the file into a new MP4 and decode the copy."""
    from minisora.media import read_video

    with tempfile.TemporaryDirectory() as folder:
        return read_video(remux(path, Path(folder) / "copy.mp4"), with_audio=False).frames


def resize(frames: np.ndarray, factor: float) -> np.ndarray:
    """Bicubic resize of every frame by `factor` (ffmpeg's swscale, as a player would)."""
    import av

    _, height, width, _ = frames.shape
    new_h, new_w = max(2, round(height * factor / 2) * 2), max(2, round(width * factor / 2) * 2)
    out = [
        av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
        .reformat(width=new_w, height=new_h, interpolation="BICUBIC")
        .to_ndarray()
        for f in frames
    ]
    return np.stack(out)


def centre_crop(frames: np.ndarray, fraction: float) -> np.ndarray:
    _, height, width, _ = frames.shape
    new_h, new_w = round(height * fraction / 2) * 2, round(width * fraction / 2) * 2
    top, left = (height - new_h) // 2, (width - new_w) // 2
    return np.ascontiguousarray(frames[:, top : top + new_h, left : left + new_w])


def brightness(frames: np.ndarray, factor: float) -> np.ndarray:
    return _to_uint8(frames.astype(np.float32) * factor)


def contrast(frames: np.ndarray, factor: float) -> np.ndarray:
    """Scale the distance from each frame's mean grey by `factor`."""
    values = frames.astype(np.float32)
    mean = values.mean(axis=(1, 2, 3), keepdims=True)
    return _to_uint8(mean + (values - mean) * factor)


def gaussian_noise(frames: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return _to_uint8(frames.astype(np.float32) + rng.normal(0.0, sigma, frames.shape))


def segment(frames: np.ndarray, start: int, length: int = FPS) -> np.ndarray:
    """Keep `length` frames (1 s at 16 fps) from `start`."""
    return frames[start : start + length]


def combined(frames: np.ndarray) -> np.ndarray:
    """Centre crop 80%, brightness -30%, then H.264 at CRF 30."""
    return reencode(brightness(centre_crop(frames, 0.8), 0.7), 30)


ATTACKS: dict[str, Attack] = {
    "none": lambda f, p: f,
    "h264 crf 23": lambda f, p: reencode(f, 23),
    "h264 crf 30": lambda f, p: reencode(f, 30),
    "h264 crf 40": lambda f, p: reencode(f, 40),
    "h265 crf 30": lambda f, p: reencode(f, 30, "libx265"),
    "resize 0.5x": lambda f, p: resize(f, 0.5),
    "resize 2x": lambda f, p: resize(f, 2.0),
    "centre crop 80%": lambda f, p: centre_crop(f, 0.8),
    "brightness +30%": lambda f, p: brightness(f, 1.3),
    "brightness -30%": lambda f, p: brightness(f, 0.7),
    "contrast 0.6": lambda f, p: contrast(f, 0.6),
    "contrast 1.5": lambda f, p: contrast(f, 1.5),
    "gaussian noise 10": lambda f, p: gaussian_noise(f, 10.0),
    "drop every other frame": lambda f, p: f[::2],
    "1 s segment (start 0)": lambda f, p: segment(f, 0),
    "1 s segment (middle)": lambda f, p: segment(f, max(0, (len(f) - FPS) // 2)),
    "1 s segment (end)": lambda f, p: segment(f, max(0, len(f) - FPS)),
    "re-mux": lambda f, p: remux_frames(p),
    "gif": lambda f, p: to_gif(f),
    "crop 80% + crf 30 + brightness -30%": lambda f, p: combined(f),
}



def attack_file(name: str, path: Path) -> np.ndarray:
    """The frames of the video at `path` after the attack `name`."""
    from minisora.media import read_video

    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; choose from {', '.join(ATTACKS)}")
    return ATTACKS[name](read_video(path, with_audio=False).frames, Path(path))


# the hard goal (detection >= 0.99) excludes these, as the issue does
EXEMPT = ("h264 crf 40", "gif")


def _even(frames: np.ndarray) -> np.ndarray:
    """H.264 needs even sizes: drop a last row or column if there is one."""
    _, height, width, _ = frames.shape
    return np.ascontiguousarray(frames[:, : height - height % 2, : width - width % 2])


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
