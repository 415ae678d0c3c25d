"""POST /v1/verify: an uploaded file's provenance verdict, from its two marks.

The C2PA manifest says who made the file and how, and breaks if the file is edited; the
invisible watermark survives re-encoding, resizing and cropping but carries only a model id and
a generation id. Reading both tells apart an intact minisora output, one whose manifest was
stripped or broken by re-encoding, and a file with no sign of minisora at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from minisora.server.config import Limits
from minisora.server.forms import FormError

MAX_DECODED_BYTES = 512 * 2**20  # the watermark detector holds every frame in memory


def verify_upload(path: Path, limits: Limits) -> dict[str, Any]:
    from minisora.media import MediaError, probe, read_video
    from minisora.provenance import detect, read_manifest

    try:
        info = probe(path)
    except MediaError:
        raise FormError(415, "the upload 'file' is not a readable video; send an MP4, MOV, WebM, MKV or GIF") from None
    decoded = info.frames * info.width * info.height * 3
    if decoded > MAX_DECODED_BYTES or max(info.width, info.height) > limits.max_input_side:
        raise FormError(400, f"the video is too large to check here ({info.width}x{info.height}, {info.frames} frames); "
                             f"send at most {MAX_DECODED_BYTES // 2**20} MB of decoded frames, for example a shorter cut")
    manifest = read_manifest(path)
    try:
        detection = detect(read_video(path, with_audio=False).frames)
    except (MediaError, ValueError) as exc:
        raise FormError(415, f"the video's frames could not be read for the watermark check ({exc})") from None
    return {"verdict": verdict(manifest.state, manifest.trusted, detection.found),
            "manifest": manifest.to_dict(), "watermark": detection.to_dict()}


def verdict(manifest_state: str, trusted: bool, watermark_found: bool) -> str:
    if manifest_state == "valid" and trusted and watermark_found:
        return "made by minisora: signed manifest intact and watermark found"
    if manifest_state == "invalid":
        return "the signed manifest is broken: the file was edited after minisora signed it" + (
            "; the watermark is still there" if watermark_found else "")
    if watermark_found:
        return "watermark found, no valid manifest: a minisora output that was re-encoded or stripped"
    if manifest_state == "valid":
        return "signed, but not by this server's minisora key, and no watermark found"
    return "no sign of minisora: no manifest and no watermark"
