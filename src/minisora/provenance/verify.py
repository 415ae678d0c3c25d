"""What `minisora verify` says about a file: its watermark, its signed manifest, and a verdict.

The two marks fail differently, and the verdict reads them together: a re-encoded or re-muxed
copy loses the manifest but keeps the watermark; a file whose bytes were changed after signing
keeps a manifest that no longer matches (tampered); a file from elsewhere has neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minisora.provenance.manifest import ManifestReport, read_manifest
from minisora.provenance.watermark import DEFAULT_CONFIG, Detection, WatermarkConfig, detect

# Exit codes of `minisora verify` (its --help lists them), the worst file's wins.
EXIT_OK = 0  # every file carries a minisora mark (watermark and/or valid manifest), none tampered
EXIT_UNMARKED = 1  # some file has neither a watermark nor a manifest
EXIT_ERROR = 2  # some file could not be read (or the command line was wrong)
EXIT_TAMPERED = 3  # some file's manifest does not match its content
SEVERITY = {"marked": EXIT_OK, "unmarked": EXIT_UNMARKED, "error": EXIT_ERROR, "tampered": EXIT_TAMPERED}


@dataclass
class VerifyReport:
    path: str
    status: str  # "marked", "tampered", "unmarked" or "error"
    verdict: str  # one line for a person
    watermark: Detection | None
    manifest: ManifestReport | None
    error: str | None = None

    @property
    def exit_code(self) -> int:
        return SEVERITY[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "verdict": self.verdict,
            "watermark": self.watermark.to_dict() if self.watermark else None,
            "manifest": self.manifest.to_dict() if self.manifest else None,
            "error": self.error,
        }


def verify_file(path: str | Path, config: WatermarkConfig = DEFAULT_CONFIG) -> VerifyReport:
    """Check one file's watermark and manifest; an unreadable file is a report, not an exception."""
    from minisora.media import MediaError, read_video

    path = Path(path)
    try:
        frames = read_video(path, with_audio=False).frames
    except MediaError as exc:
        # a change to the video data can leave it undecodable: a manifest that was found and read
        # (not a file C2PA cannot parse either) still tells tampering
        manifest = read_manifest(path) if path.is_file() else None
        if manifest is not None and manifest.state == "invalid" and manifest.generation is not None:
            verdict = (f"TAMPERED: the signed manifest does not match the file ({_codes(manifest)}); "
                       f"the video data no longer decodes, so the watermark cannot be read ({exc})")
            return VerifyReport(str(path), "tampered", verdict, None, manifest, error=str(exc))
        return VerifyReport(str(path), "error", f"cannot read: {exc}", None, manifest, error=str(exc))
    mark = detect(frames, config)
    manifest = read_manifest(path)
    status, verdict = judge(mark, manifest)
    return VerifyReport(str(path), status, verdict, mark, manifest)


def judge(mark: Detection, manifest: ManifestReport) -> tuple[str, str]:
    """The status and the one-line verdict for a watermark result and a manifest result."""
    found = f"watermark found (p = {mark.p_value:.1e}{_payload_text(mark)})"
    if manifest.state == "invalid":
        also = found if mark.found else "no watermark found"
        return "tampered", f"TAMPERED: the signed manifest does not match the file ({_codes(manifest)}); {also}"
    if manifest.state == "valid":
        who = _maker(manifest)
        trust = "" if manifest.trusted else ", signed by a minisora key this machine does not trust"
        mismatch = _id_mismatch(mark, manifest)
        if mark.found:
            return "marked", f"minisora output ({who}): signed manifest valid{trust}; {found}{mismatch}"
        return "marked", f"minisora output ({who}): signed manifest valid{trust}; watermark not found"
    if mark.found:
        return "marked", (f"minisora output: {found}, but no manifest - a re-encoded, re-muxed or "
                          "edited copy (the signed provenance record was stripped)")
    return "unmarked", f"no minisora watermark (p = {mark.p_value:.2f}) and no manifest"


def exit_code(reports: list[VerifyReport]) -> int:
    return max((report.exit_code for report in reports), default=EXIT_OK)


def _payload_text(mark: Detection) -> str:
    if mark.payload is None:
        return ", payload unreadable" if mark.found else ""
    return f", model id {mark.payload.model_id}, generation {mark.payload.generation_id}"


def _maker(manifest: ManifestReport) -> str:
    generation = manifest.generation or {}
    model = generation.get("model") or {}
    name = f"{model.get('name', '?')} {model.get('version', '')}".strip()
    return f"{name}, {manifest.source_type or 'unknown source type'}"


def _codes(manifest: ManifestReport) -> str:
    return ", ".join(manifest.problems[:3]) or "unreadable manifest"


def _id_mismatch(mark: Detection, manifest: ManifestReport) -> str:
    """A watermark from one generation under another's manifest: the frames were swapped."""
    wanted = (manifest.generation or {}).get("generation_id")
    if mark.payload is None or wanted is None or mark.payload.generation_id == wanted:
        return ""
    return f"; WARNING: the watermark's generation {mark.payload.generation_id} is not the manifest's {wanted}"
