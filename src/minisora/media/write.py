"""Writing video: MP4 (H.264 video + AAC audio), GIF and PNG frames, all atomically.

These are the low-level writers. Generated outputs leave through `save_video()`, which
watermarks and signs before calling them; the world's ground-truth renders and the
dataset writer call them directly.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

from minisora.media.atomic import atomic_path
from minisora.media.errors import MediaError

# Measured on world clips at 64x64 (bench/media_roundtrip.py): yuv420p tops out near 31 dB even
# lossless, since halved chroma smears small coloured shapes; yuv444p at CRF 18 gives ~40 dB at
# the same file size. Pass pix_fmt="yuv420p" for players that only take 4:2:0.
DEFAULT_CRF = 18
DEFAULT_PIX_FMT = "yuv444p"
AUDIO_RATE = 16_000
AAC_FRAME = 1024

# A soundtrack made from the frames as the file shows them: (T, H, W, 3) uint8 in, (samples, rate) out.
Voicing = Callable[[np.ndarray], tuple[np.ndarray, int]]


def check_frames(frames: np.ndarray, path: str | Path) -> np.ndarray:
    """Frames must be uint8 (T, H, W, 3) with even H and W; return them contiguous."""
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3:
        shape = getattr(frames, "shape", type(frames).__name__)
        raise MediaError(path, f"frames must be a uint8 array (T, H, W, 3), got {shape}")
    if frames.dtype != np.uint8:
        raise MediaError(path, f"frames must be uint8, got {frames.dtype}", "scale to 0..255 first")
    if frames.shape[0] == 0:
        raise MediaError(path, "no frames to write")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise MediaError(path, f"height and width must be even for H.264, got {frames.shape[1:3]}")
    return np.ascontiguousarray(frames)


def write_mp4(
    path: str | Path,
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray | Voicing | None = None,
    sample_rate: int = AUDIO_RATE,
    crf: int = DEFAULT_CRF,
    codec: str = "libx264",
    pix_fmt: str = DEFAULT_PIX_FMT,
    metadata: dict[str, str] | None = None,
    b_frames: bool = False,
) -> Path:
    """Write uint8 frames (T, H, W, 3) and optional mono float audio in [-1, 1] as an MP4.

    `audio` may instead be a function (a Voicing) that is handed the frames as the file shows
    them, encoded and decoded again, and returns (samples, sample_rate): the video is encoded
    once, the function hears what a viewer will see, and its sound is muxed beside the same
    video packets. A sound that follows contacts it reads off the frames needs this: H.264 moves
    a small, fast object by a pixel here and there, and a contact found before the encoder is not
    always the one found after it (`sample_rate` is then the function's).

    `b_frames` lets libx264 use B-frames as it likes (what a re-upload's encoder does; the
    watermark attacks use it); without them, the default, the same frames always give the same
    bytes."""
    import av

    frames = check_frames(frames, path)
    rate = Fraction(fps).limit_denominator(1001)
    with atomic_path(path, suffix=".mp4") as tmp:
        if not callable(audio):
            with av.open(str(tmp), mode="w", format="mp4") as container:
                _set_metadata(container, metadata)
                video = _video_stream(container, frames, rate, crf, codec, pix_fmt, b_frames)
                sound = None if audio is None else container.add_stream("aac", rate=sample_rate, layout="mono")
                _encode_video(container, video, frames)  # streams are all added before the first packet
                if sound is not None:
                    _encode_audio(container, sound, audio, sample_rate, path)
            return Path(path)
        fd, name = tempfile.mkstemp(prefix=".silent.", suffix=".mp4", dir=Path(tmp).parent)
        os.close(fd)
        silent = Path(name)
        try:
            with av.open(str(silent), mode="w", format="mp4") as container:
                _encode_video(container, _video_stream(container, frames, rate, crf, codec, pix_fmt, b_frames),
                              frames)
            from minisora.media.read import read_video

            samples, sample_rate = audio(read_video(silent, with_audio=False).frames)
            _remux_with_audio(silent, tmp, samples, sample_rate, metadata, path)
        finally:
            silent.unlink(missing_ok=True)
    return Path(path)


def _set_metadata(container, metadata: dict[str, str] | None) -> None:
    for key, value in (metadata or {}).items():
        container.metadata[key] = value


def _video_stream(container, frames: np.ndarray, rate: Fraction, crf: int, codec: str, pix_fmt: str,
                  b_frames: bool = False):
    stream = container.add_stream(codec, rate=rate)
    stream.width, stream.height = frames.shape[2], frames.shape[1]
    stream.pix_fmt = pix_fmt
    stream.options = {"crf": str(crf), "preset": "medium"}
    if codec == "libx264" and not b_frames:
        # no B-frames: with them libx264 wrote the same frames into different files from run to
        # run (one 64x64 clip: 5-8 sizes in 12 runs in one process, whatever its thread count:
        # its B-frame decisions read what the process did before), so the benchmark read other
        # frames on a rerun; without them every run writes the same bytes, ~4% larger
        stream.options["bf"] = "0"
    if codec == "libx265":
        stream.options["x265-params"] = "log-level=error"
    return stream


def _encode_video(container, stream, frames: np.ndarray) -> None:
    import av

    for frame in frames:
        container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
    container.mux(stream.encode(None))


def _remux_with_audio(silent: Path, out: Path, samples: np.ndarray, sample_rate: int,
                      metadata: dict[str, str] | None, path) -> None:
    """`silent`'s video packets, copied unchanged, and `samples` encoded as AAC, into `out`."""
    import av

    with av.open(str(silent)) as source, av.open(str(out), mode="w", format="mp4") as container:
        _set_metadata(container, metadata)
        video_in = source.streams.video[0]
        video_out = container.add_stream_from_template(video_in)
        audio_stream = container.add_stream("aac", rate=sample_rate, layout="mono")
        for packet in source.demux(video_in):
            if packet.dts is None:  # the demuxer's flush packet
                continue
            packet.stream = video_out
            container.mux(packet)
        _encode_audio(container, audio_stream, samples, sample_rate, path)


def _encode_audio(container, stream, audio: np.ndarray, sample_rate: int, path) -> None:
    import av

    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    if samples.size and np.abs(samples).max() > 1.0:
        raise MediaError(path, "audio must lie in [-1, 1]", "normalise the mix before writing")
    for start in range(0, samples.size, AAC_FRAME):
        chunk = samples[start : start + AAC_FRAME][None, :]
        audio_frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="mono")
        audio_frame.sample_rate = sample_rate
        audio_frame.pts = start
        audio_frame.time_base = Fraction(1, sample_rate)
        container.mux(stream.encode(audio_frame))
    container.mux(stream.encode(None))


def write_gif(path: str | Path, frames: np.ndarray, fps: float) -> Path:
    """Write frames as an animated GIF (palette per file, looping)."""
    import av

    frames = check_frames(frames, path)
    with atomic_path(path, suffix=".gif") as tmp:
        with av.open(str(tmp), mode="w", format="gif") as container:
            stream = container.add_stream("gif", rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "rgb8"
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode(None))
    return Path(path)


def write_png_frames(folder: str | Path, frames: np.ndarray) -> list[Path]:
    """Write frames as folder/frame_00000.png, ...; the folder is created if missing."""
    folder = Path(folder)
    frames = check_frames(frames, folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, frame in enumerate(frames):
        target = folder / f"frame_{index:05d}.png"
        with atomic_path(target, suffix=".png") as tmp:
            _write_png(tmp, frame)
        paths.append(target)
    return paths


def _write_png(path: Path, frame: np.ndarray) -> None:
    import av

    with av.open(str(path), mode="w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height = frame.shape[1], frame.shape[0]
        stream.pix_fmt = "rgb24"
        container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
