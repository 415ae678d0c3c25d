"""POST /v1/verify: an uploaded file's provenance verdict, from `minisora verify`'s own check
(the watermark and the signed C2PA manifest, read together by provenance.verify_file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from minisora.server.config import Limits
from minisora.server.forms import FormError

MAX_DECODED_BYTES = 512 * 2**20  # the watermark detector holds every decoded frame in memory


def verify_upload(path: Path, limits: Limits) -> dict[str, Any]:
    """The verify report as JSON: status (marked, tampered, unmarked), verdict, watermark, manifest."""
    from minisora.media import MediaError, probe
    from minisora.provenance.verify import verify_file

    try:
        info = probe(path)
    except MediaError:
        raise FormError(415, "the upload 'file' is not a readable video; send an MP4, MOV, WebM, MKV or GIF") from None
    if info.frames * info.width * info.height * 3 > MAX_DECODED_BYTES or max(info.width, info.height) > limits.max_input_side:
        raise FormError(400, f"the video is too large to check here ({info.width}x{info.height}, {info.frames} frames); "
                             f"send at most {MAX_DECODED_BYTES // 2**20} MB of decoded frames, for example a shorter cut")
    try:
        report = verify_file(path)
    except ValueError as exc:  # e.g. frames smaller than the watermark's smallest tile
        raise FormError(400, f"the video cannot be checked: {exc}") from None
    if report.status == "error":
        raise FormError(415, f"the upload 'file' could not be read as a video: {report.error}")
    result = report.to_dict()
    del result["path"], result["error"]  # the server's own file name means nothing to the client
    return result
