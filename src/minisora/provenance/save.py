"""save_video(): the one exit for every output. Watermark, then write, then sign, atomically.

There is no option to skip the watermark or the manifest. A failure at any step leaves
nothing under the output name (the unsigned intermediate is a temporary file beside it).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minisora.media.atomic import atomic_path, check_writable
from minisora.media.write import AUDIO_RATE, DEFAULT_CRF, DEFAULT_PIX_FMT, Voicing
from minisora.provenance.certs import SigningIdentity, load_identity
from minisora.provenance.manifest import ProvenanceInfo, manifest_definition, sign_file
from minisora.provenance.payload import Payload, model_id_for
from minisora.provenance.watermark import CHUNK_FRAMES, DEFAULT_CONFIG, WatermarkConfig, embed

FORMATS = ("mp4", "gif", "png")
PUBLIC_MODE = 0o644  # an output is for sharing (temporary files start private)


@dataclass(frozen=True)
class SavedVideo:
    path: Path  # the file written (a folder of frame PNGs for a multi-frame png output)
    fmt: str
    payload: Payload  # what the watermark carries
    psnr_db: float  # watermarked frames against the frames given


def output_format(path: Path, fmt: str | None) -> str:
    """The format named by `fmt`, else by the file suffix."""
    if fmt is None:
        fmt = path.suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise ValueError(f"{path}: cannot tell the format from the suffix; use .mp4, .gif or .png")
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is unknown; choose from {', '.join(FORMATS)}")
    return fmt


def save_video(
    path: str | Path,
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray | Voicing | None = None,
    *,
    info: ProvenanceInfo,
    fmt: str | None = None,
    sample_rate: int = AUDIO_RATE,
    crf: int = DEFAULT_CRF,
    codec: str = "libx264",
    pix_fmt: str = DEFAULT_PIX_FMT,
    watermark: WatermarkConfig = DEFAULT_CONFIG,
    identity: SigningIdentity | None = None,
    generation_id: int | None = None,
) -> SavedVideo:
    """Watermark frames (T, H, W, 3) uint8, write them as mp4 (with audio), gif or png, and
    embed a signed C2PA manifest. A png output of more than one frame is a folder of frames
    named after `path` without its suffix. Returns what was written and the payload.

    `audio` (mp4 only): samples at `sample_rate`, or a function handed the frames as the file
    will show them (watermarked, encoded and decoded again) that returns (samples, rate), so
    that a sound read off the frames follows what a viewer sees (media.write.write_mp4).

    `generation_id` (32 bits) is a fresh random one unless given: every output is told apart by
    it. The benchmark gives its reference renders one from their seed, so that the same render
    carries the same mark (the threaded H.264 encoder may still write it a little differently)."""
    path = Path(path)
    fmt = output_format(path, fmt)
    if not isinstance(info, ProvenanceInfo):
        raise TypeError(f"info must be a ProvenanceInfo, got {type(info).__name__}")
    identity = identity or load_identity()  # 1. keys first: fail before the work
    payload = Payload(model_id_for(info.model_name),
                      secrets.randbits(32) if generation_id is None else generation_id)
    marked = embed(frames, payload, watermark)  # 2. watermark
    psnr = _psnr(frames, marked)
    definition = manifest_definition(info, path.name, payload.generation_id)
    if fmt == "png" and marked.shape[0] > 1:
        out = _save_png_folder(path.with_suffix("") if path.suffix else path, marked, definition, identity)
    else:
        check_writable(path)
        with atomic_path(path) as final, _scratch(path, fmt) as unsigned:
            _write(unsigned, fmt, marked, fps, audio, sample_rate, crf, codec, pix_fmt)  # 3. write
            sign_file(unsigned, final, fmt, definition, identity)  # 4. sign
            os.chmod(final, PUBLIC_MODE)
        out = path
    return SavedVideo(out, fmt, payload, psnr)


def _write(path: Path, fmt: str, frames, fps, audio, sample_rate, crf, codec, pix_fmt) -> None:
    from minisora.media import write_gif, write_mp4, write_png_frames

    if fmt == "mp4":
        write_mp4(path, frames, fps, audio, sample_rate=sample_rate, crf=crf, codec=codec, pix_fmt=pix_fmt)
    elif fmt == "gif":
        write_gif(path, frames, fps)
    else:  # one PNG: write it into a scratch folder, then move it onto `path`
        folder = Path(tempfile.mkdtemp(prefix=".png.", dir=path.parent))
        try:
            (written,) = write_png_frames(folder, frames[:1])
            os.replace(written, path)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _scratch(path: Path, fmt: str) -> Iterator[Path]:
    """A temporary file beside `path` for the unsigned intermediate, always removed."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.unsigned.", suffix=f".{fmt}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _save_png_folder(folder: Path, frames: np.ndarray, definition, identity) -> Path:
    """Each frame a signed PNG, built in a temporary folder that replaces `folder` at the end."""
    check_writable(folder.with_name(f"{folder.name}.png"))  # its parent exists and is writable
    build = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for index, frame in enumerate(frames):
            target = build / f"frame_{index:05d}.png"
            with _scratch(target, "png") as unsigned:
                _write(unsigned, "png", frame[None], 1, None, 0, 0, "", "")
                sign_file(unsigned, target, "png", {**definition, "title": target.name}, identity)
                os.chmod(target, PUBLIC_MODE)
        os.chmod(build, 0o755)
        if folder.exists():  # replace an earlier output whole, never mix old and new frames
            old = folder.with_name(f".{folder.name}.old.{os.getpid()}")
            os.replace(folder, old)
            os.replace(build, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(build, folder)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return folder


def _psnr(reference: np.ndarray, test: np.ndarray) -> float:
    squared = 0.0
    for start in range(0, reference.shape[0], CHUNK_FRAMES):  # flat memory at any length
        a, b = reference[start : start + CHUNK_FRAMES], test[start : start + CHUNK_FRAMES]
        squared += float(np.sum((a.astype(np.float32) - b.astype(np.float32)) ** 2, dtype=np.float64))
    mse = squared / max(reference.size, 1)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
