"""Inputs brought to the model's terms: sizes, aspect ratios and frame rates.

Images and clips are centre-cropped to a supported aspect ratio and resized (area-averaged) to
the output size; clips are resampled in time to the model's frame rate, and the generated frames
back to the output's. Every change is reported in a note the caller shows the user. Frames are
uint8 arrays (T, H, W, 3) throughout; only chunks.py turns them into tensors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from minisora.media import MediaError, probe, read_video
from minisora.pipeline.config import GenerationError
from minisora.world.spec import ASPECTS, SpecError, aspect_name

Note = Callable[[str], None]
IMAGE_CODECS = {"png": "PNG", "mjpeg": "JPEG"}
# the output size per aspect ratio at the training scale (short side 64)
SIZE_FOR_ASPECT: dict[str, tuple[int, int]] = {
    "1:1": (64, 64), "3:2": (96, 64), "2:3": (64, 96), "16:9": (112, 64), "9:16": (64, 112),
}


def check_size(size: tuple[int, int], multiple: int) -> tuple[int, int]:
    """The size if the model can make it; GenerationError listing the supported ones if not."""
    width, height = size
    if width % multiple or height % multiple or width < multiple or height < multiple:
        raise GenerationError(f"size {width}x{height}: this model needs width and height in multiples "
                              f"of {multiple} (for example {', '.join(_examples())})")
    try:
        aspect_name(width, height)
    except SpecError:
        raise GenerationError(f"size {width}x{height}: the aspect ratio is not one the model knows; use "
                              f"{', '.join(ASPECTS)} (for example {', '.join(_examples())})") from None
    return size


def _examples() -> list[str]:
    return [f"{w}x{h}" for w, h in SIZE_FOR_ASPECT.values()]


def nearest_size(width: int, height: int) -> tuple[int, int]:
    """The training-scale size whose aspect ratio is nearest (in log ratio) to width x height."""
    ratio = math.log(width / height)
    name = min(ASPECTS, key=lambda a: abs(math.log(ASPECTS[a]) - ratio))
    return SIZE_FOR_ASPECT[name]


def conform(frames: np.ndarray, size: tuple[int, int], what: str, note: Note) -> np.ndarray:
    """Centre-crop (T, H, W, 3) frames to the aspect of size (W, H), then resize to it."""
    height, width = frames.shape[1:3]
    target_w, target_h = size
    if (width, height) == (target_w, target_h):
        return frames
    crop_w = min(width, round(height * target_w / target_h))
    crop_h = min(height, round(width * target_h / target_w))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    cropped = frames[:, top:top + crop_h, left:left + crop_w]
    x = torch.from_numpy(np.ascontiguousarray(cropped)).permute(0, 3, 1, 2).float()  # (T, 3, h, w)
    resized = F.interpolate(x, size=(target_h, target_w), mode="bilinear", antialias=True,
                            align_corners=False)
    cut = f", cropping {width - crop_w} px of width" if crop_w < width else (
        f", cropping {height - crop_h} px of height" if crop_h < height else "")
    note(f"{what}: resized from {width}x{height} to {target_w}x{target_h}{cut} (the nearest supported size)")
    return resized.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def read_image(path: Path) -> np.ndarray:
    """A PNG or JPEG as (1, H, W, 3) uint8; MediaError for anything else."""
    info = probe(path)
    if info.frames > 1:
        raise MediaError(path, f"is a video ({info.frames} frames), not an image",
                         "use --extend FILE to continue a video, or give a PNG or JPEG to --image")
    if info.video_codec not in IMAGE_CODECS:
        raise MediaError(path, f"is a {info.video_codec} image; --image takes a PNG or JPEG",
                         "convert it to PNG first")
    return read_video(path, with_audio=False).frames[:1]


def read_clip(path: Path, role: str, min_frames: int = 1) -> tuple[np.ndarray, float]:
    """(frames (T, H, W, 3) uint8, fps) of a video or image; MediaError if it has no frames."""
    data = read_video(path, with_audio=False)
    if data.frames.shape[0] < min_frames:
        raise MediaError(path, f"has {data.frames.shape[0]} frame(s); {role} needs at least {min_frames}",
                         "give a longer video, or --image FILE to animate a picture")
    return data.frames, data.fps


def to_model_fps(frames: np.ndarray, fps: float, model_fps: int, what: str, note: Note) -> np.ndarray:
    """Resample a clip in time to the model's frame rate (nearest frame)."""
    if abs(fps - model_fps) < 1e-3 or frames.shape[0] == 1:
        return frames
    count = int(math.floor((frames.shape[0] - 1) * model_fps / fps + 1e-6)) + 1
    note(f"{what}: resampled from {fps:g} fps to the model's {model_fps} fps "
         f"({frames.shape[0]} -> {count} frames)")
    return frames[np.minimum(np.round(np.arange(count) * fps / model_fps).astype(int), frames.shape[0] - 1)]


def resample(frames: np.ndarray, src_fps: float, dst_fps: float, *, continuation: bool,
             duration: float | None = None) -> np.ndarray:
    """Pick frames at the output's times (nearest frame), preserving duration.

    A first segment's frames sit at 0, 1/fps, ...; a continuation's at 1/fps, 2/fps, ... after the
    frame before it. `duration` (seconds) overrides the one implied by the frame count."""
    if abs(src_fps - dst_fps) < 1e-9:
        return frames
    n = frames.shape[0]
    if continuation:
        seconds = n / src_fps if duration is None else duration
        times = np.arange(1, round(seconds * dst_fps) + 1) / dst_fps
        index = np.round(times * src_fps).astype(int) - 1
    else:
        seconds = (n - 1) / src_fps if duration is None else duration
        index = np.round(np.arange(round(seconds * dst_fps) + 1) / dst_fps * src_fps).astype(int)
    return frames[np.clip(index, 0, n - 1)]
