"""Probing a media file without decoding it all: size, fps, frame count, audio."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from minisora.media.errors import MediaError
from minisora.media.read import open_media


@dataclass(frozen=True)
class MediaInfo:
    width: int
    height: int
    fps: float
    frames: int
    duration: float
    has_audio: bool
    video_codec: str
    audio_codec: str | None


def probe(path: str | Path) -> MediaInfo:
    """Size, fps, frames, duration and audio presence; MediaError if it is not a video/image."""
    path = Path(path)
    with open_media(path) as container:
        if not container.streams.video:
            raise MediaError(path, "has no video stream", "give a file with frames")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 1.0
        frames = stream.frames or sum(1 for _ in container.demux(stream) if _.size)
        if frames == 0:
            raise MediaError(path, "has a video stream with no frames", "the file may be truncated")
        audio = container.streams.audio[0] if container.streams.audio else None
        return MediaInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=fps,
            frames=frames,
            duration=frames / fps,
            has_audio=audio is not None,
            video_codec=stream.codec_context.name,
            audio_codec=audio.codec_context.name if audio is not None else None,
        )
