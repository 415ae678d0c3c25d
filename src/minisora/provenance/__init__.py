"""Provenance: every output is watermarked (invisible, robust) and signed (C2PA) on its way out.

`save_video()` is the one exit; `verify_file()` reads both marks back.
"""

from minisora.provenance.manifest import ManifestReport, ProvenanceInfo, read_manifest
from minisora.provenance.payload import Payload, model_id_for
from minisora.provenance.save import SavedVideo, save_video
from minisora.provenance.watermark import DEFAULT_CONFIG, Detection, WatermarkConfig, detect, embed

__all__ = [
    "DEFAULT_CONFIG",
    "Detection",
    "ManifestReport",
    "Payload",
    "ProvenanceInfo",
    "SavedVideo",
    "WatermarkConfig",
    "detect",
    "embed",
    "model_id_for",
    "read_manifest",
    "save_video",
]
