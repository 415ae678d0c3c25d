"""Reading video back: frames as uint8 arrays, audio as float samples, and the frame rate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minisora.media.errors import MediaError


@dataclass
class VideoData:
    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: float
    audio: np.ndarray | None  # (N,) float32 mono in [-1, 1], t = 0 at sample 0
    sample_rate: int | None

    @property
    def duration(self) -> float:
        return self.frames.shape[0] / self.fps


def open_media(path: str | Path):
    """Open a file with PyAV, turning every failure into a MediaError naming the file."""
    import av

    path = Path(path)
    if not path.is_file():
        raise MediaError(path, "no such file")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise wrap_error(path, exc) from None


def wrap_error(path: str | Path, exc: Exception) -> MediaError:
    return MediaError(
        path,
        f"not a readable video or image ({type(exc).__name__}: {exc})",
        "check that the file is complete and is an MP4, GIF, PNG or JPEG",
    )


def read_video(path: str | Path, with_audio: bool = True) -> VideoData:
    """Decode every frame (RGB uint8) and, if present, the audio (mono float32)."""
    import av

    path = Path(path)
    with open_media(path) as container:
        if not container.streams.video:
            raise MediaError(path, "has no video stream", "give a file with frames")
        try:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0) or 1.0
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        except av.error.FFmpegError as exc:
            raise wrap_error(path, exc) from None
    if not frames:
        raise MediaError(path, "has a video stream with no decodable frames", "the file may be truncated")
    audio, rate = read_audio(path) if with_audio else (None, None)
    if audio is not None:  # AAC pads to whole frames: keep exactly the video's duration
        want = round(len(frames) / fps * rate)
        audio = np.pad(audio[:want], (0, max(0, want - audio.size)))
    return VideoData(np.stack(frames), fps, audio, rate)


def read_audio(path: str | Path) -> tuple[np.ndarray | None, int | None]:
    """Mono float32 samples placed by their timestamps (encoder priming removed)."""
    import av

    with open_media(path) as container:
        if not container.streams.audio:
            return None, None
        stream = container.streams.audio[0]
        rate = stream.rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks: list[tuple[int, np.ndarray]] = []
        try:
            for frame in container.decode(stream):
                start = round(float(frame.pts * frame.time_base) * rate) if frame.pts is not None else None
                for out in resampler.resample(frame):
                    chunks.append((start, out.to_ndarray().reshape(-1)))
                    start = None
        except av.error.FFmpegError as exc:
            raise wrap_error(path, exc) from None
    return _place_chunks(chunks), rate


def _place_chunks(chunks: list[tuple[int | None, np.ndarray]]) -> np.ndarray:
    """Concatenate decoded chunks at their sample offsets; drop samples before t = 0."""
    pieces, cursor = [], 0
    for start, samples in chunks:
        start = cursor if start is None else start
        if start < 0:
            samples, start = samples[-start:], 0
        if start > cursor:
            pieces.append(np.zeros(start - cursor, np.float32))
            cursor = start
        elif start < cursor:
            samples = samples[cursor - start :]
        pieces.append(samples.astype(np.float32))
        cursor += samples.size
    return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
